//! `reap`: removes what killed runs left behind, and nothing else.
//!
//! An artifact is a leftover only when all of these hold:
//! - its name has the shape [`carbon_core::naming`] gives a run's artifacts, with a run id;
//! - it carries the ownership marker where the service can hold one (DolphinScheduler project
//!   description, Iceberg table comment, S3 object metadata, series labels, token shape);
//! - its age, measured on the **server's** clock (HTTP `Date`, the server's own timestamps,
//!   the creation time in the marker), is over the limit, or it belongs to the run named with
//!   `--run`.
//!
//! Anything else is kept; an artifact whose age cannot be read is kept and reported. One removal
//! that fails does not stop the others. Every decision is printed: removed, kept and why.

use std::time::Duration;

use anyhow::Context as _;
use carbon_config::{FromTarget as _, Target};
use carbon_core::naming::{self, Marker};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Artifacts older than this are leftovers when `validate` reaps before a run.
pub const DEFAULT_AGE: Duration = Duration::from_secs(3600);

/// Arguments of `reap`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove artifacts older than this many minutes (server's clock).
    #[arg(long, default_value_t = 60)]
    older_than_minutes: u64,
    /// Only list what would be removed (and what is kept, and why); send no write.
    #[arg(long)]
    dry_run: bool,
    /// Only the artifacts of this run id, whatever their age (e.g. after killing that run).
    #[arg(long)]
    run: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let target = carbon_config::load().context("loading the target")?;
    let selection = Selection {
        older_than: Duration::from_secs(args.older_than_minutes * 60),
        run: args.run,
        dry_run: args.dry_run,
    };
    let outcome = reap(&target, &selection).await;
    if outcome.refused.is_some() {
        return Ok(std::process::ExitCode::from(2));
    }
    outcome.print_summary(&selection);
    Ok(if outcome.failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

/// Which artifacts to remove.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Artifacts older than this (server's clock) are leftovers.
    pub older_than: Duration,
    /// When set, exactly this run's artifacts, whatever their age.
    pub run: Option<String>,
    /// List, do not remove.
    pub dry_run: bool,
}

impl Selection {
    /// The default reaping before a run: an hour, for real.
    pub fn before_run() -> Self {
        Self {
            older_than: DEFAULT_AGE,
            run: None,
            dry_run: false,
        }
    }

    /// Whether an owned artifact of `run`, created at `created` (server seconds, if known), is
    /// to go, given the server's `now`. `Err` carries why it stays.
    fn decide(&self, run: &str, created: Option<i64>, now: i64) -> Result<(), String> {
        if let Some(only) = &self.run {
            return if only == run {
                Ok(())
            } else {
                Err(format!("run {run}, not {only}"))
            };
        }
        let Some(created) = created else {
            return Err("its age cannot be read: kept".into());
        };
        let age = now - created;
        let limit = i64::try_from(self.older_than.as_secs()).unwrap_or(i64::MAX);
        if age >= limit {
            Ok(())
        } else {
            Err(format!("{age} s old, younger than {limit} s: a live run's"))
        }
    }
}

/// What a reap did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Artifacts removed (or, in a dry run, that would be).
    pub removed: Vec<String>,
    /// Owned artifacts kept, with why (foreign ones are only counted).
    pub kept: usize,
    /// Removals or listings that failed.
    pub failed: usize,
    /// Why nothing was done: the target's policy forbids the deletions a reap makes.
    pub refused: Option<String>,
}

/// Why `target`'s policy forbids this reap, if it does: a reap deletes, so a read-only target
/// only allows `--dry-run`.
pub fn refusal(target: &Target, sel: &Selection) -> Option<String> {
    (!sel.dry_run && target.settings.mode() == carbon_config::Mode::ReadOnly).then(|| {
        format!(
            "reap deletes what runs left, and target `{}` is read-only ([target] mode): nothing was sent; `--dry-run` lists what would go",
            target.name
        )
    })
}

impl Outcome {
    fn removed(&mut self, sel: &Selection, service: &str, what: String) {
        let verb = if sel.dry_run {
            "would remove"
        } else {
            "removed"
        };
        println!("reap: {service}: {verb} {what}");
        self.removed.push(format!("{service}: {what}"));
    }

    fn kept(&mut self, service: &str, what: &str, why: &str) {
        println!("reap: {service}: kept {what}: {why}");
        self.kept += 1;
    }

