//! The TLS crypto provider (ring) for reqwest and lettre: rustls only, no OpenSSL.

/// Installs ring as the process's rustls provider, once; later calls do nothing.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
