//! DolphinScheduler 3.1.1, the standalone server (API, master, worker and alert in one JVM),
//! assembled from Maven Central, its metadata in the stack's PostgreSQL.
//!
//! - **Jars**: `mvn dependency:copy-dependencies` on a pom the stack writes
//!   (`assets/dolphinscheduler/pom.xml`, which explains the 3.1.2 pins), once, into the cache.
//! - **What the jars leave out**: `application.yaml`, `logback-spring.xml` and
//!   `task-type-config.yaml` are our own (`assets/dolphinscheduler/`), written to
//!   `<stack>/data/dolphinscheduler/conf`, first on the classpath. The SQL schema is generated
//!   from the published DAO jar by `SchemaGen.java` (single-file source launch) and loaded into
//!   a `dolphinscheduler` database before the first start; the admin password is then set to
//!   the one in `stack.env`.
//! - **Java**: the system's Java 17 (Debian's default JRE). 3.1.1 was built for Java 8/11;
//!   on 17 it needs `--add-opens` (java.lang above all: the worker reads a task process's pid
//!   by reflection, and without the pid it cannot stop a task).
//! - **Network**: 3.1.1 binds its master, worker, alert and embedded-ZooKeeper ports on every
//!   address and registers the machine's first non-loopback address, so masters would reach
//!   workers over the LAN. It runs in a network namespace of its own (`carbon-e2e-ds`) that has
//!   only `lo`; there it binds and registers 127.0.0.1. [`NetnsForward`] bridges the API port
//!   out to the host's loopback and the stack's PostgreSQL port in.
//! - **Small machine**: heap at most 2 GB, server-load protection off, tasks run without sudo
//!   as the server's own OS user, whose name is the tenant the stack creates.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use carbon_config::{DsApi, Secret};
use carbon_dolphinscheduler::{Auth, DsClient};
use futures::future::BoxFuture;

use super::postgres;
use crate::forward::netns_path;
use crate::install::{
    LOCAL_STEP_TIMEOUT, MVN_TIMEOUT, apt, command_line, run_logged, run_with_deadline, sha256_of,
};
use crate::secrets::{DS_PASSWORD, PG_PASSWORD, PG_USER};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

/// The API port, in the namespace and (forwarded) on the host.
pub(crate) const API_PORT: u16 = 12345;
/// The DolphinScheduler version the stack assembles.
pub const VERSION: &str = "3.1.1";
/// The network namespace the server runs in.
pub const NETNS: &str = "carbon-e2e-ds";
const DATABASE: &str = "dolphinscheduler";
const MAIN_CLASS: &str = "org.apache.dolphinscheduler.StandaloneServer";
const JAVA: &str = "/usr/bin/java";

const POM: &str = include_str!("../../assets/dolphinscheduler/pom.xml");
const SCHEMA_GEN: &str = include_str!("../../assets/dolphinscheduler/SchemaGen.java");
/// `sha256sum` lines of every jar `POM` resolves to, pinned when first resolved (and checked
/// then against Maven Central's `.sha1` files).
const JARS_SHA256: &str = include_str!("../../assets/dolphinscheduler/jars.sha256");
const CONF: [(&str, &str); 3] = [
    (
        "application.yaml",
        include_str!("../../assets/dolphinscheduler/application.yaml"),
    ),
    (
        "logback-spring.xml",
        include_str!("../../assets/dolphinscheduler/logback-spring.xml"),
    ),
    (
        "task-type-config.yaml",
        include_str!("../../assets/dolphinscheduler/task-type-config.yaml"),
    ),
];

/// What Spring Boot prints when the context fails; the JVM stays up afterwards (the embedded
/// ZooKeeper's threads keep it alive), so readiness looks for this instead of an exit.
const FAILED_TO_START: &str = "APPLICATION FAILED TO START";

fn home(stack: &Stack) -> PathBuf {
    stack.cache.join(format!("dolphinscheduler-{VERSION}"))
}

fn lib(stack: &Stack) -> PathBuf {
    home(stack).join("lib")
}

