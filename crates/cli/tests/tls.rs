//! TLS the way platforms have it, against real processes: the `minio` suite's smoke trials run
//! against the stack's TLS front (`https://127.0.0.1:17443`, a certificate from the stack's
//! private CA, in front of the real object store) three times:
//!
//! 1. with `minio.ca_file` naming the stack's CA: they pass;
//! 2. without it: they fail, and the failure names the setting that fixes it (`ca_file`), not
//!    only rustls's `invalid peer certificate: UnknownIssuer`;
//! 3. without `ca_file` but with the CA as the system store (`SSL_CERT_FILE`, which the
//!    system-store loader honours): they pass, so the system store is trusted.
//!
//! Needs the stack up (`carbon-e2e validate` brings it up before running the tests).

use std::path::PathBuf;

use carbon_config::{Env, Paths};

mod common;

/// Runs the minio suite's smoke trials in strict mode over TLS, through nextest with the
/// workspace's feature set (the outer run's build: nothing is compiled again); returns success
/// and output.
fn run_smoke_over_tls(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = common::nextest(
        "package(suite-minio) & test(/::smoke::/)",
        &common::run_id("tls"),
    );
    // Any TLS or minio settings of the caller would change what the inner run tests.
    #[allow(clippy::disallowed_methods)] // a test harness detail, not configuration
    for (k, _) in std::env::vars_os() {
        let k_text = k.to_string_lossy();
        if k_text.starts_with("E2E_MINIO_")
            || k_text.starts_with("SSL_CERT")
            || k_text == "E2E_TARGET_CA_FILE"
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("E2E_STRICT", "1").env(
        "E2E_MINIO_ENDPOINT",
        format!("https://127.0.0.1:{}", carbon_stack::TLS_FRONT_PORT),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("cargo nextest runs");
    (out.status.success(), common::console(&out))
}

fn stack_ca() -> PathBuf {
    let ca = carbon_stack::tls_ca_file(&Paths::from_env(&Env::from_process()).stack);
    assert!(
        ca.exists(),
        "no CA at {}: bring the stack up (`carbon-e2e stack up`)",
        ca.display()
    );
    ca
}

#[test]
fn tls_front_passes_with_ca_file_and_fails_naming_ca_file_without() {
    let ca = stack_ca();
    let ca = ca.to_str().expect("UTF-8 path");

    let (ok, text) = run_smoke_over_tls(&[("E2E_MINIO_CA_FILE", ca)]);
    assert!(ok, "with minio.ca_file the smoke trials must pass:\n{text}");
    assert!(text.contains("2 passed"), "{text}");

    let (ok, text) = run_smoke_over_tls(&[]);
    assert!(!ok, "without ca_file the smoke trials must fail:\n{text}");
    assert!(
        text.contains("UnknownIssuer")
            && text.contains("`ca_file` in [minio]")
            && text.contains("https://127.0.0.1:17443/"),
        "the failure names the endpoint, rustls's reason and the setting to fix:\n{text}"
    );

    let (ok, text) = run_smoke_over_tls(&[("E2E_TARGET_CA_FILE", ca)]);
    assert!(
        ok,
        "target.ca_file is the default for every section:\n{text}"
    );

    let (ok, text) = run_smoke_over_tls(&[("SSL_CERT_FILE", ca)]);
    assert!(
        ok,
        "a CA in the system store (SSL_CERT_FILE) is trusted:\n{text}"
    );
}
