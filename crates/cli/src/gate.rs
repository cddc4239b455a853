//! `gate`: the acceptance gate over a finished run. Reads the JUnit report `validate` completed,
//! evaluates it with the target's `[gate]` and `[platform]` settings (`carbon_gate`), writes
//! `report.md` and `report.json` beside it, appends `report.md` to `$GITHUB_STEP_SUMMARY` when
//! that is set, prints the readiness table and ends with the verdict line; the exit code is the
//! verdict's (0 GO, 3 a required check failed, 4 below `min_readiness`, 5 inconclusive, 2 no
//! run to gate).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use carbon_config::{Env, Target};
use carbon_gate::{EXIT_NOT_RUN, Evaluation, Run, Settings, report};

/// Arguments of `gate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run's directory, holding the `junit.xml` that `validate` completed. Default: the last
    /// `validate` run of the target, `target/nextest/ci/<target>/`.
    #[arg(long, value_name = "DIR")]
    run: Option<PathBuf>,
    /// A run to compare with (its directory): new and fixed failures, score changes, and the
    /// versions that differ, listed in the report; blocking when `[gate] block_on_drift`.
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
    /// Also pack the run's evidence (junit.xml with every trial's output, report.md,
    /// report.json, run.json) into one `.tar.gz` beside the run's directory.
    #[arg(long)]
    bundle: bool,
    /// Also push the run's results to the target's VictoriaMetrics (as `[report]
    /// push_results = true` does): a write, refused on a read-only target without the opt-in
    /// `push-results`.
    #[arg(long)]
    push_results: bool,
}

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier run's directory (the baseline).
    #[arg(value_name = "RUN_A")]
    before: PathBuf,
    /// The later run's directory.
    #[arg(value_name = "RUN_B")]
    after: PathBuf,
}

