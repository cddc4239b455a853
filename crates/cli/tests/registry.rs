//! Walks the service registry (`carbon_e2e::registry`): every declared service takes its TLS
//! settings, and its probe and version probe fail on an endpoint that is down, naming it. No
//! running service is needed: the target points every location at a closed loopback port.
//!
//! - TLS: each client is built from a target whose only CA setting is `[target] ca_file`
//!   (relative to the target file), a malformed PEM bundle, so a client that reads it fails
//!   naming it and one that ignored the setting would build: the failure this exists to catch.
//!   Kubernetes and Velero take TLS from the kubeconfig: theirs names a malformed CA file.
//! - Probes: a probe that answers `Ok` from a dead endpoint checks nothing; each must fail
//!   within the request timeout, naming the endpoint. A version probe may answer "none" without
//!   sending only when its declared source says nothing is sent.

use std::path::Path;
use std::time::{Duration, Instant};

use carbon_config::{Env, Paths, Target, Tls};
use carbon_e2e::registry::{Declaration, registry};

const BAD_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The local target's sections plus Grafana, as a `cluster` target (no stack env file), every
/// location on `127.0.0.1:<port>`, the kubeconfig `kubeconfig` and `extra` under `[target]`.
fn target(dir: &Path, port: u16, kubeconfig: &str, extra: &str) -> Target {
    let local =
        std::fs::read_to_string(carbon_config::workspace_root().join(".config/targets/local.toml"))
            .expect("the local target");
    let mut text = local.replacen(
        "[target]\nkind = \"local\"\n",
        &format!("[target]\nkind = \"cluster\"\nrequest_timeout_secs = 3\n{extra}"),
        1,
    );
    text = text.replace("request_timeout_secs = 10\n", "");
    text += "\n[grafana]\nurl = \"http://127.0.0.1:3000\"\ntoken_env = \"T_GRAFANA_TOKEN\"\n\
             metrics_datasource = \"VictoriaMetrics\"\nlogs_datasource = \"Loki\"\nlogs_query = '{namespace=\"x\"}'\n";
    let re_port = |t: &str| {
        let mut out = String::new();
        let mut rest = t;
        while let Some(i) = rest.find("127.0.0.1:") {
            out.push_str(&rest[..i + "127.0.0.1:".len()]);
            rest = rest[i + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
            out.push_str(&port.to_string());
        }
        out + rest
    };
    let text = re_port(&text);
    assert!(text.contains("kind = \"cluster\""), "{text}");
    std::fs::write(dir.join("bad-ca.pem"), BAD_PEM).expect("write the CA file");
    std::fs::write(dir.join("kubeconfig"), kubeconfig).expect("write the kubeconfig");
    let path = dir.join("registry-test.toml");
    std::fs::write(&path, text).expect("write the target");
    // Every credential the file names, with a placeholder value.
    let names = [
        "CARBON_STACK_S3_ACCESS_KEY",
        "CARBON_STACK_S3_SECRET_KEY",
        "CARBON_STACK_DS_PASSWORD",
        "CARBON_STACK_DS_DATABASE_URL",
        "CARBON_STACK_SUPERSET_PASSWORD",
        "T_GRAFANA_TOKEN",
    ];
    let kubeconfig = dir.join("kubeconfig").display().to_string();
    let env = Env::from_pairs(
        names
            .iter()
            .map(|n| (*n, "placeholder"))
            .chain([("CARBON_STACK_KUBECONFIG", kubeconfig.as_str())]),
    );
    carbon_config::load_from_file(&path, &env, &Paths::from_env(&env)).expect("the target loads")
}

fn kubeconfig(port: u16, cluster_tls: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: carbon-e2e\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    {cluster_tls}\ncontexts:\n- name: carbon-e2e\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: placeholder\n"
    )
}

fn tempdir(what: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("carbon-e2e-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The section `d`'s service is configured by, in `t`.
fn tls_of(t: &Target, d: &Declaration) -> String {
    let section = t
        .sections()
        .into_iter()
        .find(|s| s.name() == d.service.section())
        .unwrap_or_else(|| {
            panic!(
                "{:?}: no [{}] in the test target",
                d.service,
                d.service.section()
            )
        });
    match section.tls() {
        Tls::CaFile { .. } => "ca_file".into(),
        Tls::Kubeconfig => "kubeconfig".into(),
    }
}

#[test]
fn every_declared_service_takes_its_tls_settings() {
    let dir = tempdir("registry-tls");
    let port = closed_port();
    let t = target(
        &dir,
        port,
        &kubeconfig(
            port,
            &format!(
                "certificate-authority: {}",
                dir.join("bad-ca.pem").display()
            ),
        ),
        "ca_file = \"bad-ca.pem\"\n",
    );
    let rt = runtime();
    let mut failures = Vec::new();
    for d in registry() {
        let how = tls_of(&t, &d);
        let named = if how == "ca_file" {
            "bad-ca.pem"
        } else {
            "kubeconfig"
        };
        match rt.block_on((d.connect)(&t)) {
            Ok(()) => failures.push(format!(
                "{}: the client built without reading its TLS setting ({how})",
                d.service.name()
            )),
            Err(e) if e.to_string().contains(named) => {}
            Err(e) => failures.push(format!(
                "{}: failed for another reason than its TLS setting ({how}): {e}",
                d.service.name()
            )),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_declared_probe_fails_on_a_dead_endpoint_naming_it() {
    let dir = tempdir("registry-dead");
    let port = closed_port();
    let t = target(
        &dir,
        port,
        &kubeconfig(port, "insecure-skip-tls-verify: true"),
        "",
    );
    let rt = runtime();
    let endpoint = format!("127.0.0.1:{port}");
    let mut failures = Vec::new();
    for d in registry() {
        let t0 = Instant::now();
        let probe = rt.block_on((d.probe)(&t));
        let took = t0.elapsed();
        match probe {
            Ok(what) => failures.push(format!(
                "{}: the probe passed against a dead endpoint: {what}",
                d.service.name()
            )),
            Err(e) if !e.to_string().contains(&endpoint) => failures.push(format!(
                "{}: the probe's failure does not name {endpoint}: {e}",
                d.service.name()
            )),
            Err(_) if took > Duration::from_secs(8) => failures.push(format!(
                "{}: the probe took {took:?} to fail",
                d.service.name()
            )),
            Err(_) => {}
        }
        match rt.block_on((d.version)(&t)) {
            Ok(Some(v)) => failures.push(format!(
                "{}: a version ({v}) from a dead endpoint",
                d.service.name()
            )),
            Ok(None) if !d.version_source.starts_with("none:") => failures.push(format!(
                "{}: no version and no error from a dead endpoint, though its source says a request is sent ({})",
                d.service.name(),
                d.version_source
            )),
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
