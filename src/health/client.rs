//! The HTTP client for probes.

use std::time::Duration;

/// A client for `url`. Loopback targets bypass proxies: an `http_proxy` variable in
/// clawvisor's environment would otherwise capture 127.0.0.1.
pub fn client_for(url: &str, timeout: Duration) -> reqwest::Client {
    let loopback = is_loopback(url);
    let plain = url.starts_with("http://");
    let builder = || {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(0);
        if loopback {
            b = b.no_proxy();
        }
        if plain {
            // No TLS to verify: do not load (or depend on) the system's CA store.
            b = b.tls_certs_only([]);
        }
        b
    };
    crate::tls::client(builder, url)
}

/// True for http://127.x, http://[::1], http://localhost.
pub fn is_loopback(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A short, one-line excerpt of a body for messages.
pub fn excerpt(body: &str) -> String {
    let one: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}…", one.chars().take(120).collect::<String>())
    } else {
        one
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_loopback_urls() {
        assert!(is_loopback("http://127.0.0.1:18789/healthz"));
        assert!(is_loopback("http://[::1]:18789/"));
        assert!(is_loopback("http://localhost/x"));
        assert!(!is_loopback("http://10.0.0.1/x"));
        assert!(!is_loopback("not a url"));
    }
}
