//! The Iceberg REST catalog: Apache Iceberg 1.10.0's REST catalog server
//! (`org.apache.iceberg.rest.RESTCatalogServer`, from `iceberg-open-api`'s `test-fixtures` jar,
//! Apache-2.0), port 18181. The platform's Trino reaches Iceberg through a REST catalog; the
//! stack's Trino does too, so the path staging takes is the one CI runs.
//!
//! It is the JDBC catalog behind the REST protocol: its tables live in the stack's PostgreSQL
//! (database `iceberg_rest`, created by the server on first start) and the warehouse in the
//! object store's `iceberg` bucket through Iceberg's `S3FileIO` (AWS SDK v2, path-style).
//!
//! The shaded `test-fixtures-runtime` jar is not on Maven Central, so the classpath is assembled
//! with Maven from `assets/iceberg-rest/pom.xml` (`mvn -C`, strict checksums) into the cache,
//! then every jar is checked against `assets/iceberg-rest/jars.sha256` (and nothing else may be
//! there) before it is used.
//!
//! Settings reach the server as `CATALOG_*` variables (`CATALOG_S3_ENDPOINT` is the catalog
//! property `s3.endpoint`, `__` is `-`); any other `CATALOG_*` variable of the caller is removed,
//! since the server would take it as a property. Against MinIO RELEASE.2021-04-22 two settings
//! are needed: `AWS_REQUEST_CHECKSUM_CALCULATION=when_required` (else every PUT carries a CRC32
//! trailer MinIO refuses) and `client.legacy-md5-plugin-enabled` (else a purge's batch delete
//! lacks `Content-MD5` and leaves the files). The server logs its properties, credentials
//! included, at INFO: it runs at WARN so no secret reaches the log (which promtail ships to Loki).
//! It has no health or version endpoint: readiness is `GET /v1/config`. It binds every
//! interface (no bind-address setting).

use std::path::PathBuf;
use std::process::Command;

use super::{objectstore, postgres, trino};
use crate::install::{MVN_TIMEOUT, apt, run_logged, runs, sha256_of};
use crate::secrets::{PG_PASSWORD, PG_USER, S3_ACCESS_KEY, S3_SECRET_KEY};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 18181;
pub(crate) const VERSION: &str = "1.10.0";
const MAIN_CLASS: &str = "org.apache.iceberg.rest.RESTCatalogServer";
const DATABASE: &str = "iceberg_rest";
/// The catalog name the JDBC catalog records in its tables.
const CATALOG_NAME: &str = "carbon_e2e";
const POM: &str = include_str!("../../assets/iceberg-rest/pom.xml");
const JARS: &str = include_str!("../../assets/iceberg-rest/jars.sha256");
const MAVEN_COPY: &str = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies";

pub(crate) struct IcebergRest;

fn home(stack: &Stack) -> PathBuf {
    stack.cache.join(format!("iceberg-rest-{VERSION}"))
}

/// The pinned jars: file name → SHA-256.
fn pinned() -> Vec<(&'static str, &'static str)> {
    JARS.lines()
        .filter_map(|l| {
            let (sum, name) = l.split_once("  ")?;
            Some((name.trim(), sum.trim()))
        })
        .collect()
}

/// Checks `lib` holds exactly the pinned jars with their SHA-256s.
fn verify(lib: &std::path::Path) -> Result<(), StackError> {
    let want = pinned();
    let mut found: Vec<String> = std::fs::read_dir(lib)
        .map_err(io_err("read", lib))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    found.sort();
    let mut names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    if found != names {
        let extra: Vec<&String> = found
            .iter()
            .filter(|f| !names.contains(&f.as_str()))
            .collect();
        let missing: Vec<&&str> = names
            .iter()
            .filter(|n| !found.iter().any(|f| f == *n))
            .collect();
        return Err(StackError::Other(format!(
            "the Iceberg REST catalog's classpath in {} is not the pinned one: missing {missing:?}, unexpected {extra:?}",
            lib.display()
        )));
    }
    for (name, sum) in want {
        let actual = sha256_of(&lib.join(name))?;
        if actual != sum {
            return Err(StackError::Other(format!(
                "{name} has SHA-256 {actual}, expected {sum} (assets/iceberg-rest/jars.sha256)"
            )));
        }
    }
    Ok(())
}

