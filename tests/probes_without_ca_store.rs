//! A machine without a CA store (a minimal container or debootstrap rootfs without
//! ca-certificates) must still run plain-http probes and jobs: building the HTTP client with
//! rustls's platform verifier fails there, and the probe task used to panic, leaving the
//! gateway "not ready" for ever (found under a real systemd in the packaging lab).

mod common;
mod control_support;

use common::{Clawvisor, FAKE_GATEWAY};
use control_support::{T, status, wait_for_socket};

#[test]
fn plain_http_probes_and_jobs_work_without_a_ca_store() {
    let port = common::free_port().to_string();
    let cv = Clawvisor::start_with_env(
        &[FAKE_GATEWAY, "--port", &port],
        &format!(
            "[probes.readiness]\nurl = \"http://127.0.0.1:{port}/readyz\"\nperiod = \"200ms\"\n\
             [[jobs]]\nname = \"tick\"\ncommand = [\"/bin/true\"]\nevery = \"1s\"\nrequires = \"ready\"\n\
             ping_url = \"https://127.0.0.1:9/ping\"\n"
        ),
        // rustls-native-certs reads these first: nothing there is what a bare rootfs has.
        &[
            ("SSL_CERT_FILE", "/nonexistent/ca.pem"),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    );
    wait_for_socket(&cv);
    let mut st = serde_json::Value::Null;
    let ready = common::eventually(T, || {
        st = status(&cv);
        st["ready"] == true
            && st["parts"]["jobs"]["jobs"][0]["runs"]["succeeded"]
                .as_u64()
                .is_some_and(|n| n >= 1)
    });
    assert!(ready, "{st:#}");
    assert!(
        !cv.captured_output().contains("panicked"),
        "{}",
        cv.captured_output()
    );
}