    fn failed(&mut self, service: &str, what: &str, e: &anyhow::Error) {
        println!("reap: {service}: FAILED {what}: {e:#}");
        self.failed += 1;
    }

    fn print_summary(&self, sel: &Selection) {
        println!(
            "reap: {} {}, {} kept, {} failed",
            self.removed.len(),
            if sel.dry_run {
                "would be removed"
            } else {
                "removed"
            },
            self.kept,
            self.failed
        );
    }
}

/// Reaps every configured service of `target`; never stops at the first failure.
pub async fn reap(target: &Target, sel: &Selection) -> Outcome {
    let mut out = Outcome::default();
    if let Some(why) = refusal(target, sel) {
        println!("reap: refused: {why}");
        out.refused = Some(why);
        return out;
    }
    if target.minio.is_some()
        && let Err(e) = reap_objects(target, sel, &mut out).await
    {
        out.failed("minio", "listing", &e);
    }
    if target.victoriametrics.is_some()
        && let Err(e) = reap_series(target, sel, &mut out).await
    {
        out.failed("victoriametrics", "listing", &e);
    }
    if target.trino.is_some()
        && let Err(e) = reap_trino(target, sel, &mut out).await
    {
        out.failed("trino", "listing", &e);
    }
    if target.trino.is_some()
        && let Err(e) = reap_trino_queries(target, sel, &mut out).await
    {
        out.failed("trino", "listing queries", &e);
    }
    if target.dolphinscheduler.is_some()
        && let Err(e) = reap_dolphinscheduler(target, sel, &mut out).await
    {
        out.failed("dolphinscheduler", "listing", &e);
    }
    if target.velero.is_some()
        && let Err(e) = reap_velero(target, sel, &mut out).await
    {
        out.failed("velero", "listing", &e);
    }
    if target.kubernetes.is_some()
        && let Err(e) = reap_namespaces(target, sel, &mut out).await
    {
        out.failed("kubernetes", "listing", &e);
    }
    reap_run_state(sel);
    out
}

/// What the reaper does with a Kubernetes object.
#[derive(Debug, PartialEq, Eq)]
enum KubeVerdict {
    /// Its name is not a run's: not even counted.
    Foreign,
    /// A run's name without the run's labels: kept and reported.
    Unmarked,
    /// A run's, kept (too young, or another run than `--run`): reported unless `--run`.
    Kept(String),
    /// A leftover: removed.
    Remove,
}

/// The verdict on an object named `name` with `labels`, created at `created` (server seconds).
fn kube_verdict(
    sel: &Selection,
    name: &str,
    labels: Option<&std::collections::BTreeMap<String, String>>,
    created: Option<i64>,
    now: i64,
) -> KubeVerdict {
    if naming::parse_resource(name).is_none() {
        return KubeVerdict::Foreign;
    }
    let Some(run) = naming::kube_object_run(name, labels) else {
        return KubeVerdict::Unmarked;
    };
    match sel.decide(run, created, now) {
        Ok(()) => KubeVerdict::Remove,
        Err(why) => KubeVerdict::Kept(why),
    }
}

/// Reports a verdict that keeps the object; `true` when the object is to be removed.
fn report_kube_verdict(
    out: &mut Outcome,
    sel: &Selection,
    service: &str,
    what: &str,
    verdict: KubeVerdict,
) -> bool {
    match verdict {
        KubeVerdict::Foreign => false,
        KubeVerdict::Unmarked => {
            out.kept(
                service,
                what,
                &format!(
                    "no labels {}=<its run>, {}={}: not a run's",
                    naming::KUBE_RUN_LABEL,
                    naming::KUBE_OWNER_LABEL,
                    naming::OWNER
                ),
            );
            false
        }
        KubeVerdict::Kept(why) => {
            if sel.run.is_none() {
                out.kept(service, what, &why);
            }
            false
        }
        KubeVerdict::Remove => true,
    }
}

