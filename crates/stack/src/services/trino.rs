//! Trino 476 from Maven Central on Temurin 25: one coordinator that also schedules work, port
//! 18080, heap at most 2 GB, catalogs `tpch`, `memory` and `iceberg`. Iceberg's catalog is the
//! stack's Iceberg REST catalog (`iceberg_rest.rs`), as on the platform; the warehouse is the
//! object store's `iceberg` bucket (Trino's native S3 file system, path-style).
//!
//! Only `trino-server-core` and the three plugins the catalogs need are downloaded (with
//! `mvn -C`, strict checksums), then checked against the SHA-256 pinned here before unpacking.
//! Secrets never reach argv or a file: the catalog file says `${ENV:...}` and the variables are
//! set on the java process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use carbon_config::Secret;
use carbon_core::http::{ClientOptions, HttpClient};
use carbon_core::wait::{Check, wait_until};
use carbon_trino::{TrinoClient, TrinoOptions};
use futures::future::BoxFuture;

use super::{iceberg_rest, objectstore};
use crate::install::{LOCAL_STEP_TIMEOUT, MVN_TIMEOUT, apt, run_logged, runs, sha256_of};
use crate::secrets::{S3_ACCESS_KEY, S3_SECRET_KEY};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 18080;
const VERSION: &str = "476";
/// The JVM Trino 476 needs (Java 24 or newer); part of the machine image.
pub(crate) const JAVA_HOME: &str = "/usr/lib/jvm/temurin-25-jdk-amd64";
const MAIN_CLASS: &str = "io.trino.server.TrinoServer";
const MAVEN_COPY: &str = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy";
/// The probe query that proves the coordinator schedules work (after `starting:false` the
/// first queries fail with NO_NODES_AVAILABLE for a few seconds).
const PROBE_SQL: &str = "SELECT count(*) FROM tpch.tiny.nation";
/// The stack's own Iceberg schema (not a run's: the reaper never touches it).
const STACK_SCHEMA: &str = "lakehouse";

/// An artifact of Maven Central and its pinned SHA-256.
struct Artifact {
    id: &'static str,
    ext: &'static str,
    sha256: &'static str,
    /// For a plugin: the directory under `plugin/` its jars go to.
    plugin: Option<&'static str>,
}

const ARTIFACTS: [Artifact; 4] = [
    Artifact {
        id: "trino-server-core",
        ext: "tar.gz",
        sha256: "0f388f9967c177ae70a47c099082fc95387f0c3cb96d8000d1d41fc3a5223158",
        plugin: None,
    },
    Artifact {
        id: "trino-tpch",
        ext: "zip",
        sha256: "d83467efe864b1e77013208c293835e197bc3135318c2895521c1efbb7f232bd",
        plugin: Some("tpch"),
    },
    Artifact {
        id: "trino-memory",
        ext: "zip",
        sha256: "bade81c52e2f7177a7b867aee1b10fae48fefda9c38f3ec6aeb006fdde5f0378",
        plugin: Some("memory"),
    },
    Artifact {
        id: "trino-iceberg",
        ext: "zip",
        sha256: "99edba5b491ed94d599aeb61e0794272d3569d8b563f3bb8569e8a49daa87b6c",
        plugin: Some("iceberg"),
    },
];

/// The JVM options of Trino's recommended `jvm.config`, with the heap capped at 2 GB.
const JVM_OPTIONS: &[&str] = &[
    "-server",
    "-Xmx2G",
    "-Xms256M",
    "-XX:+UseG1GC",
    "-XX:G1HeapRegionSize=32M",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=256M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-XX:+EnableDynamicAgentLoading",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    "--sun-misc-unsafe-memory-access=allow",
    "--enable-native-access=ALL-UNNAMED",
];

pub(crate) struct Trino;

pub(crate) fn java() -> Result<PathBuf, StackError> {
    let java = Path::new(JAVA_HOME).join("bin/java");
    if java.exists() {
        Ok(java)
    } else {
        Err(StackError::Other(format!(
            "Trino {VERSION} needs Temurin 25 at {JAVA_HOME} (missing {}); install the \
             temurin-25-jdk package or provide that JDK",
            java.display()
        )))
    }
}

/// `<cache>/trino-476`: the unpacked, verified server with its plugins.
fn home(stack: &Stack) -> PathBuf {
    stack.cache.join(format!("trino-{VERSION}"))
}