/// What a gate wrote.
#[derive(Debug)]
pub struct Gated {
    /// The evaluation.
    pub evaluation: Evaluation,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.json`.
    pub json: PathBuf,
}

/// The directory `validate` writes the target's completed JUnit to.
pub fn run_dir(env: &Env, target: &Target) -> PathBuf {
    crate::nextest::junit_path(env, "ci")
        .parent()
        .map(|p| p.join(&target.name))
        .unwrap_or_else(|| PathBuf::from(&target.name))
}

/// Gates the run in `dir` with `target`'s settings and writes the reports beside its JUnit.
///
/// # Errors
/// The JUnit is missing, unreadable or not completed by `validate`; a report cannot be written.
pub fn gate(
    env: &Env,
    target: &Target,
    dir: &Path,
    baseline: Option<&Path>,
) -> anyhow::Result<Gated> {
    let run = Run::read_dir(dir)?;
    if run.target != target.name && !run.target.starts_with(&format!("{} ", target.name)) {
        println!(
            "gate: the run was against `{}`; judged with the settings of target `{}` ({})",
            run.target,
            target.name,
            target.source.display()
        );
    }
    let settings = Settings::from_target(target);
    let mut evaluation = carbon_gate::evaluate(&run, &settings);
    if let Some(base) = baseline {
        let before = Run::read_dir(base)
            .with_context(|| format!("reading the baseline run {}", base.display()))?;
        let comparison = compare(base, &before, &run, &evaluation, &settings);
        carbon_gate::diff::apply_baseline(&mut evaluation, comparison, settings.block_on_drift);
    }
    let markdown = dir.join("report.md");
    let json = dir.join("report.json");
    let md = report::markdown(&evaluation);
    std::fs::write(&markdown, &md).with_context(|| format!("writing {}", markdown.display()))?;
    let body = serde_json::to_string_pretty(&report::json(&evaluation))
        .context("serialising report.json")?;
    std::fs::write(&json, body + "\n").with_context(|| format!("writing {}", json.display()))?;
    if let Some(summary) = env.get("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(format!("{md}\n").as_bytes()))
            .with_context(|| format!("appending report.md to $GITHUB_STEP_SUMMARY ({summary})"))?;
    }
    Ok(Gated {
        evaluation,
        markdown,
        json,
    })
}

/// Prints where the reports are, the table and the reasons; the last line is the verdict.
pub fn print(gated: &Gated) {
    println!(
        "\ngate: {} and {}",
        gated.markdown.display(),
        gated.json.display()
    );
    println!("{}", report::text(&gated.evaluation));
}

/// The last line when there is no run to gate (exit code 2).
pub fn not_run(e: &anyhow::Error) -> ExitCode {
    println!("gate: {e:#}");
    println!("gate: no verdict: there is no completed run to gate (exit code {EXIT_NOT_RUN})");
    ExitCode::from(EXIT_NOT_RUN)
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = match std::env::current_dir() {
        Ok(cwd) => carbon_config::pin_target(&Env::from_process(), &cwd),
        Err(_) => Env::from_process(),
    };
    let paths = carbon_config::Paths::from_env(&env);
    let target = match carbon_config::load_with(&env, &paths).context("loading the target") {
        Ok(t) => t,
        Err(e) => return Ok(not_run(&e)),
    };
    let dir = args.run.unwrap_or_else(|| run_dir(&env, &target));
    match gate(&env, &target, &dir, args.baseline.as_deref()) {
        Ok(gated) => {
            if args.bundle {
                bundle_and_upload(&target, &dir, &gated.evaluation).await;
            }
            push_if_asked(&target, &dir, &gated.evaluation, args.push_results).await;
            print(&gated);
            Ok(ExitCode::from(gated.evaluation.exit_code))
        }
        Err(e) => Ok(not_run(&e)),
    }
}

/// Compares `after` (already evaluated) with the run `before` read from `base`, both judged
/// with `settings`.
fn compare(
    base: &Path,
    before: &Run,
    after: &Run,
    evaluated: &Evaluation,
    settings: &Settings,
) -> carbon_gate::diff::Comparison {
    let eval_before = carbon_gate::evaluate(before, settings);
    let label = match &before.manifest {
        Some(m) => format!("{} run {}", m.target, m.run_id),
        None => base.display().to_string(),
    };
    let versions = |r: &Run| {
        r.manifest
            .as_ref()
            .map(carbon_gate::Manifest::versions)
            .unwrap_or_default()
    };
    carbon_gate::diff::compare(
        &label,
        (before, &eval_before, &versions(before)),
        (after, evaluated, &versions(after)),
    )
}

/// `diff RUN_A RUN_B`: prints the comparison; exit 0 when both runs could be read, 2 otherwise.
pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let env = match std::env::current_dir() {
        Ok(cwd) => carbon_config::pin_target(&Env::from_process(), &cwd),
        Err(_) => Env::from_process(),
    };
    let paths = carbon_config::Paths::from_env(&env);
    let settings = match carbon_config::load_with(&env, &paths) {
        Ok(t) => Settings::from_target(&t),
        Err(_) => Settings::default(),
    };
    let read = |dir: &Path| {
        Run::read_dir(dir).with_context(|| format!("reading the run {}", dir.display()))
    };
    let (before, after) = match (read(&args.before), read(&args.after)) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) | (_, Err(e)) => {
            println!("diff: {e:#}");
            return Ok(ExitCode::from(EXIT_NOT_RUN));
        }
    };
    let evaluated = carbon_gate::evaluate(&after, &settings);
    let c = compare(&args.before, &before, &after, &evaluated, &settings);
    print!("{}", report::comparison_text(&c));
    Ok(ExitCode::SUCCESS)
}

/// The files of a run's evidence, in the order they are packed.
const EVIDENCE: [&str; 4] = ["report.md", "report.json", "run.json", "junit.xml"];

/// Packs the run's evidence in `dir` into `<dir>/../<dir name>-<run id>.tar.gz` (the run id
/// from `run.json`, else `run`); returns the archive's path. Files that are not there are left
/// out (a run from before `run.json`).
///
/// # Errors
/// The archive cannot be written or a file read.
pub fn bundle(dir: &Path, run_id: &str) -> anyhow::Result<PathBuf> {
    let name = dir
        .file_name()
        .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned());
    let archive = dir
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{name}-{run_id}-evidence.tar.gz"));
    let file = std::fs::File::create(&archive)
        .with_context(|| format!("creating {}", archive.display()))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::default(),
    ));
    for f in EVIDENCE {
        let path = dir.join(f);
        if path.exists() {
            tar.append_path_with_name(&path, format!("{name}-{run_id}/{f}"))
                .with_context(|| format!("packing {}", path.display()))?;
        }
    }
    tar.into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .with_context(|| format!("finishing {}", archive.display()))?;
    Ok(archive)
}

/// Bundles, prints where the archive is (or why there is none), and uploads it when `[report]
/// bucket` is set and the target allows it.
pub async fn bundle_and_upload(target: &Target, dir: &Path, e: &Evaluation) {
    let run_id = e.manifest.as_ref().map_or("run", |m| m.run_id.as_str());
    let archive = match bundle(dir, run_id) {
        Ok(path) => {
            println!("gate: evidence bundle {}", path.display());
            path
        }
        Err(err) => {
            println!("gate: no evidence bundle: {err:#}");
            return;
        }
    };
    match upload(target, &archive, run_id).await {
        Ok(Some(url)) => println!("gate: evidence bundle uploaded to {url}"),
        Ok(None) => {}
        Err(err) => println!("gate: evidence bundle not uploaded: {err:#}"),
    }
}

/// Pushes the run when `--push-results` or `[report] push_results` says so, printing one line
/// either way (a push that fails does not change the verdict; the shipped "no results" alert
/// is what notices a nightly that stopped reporting).
pub async fn push_if_asked(target: &Target, dir: &Path, e: &Evaluation, flag: bool) {
    if !flag && !target.report.as_ref().is_some_and(|r| r.push_results) {
        return;
    }
    match push_results(target, dir, e).await {
        Ok(what) => println!("gate: results pushed: {what}"),
        Err(err) => println!("gate: results not pushed: {err:#}"),
    }
}

/// Pushes the gated run in `dir` to the target's VictoriaMetrics (`carbon_gate::metrics`):
/// every sample at the run's end, through `/api/v1/import/prometheus` on `[victoriametrics]`
/// `write_url` (else `url`). A write, refused (nothing sent) on a read-only target without the
/// opt-in `push-results`. Returns what was pushed, for one line of output.
///
/// # Errors
/// The policy refuses it, the run cannot be read, or VictoriaMetrics refuses the write.
pub async fn push_results(target: &Target, dir: &Path, e: &Evaluation) -> anyhow::Result<String> {
    use carbon_config::FromTarget as _;
    if target.settings.mode() == carbon_config::Mode::ReadOnly
        && !target.settings.allows("push-results")
    {
        anyhow::bail!(
            "target `{}` is read-only and pushing results is a write: add \"push-results\" to [target] opt_in to allow this one write",
            target.name
        );
    }
    let run = Run::read_dir(dir)?;
    let manifest = e.manifest.as_ref();
    let ended_ms = manifest
        .and_then(|m| {
            time::OffsetDateTime::parse(&m.ended, &time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(time::OffsetDateTime::now_utc)
        .unix_timestamp()
        * 1000;
    let facts = carbon_gate::metrics::PushFacts {
        target: &target.name,
        run_id: manifest.map_or("unknown", |m| m.run_id.as_str()),
        version: env!("CARGO_PKG_VERSION"),
        ended_ms,
    };
    let text = carbon_gate::metrics::exposition(&run, e, &facts);
    let (materialized, _guards) = carbon_kube::materialize(target)
        .await
        .context("reaching VictoriaMetrics")?;
    let vm = carbon_victoriametrics::VmClient::from_target(&materialized)
        .context("the metrics store ([victoriametrics])")?;
    vm.import_prometheus(&text).await?;
    Ok(format!(
        "{} sample(s) of target `{}` at {} (run end)",
        text.lines().count(),
        target.name,
        manifest.map_or("now", |m| m.ended.as_str())
    ))
}

/// Where an uploaded bundle goes in `[report] bucket`.
fn report_key(target: &str, run_id: &str) -> String {
    let day = time::OffsetDateTime::now_utc().date();
    format!(
        "{}{target}/{:04}-{:02}-{:02}-{run_id}/evidence.tar.gz",
        carbon_config::REPORT_PREFIX,
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

/// Uploads the bundle to `[report] bucket` (a write: refused on a read-only target, and only
/// with the opt-in `upload-report`). `Ok(None)`: no bucket configured.
async fn upload(target: &Target, archive: &Path, run_id: &str) -> anyhow::Result<Option<String>> {
    use carbon_config::FromTarget as _;
    let Some(bucket) = target.report.as_ref().and_then(|r| r.bucket.clone()) else {
        return Ok(None);
    };
    if target.settings.mode() == carbon_config::Mode::ReadOnly {
        anyhow::bail!(
            "target `{}` is read-only and an upload is a write ([report] bucket = {bucket})",
            target.name
        );
    }
    if !target.settings.allows("upload-report") {
        anyhow::bail!(
            "target `{}` does not opt in to `upload-report` ([target] opt_in)",
            target.name
        );
    }
    let (materialized, _guards) = carbon_kube::materialize(target)
        .await
        .context("reaching the object store")?;
    let s3 = carbon_minio::MinioClient::from_target(&materialized)
        .context("the object store ([minio])")?;
    let body = std::fs::read(archive).with_context(|| format!("reading {}", archive.display()))?;
    let key = report_key(&target.name, run_id);
    s3.put_object(&bucket, &key, body)
        .await
        .with_context(|| format!("PUT s3://{bucket}/{key}"))?;
    Ok(Some(format!("s3://{bucket}/{key}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_uploaded_report_is_outside_everything_the_reaper_lists() {
        let key = super::report_key("staging", "1a2b3c4d");
        assert!(key.starts_with("carbon-e2e-reports/staging/"), "{key}");
        assert!(key.ends_with("-1a2b3c4d/evidence.tar.gz"), "{key}");
        assert!(!key.starts_with(carbon_core::naming::S3_ROOT), "{key}");
    }
}
