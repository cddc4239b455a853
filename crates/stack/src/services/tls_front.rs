//! The TLS front: `https://127.0.0.1:17443`, terminating TLS with a certificate from a private
//! CA the stack generates, forwarding to the object store's plain `127.0.0.1:17070`. It is how
//! CI proves the clients' TLS settings against a real server: trusted with `ca_file` (or with
//! the CA in the system store), refused clearly without.
//!
//! The CA and the server certificate (valid for a year, made anew a month before it expires)
//! are made with `rcgen` on first start, into
//! `<stack>/tls/` (directory 0700, files 0600 from creation): `ca.pem` (the CA certificate a
//! target names in `ca_file`), `server.pem` and `server.key`. The CA's key is never written: it
//! signs the server certificate and is dropped. The forwarder is `carbon-e2e stack tls-forward`
//! ([`crate::forward::run_tls`]).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::objectstore;
use crate::secrets::{create_private_dir, write_private};
use crate::{LocalServer, Readiness, Stack, StackError};

/// The TLS port on the host's loopback.
pub const PORT: u16 = 17443;

pub(crate) struct TlsFront;

/// `<stack>/tls`.
pub fn tls_dir(stack_dir: &Path) -> PathBuf {
    stack_dir.join("tls")
}

/// `<stack>/tls/ca.pem`: the private CA's certificate, for `ca_file`.
pub fn ca_file(stack_dir: &Path) -> PathBuf {
    tls_dir(stack_dir).join("ca.pem")
}

fn rcgen_err(e: rcgen::Error) -> StackError {
    StackError::Other(format!("cannot generate the TLS front's certificates: {e}"))
}

/// How long the server certificate is valid: a year, as public certificates are (the entry
/// points check reads how many days it has left).
const SERVER_VALIDITY_DAYS: i64 = 365;
/// A server certificate with fewer days left than this, or more than a year and a month (one
/// made before certificates had a year), is made anew with its CA.
const RENEW_BEFORE_DAYS: i64 = 30;

/// Days the PEM certificate at `path` has left, if it can be read.
fn days_left(path: &Path) -> Option<i64> {
    let pem = std::fs::read(path).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Some((cert.validity().not_after.timestamp() - now) / 86_400)
}

/// Generates the CA and the server certificate (for `127.0.0.1` and `localhost`) unless all
/// three files exist and the server certificate has between a month and a year and a month
/// left.
fn ensure_certificates(stack: &Stack) -> Result<(), StackError> {
    let dir = tls_dir(&stack.dir);
    let (ca_pem, cert_pem, key_pem) = (
        ca_file(&stack.dir),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    create_private_dir(&dir)?;
    let current = days_left(&cert_pem)
        .is_some_and(|d| (RENEW_BEFORE_DAYS..=SERVER_VALIDITY_DAYS + 31).contains(&d));
    if current && [&ca_pem, &key_pem].iter().all(|p| p.exists()) {
        return Ok(());
    }
    println!(
        "stack: generating a private CA and a certificate for 127.0.0.1 in {}",
        dir.display()
    );
    let ca_key = KeyPair::generate().map_err(rcgen_err)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "carbon-e2e stack private CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(rcgen_err)?;

    let key = KeyPair::generate().map_err(rcgen_err)?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(rcgen_err)?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    server
        .distinguished_name
        .push(DnType::CommonName, "carbon-e2e stack TLS front");
    let now = time::OffsetDateTime::now_utc();
    server.not_before = now - time::Duration::days(1);
    server.not_after = now + time::Duration::days(SERVER_VALIDITY_DAYS);
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = server
        .signed_by(&key, &ca_cert, &ca_key)
        .map_err(rcgen_err)?;

    write_private(&key_pem, key.serialize_pem().as_bytes())?;
    write_private(&cert_pem, cert.pem().as_bytes())?;
    write_private(&ca_pem, ca_cert.pem().as_bytes())
}

impl LocalServer for TlsFront {
    fn name(&self) -> &'static str {
        "objectstore-tls"
    }

    fn role(&self) -> &'static str {
        "TLS front of the object store (certificate from the stack's private CA)"
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["objectstore"]
    }

    fn install(&self, _stack: &Stack) -> Result<(), StackError> {
        Ok(())
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        ensure_certificates(stack)
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let dir = tls_dir(&stack.dir);
        let mut cmd = Command::new(crate::forward::cli_program("the TLS front")?);
        cmd.args([
            "stack",
            "tls-forward",
            "--listen",
            &PORT.to_string(),
            "--to",
            &objectstore::PORT.to_string(),
        ])
        .arg("--cert")
        .arg(dir.join("server.pem"))
        .arg("--key")
        .arg(dir.join("server.key"));
        Ok(cmd)
    }

    /// Ready when the object store's health path answers through TLS, verified with the CA.
    fn readiness(&self, stack: &Stack) -> Readiness {
        Readiness::Https {
            url: format!("{}{}", self.endpoint(), objectstore::HEALTH),
            ca_file: ca_file(&stack.dir),
        }
    }

    fn process_marker(&self) -> Option<&'static str> {
        Some("tls-forward")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn certificates_are_private_and_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack {
            dir: dir.path().to_path_buf(),
            cache: dir.path().join("cache"),
            env: carbon_config::Env::default(),
        };
        ensure_certificates(&stack).unwrap();
        let tls = tls_dir(&stack.dir);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&tls), 0o700);
        for f in ["ca.pem", "server.pem", "server.key"] {
            assert_eq!(mode(&tls.join(f)), 0o600, "{f}");
        }
        let first = std::fs::read(ca_file(&stack.dir)).unwrap();
        ensure_certificates(&stack).unwrap();
        assert_eq!(std::fs::read(ca_file(&stack.dir)).unwrap(), first);
        assert!(
            String::from_utf8(first)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }
}
