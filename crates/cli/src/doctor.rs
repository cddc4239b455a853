//! `doctor`: the resolved target, secrets redacted, and one probe per configured service.

use carbon_config::FromTarget as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use carbon_config::{Capability, Target};

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
    for probe in probes(&target).await {
        let name = probe.name;
        match probe.verdict {
            Verdict::Skip(reason) => println!("{name:<20} SKIP  {reason}"),
            Verdict::Ok(what, ms) => println!("{name:<20} OK    {ms:>5} ms  {}", scrubbed(what)),
            Verdict::Fail(e, ms) => {
                healthy = false;
                println!("{name:<20} FAIL  {ms:>5} ms  {}", scrubbed(e));
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
    let secrets = target.secret_values();
    for probe in probes(target).await {
        let name = probe.name;
        let entry = match probe.verdict {
            Verdict::Skip(reason) => {
                serde_json::json!({"service": name, "status": "skip", "detail": reason})
            }
            Verdict::Ok(what, ms) => {
                serde_json::json!({"service": name, "status": "ok", "ms": ms, "detail": carbon_config::scrub(&secrets, what)})
            }
            Verdict::Fail(e, ms) => {
                healthy = false;
                serde_json::json!({"service": name, "status": "fail", "ms": ms, "detail": carbon_config::scrub(&secrets, e)})
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

/// What one probe found.
enum Verdict {
    /// Not configured: why.
    Skip(String),
    /// What it saw, and how long it took (ms).
    Ok(String, u128),
    /// The failure, and how long it took (ms).
    Fail(String, u128),
}

struct Probed {
    name: &'static str,
    verdict: Verdict,
}

/// Each service of the registry, then each capability, probed in turn (one line each).
async fn probes(target: &Target) -> Vec<Probed> {
    let mut out = Vec::new();
    for d in crate::registry::registry() {
        let verdict = match target.service_configured(d.service) {
            Err(reason) => Verdict::Skip(reason),
            Ok(()) => timed((d.probe)(target)).await,
        };
        out.push(Probed {
            name: d.service.name(),
            verdict,
        });
    }
    for capability in Capability::ALL {
        let verdict = match target.capability_available(capability) {
            Err(reason) => Verdict::Skip(reason),
            Ok(()) => {
                timed(async {
                    capability_probe(target, capability)
                        .await
                        .map_err(|e| format!("{e:#}").into())
                })
                .await
            }
        };
        out.push(Probed {
            name: capability.name(),
            verdict,
        });
    }
    out
}

async fn timed(
    probe: impl std::future::Future<Output = Result<String, carbon_config::ProbeError>>,
) -> Verdict {
    let t0 = Instant::now();
    let verdict = probe.await;
    let ms = t0.elapsed().as_millis();
    match verdict {
        Ok(what) => Verdict::Ok(what, ms),
        Err(e) => Verdict::Fail(e.to_string(), ms),
    }
}

/// A capability, probed as the trials that need it use it.
async fn capability_probe(target: &Target, capability: Capability) -> anyhow::Result<String> {
    match capability {
        Capability::DolphinSchedulerDatabase => {
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
        Capability::IcebergWarehouse => {
            let t = target.section("trino", &target.trino)?;
            let bucket = t.warehouse_bucket.clone().unwrap_or_default();
            let s3 = carbon_minio::MinioClient::from_target(target)?;
            anyhow::ensure!(
                s3.bucket_exists(&bucket).await?,
                "the warehouse bucket {bucket} (trino.warehouse_bucket) does not exist"
            );
            Ok(format!(
                "bucket {bucket} readable with the [minio] credentials (prefix `{}`)",
                t.warehouse_prefix
            ))
        }
        Capability::LokiShipper => {
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
        Capability::VmAlertProbe => {
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
    }
}
