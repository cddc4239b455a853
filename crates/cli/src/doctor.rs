//! `doctor`: the resolved target, secrets redacted, and one probe per configured service.

use carbon_config::FromTarget as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use carbon_config::{Service, Target};

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// `human` (default) or `json`: one JSON object with the target and each probe, for CI.
    #[arg(long, default_value = "human", value_parser = ["human", "json"])]
    message_format: String,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let declared = carbon_config::load().context("loading the target")?;
    // Kubernetes references resolved exactly as a trial resolves them (the guards keep the
    // port-forwards open while the probes run).
    let (target, guards, reach_error) = match carbon_kube::materialize(&declared).await {
        Ok((t, g)) => (t, g, None),
        Err(e) => (
            declared.clone(),
            carbon_kube::Guards::default(),
            Some(e.to_string()),
        ),
    };
    let reach = reach_lines(&declared, &guards, reach_error.as_deref());
    if args.message_format == "json" {
        return json(&target, &reach).await;
    }
    let env = carbon_config::Env::from_process();
    println!(
        "target `{}` ({:?}) from {}",
        target.name,
        target.settings.kind,
        target.source.display()
    );
    if !target.settings.description.is_empty() {
        println!("  {}", target.settings.description);
    }
    println!(
        "  mode {}{}, opt-in {}",
        target.settings.mode().as_str(),
        if target.allow_writes {
            " (read-only in the file; E2E_ALLOW_WRITES=1)"
        } else {
            ""
        },
        opt_ins(&target)
    );
    if !target.settings.allow_insecure_credentials.is_empty() {
        println!(
            "  credentials allowed over plain http beyond loopback for: {} ([target] allow_insecure_credentials)",
            target.settings.allow_insecure_credentials.join(", ")
        );
    }
    println!(
        "  request timeout {} s, trial timeout {} s, cleanup budget {} s, strict {}",
        target.settings.request_timeout_secs,
        target.settings.trial_timeout_secs,
        target.settings.cleanup_budget_secs,
        if carbon_config::strict(&env) {
            "on"
        } else {
            "off"
        }
    );
    let set = |var: &str| {
        if target.credential("", var).is_ok() {
            format!("{var} (set)")
        } else {
            format!("{var} (NOT SET)")
        }
    };
    if let Some(m) = &target.minio {
        println!(
            "[minio] endpoint {} region {} test bucket {}",
            m.endpoint, m.region, m.test_bucket
        );
        println!(
            "        required buckets {:?}, health path {}",
            m.required_buckets,
            m.health_path.as_deref().unwrap_or("(none)")
        );
        println!(
            "        credentials {}, {}",
            set(&m.access_key_env),
            set(&m.secret_key_env)
        );
    }
    if let Some(v) = &target.victoriametrics {
        println!(
            "[victoriametrics] url {} write url {}",
            v.url,
            v.write_url.as_ref().unwrap_or(&v.url)
        );
        println!(
            "        up selector {} (at least {} up)",
            v.up_selector, v.min_up_targets
        );
        if let Some(t) = &v.bearer_token_env {
            println!("        bearer token {}", set(t));
        }
    }
    if let Some(t) = &target.trino {
        println!("[trino] url {} user {}", t.url, t.user);
        println!(
            "        required catalogs {:?}, iceberg catalog {}, warehouse {}",
            t.required_catalogs,
            t.iceberg_catalog,
            t.warehouse_bucket.as_deref().map_or_else(
                || "(not checked)".to_string(),
                |b| format!("s3://{b}/{}", t.warehouse_prefix)
            )
        );
        if let Some(p) = &t.password_env {
            println!("        password {}", set(p));
        }
        if let Some(ca) = &t.ca_file {
            println!("        CA file {}", ca.display());
        }
    }
    if let Some(d) = &target.dolphinscheduler {
        println!(
            "[dolphinscheduler] url {} user {} api {} tenant {} worker group {}",
            d.url, d.user, d.api, d.tenant, d.worker_group
        );
        println!(
            "        password {}, token {}, workflow timeout {} s, metadata database {}",
            set(&d.password_env),
            d.token_env.as_deref().map_or("(none)".to_string(), set),
            d.workflow_timeout_secs,
            d.database_url_env
                .as_deref()
                .map_or("(not exposed)".to_string(), set)
        );
    }
    if let Some(v) = &target.velero {
        println!(
            "[velero] namespace {} location {} (validated within {} s), schedules {} (at least {}, keeping {} h)",
            v.namespace,
            v.storage_location,
            v.max_validation_age_secs,
            if v.schedules.is_empty() {
                "any".to_string()
            } else {
                v.schedules.join(", ")
            },
            v.min_schedules,
            v.schedule_ttl_hours
        );
        println!(
            "        a Completed backup of {} within {} h; backups and restores may take {} s",
            v.backup_namespace, v.max_backup_age_hours, v.backup_timeout_secs
        );
    }
    // Probe answers and errors may quote what a service echoed back: scrubbed like a trial's.
    let secrets = target.secret_values();
    let scrubbed = |text: String| carbon_config::scrub(&secrets, text);
    println!("how each service is reached:");
    for (key, how) in &reach {
        println!("  {key:<26} {how}");
    }
    if let Some(e) = &reach_error {
        println!("  FAIL: {}", scrubbed(e.clone()));
    }
    println!();
    let mut healthy = reach_error.is_none();
    for service in Service::ALL {
        let name = display_name(service);
        if let Err(reason) = target.service_configured(service) {
            println!("{name:<16} SKIP  {reason}");
            continue;
        }
        let t0 = Instant::now();
        let verdict = probe(&target, service).await;
        let ms = t0.elapsed().as_millis();
        match verdict {
            Ok(what) => println!("{name:<16} OK    {ms:>5} ms  {}", scrubbed(what)),
            Err(e) => {
                healthy = false;
                println!(
                    "{name:<16} FAIL  {ms:>5} ms  {}",
                    scrubbed(format!("{e:#}"))
                );
            }
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Per service location: a plain URL, or `k8s://… → port-forward via pod X (local URL)`.
fn reach_lines(
    declared: &Target,
    guards: &carbon_kube::Guards,
    error: Option<&str>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = declared
        .service_urls()
        .into_iter()
        .map(|(key, url)| {
            let how = match guards.reaches.iter().find(|r| r.key == key) {
                Some(r) => format!("{} → {} ({})", r.reference, r.via, r.url),
                None if url.scheme() == "k8s" => format!(
                    "{url} → not reached{}",
                    error.map_or(String::new(), |_| " (see FAIL below)".into())
                ),
                None => format!("{url} (plain URL)"),
            };
            (key.to_string(), how)
        })
        .collect();
    for s in &guards.secrets {
        out.push(("credential".into(), format!("{s} → read from the Secret")));
    }
    out
}

/// The heavy or disruptive trial kinds the target allows, for people.
fn opt_ins(target: &Target) -> String {
    let allowed: Vec<&str> = carbon_config::OPT_INS
        .into_iter()
        .filter(|k| target.settings.allows(k))
        .collect();
    if allowed.is_empty() {
        "none".into()
    } else {
        allowed.join(", ")
    }
}

/// `doctor --message-format json`: the same probes, one JSON object.
async fn json(target: &Target, reach: &[(String, String)]) -> anyhow::Result<ExitCode> {
    let mut services = Vec::new();
    let mut healthy = true;
    let reach: Vec<_> = reach
        .iter()
        .map(|(k, how)| serde_json::json!({"key": k, "reach": how}))
        .collect();
    for service in Service::ALL {
        let name = display_name(service);
        let entry = match target.service_configured(service) {
            Err(reason) => serde_json::json!({"service": name, "status": "skip", "detail": reason}),
            Ok(()) => {
                let t0 = Instant::now();
                let verdict = probe(target, service).await;
                let ms = t0.elapsed().as_millis();
                healthy &= verdict.is_ok();
                let secrets = target.secret_values();
                match verdict {
                    Ok(what) => {
                        serde_json::json!({"service": name, "status": "ok", "ms": ms, "detail": carbon_config::scrub(&secrets, what)})
                    }
                    Err(e) => {
                        serde_json::json!({"service": name, "status": "fail", "ms": ms, "detail": carbon_config::scrub(&secrets, format!("{e:#}"))})
                    }
                }
            }
        };
        services.push(entry);
    }
    let allowed: Vec<&str> = carbon_config::OPT_INS
        .into_iter()
        .filter(|k| target.settings.allows(k))
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "target": target.name,
            "source": target.source,
            "kind": format!("{:?}", target.settings.kind).to_lowercase(),
            "mode": target.settings.mode().as_str(),
            "allow_writes": target.allow_writes,
            "allow_insecure_credentials": target.settings.allow_insecure_credentials,
            "opt_in": allowed,
            "healthy": healthy,
            "reach": reach,
            "services": services,
        })
    );
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn display_name(service: Service) -> &'static str {
    match service {
        Service::DolphinSchedulerDatabase => "dolphinscheduler db",
        Service::IcebergWarehouse => "iceberg warehouse",
        Service::IcebergRestCatalog => "iceberg rest catalog",
        Service::LokiShipper => "loki shipper",
        Service::VmAlertProbe => "vmalert probe",
        other => other.section(),
    }
}

