//! The `dolphinscheduler` suite: the plan's "create a test workflow in DolphinScheduler", taken
//! to its real meaning. A project named with the run id is created; workflows from
//! `fixtures/dolphinscheduler/` are created, released, started and run by the server's worker;
//! states, task order and task logs are read back; then everything is removed (offline,
//! instances, workflow, project), on failure too.

use std::time::{Duration, Instant};

use carbon_core::naming;
use carbon_dolphinscheduler::fixture::Fixture;
use carbon_dolphinscheduler::{
    ApiGeneration, Auth, DsClient, DsError, TaskInstance, WorkflowDefinition, WorkflowInstance,
    parse_time,
};
use carbon_harness::anyhow::{Context as _, Result, anyhow, bail, ensure};
use carbon_harness::{Backoff, Capability, Check, Ctx, Service, Suite};

const DS: &[Service] = &[Service::DolphinScheduler];

/// The code DolphinScheduler answers a workflow definition whose tasks do not fit together.
const REJECTED_DEFINITION: i64 = 50030;
const DS_DB: &[Service] = &[Service::DolphinScheduler];

/// Polls fast enough that waiting adds well under a second to a run.
const POLL: Backoff = Backoff {
    initial: Duration::from_millis(100),
    max: Duration::from_millis(250),
};

fn main() -> std::process::ExitCode {
    Suite::new("dolphinscheduler")
        .smoke("api_health_is_up", DS, health)
        .smoke("login_with_the_configured_credentials_succeeds", DS, login)
        .smoke("project_list_is_readable", DS, project_list)
        .full(
            "one_task_workflow_runs_to_success_and_its_log_has_the_marker",
            DS,
            one_task_workflow,
        )
        .writes(
            "project e2e-<run id>-<what> (description: carbon-e2e ownership marker) holding workflow e2e-<run id>-<fixture> and its instances",
            "workflow offline, instances stopped and deleted, workflow deleted, then the project",
        )
        .full(
            "two_task_dag_runs_the_dependent_task_after_the_first",
            DS,
            two_task_dag,
        )
        .writes(
            "project e2e-<run id>-<what> (description: carbon-e2e ownership marker) holding workflow e2e-<run id>-<fixture> and its instances",
            "workflow offline, instances stopped and deleted, workflow deleted, then the project",
        )
        .full(
            "failing_task_ends_the_workflow_in_failure_with_its_log",
            DS,
            failing_task,
        )
        .writes(
            "project e2e-<run id>-<what> (description: carbon-e2e ownership marker) holding workflow e2e-<run id>-<fixture> and its instances",
            "workflow offline, instances stopped and deleted, workflow deleted, then the project",
        )
        .full(
            "created_workflow_definition_is_in_the_metadata_database",
            DS_DB,
            metadata_database,
        )
        .needs(Capability::DolphinSchedulerDatabase)
        .writes(
            "project e2e-<run id>-<what> (description: carbon-e2e ownership marker) holding workflow e2e-<run id>-<fixture> and its instances",
            "workflow offline, instances stopped and deleted, workflow deleted, then the project",
        )
        .full(
            "wrong_password_is_refused_with_the_server_code_and_message",
            DS,
            wrong_password,
        )
        .opt_in("failed-login")
        .full(
            "access_token_authenticates_without_a_session",
            DS,
            valid_token,
        )
        .writes(
            "an access token for the configured user, string carbone2e<run id><created>…",
            "the token is deleted",
        )
        .opt_in("admin-token")
        .full("invalid_and_expired_tokens_are_refused", DS, bad_tokens)
        .writes(
            "an already-expired access token for the configured user, string carbone2e<run id><created>…",
            "the token is deleted",
        )
        .opt_in("admin-token")
        .full(
            "duplicate_project_name_is_refused_with_the_server_code_and_message",
            DS,
            duplicate_project,
        )
        .writes(
            "project e2e-<run id>-duplicate (description: carbon-e2e ownership marker)",
            "the project is deleted",
        )
        .full(
            "workflow_the_server_rejects_reports_code_and_message_and_is_cleaned_up",
            DS,
            rejected_workflow,
        )
        .writes(
            "project e2e-<run id>-<what> (description: carbon-e2e ownership marker) holding workflow e2e-<run id>-<fixture> and its instances",
            "workflow offline, instances stopped and deleted, workflow deleted, then the project",
        )
        .run()
}

fn cfg(ctx: &Ctx) -> Result<&carbon_config::DolphinSchedulerConfig> {
    ctx.target()
        .dolphinscheduler
        .as_ref()
        .ok_or_else(|| anyhow!("no [dolphinscheduler] section"))
}