/// The pinned jars: file name and SHA-256.
fn pinned_jars() -> impl Iterator<Item = (&'static str, &'static str)> {
    JARS_SHA256
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_once("  ").map(|(sha, name)| (name, sha)))
}

/// Checks that `lib` holds exactly the pinned jars with their pinned SHA-256; removes any jar
/// that differs (so the next `stack up` fetches it again) and names every difference.
fn verify_jars(lib: &Path) -> Result<(), StackError> {
    let mut problems = Vec::new();
    let pinned: std::collections::BTreeMap<&str, &str> = pinned_jars().collect();
    for (name, want) in &pinned {
        let path = lib.join(name);
        if !path.exists() {
            problems.push(format!("{name} is missing"));
            continue;
        }
        let got = sha256_of(&path)?;
        if got != *want {
            let _ = std::fs::remove_file(&path);
            problems.push(format!(
                "{name} has SHA-256 {got}, expected {want} (removed)"
            ));
        }
    }
    for entry in std::fs::read_dir(lib)
        .map_err(io_err("read", lib))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".jar") && !pinned.contains_key(name.as_str()) {
            problems.push(format!("{name} is not pinned"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let _ = std::fs::remove_file(lib.join(".complete"));
    let total = problems.len();
    problems.truncate(5);
    Err(StackError::Other(format!(
        "the DolphinScheduler {VERSION} jars in {} do not match assets/dolphinscheduler/jars.sha256 \
         ({total} differences): {}; run `stack up` again to fetch them afresh (if it persists, \
         the copy in the local Maven repository ~/.m2 is damaged: remove it)",
        lib.display(),
        problems.join("; ")
    )))
}

/// The OS user the server (and so every task) runs as: the tenant's name (the account name of
/// this process's uid, from the user database).
pub(crate) fn os_user() -> Result<String, StackError> {
    whoami::fallible::username().map_err(|e| {
        StackError::Other(format!(
            "uid {} has no user name: {e}",
            crate::status::current_uid()
        ))
    })
}

fn require_root(what: &str) -> Result<(), StackError> {
    if crate::status::current_uid() == 0 {
        Ok(())
    } else {
        Err(StackError::Other(format!(
            "{what} needs root: DolphinScheduler runs in a network namespace of its own \
             ({NETNS}), which only root can create and enter; run `carbon-e2e stack up` as root"
        )))
    }
}

/// Bridges loopback ports between the host and DolphinScheduler's namespace: the API out,
/// PostgreSQL in. Run by the `carbon-e2e` binary itself (`carbon-e2e stack forward`).
pub(crate) struct NetnsForward;

impl LocalServer for NetnsForward {
    fn name(&self) -> &'static str {
        "dolphinscheduler-net"
    }

    fn role(&self) -> &'static str {
        "loopback bridge to DolphinScheduler's network namespace"
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{API_PORT} <-> {NETNS}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["postgres"]
    }

    fn install(&self, _stack: &Stack) -> Result<(), StackError> {
        Ok(())
    }

    /// Creates the namespace (once) and brings its loopback up.
    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        require_root("the DolphinScheduler network namespace")?;
        if !netns_path(NETNS).exists() {
            println!("stack: creating network namespace {NETNS} (loopback only)");
            run_logged(
                stack,
                "create the network namespace",
                LOCAL_STEP_TIMEOUT,
                Command::new("ip").args(["netns", "add", NETNS]),
            )?;
        }
        run_logged(
            stack,
            "bring up the namespace's loopback",
            LOCAL_STEP_TIMEOUT,
            Command::new("ip").args(["-n", NETNS, "link", "set", "lo", "up"]),
        )
    }

    fn command(&self, _stack: &Stack) -> Result<Command, StackError> {
        let exe = crate::forward::cli_program("the DolphinScheduler forwarder")?;
        let mut cmd = Command::new(exe);
        cmd.args([
            "stack",
            "forward",
            "--netns",
            NETNS,
            "--expose",
            &API_PORT.to_string(),
            "--import",
            &postgres::PORT.to_string(),
        ]);
        Ok(cmd)
    }

    /// Ready when PostgreSQL answers from inside the namespace, through the bridge.
    fn readiness(&self, _stack: &Stack) -> Readiness {
        let isready = postgres::bin_dir()
            .map(|d| d.join("pg_isready"))
            .unwrap_or_else(|| PathBuf::from("pg_isready"));
        Readiness::Command(
            PathBuf::from("ip"),
            vec![
                "netns".into(),
                "exec".into(),
                NETNS.into(),
                isready.display().to_string(),
                "-h".into(),
                "127.0.0.1".into(),
                "-p".into(),
                postgres::PORT.to_string(),
            ],
        )
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn process_marker(&self) -> Option<&'static str> {
        Some("--netns")
    }
}

