//! The SQL engine and its Iceberg REST catalog's declaration: how its client is made, `doctor`'s probe, and its version for the
//! run manifest (see [`carbon_config::Declared`]).

use carbon_config::{Artifact, Declared, FromTarget as _, Leftovers, ProbeError, Service, Target};
use carbon_core::naming::{self, Marker, rfc3339_secs};

use crate::{RestCatalogClient, TrinoClient};

impl Declared for TrinoClient {
    const SERVICE: Service = Service::Trino;
    const VERSION_SOURCE: &'static str = "GET /v1/info nodeVersion.version";
    const NO_VERSION: &'static str = carbon_config::NO_VERSION_IN_ANSWER;

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    /// Started (not `starting`), the user accepted, and every required catalog present.
    async fn probe(&self, target: &Target) -> Result<String, ProbeError> {
        let info = self.info().await?;
        if info.starting {
            return Err(format!(
                "{} is still starting (version {})",
                self.url(),
                info.node_version.version
            )
            .into());
        }
        let catalogs = self.catalogs().await?;
        let required = target
            .trino
            .as_ref()
            .map(|t| t.required_catalogs.clone())
            .unwrap_or_default();
        let missing = crate::missing_catalogs(&required, &catalogs);
        if !missing.is_empty() {
            return Err(format!(
                "{} lacks required catalog(s) {} (it has {})",
                self.url(),
                missing.join(", "),
                catalogs.join(", ")
            )
            .into());
        }
        Ok(format!(
            "Trino {} ({}), user {} accepted, catalogs {}",
            info.node_version.version,
            info.environment,
            self.user(),
            catalogs.join(", ")
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.server_version().await?)
    }

    const ARTIFACTS: Option<&'static str> = Some(
        "Iceberg schemas e2e_<run>_<what>_<created> whose every table carries the run's marker as its comment, warehouse files of such schemas that no longer exist, and queries tagged with a run still running",
    );

    /// Schemas of the Iceberg catalog named `e2e_<run>_<what>_<created>` (owned when every
    /// table's comment is the run's marker); the warehouse files of such schemas that no
    /// longer exist (a DROP that failed half-way); and queries a run left running (only
    /// carbon-e2e's, tagged with a run: anyone else's is not even counted). All aged on the
    /// coordinator's clock.
    async fn leftovers(&self, target: &Target) -> Result<Leftovers, ProbeError> {
        let Some(cfg) = &target.trino else {
            return Ok(Leftovers::default());
        };
        let catalog = &cfg.iceberg_catalog;
        let mut out = Leftovers {
            now: self.clock().await?,
            ..Leftovers::default()
        };
        let schemas: Vec<String> = self
            .execute(&format!(
                "SELECT schema_name FROM {catalog}.information_schema.schemata \
                 WHERE schema_name LIKE 'e2e\\_%' ESCAPE '\\'"
            ))
            .await?
            .rows
            .iter()
            .filter_map(|r| r.first().map(text))
            .collect();
        // Every such schema's tables and their comments, in one query (not one per schema).
        let mut tables: std::collections::BTreeMap<String, Vec<(String, String)>> =
            Default::default();
        for row in &self
            .execute(&format!(
                "SELECT schema_name, table_name, comment FROM system.metadata.table_comments \
                 WHERE catalog_name = '{catalog}' AND schema_name LIKE 'e2e\\_%' ESCAPE '\\'"
            ))
            .await?
            .rows
        {
            let cell = |i: usize| row.get(i).map(text).unwrap_or_default();
            tables.entry(cell(0)).or_default().push((cell(1), cell(2)));
        }
        for schema in &schemas {
            let what = format!("schema {catalog}.{schema}");
            let Some((run, created)) = naming::parse_identifier(schema) else {
                out.artifacts.push(Artifact {
                    what,
                    run: String::new(),
                    created: None,
                    keep: Some("its name is not a run's (e2e_<run>_<what>_<created>)".into()),
                    handle: Vec::new(),
                });
                continue;
            };
            let keep = owned(tables.get(schema).map_or(&[][..], Vec::as_slice), run).err();
            out.artifacts.push(Artifact {
                what,
                run: run.to_string(),
                created: Some(created),
                keep,
                handle: vec!["schema".into(), schema.clone()],
            });
        }
        if let (Some(bucket), Some(_)) = (&cfg.warehouse_bucket, &target.minio) {
            let s3 = carbon_minio::MinioClient::from_target(target)?;
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
                let Some((run, created)) = naming::parse_identifier(&schema) else {
                    continue;
                };
                let files = format!("{}{schema}/", cfg.warehouse_prefix);
                out.artifacts.push(Artifact {
                    what: format!("files of dropped schema {schema} under s3://{bucket}/{files}"),
                    run: run.to_string(),
                    created: Some(created),
                    keep: None,
                    handle: vec!["files".into(), bucket.clone(), files],
                });
            }
        }
        for q in self.list_running_queries().await? {
            let Some(run) = q.run() else {
                continue;
            };
            out.artifacts.push(Artifact {
                what: format!("query {} of run {run} ({})", q.query_id, q.state),
                run: run.to_string(),
                created: rfc3339_secs(q.created()),
                keep: None,
                handle: vec!["query".into(), q.query_id.clone()],
            });
        }
        Ok(out)
    }

    /// A schema after its tables (their markers read again first), a dead schema's files, or
    /// a query (cancelled).
    async fn remove(&self, target: &Target, artifact: &Artifact) -> Result<String, ProbeError> {
        let catalog = target
            .trino
            .as_ref()
            .map(|t| t.iceberg_catalog.clone())
            .unwrap_or_default();
        match artifact.handle.as_slice() {
            [kind, schema] if kind == "schema" => {
                let tables = self.owned_tables(&catalog, schema, &artifact.run).await??;
                for table in &tables {
                    self.execute(&format!(
                        "DROP TABLE IF EXISTS {catalog}.\"{schema}\".\"{table}\""
                    ))
                    .await?;
                }
                self.execute(&format!("DROP SCHEMA IF EXISTS {catalog}.\"{schema}\""))
                    .await?;
                Ok(format!(
                    "{} and its {} table(s)",
                    artifact.what,
                    tables.len()
                ))
            }
            [kind, bucket, files] if kind == "files" => {
                carbon_minio::MinioClient::from_target(target)?
                    .delete_prefix(bucket, files)
                    .await?;
                Ok(artifact.what.clone())
            }
            [kind, id] if kind == "query" => {
                self.kill(id).await?;
                Ok(format!("{}: cancelled", artifact.what))
            }
            _ => Err(format!("{}: not a Trino artifact", artifact.what).into()),
        }
    }
}

