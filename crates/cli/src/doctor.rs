//! `doctor`: the resolved target, secrets redacted, and one probe per configured service.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use carbon_config::{Service, Target};

pub async fn run() -> anyhow::Result<ExitCode> {
    let target = carbon_config::load().context("loading the target")?;
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
        "  request timeout {} s, trial timeout {} s, strict {}",
        target.settings.request_timeout_secs,
        target.settings.trial_timeout_secs,
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
            "[dolphinscheduler] url {} user {} api {:?} tenant {} worker group {}",
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
    println!();
    let mut healthy = true;
    for service in Service::ALL {
        let name = match service {
            Service::DolphinSchedulerDatabase => "dolphinscheduler db",
            other => other.section(),
        };
        if let Err(reason) = target.service_configured(service) {
            println!("{name:<16} SKIP  {reason}");
            continue;
        }
        let t0 = Instant::now();
        let verdict = probe(&target, service).await;
        let ms = t0.elapsed().as_millis();
        match verdict {
            Ok(what) => println!("{name:<16} OK    {ms:>5} ms  {what}"),
            Err(e) => {
                healthy = false;
                println!("{name:<16} FAIL  {ms:>5} ms  {e:#}");
            }
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
                "health UP, authenticated as {user}, API generation {generation:?}"
            ))
        }
        Service::DolphinSchedulerDatabase => {
            Ok("a database URL is set (the suite's SQL trial connects to it)".into())
        }
        Service::Kubernetes => kubernetes(target).await,
    }
}

/// API server, version, user, and the permissions the suites need that the user lacks.
async fn kubernetes(target: &Target) -> anyhow::Result<String> {
    let kube = carbon_kube::KubeClient::from_target(target).await?;
    let version = kube.version().await?;
    let (user, groups) = kube.user().await?;
    let needed: Vec<_> = carbon_kube::PLATFORM_PERMISSIONS
        .iter()
        .chain(carbon_kube::REACH_PERMISSIONS)
        .cloned()
        .collect();
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
