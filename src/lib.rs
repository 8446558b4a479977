//! neon-promote: Neon's snapshot-based preview, promotion and rollback workflow, as a GitHub
//! Action and a CLI. `main.rs` reads top-down: config → context → dispatch → report → exit code.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod ctx;
pub mod event;
pub mod github;
pub mod http;
pub mod naming;
pub mod neon;
pub mod outcome;
pub mod plan;
#[cfg(test)]
mod properties;
pub mod render;
pub mod runner;
pub mod schema;
pub mod secret;
