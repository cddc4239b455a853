//! `[target] ca_file` reaches every HTTP client: each client built from a target whose only CA
//! setting is `[target] ca_file` (relative to the target file) must read that file. The file
//! is a malformed PEM bundle, so a client that reads it fails to build naming it, and a client
//! that ignored the setting would build: that is the failure this test exists to catch. (Kube
//! and Velero take TLS from the kubeconfig, not from `ca_file`.) No service is contacted.

use carbon_config::{Env, FromTarget, Paths, Target};

/// The local target plus a Grafana section, with `[target] ca_file = "bad-ca.pem"`.
fn target(dir: &std::path::Path) -> Target {
    let local =
        std::fs::read_to_string(carbon_config::workspace_root().join(".config/targets/local.toml"))
            .expect("the local target");
    let text = local.replacen("[target]\n", "[target]\nca_file = \"bad-ca.pem\"\n", 1)
        + "\n[grafana]\nurl = \"http://127.0.0.1:3000\"\ntoken_env = \"T_GRAFANA_TOKEN\"\n\
           metrics_datasource = \"VictoriaMetrics\"\nlogs_datasource = \"Loki\"\nlogs_query = '{namespace=\"x\"}'\n";
    assert!(text.contains("ca_file = \"bad-ca.pem\""), "{text}");
    std::fs::write(
        dir.join("bad-ca.pem"),
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    )
    .expect("write the CA file");
    let path = dir.join("ca-test.toml");
    std::fs::write(&path, text).expect("write the target");
    // Every credential the file names, with a placeholder value (nothing is sent).
    let names = [
        "CARBON_STACK_S3_ACCESS_KEY",
        "CARBON_STACK_S3_SECRET_KEY",
        "CARBON_STACK_DS_PASSWORD",
        "CARBON_STACK_DS_DATABASE_URL",
        "CARBON_STACK_SUPERSET_PASSWORD",
        "T_GRAFANA_TOKEN",
    ];
    let env = Env::from_pairs(names.iter().map(|n| (*n, "placeholder")));
    carbon_config::load_from_file(&path, &env, &Paths::from_env(&env)).expect("the target loads")
}

fn must_read<C: FromTarget>(target: &Target) -> Option<String> {
    match C::from_target(target) {
        Ok(_) => Some(format!(
            "{}: the client built without reading [target] ca_file",
            C::SECTION
        )),
        Err(e) if e.to_string().contains("bad-ca.pem") => None,
        Err(e) => Some(format!(
            "{}: failed for another reason than the CA file: {e}",
            C::SECTION
        )),
    }
}

#[test]
fn target_ca_file_reaches_every_http_client() {
    let dir = std::env::temp_dir().join(format!("carbon-e2e-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let t = target(&dir);
    let failures: Vec<String> = [
        must_read::<carbon_s3::S3Client>(&t),
        must_read::<carbon_victoriametrics::VmClient>(&t),
        must_read::<carbon_trino::TrinoClient>(&t),
        must_read::<carbon_trino::RestCatalogClient>(&t),
        must_read::<carbon_dolphinscheduler::DsClient>(&t),
        must_read::<carbon_loki::LokiClient>(&t),
        must_read::<carbon_vmalert::VmAlertClient>(&t),
        must_read::<carbon_grafana::GrafanaClient>(&t),
        must_read::<carbon_superset::SupersetClient>(&t),
    ]
    .into_iter()
    .flatten()
    .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