async fn probe(target: &Target, service: Service) -> anyhow::Result<String> {
    match service {
        Service::Minio => {
            let s3 = carbon_s3::S3Client::from_target(target)?;
            let bucket = target
                .minio
                .as_ref()
                .map(|m| m.test_bucket.clone())
                .unwrap_or_default();
            s3.health(&bucket).await?;
            Ok(format!(
                "live, credentials accepted, bucket {bucket} answered"
            ))
        }
        Service::VictoriaMetrics => {
            let vm = carbon_victoriametrics::VmClient::from_target(target)?;
            vm.health().await?;
            Ok("/health answered OK".into())
        }
        Service::Trino => {
            let trino = carbon_trino::TrinoClient::from_target(target)?;
            let info = trino.info().await?;
            anyhow::ensure!(
                !info.starting,
                "{} is still starting (version {})",
                trino.url(),
                info.node_version.version
            );
            let catalogs = trino.catalogs().await?;
            let required = target
                .trino
                .as_ref()
                .map(|t| t.required_catalogs.clone())
                .unwrap_or_default();
            let missing = carbon_trino::missing_catalogs(&required, &catalogs);
            anyhow::ensure!(
                missing.is_empty(),
                "{} lacks required catalog(s) {} (it has {})",
                trino.url(),
                missing.join(", "),
                catalogs.join(", ")
            );
            Ok(format!(
                "Trino {} ({}), user {} accepted, catalogs {}",
                info.node_version.version,
                info.environment,
                trino.user(),
                catalogs.join(", ")
            ))
        }
        Service::DolphinScheduler => {
            let ds = carbon_dolphinscheduler::DsClient::from_target(target)?;
            ds.health().await?;
            let (_, user) = ds.current_user().await?;
            let generation = ds.generation().await?;
            Ok(format!(
                "health UP, authenticated as {user}, API generation {generation}"
            ))
        }
        Service::DolphinSchedulerDatabase => {
            use sqlx::Connection as _;
            let ds = target.section("dolphinscheduler", &target.dolphinscheduler)?;
            let var = ds.database_url_env.as_deref().unwrap_or_default();
            let url = target.credential("dolphinscheduler", var)?;
            let mut conn = tokio::time::timeout(
                target.settings.request_timeout(),
                sqlx::PgConnection::connect(url.expose()),
            )
            .await
            .map_err(|_| anyhow::anyhow!("connecting to the database named by {var} timed out"))?
            .map_err(|e| anyhow::anyhow!("connecting to the database named by {var}: {e}"))?;
            let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t_ds_process_definition")
                .fetch_one(&mut conn)
                .await
                .with_context(|| format!("querying the database named by {var}"))?;
            Ok(format!(
                "connected ({var}), t_ds_process_definition holds {n} definition(s)"
            ))
        }
        Service::IcebergWarehouse => {
            let t = target.section("trino", &target.trino)?;
            let bucket = t.warehouse_bucket.clone().unwrap_or_default();
            let s3 = carbon_s3::S3Client::from_target(target)?;
            anyhow::ensure!(
                s3.bucket_exists(&bucket).await?,
                "the warehouse bucket {bucket} (trino.warehouse_bucket) does not exist"
            );
            Ok(format!(
                "bucket {bucket} readable with the [minio] credentials (prefix `{}`)",
                t.warehouse_prefix
            ))
        }
        Service::Superset => {
            let s = carbon_superset::SupersetClient::from_target(target)?;
            s.health().await?;
            s.login().await?;
            let version = s.server_version().await?;
            Ok(format!(
                "Superset {} at {}, user {} logged in",
                version.as_deref().unwrap_or("(version not reported)"),
                s.base(),
                target.superset.as_ref().map_or("", |c| c.user.as_str())
            ))
        }
        Service::IcebergRestCatalog => {
            let rest = carbon_trino::RestCatalogClient::from_target(target)?;
            let (settings, server) = rest.config().await?;
            let namespaces = rest.namespaces(&settings).await?;
            Ok(format!(
                "{} answers /v1/config (server {}), {} namespace(s)",
                rest.base(),
                server.as_deref().unwrap_or("not named"),
                namespaces.len()
            ))
        }
        Service::Loki => {
            let loki = carbon_loki::LokiClient::from_target(target)?;
            loki.ready().await?;
            let version = loki.version().await?;
            Ok(format!("ready, Loki {version}"))
        }
        Service::LokiShipper => {
            // Probed as the trial uses it: the directory exists and a file can be made in it
            // (removed at once; the shipper may see it, it holds nothing).
            let loki = target.section("loki", &target.loki)?;
            let dir = loki.shipper_dir.clone().unwrap_or_default();
            anyhow::ensure!(
                dir.is_dir(),
                "the shipper directory {} (loki.shipper_dir) does not exist",
                dir.display()
            );
            let probe = dir.join(format!(".carbon-e2e-doctor-{}", std::process::id()));
            std::fs::write(&probe, b"").with_context(|| {
                format!("creating a file in {} (loki.shipper_dir)", dir.display())
            })?;
            let _ = std::fs::remove_file(&probe);
            Ok(format!(
                "{} exists and is writable (whether the shipper picks files up is the loki suite's trial)",
                dir.display()
            ))
        }
        Service::VmAlert => {
            let vmalert = carbon_vmalert::VmAlertClient::from_target(target)?;
            vmalert.health().await?;
            let groups = vmalert.groups().await?;
            Ok(format!("/health OK, {} rule group(s)", groups.len()))
        }
        Service::VmAlertProbe => {
            let cfg = target.section("vmalert", &target.vmalert)?;
            let rule = cfg.probe_rule.clone().unwrap_or_default();
            let vmalert = carbon_vmalert::VmAlertClient::from_target(target)?;
            let groups = vmalert.groups().await?;
            let (group, found) = carbon_vmalert::find_rule(&groups, &rule).ok_or_else(|| {
                anyhow::anyhow!(
                    "probe rule {rule} (vmalert.probe_rule) is not among vmalert's rules"
                )
            })?;
            Ok(format!(
                "probe rule {}/{} exists (`{}`, for {} s)",
                group.name, found.name, found.query, found.duration
            ))
        }
        Service::Grafana => {
            let grafana = carbon_grafana::GrafanaClient::from_target(target)?;
            let health = grafana.health().await?;
            Ok(format!(
                "Grafana {}, database {}",
                health.version, health.database
            ))
        }
        Service::Kubernetes => kubernetes(target).await,
        Service::Velero => {
            let velero = carbon_velero::VeleroClient::from_target(target).await?;
            let location = velero.check_location().await?;
            let schedules: Vec<carbon_velero::Schedule> =
                velero.list(carbon_velero::Kind::Schedule).await?;
            Ok(format!("{location}; {} schedule(s)", schedules.len()))
        }
    }
}