fn etc(stack: &Stack) -> PathBuf {
    stack.data_dir("trino").join("etc")
}

/// Downloads an artifact into `<cache>/trino-downloads` (once) and checks its pinned SHA-256.
fn fetch(stack: &Stack, a: &Artifact) -> Result<PathBuf, StackError> {
    let dir = stack.cache.join("trino-downloads");
    let file = dir.join(format!("{}-{VERSION}.{}", a.id, a.ext));
    if !file.exists() {
        println!(
            "stack: downloading io.trino:{}:{VERSION}:{} from Maven Central (cached in {})",
            a.id,
            a.ext,
            dir.display()
        );
        std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        run_logged(
            stack,
            &format!("download io.trino:{}:{VERSION} with mvn", a.id),
            MVN_TIMEOUT,
            Command::new("mvn")
                .args(["-B", "-q", "-C", MAVEN_COPY])
                .arg(format!("-Dartifact=io.trino:{}:{VERSION}:{}", a.id, a.ext))
                .arg(format!("-DoutputDirectory={}", dir.display())),
        )?;
    }
    let actual = sha256_of(&file)?;
    if actual != a.sha256 {
        let _ = std::fs::remove_file(&file);
        return Err(StackError::Other(format!(
            "{} has SHA-256 {actual}, expected {}: removed it; run `stack up` again to download it afresh",
            file.display(),
            a.sha256
        )));
    }
    Ok(file)
}

