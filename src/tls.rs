//! The one TLS crypto provider, ring through rustls (no OpenSSL), for everything that speaks
//! TLS: https probes and webhooks (reqwest) and SMTP (lettre). reqwest is built without a
//! provider of its own, so one must be installed before any client is built.

/// Installs ring as the process's rustls provider; later calls do nothing.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