/// Velero objects a run created, aged by `creationTimestamp` on the API server's clock:
/// Backups (through a DeleteBackupRequest, which removes their files), Restores, storage
/// locations and delete requests.
async fn reap_velero(target: &Target, sel: &Selection, out: &mut Outcome) -> anyhow::Result<()> {
    use carbon_velero::{Kind, VeleroClient};
    let velero = VeleroClient::from_target(target).await?;
    let now = velero.kube().server_time().await?;
    for kind in Kind::CREATED {
        let objects: Vec<kube_object::Any> = velero.list(kind).await?;
        for o in objects {
            let name = o.metadata.name.clone().unwrap_or_default();
            let created = o
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.as_second());
            let what = format!("{kind} {}/{name}", velero.namespace());
            let verdict = kube_verdict(sel, &name, o.metadata.labels.as_ref(), created, now);
            if !report_kube_verdict(out, sel, "velero", &what, verdict) {
                continue;
            }
            if sel.dry_run {
                out.removed(sel, "velero", what);
                continue;
            }
            let removal = match kind {
                Kind::Backup => {
                    let run = naming::parse_resource(&name).unwrap_or_default();
                    velero
                        .delete_backup(&name, run, Duration::from_secs(60))
                        .await
                }
                other => velero.delete(other, &name).await,
            };
            match removal {
                Ok(()) => out.removed(sel, "velero", what),
                Err(e) => out.failed("velero", &what, &e.into()),
            }
        }
    }
    Ok(())
}

/// Namespaces a run created (`e2e-<run>-<what>` with the run's labels), aged by
/// `creationTimestamp` on the API server's clock.
async fn reap_namespaces(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    use carbon_kube::k8s_openapi::api::core::v1::Namespace;
    use carbon_kube::kube::api::{Api, DeleteParams, ListParams};
    let kube = carbon_kube::KubeClient::from_target(target).await?;
    let now = kube.server_time().await?;
    let api: Api<Namespace> = Api::all(kube.client());
    let params =
        ListParams::default().labels(&format!("{}={}", naming::KUBE_OWNER_LABEL, naming::OWNER));
    for ns in api.list(&params).await?.items {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let created = ns
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.as_second());
        let what = format!("namespace {name}");
        let verdict = kube_verdict(sel, &name, ns.metadata.labels.as_ref(), created, now);
        if !report_kube_verdict(out, sel, "kubernetes", &what, verdict) {
            continue;
        }
        if ns.metadata.deletion_timestamp.is_some() {
            continue; // already being deleted
        }
        if !sel.dry_run
            && let Err(e) = api.delete(&name, &DeleteParams::default()).await
        {
            out.failed("kubernetes", &what, &e.into());
            continue;
        }
        out.removed(sel, "kubernetes", what);
    }
    Ok(())
}

/// Any Velero object, read for its metadata only.
mod kube_object {
    /// Spec and status left untyped.
    pub(super) type Any = carbon_kube::kube::core::Object<serde_json::Value, serde_json::Value>;
}

fn rfc3339_secs(text: Option<&str>) -> Option<i64> {
    text.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp)
}