impl LocalServer for Trino {
    fn name(&self) -> &'static str {
        "trino"
    }

    fn role(&self) -> &'static str {
        "Trino coordinator (tpch, memory, iceberg)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["objectstore", "iceberg-rest"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        java()?;
        let home = home(stack);
        if home.join(".verified").exists() {
            return Ok(());
        }
        // Maven fetches from Central with strict checksums; unzip unpacks the plugins.
        apt(
            stack,
            || runs("mvn", "-v") && runs("unzip", "-v"),
            &["maven", "unzip"],
        )?;
        let staging = stack.cache.join(format!("trino-{VERSION}.unpacking"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err("remove", &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io_err("create", &staging))?;
        for a in &ARTIFACTS {
            let file = fetch(stack, a)?;
            match a.plugin {
                None => run_logged(
                    stack,
                    "unpack trino-server-core",
                    LOCAL_STEP_TIMEOUT,
                    Command::new("tar")
                        .arg("-xzf")
                        .arg(&file)
                        .arg("-C")
                        .arg(&staging)
                        .arg("--strip-components=1"),
                )?,
                Some(name) => run_logged(
                    stack,
                    &format!("unpack the {name} plugin"),
                    LOCAL_STEP_TIMEOUT,
                    Command::new("unzip")
                        .args(["-q", "-o", "-j"])
                        .arg(&file)
                        .arg("-d")
                        .arg(staging.join("plugin").join(name)),
                )?,
            }
        }
        if home.exists() {
            std::fs::remove_dir_all(&home).map_err(io_err("remove", &home))?;
        }
        std::fs::rename(&staging, &home).map_err(io_err("move", &staging))?;
        let marker = home.join(".verified");
        std::fs::write(&marker, "sha256 of every artifact matched\n")
            .map_err(io_err("write", &marker))?;
        println!("stack: Trino {VERSION} unpacked in {}", home.display());
        Ok(())
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("trino");
        let etc = etc(stack);
        let catalogs = etc.join("catalog");
        for d in [&catalogs, &data.join("var/log")] {
            std::fs::create_dir_all(d).map_err(io_err("create", d))?;
        }
        let home = home(stack);
        let files: [(PathBuf, String); 5] = [
            (
                etc.join("config.properties"),
                format!(
                    "coordinator=true\n\
                     node-scheduler.include-coordinator=true\n\
                     http-server.http.port={PORT}\n\
                     discovery.uri=http://127.0.0.1:{PORT}\n\
                     plugin.dir={plugin}\n\
                     catalog.config-dir={catalogs}\n\
                     http-server.log.path={log}\n\
                     query.max-memory=1GB\n\
                     query.max-memory-per-node=512MB\n",
                    plugin = home.join("plugin").display(),
                    catalogs = catalogs.display(),
                    log = data.join("var/log/http-request.log").display(),
                ),
            ),
            (etc.join("log.properties"), "io.trino=INFO\n".to_string()),
            (
                catalogs.join("tpch.properties"),
                "connector.name=tpch\n".to_string(),
            ),
            (
                catalogs.join("memory.properties"),
                "connector.name=memory\nmemory.max-data-per-node=128MB\n".to_string(),
            ),
            (
                catalogs.join("iceberg.properties"),
                format!(
                    "connector.name=iceberg\n\
                     iceberg.catalog.type=rest\n\
                     iceberg.rest-catalog.uri=http://127.0.0.1:{rest}\n\
                     fs.native-s3.enabled=true\n\
                     s3.endpoint=http://127.0.0.1:{s3}\n\
                     s3.region=us-east-1\n\
                     s3.path-style-access=true\n\
                     s3.aws-access-key=${{ENV:{S3_ACCESS_KEY}}}\n\
                     s3.aws-secret-key=${{ENV:{S3_SECRET_KEY}}}\n",
                    rest = iceberg_rest::PORT,
                    s3 = objectstore::PORT,
                ),
            ),
        ];
        for (path, text) in files {
            std::fs::write(&path, text).map_err(io_err("write", &path))?;
        }
        Ok(())
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let data = stack.data_dir("trino");
        let etc = etc(stack);
        let mut cmd = Command::new(java()?);
        cmd.arg("-cp")
            .arg(format!("{}/lib/*", home(stack).display()))
            .args(JVM_OPTIONS)
            .arg(format!(
                "-Dconfig={}",
                etc.join("config.properties").display()
            ))
            .arg(format!(
                "-Dlog.levels-file={}",
                etc.join("log.properties").display()
            ))
            .arg(format!(
                "-Dlog.output-file={}",
                data.join("var/log/server.log").display()
            ))
            .args([
                "-Dlog.enable-console=false",
                "-Dnode.environment=carbon_e2e",
                "-Dnode.id=carbon-e2e-trino-1",
                "-Dnode.bind-ip=127.0.0.1",
                "-Dnode.internal-address=127.0.0.1",
            ])
            .arg(format!("-Dnode.data-dir={}", data.display()))
            .arg(MAIN_CLASS)
            // The catalog file refers to these as ${ENV:...}: secrets stay out of argv and files.
            .env(S3_ACCESS_KEY, stack.var(S3_ACCESS_KEY))
            .env(S3_SECRET_KEY, stack.var(S3_SECRET_KEY))
            .env("JAVA_HOME", JAVA_HOME)
            .current_dir(&data);
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PORT}/v1/info"),
            contains: Some("\"starting\":false"),
        }
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(240)
    }

    fn process_marker(&self) -> Option<&'static str> {
        Some(MAIN_CLASS)
    }

    fn after_ready<'a>(&'a self, _stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async move {
            let http = HttpClient::new(
                "trino",
                ClientOptions {
                    timeout: Duration::from_secs(10),
                    ca_file: None,
                },
            )
            .map_err(|e| StackError::Other(e.to_string()))?;
            let client = TrinoClient::new(
                url::Url::parse(&self.endpoint()).map_err(|e| StackError::Other(e.to_string()))?,
                http,
                TrinoOptions {
                    user: "carbon-e2e-stack".into(),
                    password: None::<(String, Secret)>,
                    query_timeout: Duration::from_secs(30),
                },
            )
            .map_err(|e| StackError::Other(e.to_string()))?;
            // `starting:false` comes a few seconds before the node can take work; until then
            // queries fail with NO_NODES_AVAILABLE. Ready means a real query answers.
            wait_until(
                "trino to answer a tpch query",
                Duration::from_secs(120),
                || async {
                    Ok::<_, std::convert::Infallible>(match client.execute(PROBE_SQL).await {
                        Ok(out) if out.single().ok().and_then(|v| v.as_i64()) == Some(25) => {
                            Check::Ready(())
                        }
                        Ok(out) => Check::Pending(format!("{PROBE_SQL} returned {:?}", out.rows)),
                        Err(e) => Check::Pending(e.to_string()),
                    })
                },
            )
            .await
            .map_err(|e| StackError::Other(e.to_string()))?;
            // The warehouse holds one schema of its own, as a platform's does: what the trino
            // suite compares between Trino and the REST catalog.
            client
                .execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS iceberg.{STACK_SCHEMA}"
                ))
                .await
                .map_err(|e| StackError::Other(format!("creating iceberg.{STACK_SCHEMA}: {e}")))?;
            Ok(())
        })
    }
}