/// A cell as text (`""` for anything else).
fn text(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

impl TrinoClient {
    /// The coordinator's clock, in seconds.
    async fn clock(&self) -> Result<i64, ProbeError> {
        self.execute("SELECT CAST(to_unixtime(current_timestamp) AS bigint)")
            .await?
            .single()
            .ok()
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| "reading the coordinator's clock: not a number".into())
    }

    /// The tables of `schema` when each one's comment is `run`'s marker; else why not.
    async fn owned_tables(
        &self,
        catalog: &str,
        schema: &str,
        run: &str,
    ) -> Result<Result<Vec<String>, String>, ProbeError> {
        let tables = self
            .execute(&format!(
                "SELECT table_name, comment FROM system.metadata.table_comments \
                 WHERE catalog_name = '{catalog}' AND schema_name = '{schema}'"
            ))
            .await?;
        let rows: Vec<(String, String)> = tables
            .rows
            .iter()
            .map(|r| {
                (
                    r.first().map(text).unwrap_or_default(),
                    r.get(1).map(text).unwrap_or_default(),
                )
            })
            .collect();
        Ok(owned(&rows, run))
    }
}

/// The tables (name, comment) of a schema when each comment is `run`'s marker; else why not.
fn owned(tables: &[(String, String)], run: &str) -> Result<Vec<String>, String> {
    tables
        .iter()
        .map(|(table, comment)| {
            Marker::parse(comment)
                .filter(|m| m.run == run)
                .map(|_| table.clone())
                .ok_or_else(|| {
                    format!("table {table} has no carbon-e2e ownership marker for run {run}")
                })
        })
        .collect()
}

impl Declared for RestCatalogClient {
    const SERVICE: Service = Service::IcebergRestCatalog;
    const VERSION_SOURCE: &'static str =
        "GET /v1/config Server header (the REST protocol has no version endpoint)";
    const NO_VERSION: &'static str = "the catalog's answer names no server";

    async fn connect(target: &Target) -> Result<Self, ProbeError> {
        Ok(Self::from_target(target)?)
    }

    /// Its configuration and its namespaces, as Trino's Iceberg catalog reads them.
    async fn probe(&self, _target: &Target) -> Result<String, ProbeError> {
        let (settings, server) = self.config().await?;
        let namespaces = self.namespaces(&settings).await?;
        Ok(format!(
            "{} answers /v1/config (server {}), {} namespace(s)",
            self.base(),
            server.as_deref().unwrap_or("not named"),
            namespaces.len()
        ))
    }

    async fn version(&self, _target: &Target) -> Result<Option<String>, ProbeError> {
        Ok(self.config().await?.1)
    }
}