fn fixture(name: &str) -> Result<Fixture> {
    let path = carbon_config::workspace_root()
        .join("fixtures/dolphinscheduler")
        .join(name);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Fixture::parse(&text).with_context(|| format!("in {}", path.display()))
}

/// The text every task of this trial prints: carries the run id, so a stale log cannot match.
fn marker(ctx: &Ctx, what: &str) -> String {
    format!("{}-{what}", ctx.run_name("marker"))
}

/// A project named with the run id; deleted when the trial ends (registered first, so it runs
/// last, after the workflows inside it are gone).
async fn scratch_project(ctx: &Ctx, what: &str) -> Result<i64> {
    let ds = ctx.client::<DsClient>()?;
    let name = ctx.run_name(what);
    // The ownership marker the reaper requires, stamped with the server's clock.
    let marker = ctx.marker(ds.server_clock().await?);
    // Registered before the create, by name (the server assigns the code): a create whose
    // answer is lost, or a SIGTERM right after it, still has its cleanup.
    let (cleanup, cleanup_name) = (ds.clone(), name.clone());
    ctx.defer(format!("delete project {name}"), async move {
        for p in cleanup.projects(Some(&cleanup_name), 100).await? {
            if p.name == cleanup_name {
                cleanup.delete_project(p.code).await?;
            }
        }
        Ok(())
    });
    let project = ds
        .create_project(&name, &marker.to_string())
        .await
        .context("creating the project")?;
    ctx.step(format_args!(
        "project {name} created (code {})",
        project.code
    ));
    Ok(project.code)
}

/// Creates a workflow from a fixture in `project`; its cleanup takes it offline, deletes its
/// instances, then the definition.
async fn create_workflow(
    ctx: &Ctx,
    project: i64,
    fixture_name: &str,
    marker: &str,
) -> Result<WorkflowDefinition> {
    let ds = ctx.client::<DsClient>()?;
    let cfg = cfg(ctx)?;
    let fx = fixture(fixture_name)?;
    let name = ctx.run_name(fixture_name.trim_end_matches(".json"));
    let wf = ds
        .create_workflow_from_fixture(
            project,
            &fx,
            &name,
            &cfg.tenant,
            &[("marker", marker), ("worker_group", &cfg.worker_group)],
        )
        .await
        .with_context(|| format!("creating workflow {name} from {fixture_name}"))?;
    ctx.step(format_args!(
        "workflow {name} created from {fixture_name} (code {})",
        wf.code
    ));
    let code = wf.code;
    // Stopping a running instance, then deleting, takes longer than one cleanup step.
    ctx.defer_within(
        format!("offline and delete workflow {name} and its instances"),
        Duration::from_secs(35),
        async move {
            ds.remove_workflow(project, code, Duration::from_secs(30))
                .await?;
            Ok(())
        },
    );
    Ok(wf)
}

/// What a run looked like: the final instance and the client's wall time from start to end.
struct Run {
    instance: WorkflowInstance,
    wall: Duration,
}

/// Releases, starts, and waits (the target's workflow timeout) for the instance to finish.
async fn run_workflow(ctx: &Ctx, project: i64, workflow: i64) -> Result<Run> {
    let ds = ctx.client::<DsClient>()?;
    let cfg = cfg(ctx)?;
    ds.release(project, workflow, true)
        .await
        .context("releasing the workflow ONLINE")?;
    let t0 = Instant::now();
    let started = ds
        .start_workflow(project, workflow, &cfg.worker_group, &cfg.tenant)
        .await
        .context("starting the workflow")?;
    ctx.step(format_args!("start requested (instance id {started:?})"));
    let instance = ctx
        .wait_until_with(
            "the workflow instance to finish",
            cfg.workflow_timeout(),
            POLL,
            || {
                let ds = ds.clone();
                async move {
                    let list = ds.instances(project, workflow).await?;
                    let current = match started {
                        Some(id) => list.into_iter().find(|i| i.id == id),
                        None => list.into_iter().next(),
                    };
                    Ok::<_, DsError>(match current {
                        None => Check::Pending("no instance listed yet".into()),
                        Some(i) if i.is_finished() => Check::Ready(i),
                        Some(i) => Check::Pending(format!("instance {} is {}", i.id, i.state)),
                    })
                }
            },
        )
        .await?;
    let wall = t0.elapsed();
    ctx.step(format_args!(
        "instance {} ended {} (server: {} -> {}; client wall {:.2?})",
        instance.id,
        instance.state,
        instance.start_time.as_deref().unwrap_or("?"),
        instance.end_time.as_deref().unwrap_or("?"),
        wall
    ));
    Ok(Run { instance, wall })
}