/// Objects under `e2e/<run>/` that carry the run's metadata marker, and incomplete multipart
/// uploads under `e2e/<run>/` (a listing shows no metadata: their key shape and start time).
async fn reap_objects(target: &Target, sel: &Selection, out: &mut Outcome) -> anyhow::Result<()> {
    let Some(m) = &target.minio else {
        return Ok(());
    };
    let s3 = carbon_s3::S3Client::from_target(target)?;
    let bucket = &m.test_bucket;
    let now = s3.server_clock(bucket).await?;
    let mut foreign = 0;
    for o in s3.list(bucket, naming::S3_ROOT).await? {
        let Some(run) = naming::parse_object_key(&o.key) else {
            foreign += 1;
            continue;
        };
        let what = format!("s3://{bucket}/{}", o.key);
        match s3.object_run(bucket, &o.key).await {
            Ok(Some(owner)) if owner == run => {}
            Ok(_) => {
                out.kept("minio", &what, "no carbon-e2e ownership marker for its run");
                continue;
            }
            Err(e) => {
                out.failed("minio", &what, &e.into());
                continue;
            }
        }
        if let Err(why) = sel.decide(run, rfc3339_secs(o.last_modified.as_deref()), now) {
            if sel.run.is_none() {
                out.kept("minio", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = s3.delete_object(bucket, &o.key).await
        {
            out.failed("minio", &what, &e.into());
            continue;
        }
        out.removed(sel, "minio", what);
    }
    for u in s3.incomplete_uploads(bucket, naming::S3_ROOT).await? {
        let Some(run) = naming::parse_object_key(&u.key) else {
            foreign += 1;
            continue;
        };
        let what = format!(
            "incomplete upload {} of s3://{bucket}/{}",
            u.upload_id, u.key
        );
        if let Err(why) = sel.decide(run, rfc3339_secs(u.initiated.as_deref()), now) {
            if sel.run.is_none() {
                out.kept("minio", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = s3.abort_upload(bucket, &u.key, &u.upload_id).await
        {
            out.failed("minio", &what, &e.into());
            continue;
        }
        out.removed(sel, "minio", what);
    }
    if foreign > 0 {
        println!(
            "reap: minio: {foreign} object(s) under {bucket}/e2e/ are not a run's: left alone"
        );
    }
    Ok(())
}

/// Series `carbon_e2e_*` labelled `e2e_owner="carbon-e2e"` and `e2e_run="<run>"`, aged by their
/// newest sample against the server's clock.
async fn reap_series(target: &Target, sel: &Selection, out: &mut Outcome) -> anyhow::Result<()> {
    let vm = carbon_victoriametrics::VmClient::from_target(target)?;
    let now = vm.server_clock().await?;
    let owned = format!(
        "{{__name__=~\"carbon_e2e_.+\",{}=\"{}\"}}",
        naming::OWNER_LABEL,
        naming::OWNER
    );
    let mut runs: std::collections::BTreeMap<String, i64> = Default::default();
    for series in vm.export(&owned).await? {
        let Some(run) = series.metric.get(naming::RUN_LABEL) else {
            continue;
        };
        if !naming::is_run_id(run) {
            out.kept(
                "victoriametrics",
                &format!("series of run {run:?}"),
                "the run label has no run's shape",
            );
            continue;
        }
        let newest = series.timestamps.iter().copied().max().unwrap_or(0) / 1000;
        let e = runs.entry(run.clone()).or_insert(newest);
        *e = (*e).max(newest);
    }
    // Deleting series is a kind of write a target opts in to (as the trials that do it).
    let may_delete = target.settings.allows("delete-series");
    for (run, newest) in runs {
        let what = format!("carbon_e2e_* series of run {run}");
        if !may_delete {
            out.kept(
                "victoriametrics",
                &what,
                "deleting series needs opt_in \"delete-series\" in [target]",
            );
            continue;
        }
        if let Err(why) = sel.decide(&run, Some(newest), now) {
            if sel.run.is_none() {
                out.kept("victoriametrics", &what, &why);
            }
            continue;
        }
        let selector = format!(
            "{{__name__=~\"carbon_e2e_.+\",{}=\"{}\",{}=\"{run}\"}}",
            naming::OWNER_LABEL,
            naming::OWNER,
            naming::RUN_LABEL
        );
        if !sel.dry_run
            && let Err(e) = vm
                .delete_series_settled(&selector, carbon_victoriametrics::SERIES_CLEANUP)
                .await
        {
            out.failed("victoriametrics", &what, &e.into());
            continue;
        }
        out.removed(sel, "victoriametrics", what);
    }
    Ok(())
}

/// Iceberg schemas named `e2e_<run>_<what>_<created>` whose every table carries the run's
/// marker as its comment; then warehouse files of such schemas that no longer exist (a DROP
/// that failed half-way).
async fn reap_trino(target: &Target, sel: &Selection, out: &mut Outcome) -> anyhow::Result<()> {
    let Some(cfg) = &target.trino else {
        return Ok(());
    };
    let trino = carbon_trino::TrinoClient::from_target(target)?;
    let catalog = &cfg.iceberg_catalog;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let now = trino
        .execute("SELECT CAST(to_unixtime(current_timestamp) AS bigint)")
        .await?
        .single()
        .ok()
        .and_then(serde_json::Value::as_i64)
        .context("reading the coordinator's clock")?;
    let schemas: Vec<String> = trino
        .execute(&format!(
            "SELECT schema_name FROM {catalog}.information_schema.schemata \
             WHERE schema_name LIKE 'e2e\\_%' ESCAPE '\\'"
        ))
        .await?
        .rows
        .iter()
        .filter_map(|r| r.first().map(text))
        .collect();
    for schema in &schemas {
        let what = format!("schema {catalog}.{schema}");
        let Some((run, created)) = naming::parse_identifier(schema) else {
            out.kept(
                "trino",
                &what,
                "its name is not a run's (e2e_<run>_<what>_<created>)",
            );
            continue;
        };
        if let Err(why) = sel.decide(run, Some(created), now) {
            if sel.run.is_none() {
                out.kept("trino", &what, &why);
            }
            continue;
        }
        if let Err(e) = drop_owned_schema(&trino, catalog, schema, run, sel, out).await {
            out.failed("trino", &what, &e);
        }
    }
    if let (Some(bucket), Some(_)) = (&cfg.warehouse_bucket, &target.minio) {
        let s3 = carbon_s3::S3Client::from_target(target)?;
        let prefix = format!("{}e2e_", cfg.warehouse_prefix);
        let mut orphans: std::collections::BTreeSet<String> = Default::default();
        for o in s3.list(bucket, &prefix).await? {
            let schema = o.key[cfg.warehouse_prefix.len()..]
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
            if !schemas.contains(&schema) {
                orphans.insert(schema);
            }
        }
        for schema in orphans {
            let what = format!(
                "files of dropped schema {schema} under s3://{bucket}/{}{schema}/",
                cfg.warehouse_prefix
            );
            let Some((run, created)) = naming::parse_identifier(&schema) else {
                continue;
            };
            if let Err(why) = sel.decide(run, Some(created), now) {
                if sel.run.is_none() {
                    out.kept("trino", &what, &why);
                }
                continue;
            }
            if !sel.dry_run
                && let Err(e) = s3
                    .delete_prefix(bucket, &format!("{}{schema}/", cfg.warehouse_prefix))
                    .await
            {
                out.failed("trino", &what, &e.into());
                continue;
            }
            out.removed(sel, "trino", what);
        }
    }
    Ok(())
}

/// Queries a run left running on the coordinator (a killed trial's heavy query keeps running
/// until Trino abandons it): only those whose source is carbon-e2e and whose client tags name a
/// run (`carbon_trino::run_tag`), aged by their creation time on the coordinator's clock.
/// Anyone else's query is not even counted.
async fn reap_trino_queries(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    // Untagged: the reaper's own queries are no run's.
    let trino = carbon_trino::TrinoClient::from_target(target)?;
    let now = trino
        .execute("SELECT CAST(to_unixtime(current_timestamp) AS bigint)")
        .await?
        .single()
        .ok()
        .and_then(serde_json::Value::as_i64)
        .context("reading the coordinator's clock")?;
    for q in trino.list_running_queries().await? {
        let Some(run) = q.run() else {
            continue;
        };
        let what = format!("query {} of run {run} ({})", q.query_id, q.state);
        if let Err(why) = sel.decide(run, rfc3339_secs(q.created()), now) {
            if sel.run.is_none() {
                out.kept("trino", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = trino.kill(&q.query_id).await
        {
            out.failed("trino", &what, &e.into());
            continue;
        }
        out.removed(sel, "trino", format!("{what}: cancelled"));
    }
    Ok(())
}

async fn drop_owned_schema(
    trino: &carbon_trino::TrinoClient,
    catalog: &str,
    schema: &str,
    run: &str,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let tables = trino
        .execute(&format!(
            "SELECT table_name, comment FROM system.metadata.table_comments \
             WHERE catalog_name = '{catalog}' AND schema_name = '{schema}'"
        ))
        .await?;
    let mut names = Vec::new();
    for row in &tables.rows {
        let table = row.first().map(text).unwrap_or_default();
        let comment = row.get(1).map(text).unwrap_or_default();
        if Marker::parse(&comment).is_none_or(|m| m.run != run) {
            out.kept(
                "trino",
                &format!("schema {catalog}.{schema}"),
                &format!("table {table} has no carbon-e2e ownership marker for run {run}"),
            );
            return Ok(());
        }
        names.push(table);
    }
    if !sel.dry_run {
        for table in &names {
            trino
                .execute(&format!(
                    "DROP TABLE IF EXISTS {catalog}.\"{schema}\".\"{table}\""
                ))
                .await?;
        }
        trino
            .execute(&format!("DROP SCHEMA IF EXISTS {catalog}.\"{schema}\""))
            .await?;
    }
    out.removed(
        sel,
        "trino",
        format!("schema {catalog}.{schema} and its {} table(s)", names.len()),
    );
    Ok(())
}

/// Projects `e2e-<run>-<what>` whose description is the run's marker (workflows first), and
/// access tokens made by `naming::token`, aged on the server's clock.
async fn reap_dolphinscheduler(
    target: &Target,
    sel: &Selection,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let ds = carbon_dolphinscheduler::DsClient::from_target(target)?;
    let now = ds.server_clock().await?;
    for p in ds.projects(Some("e2e-"), 100).await? {
        let what = format!("project {}", p.name);
        let Some(run) = naming::parse_resource(&p.name) else {
            out.kept(
                "dolphinscheduler",
                &what,
                "its name is not a run's (e2e-<run>-<what>)",
            );
            continue;
        };
        let marker = p.description.as_deref().and_then(Marker::parse);
        let Some(marker) = marker.filter(|m| m.run == run) else {
            out.kept(
                "dolphinscheduler",
                &what,
                "its description is not a carbon-e2e ownership marker for its run",
            );
            continue;
        };
        if let Err(why) = sel.decide(run, Some(marker.created), now) {
            if sel.run.is_none() {
                out.kept("dolphinscheduler", &what, &why);
            }
            continue;
        }
        if sel.dry_run {
            out.removed(sel, "dolphinscheduler", what);
            continue;
        }
        let removal = async {
            let workflows = ds.workflows(p.code).await?;
            for wf in &workflows {
                ds.remove_workflow(p.code, wf.code, Duration::from_secs(60))
                    .await
                    .with_context(|| format!("removing workflow {}", wf.name))?;
            }
            ds.delete_project(p.code).await?;
            anyhow::Ok(workflows.len())
        };
        match removal.await {
            Ok(n) => out.removed(
                sel,
                "dolphinscheduler",
                format!("{what} and its {n} workflow(s)"),
            ),
            Err(e) => out.failed("dolphinscheduler", &what, &e),
        }
    }
    for t in ds.access_tokens().await? {
        let Some((run, created)) = naming::parse_token(t.token.expose()) else {
            continue; // someone else's token: not even counted, its value is a credential
        };
        let what = format!("access token {} of run {run}", t.id);
        if let Err(why) = sel.decide(run, Some(created), now) {
            if sel.run.is_none() {
                out.kept("dolphinscheduler", &what, &why);
            }
            continue;
        }
        if !sel.dry_run
            && let Err(e) = ds.delete_access_token(t.id).await
        {
            out.failed("dolphinscheduler", &what, &e.into());
            continue;
        }
        out.removed(sel, "dolphinscheduler", what);
    }
    Ok(())
}

/// Per-run state directories on this machine (the unreachable-service records), by age.
fn reap_run_state(sel: &Selection) {
    let env = carbon_config::Env::from_process();
    let paths = carbon_config::Paths::from_env(&env);
    let Ok(entries) = std::fs::read_dir(paths.runs()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= sel.older_than);
        let chosen = sel.run.as_deref().map_or(old, |r| r == name);
        if chosen && naming::is_run_id(&name) && !sel.dry_run {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_on_the_servers_clock_decides_and_an_unknown_age_keeps() {
        let sel = Selection::before_run();
        assert!(sel.decide("1f2e3d4c", Some(1_000), 1_000 + 3600).is_ok());
        assert!(sel.decide("1f2e3d4c", Some(1_000), 1_000 + 3599).is_err());
        assert!(sel.decide("1f2e3d4c", None, 1_000_000).is_err());
        let only = Selection {
            run: Some("1f2e3d4c".into()),
            ..Selection::before_run()
        };
        assert!(only.decide("1f2e3d4c", Some(1_000), 1_000).is_ok());
        assert!(only.decide("9a8b7c6d", Some(0), 1_000_000).is_err());
    }

    #[test]
    fn kubernetes_objects_need_the_name_shape_and_the_runs_labels() {
        let sel = Selection::before_run();
        let ours = naming::kube_labels("1f2e3d4c");
        let now = 10_000;
        assert_eq!(
            kube_verdict(&sel, "e2e-1f2e3d4c-files", Some(&ours), Some(0), now),
            KubeVerdict::Remove
        );
        assert!(matches!(
            kube_verdict(&sel, "e2e-1f2e3d4c-files", Some(&ours), Some(now - 60), now),
            KubeVerdict::Kept(_)
        ));
        // A team's namespace with the prefix, or our shape with another run's labels.
        assert_eq!(
            kube_verdict(&sel, "e2e-orders", Some(&ours), Some(0), now),
            KubeVerdict::Foreign
        );
        assert_eq!(
            kube_verdict(&sel, "e2e-9a8b7c6d-files", Some(&ours), Some(0), now),
            KubeVerdict::Unmarked
        );
        assert_eq!(
            kube_verdict(&sel, "e2e-1f2e3d4c-files", None, Some(0), now),
            KubeVerdict::Unmarked
        );
    }
}