/// The DolphinScheduler standalone server.
pub(crate) struct DolphinScheduler;

impl DolphinScheduler {
    fn conf_dir(stack: &Stack) -> PathBuf {
        stack.data_dir("dolphinscheduler").join("conf")
    }

    /// Loads the generated schema unless the database has it; sets the admin password.
    fn ensure_schema(stack: &Stack) -> Result<(), StackError> {
        postgres::ensure_database(stack, DATABASE)?;
        let present = postgres::psql(
            stack,
            DATABASE,
            "SELECT to_regclass('public.t_ds_version') IS NOT NULL",
        )?;
        if present != "t" {
            println!("stack: generating and loading the DolphinScheduler {VERSION} schema");
            let work = stack.data_dir("dolphinscheduler");
            let source = work.join("SchemaGen.java");
            std::fs::write(&source, SCHEMA_GEN).map_err(io_err("write", &source))?;
            let mut cmd = Command::new(JAVA);
            cmd.arg("-cp")
                .arg(format!("{}/*", lib(stack).display()))
                .arg(&source)
                .arg(VERSION)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let run = run_with_deadline(&mut cmd, LOCAL_STEP_TIMEOUT, None)
                .map_err(|e| StackError::Other(format!("failed to run {JAVA}: {e}")))?;
            if let Some(failure) = run.failure(LOCAL_STEP_TIMEOUT) {
                return Err(StackError::Command {
                    what: "generate the DolphinScheduler schema".into(),
                    command: command_line(&cmd),
                    outcome: failure,
                    log: "(stderr above)".into(),
                });
            }
            let schema = String::from_utf8_lossy(&run.output.stdout).into_owned();
            let file = work.join("schema.sql");
            std::fs::write(&file, &schema).map_err(io_err("write", &file))?;
            postgres::psql_script(stack, DATABASE, &schema, "load the DolphinScheduler schema")?;
        }
        // The password travels on psql's stdin, never argv. It is hex, so it needs no quoting.
        let password = stack.var(DS_PASSWORD);
        if !password.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(StackError::Other(format!(
                "{DS_PASSWORD} in stack.env must be letters and digits"
            )));
        }
        postgres::psql_script(
            stack,
            DATABASE,
            &format!(
                "UPDATE t_ds_user SET user_password = md5('{password}') WHERE user_name = 'admin';\n"
            ),
            "set the DolphinScheduler admin password",
        )?;
        Ok(())
    }

    /// The log written since the last start.
    fn current_log(stack: &Stack) -> String {
        let text = std::fs::read_to_string(stack.log_file("dolphinscheduler")).unwrap_or_default();
        match text.rfind("=== carbon-e2e stack: starting") {
            Some(i) => text[i..].to_string(),
            None => text,
        }
    }
}

/// The client the stack uses after start-up (admin, password from `stack.env`, old API).
pub(crate) fn admin_client(stack: &Stack) -> Result<DsClient, StackError> {
    let url = url::Url::parse(&format!("http://127.0.0.1:{API_PORT}/dolphinscheduler"))
        .map_err(|e| StackError::Other(e.to_string()))?;
    DsClient::new(
        url,
        Auth::Password {
            user: "admin".into(),
            password: Secret::new(stack.var(DS_PASSWORD)),
        },
        DsApi::UpTo3_2,
        Duration::from_secs(10),
    )
    .map_err(|e| StackError::Other(e.to_string()))
}