/// Waits until the task's log holds `needle` (the worker writes it out just after the task
/// ends); returns the log.
async fn task_log_with(ctx: &Ctx, task: &TaskInstance, needle: &str) -> Result<String> {
    let ds = ctx.client::<DsClient>()?;
    let id = task.id;
    let needle = needle.to_string();
    ctx.wait_until_with(
        &format!("the log of task {} to show {needle:?}", task.name),
        Duration::from_secs(30),
        POLL,
        || {
            let (ds, needle) = (ds.clone(), needle.clone());
            async move {
                let log = ds.task_log(id, 1000).await?;
                Ok::<_, DsError>(if log.contains(&needle) {
                    Check::Ready(log)
                } else {
                    Check::Pending(format!("log so far: {}", tail(&log, 5)))
                })
            }
        },
    )
    .await
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

fn server_seconds(instance_or_task: (&Option<String>, &Option<String>)) -> Option<i64> {
    let start = parse_time(instance_or_task.0.as_deref()?)?;
    let end = parse_time(instance_or_task.1.as_deref()?)?;
    Some((end - start).whole_seconds())
}

async fn health(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    ctx.step(format_args!("GET {}actuator/health", ds.url()));
    ds.health().await?;
    Ok(())
}

async fn login(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let (id, user) = ds.current_user().await?;
    ctx.step(format_args!("authenticated as {user} (id {id})"));
    let generation = ds.generation().await?;
    ctx.step(format_args!(
        "API generation {generation} (setting {})",
        ds.generation_setting()
    ));
    // No sign-out: the server gives one user the same session from the same address, so
    // signing out here would log out every other trial running now.
    Ok(())
}

async fn project_list(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let projects = ds.projects(None, 10).await?;
    ctx.step(format_args!(
        "{} project(s), read 10 a page",
        projects.len()
    ));
    Ok(())
}

async fn one_task_workflow(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let project = scratch_project(&ctx, "one-task").await?;
    let marker = marker(&ctx, "one-task");
    let wf = create_workflow(&ctx, project, "one_task.json", &marker).await?;
    let run = run_workflow(&ctx, project, wf.code).await?;
    let tasks = ds.task_instances(project, run.instance.id).await?;
    ensure!(
        run.instance.state == "SUCCESS",
        "the instance ended {}, not SUCCESS; tasks: {}",
        run.instance.state,
        tasks
            .iter()
            .map(|t| format!("{}={}", t.name, t.state))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let task = tasks
        .first()
        .ok_or_else(|| anyhow!("the instance has no task instance"))?;
    ensure!(
        task.state == "SUCCESS",
        "task {} is {}",
        task.name,
        task.state
    );
    let log = task_log_with(&ctx, task, &marker).await?;
    ctx.step(format_args!(
        "task {} ran on {} and its log shows the marker ({} lines)",
        task.name,
        task.host.as_deref().unwrap_or("?"),
        log.lines().count()
    ));
    if let Some(server) = server_seconds((&run.instance.start_time, &run.instance.end_time)) {
        ctx.step(format_args!(
            "start to SUCCESS: server {server} s (1 s resolution), client {:.2?}",
            run.wall
        ));
    }
    Ok(())
}

async fn two_task_dag(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let project = scratch_project(&ctx, "dag").await?;
    let marker = marker(&ctx, "dag");
    let wf = create_workflow(&ctx, project, "two_task_dag.json", &marker).await?;
    let run = run_workflow(&ctx, project, wf.code).await?;
    ensure!(
        run.instance.state == "SUCCESS",
        "the instance ended {}",
        run.instance.state
    );
    let tasks = ds.task_instances(project, run.instance.id).await?;
    let find = |name: &str| {
        tasks
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| anyhow!("no task instance named {name}"))
    };
    let (first, second) = (find("first")?, find("second")?);
    for t in [first, second] {
        ensure!(t.state == "SUCCESS", "task {} is {}", t.name, t.state);
        ctx.step(format_args!(
            "task {}: {} -> {}",
            t.name,
            t.start_time.as_deref().unwrap_or("?"),
            t.end_time.as_deref().unwrap_or("?")
        ));
    }
    let time = |t: &Option<String>, what: &str| {
        t.as_deref()
            .and_then(parse_time)
            .ok_or_else(|| anyhow!("{what} missing or unreadable: {t:?}"))
    };
    let first_start = time(&first.start_time, "first.startTime")?;
    let first_end = time(&first.end_time, "first.endTime")?;
    let second_start = time(&second.start_time, "second.startTime")?;
    ensure!(
        first_end > first_start,
        "the first task sleeps 2 s, yet its end {first_end} is not after its start {first_start}"
    );
    ensure!(
        second_start >= first_end,
        "the second task started at {second_start}, before the first ended at {first_end}"
    );
    task_log_with(&ctx, second, &format!("second {marker}")).await?;
    Ok(())
}

async fn failing_task(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let project = scratch_project(&ctx, "failing").await?;
    let marker = marker(&ctx, "failing");
    let wf = create_workflow(&ctx, project, "failing_task.json", &marker).await?;
    let run = run_workflow(&ctx, project, wf.code).await?;
    let tasks = ds.task_instances(project, run.instance.id).await?;
    let task = tasks
        .first()
        .ok_or_else(|| anyhow!("the instance has no task instance"))?;
    let log = task_log_with(&ctx, task, &marker).await?;
    let excerpt: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&marker) || l.contains("exit") || l.contains("status"))
        .take(8)
        .collect();
    ctx.step(format_args!(
        "task {} is {}; log excerpt:\n    {}",
        task.name,
        task.state,
        excerpt.join("\n    ")
    ));
    ensure!(
        run.instance.state == "FAILURE" && task.state == "FAILURE",
        "a task that exits 3 must end FAILURE; the instance is {} and the task {}. Task log:\n{}",
        run.instance.state,
        task.state,
        tail(&log, 15)
    );
    Ok(())
}