/// API server, version, user, and the permissions the suites need that the user lacks.
async fn kubernetes(target: &Target) -> anyhow::Result<String> {
    let kube = carbon_kube::KubeClient::from_target(target).await?;
    let version = kube.version().await?;
    let (user, groups) = kube.user().await?;
    let mut needed = carbon_kube::read_permissions(target);
    needed.extend_from_slice(carbon_kube::REACH_PERMISSIONS);
    // `get secrets` in each namespace whose Secrets the target's credentials name.
    let mut namespaces: Vec<String> = target
        .credential_vars()
        .into_iter()
        .filter_map(carbon_kube::SecretRef::parse)
        .map(|r| r.namespace)
        .collect();
    namespaces.sort();
    namespaces.dedup();
    needed.extend(namespaces.into_iter().map(|ns| carbon_kube::Permission {
        namespace: Some(ns),
        ..carbon_kube::Permission::cluster("get", "", "secrets")
    }));
    let missing = kube.missing(&needed).await?;
    anyhow::ensure!(
        missing.is_empty(),
        "{} {version}, user {user}: lacks {} (grant kind-config/rbac/readonly.yaml)",
        kube.server(),
        missing
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(format!(
        "{} {version} via {}, user {user} (groups {}), may do all {} checked operations",
        kube.server(),
        kube.source(),
        groups.join(","),
        needed.len()
    ))
}
