//! The one HTTP client, shared by the Neon client and octocrab. It owns TLS (rustls with the
//! ring provider and the embedded web PKI roots), DNS (hickory, pure Rust), the User-Agent and
//! the timeouts, so the static binary works in a `scratch` image with no CA bundle and no NSS.
//! It owns no retry policy (the Neon client has the one policy, `neon::retry`) and no API knowledge.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

/// `neon-promote/<version>`: servers see who is calling.
pub const USER_AGENT: &str = concat!("neon-promote/", env!("CARGO_PKG_VERSION"));

/// Builds the client: rustls + embedded roots, hickory DNS, 10 s connect and 30 s request timeouts.
pub fn client() -> anyhow::Result<reqwest::Client> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .hickory_dns(true)
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_builds() {
        super::client().unwrap();
    }

    #[test]
    fn user_agent_names_the_version() {
        assert_eq!(
            super::USER_AGENT,
            format!("neon-promote/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