async fn metadata_database(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let cfg = cfg(&ctx)?;
    let var = cfg
        .database_url_env
        .as_deref()
        .ok_or_else(|| anyhow!("dolphinscheduler.database_url_env is not set"))?;
    let url = ctx.target().credential("dolphinscheduler database", var)?;
    let project = scratch_project(&ctx, "metadata").await?;
    let wf = create_workflow(&ctx, project, "one_task.json", &marker(&ctx, "metadata")).await?;
    let table = match ds.generation().await? {
        ApiGeneration::UpTo3_2 => "t_ds_process_definition",
        ApiGeneration::From3_3 => "t_ds_workflow_definition",
    };
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url.expose())
        .await
        .with_context(|| format!("connecting to the metadata database (from {var})"))?;
    let row: Option<(String, i64)> = sqlx::query_as(&format!(
        "SELECT name, project_code FROM {table} WHERE code = $1"
    ))
    .bind(wf.code)
    .fetch_optional(&mut conn)
    .await
    .with_context(|| format!("reading {table}"))?;
    let _ = sqlx::Connection::close(conn).await;
    let (name, project_code) =
        row.ok_or_else(|| anyhow!("no row in {table} with code {}", wf.code))?;
    ctx.step(format_args!(
        "{table}: code {} is {name:?} in project {project_code}",
        wf.code
    ));
    ensure!(
        name == wf.name && project_code == project,
        "the row says {name:?} in project {project_code}; the API said {:?} in {project}",
        wf.name
    );
    Ok(())
}

/// Expects `result` to be the server's refusal with `code` (any code when `None`); returns it.
fn expect_refusal<T: std::fmt::Debug>(
    ctx: &Ctx,
    result: std::result::Result<T, DsError>,
    code: Option<i64>,
) -> Result<DsError> {
    match result {
        Ok(v) => bail!("the server accepted what it must refuse: {v:?}"),
        Err(e @ DsError::Api { .. }) => {
            ctx.step(format_args!("refused as expected: {e}"));
            if let (Some(want), Some(got)) = (code, e.code()) {
                ensure!(want == got, "expected code {want}, got: {e}");
            }
            if let DsError::Api { msg, .. } = &e {
                ensure!(!msg.trim().is_empty(), "the refusal has no message: {e}");
            }
            Ok(e)
        }
        Err(e) => bail!("expected the server's code and message, got: {e}"),
    }
}

async fn wrong_password(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let cfg = cfg(&ctx)?;
    // A user that does not exist: failed logins never count against a real account.
    let nobody = ctx.run_name("nobody");
    let wrong = ds.with_auth(Auth::Password {
        user: nobody.clone(),
        password: carbon_config::Secret::new(format!("wrong-{}", ctx.run_id())),
    });
    ctx.step(format_args!(
        "logging in as {nobody} (not {}, so no real account is locked)",
        cfg.user
    ));
    // 10013: "user name or password error".
    expect_refusal(&ctx, wrong.login().await, Some(10013))?;
    Ok(())
}