impl LocalServer for DolphinScheduler {
    fn name(&self) -> &'static str {
        "dolphinscheduler"
    }

    fn role(&self) -> &'static str {
        "DolphinScheduler 3.1.1 standalone (API, master, worker, alert)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{API_PORT}/dolphinscheduler")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["postgres", "dolphinscheduler-net"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        apt(
            stack,
            || Path::new(JAVA).exists(),
            &["openjdk-17-jre-headless"],
        )?;
        apt(
            stack,
            || Path::new("/usr/bin/mvn").exists(),
            &["maven", "openjdk-17-jdk-headless"],
        )?;
        let home = home(stack);
        let done = lib(stack).join(".verified");
        if done.exists() {
            return Ok(());
        }
        if lib(stack).join(".complete").exists() {
            // Fetched by an earlier release, which did not check hashes: check them now.
            verify_jars(&lib(stack))?;
            return std::fs::write(&done, VERSION).map_err(io_err("write", &done));
        }
        println!(
            "stack: fetching DolphinScheduler {VERSION} and its dependencies from Maven Central \
             with mvn (about 190 MB, once; cached in {})",
            home.display()
        );
        std::fs::create_dir_all(&home).map_err(io_err("create", &home))?;
        let pom = home.join("pom.xml");
        std::fs::write(&pom, POM).map_err(io_err("write", &pom))?;
        run_logged(
            stack,
            "fetch the DolphinScheduler jars with mvn",
            MVN_TIMEOUT,
            Command::new("mvn").current_dir(&home).args([
                "-B",
                "-q",
                "-C",
                "dependency:copy-dependencies",
                "-DoutputDirectory=lib",
                "-DincludeScope=runtime",
            ]),
        )?;
        verify_jars(&lib(stack))?;
        std::fs::write(&done, VERSION).map_err(io_err("write", &done))
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        require_root("DolphinScheduler")?;
        let conf = Self::conf_dir(stack);
        let logs = stack.data_dir("dolphinscheduler").join("logs");
        for d in [&conf, &logs] {
            std::fs::create_dir_all(d).map_err(io_err("create", d))?;
        }
        for (name, text) in CONF {
            let path = conf.join(name);
            std::fs::write(&path, text).map_err(io_err("write", &path))?;
        }
        Self::ensure_schema(stack)
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let data = stack.data_dir("dolphinscheduler");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", NETNS, JAVA])
            .args([
                "-server",
                "-Xms256m",
                "-Xmx2g",
                "-XX:+UseG1GC",
                // The zone DolphinScheduler's Helm chart sets: nothing in the suites or the
                // reaper may assume the server writes its times in UTC.
                "-Duser.timezone=Asia/Shanghai",
                "-Dfile.encoding=UTF-8",
                "-Djava.net.preferIPv4Stack=true",
                // Tasks run as this process's user, without sudo.
                "-Dsudo.enable=false",
                "-Dresource.storage.type=NONE",
                "-Dspring.cloud.kubernetes.enabled=false",
            ])
            .arg(format!(
                "-Ddata.basedir.path={}",
                data.join("tmp").display()
            ))
            // Java 17 closes the JDK's internals that 3.1.1 reflects on.
            .args([
                "--add-opens=java.base/java.lang=ALL-UNNAMED",
                "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
                "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
                "--add-opens=java.base/java.util=ALL-UNNAMED",
                "--add-opens=java.base/java.io=ALL-UNNAMED",
                "--add-opens=java.base/java.nio=ALL-UNNAMED",
                "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            ])
            .arg("-cp")
            .arg(format!(
                "{}:{}/*",
                Self::conf_dir(stack).display(),
                lib(stack).display()
            ))
            .arg(MAIN_CLASS)
            .current_dir(&data)
            // The database credentials reach the JVM through its environment (application.yaml
            // reads them), never argv.
            .env(
                "DS_DB_URL",
                format!("jdbc:postgresql://127.0.0.1:{}/{DATABASE}", postgres::PORT),
            )
            .env("DS_DB_USER", stack.var(PG_USER))
            .env("DS_DB_PASSWORD", stack.var(PG_PASSWORD))
            .env("DS_LOG_DIR", data.join("logs"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("{}/actuator/health", self.endpoint()),
            contains: Some("\"UP\""),
        }
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(240)
    }

    fn process_marker(&self) -> Option<&'static str> {
        Some(MAIN_CLASS)
    }

    fn failed_start(&self, stack: &Stack) -> Option<String> {
        Self::current_log(stack)
            .contains(FAILED_TO_START)
            .then(|| format!("the server logged {FAILED_TO_START:?}"))
    }

    /// Logs in (the second half of readiness) and creates the tenant tasks run as.
    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async move {
            let ds = admin_client(stack)?;
            let fail = |e: carbon_dolphinscheduler::DsError| {
                StackError::Other(format!("dolphinscheduler after start-up: {e}"))
            };
            ds.login().await.map_err(fail)?;
            let tenant = os_user()?;
            if !ds.tenants().await.map_err(fail)?.contains(&tenant) {
                ds.create_tenant(&tenant, "the OS user the local stack runs tasks as")
                    .await
                    .map_err(fail)?;
                println!("stack: dolphinscheduler tenant {tenant} created");
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jar_is_pinned_once() {
        let names: Vec<&str> = pinned_jars().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 430);
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len());
        assert!(names.contains(&"dolphinscheduler-standalone-server-3.1.1.jar"));
        assert!(pinned_jars().all(|(_, sha)| sha.len() == 64));
    }

    #[test]
    fn a_missing_changed_or_extra_jar_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = pinned_jars().next().unwrap();
        std::fs::write(dir.path().join(first), b"not the jar").unwrap();
        std::fs::write(dir.path().join("evil-1.0.jar"), b"x").unwrap();
        std::fs::write(dir.path().join(".complete"), b"3.1.1").unwrap();
        let e = verify_jars(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&format!("{first} has SHA-256")), "{e}");
        assert!(e.contains("(431 differences)"), "{e}");
        assert!(!dir.path().join(first).exists(), "a changed jar is removed");
        assert!(
            !dir.path().join(".complete").exists(),
            "the next up fetches again"
        );
    }

    fn stack(dir: &Path) -> Stack {
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        Stack {
            dir: dir.to_path_buf(),
            cache: dir.join("cache"),
            env: carbon_config::Env::default(),
        }
    }

    #[test]
    fn a_failed_start_is_seen_only_in_the_current_start() {
        let tmp = tempfile::tempdir().unwrap();
        let stack = stack(tmp.path());
        let log = stack.log_file("dolphinscheduler");
        let old = format!(
            "=== carbon-e2e stack: starting \"ip\"\n***************************\n{FAILED_TO_START}\n"
        );
        std::fs::write(&log, &old).unwrap();
        assert!(DolphinScheduler.failed_start(&stack).is_some());
        // A later start that is going well: the old failure no longer counts.
        std::fs::write(
            &log,
            format!("{old}=== carbon-e2e stack: starting \"ip\"\nINFO Started StandaloneServer\n"),
        )
        .unwrap();
        assert_eq!(DolphinScheduler.failed_start(&stack), None);
    }

    #[test]
    fn the_server_runs_inside_the_namespace_with_credentials_in_its_environment() {
        let tmp = tempfile::tempdir().unwrap();
        let mut stack = stack(tmp.path());
        stack.env = carbon_config::Env::from_pairs([(PG_PASSWORD, "pg-secret-value")]);
        let cmd = DolphinScheduler.command(&stack).unwrap();
        let argv: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(cmd.get_program(), "ip");
        assert_eq!(argv[..4], ["netns", "exec", NETNS, JAVA]);
        assert!(argv.iter().any(|a| a == "-Xmx2g"));
        assert!(argv.last().is_some_and(|a| a == MAIN_CLASS));
        assert!(
            !argv.iter().any(|a| a.contains("pg-secret-value")),
            "a password must never be on the command line"
        );
        assert!(
            cmd.get_envs()
                .any(|(k, v)| k == "DS_DB_PASSWORD" && v.is_some_and(|v| v == "pg-secret-value"))
        );
    }
}
