//! The Neon API v2: one client, its models and its typed errors. It knows nothing of GitHub,
//! of the runner protocol or of our commands; retry and polling policy come from `crate::retry`
//! and `crate::poll`.

mod client;
mod error;
mod models;

pub use client::*;
pub use error::*;
pub use models::*;
