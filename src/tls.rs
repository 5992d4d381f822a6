//! The one TLS crypto provider, ring through rustls (no OpenSSL), for everything that speaks
//! TLS: https probes and webhooks (reqwest) and SMTP (lettre). reqwest is built without a
//! provider of its own, so one must be installed before any client is built.

/// Installs ring as the process's rustls provider; later calls do nothing.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds an HTTP client from `builder`. Where the system's CA store cannot be loaded (a
/// minimal container or rootfs without ca-certificates), it falls back to a client with no
/// trusted roots: plain http still works, and https fails per request with a clear error
/// instead of taking the caller (a probe task, the job scheduler) down.
pub fn client(builder: impl Fn() -> reqwest::ClientBuilder, what: &str) -> reqwest::Client {
    install_provider();
    match builder().build() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(
                "{what}: cannot load the system's CA certificates ({e}); https will fail, http works"
            );
            builder()
                .tls_certs_only([])
                .build()
                .unwrap_or_else(|e| panic!("an HTTP client without TLS roots: {e}"))
        }
    }
}
