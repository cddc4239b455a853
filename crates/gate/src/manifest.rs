//! `run.json`: what a run validated. Written by `carbon-e2e validate` beside the JUnit report;
//! read by the gate (the report's "What was validated") and by `carbon-e2e diff` (drift).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::GateError;

/// The version of `run.json`'s layout; raised whenever a field changes meaning or goes.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// A component's version as its server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentVersion {
    /// The component (`kubernetes`, `trino`, `victoriametrics`, ...).
    pub component: String,
    /// The version the server reported, `None` when it reported none.
    pub version: Option<String>,
    /// Where it was read (`GET /v1/info nodeVersion.version`).
    pub source: String,
    /// Why it could not be read (one line, no secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A container image of a platform workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadImage {
    /// Its namespace.
    pub namespace: String,
    /// `Deployment`, `StatefulSet` or `DaemonSet`.
    pub kind: String,
    /// The workload's name.
    pub name: String,
    /// The container's name.
    pub container: String,
    /// The image reference.
    pub image: String,
}

/// An ArgoCD Application's revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRevision {
    /// The Application.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// `spec.source.targetRevision`.
    pub target_revision: Option<String>,
    /// `status.sync.revision`.
    pub synced_revision: Option<String>,
    /// `status.sync.status`.
    pub sync: Option<String>,
    /// `status.health.status`.
    pub health: Option<String>,
}

/// What the platform ran: versions, images, ArgoCD revisions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Components {
    /// One per configured service.
    pub versions: Vec<ComponentVersion>,
    /// The platform workloads' container images.
    pub images: Vec<WorkloadImage>,
    /// ArgoCD-managed applications.
    pub argocd: Vec<AppRevision>,
}

/// carbon-e2e itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// Its crate version.
    pub version: String,
    /// The git commit it was built from (`+dirty` when the tree had changes), when known.
    pub commit: Option<String>,
}

/// `run.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The run id every artifact of the run carries.
    pub run_id: String,
    /// The target's name.
    pub target: String,
    /// What ran: `smoke+full` (profile `ci`) or `smoke`.
    pub tier: String,
    /// When it started, RFC 3339 UTC (this machine's clock).
    pub started: String,
    /// When it ended.
    pub ended: String,
    /// carbon-e2e's version and commit.
    pub carbon_e2e: Tool,
    /// `cargo nextest --version`'s first line.
    pub nextest: Option<String>,
    /// What the platform ran.
    pub components: Components,
}

impl Manifest {
    /// `run.json` in `dir`, `None` when there is none (a run from before the manifest).
    ///
    /// # Errors
    /// The file exists but cannot be read or parsed.
    pub fn read(dir: &Path) -> Result<Option<Self>, GateError> {
        let path = dir.join("run.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(GateError::Read { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| GateError::Parse {
                path,
                message: e.to_string(),
            })
    }

    /// Everything drift compares, as `what → version`: each component's version, each
    /// workload container's image, each Application's synced revision.
    pub fn versions(&self) -> BTreeMap<String, String> {
        let c = &self.components;
        let mut v = BTreeMap::new();
        for x in &c.versions {
            if let Some(version) = &x.version {
                v.insert(x.component.clone(), version.clone());
            }
        }
        for i in &c.images {
            v.insert(
                format!(
                    "image {}/{}/{}/{}",
                    i.namespace,
                    i.kind.to_lowercase(),
                    i.name,
                    i.container
                ),
                i.image.clone(),
            );
        }
        for a in &c.argocd {
            if let Some(r) = &a.synced_revision {
                v.insert(format!("argocd {}/{}", a.namespace, a.name), r.clone());
            }
        }
        v
    }
}
