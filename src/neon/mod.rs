//! The Neon API v2 client, self-contained: endpoints (`client`), how one call is made
//! (`calls`), cursor pagination (`pages`), one request governor for the run (`governor`), the
//! one retry policy (`retry`), the one operation wait (`poll`), the exact-name branch search
//! (`search`), create-branch-action's extras (`features`), models and typed errors, over a
//! pluggable `Transport` (reqwest by default; an in-process simulation in tests). It imports
//! nothing from the rest of the crate and knows nothing of GitHub, the runner protocol or our
//! commands; what to advise a user about an error is decided above it.

mod calls;
mod client;
mod error;
mod features;
mod governor;
mod models;
mod pages;
mod poll;
mod retry;
mod search;
mod snapshots;
mod transport;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use calls::{NeonClient, NeonSettings, ProgressHook};
pub use error::{ApiError, NeonError};
pub use governor::{Clock, RequestStats, Sent};
pub use models::*;
pub use transport::{
    Fault, Method, Request, ReqwestTransport, Response, Sending, Transport, TransportError,
};
