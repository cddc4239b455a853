//! The `minio` suite on a second S3 implementation: the stack's object store is MinIO itself
//! (RELEASE.2021-04-22T15-44-28Z); versitygw (posix backend) runs beside it on its own port.
//! Every trial of the suite, in strict mode, must pass against versitygw too, so the suite
//! relies on the S3 protocol rather than on one server's quirks (MinIO's batch delete wants
//! `Content-MD5`, versitygw's listing and error bodies differ, and so on).
//!
//! Needs the stack up (`carbon-e2e validate` brings it up before running the tests).

mod common;

#[test]
fn minio_suite_passes_on_versitygw_too() {
    let mut cmd = common::nextest("package(suite-minio)", &common::run_id("s3compat"));
    // The caller's own minio settings would change what the inner run tests.
    #[allow(clippy::disallowed_methods)] // a test harness detail, not configuration
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("E2E_MINIO_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("E2E_STRICT", "1").env(
        "E2E_MINIO_ENDPOINT",
        format!("http://127.0.0.1:{}", carbon_stack::VERSITYGW_PORT),
    );
    let out = cmd.output().expect("cargo nextest runs");
    let text = common::console(&out);
    assert!(
        out.status.success(),
        "every minio trial must pass on versitygw:\n{text}"
    );
    assert!(
        text.contains("7 tests run: 7 passed"),
        "all seven trials ran (strict mode fails one that is not configured):\n{text}"
    );
}