/// An expiry as the server reads it: `yyyy-MM-dd HH:mm:ss` in its own time zone, which the API
/// does not tell. A day from now (or ago) in UTC is in the future (or past) in every zone
/// (they span UTC-12 to UTC+14), so the trials need not know it.
fn server_time(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A token string unique to this trial and recognisable as this run's (`naming::token`).
async fn own_token(ctx: &Ctx, ds: &DsClient) -> Result<String> {
    let random = format!(
        "{:016x}{:016x}",
        rand::random::<u64>(),
        rand::random::<u64>()
    );
    Ok(naming::token(
        ctx.run_id(),
        ds.server_clock().await?,
        &random,
    ))
}

async fn valid_token(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let (user_id, user) = ds.current_user().await?;
    let expire = server_time(time::OffsetDateTime::now_utc() + time::Duration::days(1));
    let token = ds
        .create_access_token(user_id, &expire, &own_token(&ctx, &ds).await?)
        .await?;
    let id = token.id;
    let owner = ds.clone();
    ctx.defer(format!("delete access token {id}"), async move {
        owner.delete_access_token(id).await?;
        Ok(())
    });
    ctx.step(format_args!(
        "access token {id} created for {user}, expires {expire}"
    ));
    let with_token = ds.with_auth(Auth::Token(token.token));
    let (_, as_user) = with_token.current_user().await?;
    ensure!(
        as_user == user,
        "the token authenticated as {as_user}, not {user}"
    );
    let projects = with_token.projects(None, 10).await?;
    ctx.step(format_args!(
        "with the token header only: user {as_user}, {} project(s) readable",
        projects.len()
    ));
    Ok(())
}

async fn bad_tokens(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    let invalid = ds.with_auth(Auth::Token(carbon_config::Secret::new(format!(
        "{:0>32}",
        ctx.run_id()
    ))));
    // DolphinScheduler answers a bad session or token with HTTP 401 (no envelope): anything
    // else (a 500, an envelope code) means the token check itself is broken.
    let unauthorized =
        |e: &DsError| matches!(e, DsError::Http(h) if h.status().map(|s| s.as_u16()) == Some(401));
    match invalid.projects(None, 1).await {
        Ok(_) => bail!("an invalid token was accepted"),
        Err(e) if unauthorized(&e) => ctx.step(format_args!("invalid token refused: {e}")),
        Err(e) => bail!("an invalid token must be refused by the server, got: {e}"),
    }
    // A real token whose expiry has passed, whatever the server's time zone.
    let (user_id, _) = ds.current_user().await?;
    let expire = server_time(time::OffsetDateTime::now_utc() - time::Duration::days(1));
    let token = ds
        .create_access_token(user_id, &expire, &own_token(&ctx, &ds).await?)
        .await?;
    let id = token.id;
    let owner = ds.clone();
    ctx.defer(format!("delete access token {id}"), async move {
        owner.delete_access_token(id).await?;
        Ok(())
    });
    let expired = ds.with_auth(Auth::Token(token.token));
    match expired.projects(None, 1).await {
        Ok(_) => bail!("a token that expired at {expire} was accepted"),
        Err(e) if unauthorized(&e) => ctx.step(format_args!("expired token refused: {e}")),
        Err(e) => bail!("an expired token must be refused by the server, got: {e}"),
    }
    Ok(())
}

async fn duplicate_project(ctx: Ctx) -> Result<()> {
    let ds = ctx.client::<DsClient>()?;
    scratch_project(&ctx, "duplicate").await?;
    // 10019: "project <name> already exists".
    let again = ds
        .create_project(&ctx.run_name("duplicate"), "must be refused")
        .await;
    expect_refusal(&ctx, again, Some(10019))?;
    Ok(())
}

async fn rejected_workflow(ctx: Ctx) -> Result<()> {
    let project = scratch_project(&ctx, "rejected").await?;
    let marker = marker(&ctx, "rejected");
    let result = create_workflow(&ctx, project, "rejected_workflow.json", &marker).await;
    let err = match result {
        Ok(wf) => bail!(
            "the server accepted rejected_workflow.json (code {}); its cleanup removes it",
            wf.code
        ),
        Err(e) => e,
    };
    let ds_err = err
        .downcast_ref::<DsError>()
        .ok_or_else(|| anyhow!("expected the server's refusal, got: {err:#}"))?;
    // The server's documented code for this refusal, not merely some code.
    ensure!(
        ds_err.code() == Some(REJECTED_DEFINITION),
        "expected the server's code {REJECTED_DEFINITION} for a rejected definition, got: {err:#}"
    );
    ctx.step(format_args!("refused as expected: {ds_err}"));
    // The project's cleanup (registered above) still runs and must succeed.
    Ok(())
}