impl LocalServer for IcebergRest {
    fn name(&self) -> &'static str {
        "iceberg-rest"
    }

    fn role(&self) -> &'static str {
        "Iceberg REST catalog 1.10.0 (JDBC catalog in PostgreSQL, warehouse in MinIO)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["postgres", "objectstore"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        let home = home(stack);
        if home.join(".verified").exists() {
            return Ok(());
        }
        apt(stack, || runs("mvn", "-v"), &["maven"])?;
        let staging = stack
            .cache
            .join(format!("iceberg-rest-{VERSION}.resolving"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(io_err("remove", &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(io_err("create", &staging))?;
        let pom = staging.join("pom.xml");
        std::fs::write(&pom, POM).map_err(io_err("write", &pom))?;
        println!(
            "stack: resolving the Iceberg REST catalog {VERSION}'s classpath from Maven Central (once; cached in {})",
            home.display()
        );
        run_logged(
            stack,
            &format!("resolve the Iceberg REST catalog {VERSION} with mvn"),
            MVN_TIMEOUT,
            Command::new("mvn")
                .current_dir(&staging)
                .args(["-B", "-q", "-C", "-f"])
                .arg(&pom)
                .arg(MAVEN_COPY)
                .arg(format!(
                    "-DoutputDirectory={}",
                    staging.join("lib").display()
                )),
        )?;
        verify(&staging.join("lib"))?;
        if home.exists() {
            std::fs::remove_dir_all(&home).map_err(io_err("remove", &home))?;
        }
        std::fs::rename(&staging, &home).map_err(io_err("move", &staging))?;
        let marker = home.join(".verified");
        std::fs::write(&marker, "sha256 of every jar matched\n").map_err(io_err("write", &marker))
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("iceberg-rest");
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))?;
        postgres::ensure_database(stack, DATABASE)
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(trino::java()?);
        // Any CATALOG_* variable becomes a catalog property: only ours may reach the server.
        #[allow(clippy::disallowed_methods)] // removing the caller's variables, not reading config
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("CATALOG_") {
                cmd.env_remove(k);
            }
        }
        let pg = postgres::PORT;
        let s3 = objectstore::PORT;
        cmd.args([
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
        ])
        .arg(format!("{}/lib/*", home(stack).display()))
        .arg(MAIN_CLASS)
        .env("CATALOG_REST_PORT", PORT.to_string())
        .env("CATALOG_CATALOG_NAME", CATALOG_NAME)
        .env(
            "CATALOG_URI",
            format!("jdbc:postgresql://127.0.0.1:{pg}/{DATABASE}"),
        )
        .env("CATALOG_JDBC_USER", stack.var(PG_USER))
        .env("CATALOG_JDBC_PASSWORD", stack.var(PG_PASSWORD))
        .env(
            "CATALOG_WAREHOUSE",
            format!("s3://{}/", objectstore::WAREHOUSE_BUCKET),
        )
        .env("CATALOG_IO__IMPL", "org.apache.iceberg.aws.s3.S3FileIO")
        .env("CATALOG_S3_ENDPOINT", format!("http://127.0.0.1:{s3}"))
        .env("CATALOG_S3_PATH__STYLE__ACCESS", "true")
        .env("CATALOG_S3_ACCESS__KEY__ID", stack.var(S3_ACCESS_KEY))
        .env("CATALOG_S3_SECRET__ACCESS__KEY", stack.var(S3_SECRET_KEY))
        .env("CATALOG_CLIENT_REGION", "us-east-1")
        // Builds the S3 client at start, not on the first table (the SDK's first load is slow).
        .env("CATALOG_S3_PRELOAD__CLIENT__ENABLED", "true")
        .env("CATALOG_CLIENT_LEGACY__MD5__PLUGIN__ENABLED", "true")
        .env("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
        .env("JAVA_HOME", trino::JAVA_HOME)
        .current_dir(stack.data_dir("iceberg-rest"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PORT}/v1/config"),
            contains: Some("\"defaults\""),
        }
    }

    fn ready_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(120)
    }

    fn process_marker(&self) -> Option<&'static str> {
        Some(MAIN_CLASS)
    }
}
