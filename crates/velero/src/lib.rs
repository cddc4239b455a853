//! Velero through its custom resources (group `velero.io/v1`), the way `velero` the CLI drives
//! it: a Backup, Restore or DeleteBackupRequest is an object the server picks up; its progress
//! is the object's status, awaited through a watch.
//!
//! Only the fields the suites read are typed ([`kube::core::Object`] over small spec and status
//! structs); everything else in the objects is ignored. A backup's files are read from the
//! bucket of its storage location ([`layout`]) and its tarball with [`tarball`].

mod declare;
mod resources;
pub mod tarball;
mod version;

use std::fmt;
use std::time::Duration;

use carbon_config::{Target, VeleroConfig};
use carbon_core::naming;
use carbon_core::wait::{Check, WaitError};
use carbon_kube::kube::api::{Api, DeleteParams, ListParams, PostParams};
use carbon_kube::kube::core::{ApiResource, GroupVersionKind, Object};
use carbon_kube::kube::runtime::wait::Condition;
use carbon_kube::{KubeClient, KubeError};
use serde::Serialize;

pub use resources::*;
pub use version::{image_tag, server_image};

/// Errors of the Velero client.
#[derive(Debug, thiserror::Error)]
pub enum VeleroError {
    /// The target lacks what the client needs.
    #[error("velero configuration: {0}")]
    Config(String),
    /// The API server refused or failed a request, or a wait ran out.
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// A check found Velero not as the platform expects; the text lists every offender.
    #[error("{0}")]
    Check(String),
    /// Velero processed a request and refused it; `reasons` are its own words.
    #[error("Velero did not {action}: {reasons}")]
    Refused {
        /// What was asked.
        action: String,
        /// Velero's reasons (a DeleteBackupRequest's `status.errors`).
        reasons: String,
    },
}

/// Velero's API group and version.
pub const GROUP: &str = "velero.io";
/// Velero's API version.
pub const VERSION: &str = "v1";

/// The label Velero puts on a schedule's backups.
pub const SCHEDULE_LABEL: &str = "velero.io/schedule-name";

/// Velero's kinds the client reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Backup`.
    Backup,
    /// `Restore`.
    Restore,
    /// `BackupStorageLocation`.
    StorageLocation,
    /// `Schedule`.
    Schedule,
    /// `DeleteBackupRequest`.
    DeleteBackupRequest,
}

impl Kind {
    /// Every kind a run may create (the reaper looks at these).
    pub const CREATED: [Kind; 4] = [
        Kind::Backup,
        Kind::Restore,
        Kind::StorageLocation,
        Kind::DeleteBackupRequest,
    ];

    /// The kind's name and plural resource.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Backup => ("Backup", "backups"),
            Kind::Restore => ("Restore", "restores"),
            Kind::StorageLocation => ("BackupStorageLocation", "backupstoragelocations"),
            Kind::Schedule => ("Schedule", "schedules"),
            Kind::DeleteBackupRequest => ("DeleteBackupRequest", "deletebackuprequests"),
        }
    }

    /// Its `ApiResource`, for the dynamic API.
    pub fn api_resource(self) -> ApiResource {
        let (kind, plural) = self.names();
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, kind), plural)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.names().0)
    }
}

/// A watch condition: the Backup or Restore has ended.
pub fn has_ended<P: Clone>() -> impl Condition<Object<P, RunStatus>> {
    |obj: Option<&Object<P, RunStatus>>| {
        obj.and_then(|o| o.status.as_ref())
            .is_some_and(RunStatus::is_final)
    }
}

/// The client: the cluster client, the target's `[velero]`, and Velero's namespace.
#[derive(Debug, Clone)]
pub struct VeleroClient {
    kube: KubeClient,
    cfg: VeleroConfig,
}

impl VeleroClient {
    /// Connects to the cluster of `[kubernetes]` with the target's `[velero]`.
    ///
    /// # Errors
    /// When either section is missing or the cluster client cannot be built.
    pub async fn from_target(target: &Target) -> Result<Self, VeleroError> {
        carbon_core::failure::register::<VeleroError>();
        let cfg = target.velero.clone().ok_or_else(|| {
            VeleroError::Config(format!("target `{}` has no [velero] section", target.name))
        })?;
        Ok(Self {
            kube: KubeClient::from_target(target).await?,
            cfg,
        })
    }

    /// The cluster client.
    pub fn kube(&self) -> &KubeClient {
        &self.kube
    }

    /// The target's `[velero]`.
    pub fn config(&self) -> &VeleroConfig {
        &self.cfg
    }

    /// Velero's namespace.
    pub fn namespace(&self) -> &str {
        &self.cfg.namespace
    }

    /// The dynamic API of `kind` in Velero's namespace.
    pub fn api<P: Clone, U: Clone>(&self, kind: Kind) -> Api<Object<P, U>> {
        Api::namespaced_with(
            self.kube.client(),
            &self.cfg.namespace,
            &kind.api_resource(),
        )
    }

    /// What a request did, naming the API server it went to (a failure that names no endpoint
    /// cannot be acted on).
    fn action(&self, verb: &str, kind: Kind, name: &str) -> String {
        format!(
            "{verb} {kind} {name} in namespace {} at {}",
            self.cfg.namespace,
            self.kube.server()
        )
    }

    /// A storage location by name.
    ///
    /// # Errors
    /// [`VeleroError::Kube`] (a missing location names it).
    pub async fn storage_location(&self, name: &str) -> Result<StorageLocation, VeleroError> {
        let api = self.api(Kind::StorageLocation);
        api.get(name)
            .await
            .map_err(|e| self.api_error("get", Kind::StorageLocation, name, e))
    }

    /// Every object of `kind` in Velero's namespace.
    ///
    /// # Errors
    /// [`VeleroError::Kube`], naming the kind (an absent CRD says Velero is not installed).
    pub async fn list<P, U>(&self, kind: Kind) -> Result<Vec<Object<P, U>>, VeleroError>
    where
        P: Clone + serde::de::DeserializeOwned + fmt::Debug,
        U: Clone + Default + serde::de::DeserializeOwned + fmt::Debug,
    {
        self.list_with(kind, &ListParams::default()).await
    }

    /// Objects of `kind` matching `params` (e.g. a label selector).
    ///
    /// # Errors
    /// As [`Self::list`].
    pub async fn list_with<P, U>(
        &self,
        kind: Kind,
        params: &ListParams,
    ) -> Result<Vec<Object<P, U>>, VeleroError>
    where
        P: Clone + serde::de::DeserializeOwned + fmt::Debug,
        U: Clone + Default + serde::de::DeserializeOwned + fmt::Debug,
    {
        let api: Api<Object<P, U>> = self.api(kind);
        let what = format!("{}s", kind.names().0);
        api.list(params)
            .await
            .map(|l| l.items)
            .map_err(|e| self.api_error("list", kind, &what, e))
    }

    /// Creates `obj` (a Backup, Restore, storage location or delete request).
    ///
    /// # Errors
    /// [`VeleroError::Kube`] with the server's answer.
    pub async fn create<P, U>(
        &self,
        kind: Kind,
        obj: &Object<P, U>,
    ) -> Result<Object<P, U>, VeleroError>
    where
        P: Clone + Serialize + serde::de::DeserializeOwned + fmt::Debug,
        U: Clone + Default + Serialize + serde::de::DeserializeOwned + fmt::Debug,
    {
        let api: Api<Object<P, U>> = self.api(kind);
        let name = obj.metadata.name.clone().unwrap_or_default();
        api.create(&PostParams::default(), obj)
            .await
            .map_err(|e| self.api_error("create", kind, &name, e))
    }

    /// Deletes an object of `kind`; one already gone is fine.
    ///
    /// # Errors
    /// [`VeleroError::Kube`].
    pub async fn delete(&self, kind: Kind, name: &str) -> Result<(), VeleroError> {
        let api: Api<Object<serde_json::Value, serde_json::Value>> = self.api(kind);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(carbon_kube::kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.api_error("delete", kind, name, e)),
        }
    }

    /// Waits, through a watch, until the Backup or Restore `name` has ended; returns it.
    ///
    /// # Errors
    /// [`VeleroError::Kube`] with a timeout and the last state seen.
    pub async fn wait_ended<P>(
        &self,
        kind: Kind,
        name: &str,
        timeout: Duration,
    ) -> Result<Object<P, RunStatus>, VeleroError>
    where
        P: Clone + Serialize + serde::de::DeserializeOwned + fmt::Debug + Send + Sync + 'static,
    {
        let api: Api<Object<P, RunStatus>> = self.api(kind);
        let waited = self
            .kube
            .wait_for(
                api,
                name,
                &format!("{kind} {name} to end (Completed, PartiallyFailed, Failed)"),
                timeout,
                has_ended(),
            )
            .await;
        match waited {
            Ok(done) => Ok(done),
            // The generic last state is the object's JSON cut at 400 characters, which hides
            // what matters (a queue, a location gone Unavailable): say that instead.
            Err(KubeError::Timeout { what, secs, last }) => {
                let last = self.where_it_stands(kind, name).await.unwrap_or(last);
                Err(VeleroError::Kube(KubeError::Timeout { what, secs, last }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Where a Backup or Restore that has not ended stands: its status (phase, queue
    /// position, counts) and, for a Backup, its storage location's phase and message; for a
    /// Restore, its backup's. `None` when it cannot be read.
    async fn where_it_stands(&self, kind: Kind, name: &str) -> Option<String> {
        let backup_name = match kind {
            Kind::Backup => name.to_string(),
            Kind::Restore => {
                let api: Api<Restore> = self.api(Kind::Restore);
                let restore = api.get_opt(name).await.ok()??;
                let status = restore.status.clone().unwrap_or_default();
                return Some(format!(
                    "Restore {name} of Backup {}: {}",
                    restore.spec.backup_name,
                    status.describe()
                ));
            }
            _ => return None,
        };
        let api: Api<Backup> = self.api(Kind::Backup);
        let backup = api.get_opt(&backup_name).await.ok()??;
        let location_name = backup
            .spec
            .storage_location
            .clone()
            .unwrap_or_else(|| self.cfg.storage_location.clone());
        let locations: Api<StorageLocation> = self.api(Kind::StorageLocation);
        let location = locations.get_opt(&location_name).await.map_err(|e| {
            self.api_error("get", Kind::StorageLocation, &location_name, e)
                .to_string()
        });
        Some(describe_unended_backup(&backup, &location_name, &location))
    }

    /// Waits, through a watch, until the object `name` of `kind` is gone.
    ///
    /// # Errors
    /// [`VeleroError::Kube`] with a timeout and the last state seen.
    pub async fn wait_gone(
        &self,
        kind: Kind,
        name: &str,
        timeout: Duration,
    ) -> Result<(), VeleroError> {
        let api: Api<Object<serde_json::Value, serde_json::Value>> = self.api(kind);
        Ok(self
            .kube
            .wait_deleted(api, name, &format!("{kind} {name} to be deleted"), timeout)
            .await?)
    }

    /// Deletes a Backup the way `velero backup delete` does: a DeleteBackupRequest (named
    /// `<backup>-delete`, labelled for `run`) makes the server remove the backup's files, then
    /// the Backup; returns once the Backup is gone. A backup still running is awaited first
    /// (Velero refuses to delete one); one already gone is fine; one that ended
    /// `FailedValidation` wrote nothing to any bucket and is deleted as an object (Velero would
    /// refuse the request when, as is then likely, its location is Unavailable).
    ///
    /// Velero processes a DeleteBackupRequest once: one it refused (its location Unavailable
    /// then) keeps its name and is never looked at again, so the run's refused requests for
    /// this backup are removed before it asks anew. When Velero refuses this request too, the
    /// error carries its reasons at once instead of waiting out `timeout`.
    ///
    /// # Errors
    /// [`VeleroError::Refused`] with Velero's reasons; [`VeleroError::Kube`]: a request
    /// refused by the API server, or a wait ran out (with the Backup's and request's state).
    pub async fn delete_backup(
        &self,
        backup: &str,
        run: &str,
        timeout: Duration,
    ) -> Result<(), VeleroError> {
        let started = std::time::Instant::now();
        let left = || timeout.saturating_sub(started.elapsed());
        let api: Api<Backup> = self.api(Kind::Backup);
        let Some(current) = api
            .get_opt(backup)
            .await
            .map_err(|e| self.api_error("get", Kind::Backup, backup, e))?
        else {
            return Ok(());
        };
        // `Deleting` is an earlier request's work (possibly stopped on an error): a new
        // request is what moves it, so it is not awaited like a running backup.
        let phase = current.status.as_ref().and_then(|s| s.phase.as_deref());
        let current = if current.status.as_ref().is_some_and(RunStatus::is_final)
            || phase == Some("Deleting")
        {
            current
        } else {
            self.wait_ended::<BackupSpec>(Kind::Backup, backup, timeout)
                .await?
        };
        if current.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("FailedValidation") {
            self.delete(Kind::Backup, backup).await?;
            return self.wait_gone(Kind::Backup, backup, left()).await;
        }
        self.remove_processed_requests(backup, run, left()).await?;
        let request_name = format!("{backup}-delete");
        let request: DeleteBackupRequest = new_object(
            Kind::DeleteBackupRequest,
            &self.cfg.namespace,
            &request_name,
            run,
            DeleteBackupRequestSpec {
                backup_name: backup.to_string(),
            },
        );
        match self.create(Kind::DeleteBackupRequest, &request).await {
            Ok(_) => {}
            // Asked already and not yet processed (a cleanup running beside this one): wait
            // for it.
            Err(VeleroError::Kube(KubeError::Api {
                source: carbon_kube::kube::Error::Api(s),
                ..
            })) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
        self.wait_deleted_or_refused(backup, &request_name, left())
            .await
    }

    /// Removes this run's processed DeleteBackupRequests for `backup` (Velero will not look
    /// at them again) and waits until they are gone.
    async fn remove_processed_requests(
        &self,
        backup: &str,
        run: &str,
        timeout: Duration,
    ) -> Result<(), VeleroError> {
        let params = ListParams::default().labels(&format!("{}={run}", naming::KUBE_RUN_LABEL));
        let requests: Vec<DeleteBackupRequest> =
            self.list_with(Kind::DeleteBackupRequest, &params).await?;
        for r in requests_to_renew(&requests, backup, run) {
            self.delete(Kind::DeleteBackupRequest, &r).await?;
            self.wait_gone(Kind::DeleteBackupRequest, &r, timeout)
                .await?;
        }
        Ok(())
    }

    /// Polls until the Backup is gone (Ok) or Velero has processed `request` with errors
    /// while the Backup remains (its reasons).
    async fn wait_deleted_or_refused(
        &self,
        backup: &str,
        request: &str,
        timeout: Duration,
    ) -> Result<(), VeleroError> {
        let backups: Api<Backup> = self.api(Kind::Backup);
        let requests: Api<DeleteBackupRequest> = self.api(Kind::DeleteBackupRequest);
        let what = format!("Backup {backup} to be deleted (DeleteBackupRequest {request})");
        let outcome = carbon_core::wait::wait_until(&what, timeout, || async {
            let Some(b) = backups
                .get_opt(backup)
                .await
                .map_err(|e| self.api_error("get", Kind::Backup, backup, e))?
            else {
                return Ok(Check::Ready(None));
            };
            let r = requests
                .get_opt(request)
                .await
                .map_err(|e| self.api_error("get", Kind::DeleteBackupRequest, request, e))?;
            Ok::<_, VeleroError>(match deletion_refused(r.as_ref()) {
                Some(reasons) => Check::Ready(Some(reasons)),
                None => Check::Pending(format!(
                    "Backup {backup} {}; DeleteBackupRequest {request} {}",
                    b.status.unwrap_or_default().describe(),
                    r.map_or_else(
                        || "is gone".to_string(),
                        |r| format!(
                            "phase {}",
                            r.status
                                .and_then(|s| s.phase)
                                .as_deref()
                                .unwrap_or("(none yet: is the Velero server running?)")
                        )
                    )
                )),
            })
        })
        .await;
        match outcome {
            Ok(None) => Ok(()),
            Ok(Some(reasons)) => Err(VeleroError::Refused {
                action: format!(
                    "delete Backup {backup} (DeleteBackupRequest {request} in namespace {})",
                    self.cfg.namespace
                ),
                reasons,
            }),
            Err(WaitError::TimedOut {
                what,
                timeout,
                last,
                ..
            }) => Err(VeleroError::Kube(KubeError::Timeout {
                what,
                secs: timeout.as_secs(),
                last,
            })),
            Err(WaitError::Probe { source, .. }) => Err(source),
        }
    }

    /// Waits until the storage location `name` has been validated (phase set), through a
    /// watch; returns it.
    ///
    /// # Errors
    /// [`VeleroError::Kube`] with a timeout and the last state seen.
    pub async fn wait_validated(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<StorageLocation, VeleroError> {
        let api: Api<StorageLocation> = self.api(Kind::StorageLocation);
        let cond = |obj: Option<&StorageLocation>| {
            obj.and_then(|o| o.status.as_ref())
                .is_some_and(|s| s.phase.is_some() && s.last_validation_time.is_some())
        };
        Ok(self
            .kube
            .wait_for(
                api,
                name,
                &format!("BackupStorageLocation {name} to be validated"),
                timeout,
                cond,
            )
            .await?)
    }

    fn api_error(
        &self,
        verb: &str,
        kind: Kind,
        name: &str,
        e: carbon_kube::kube::Error,
    ) -> VeleroError {
        let action = self.action(verb, kind, name);
        match &e {
            carbon_kube::kube::Error::Api(s) if s.code == 404 && verb == "list" => {
                VeleroError::Kube(KubeError::Api {
                    action,
                    detail: format!(
                        "404: the {} CRD is not installed (is Velero installed in this cluster?)",
                        kind.names().1
                    ),
                    source: e,
                })
            }
            _ => VeleroError::Kube(carbon_kube::api_err(action)(e)),
        }
    }
}

/// A new object of `kind` named `name` in `namespace`, labelled with the run and owner.
pub fn new_object<P: Clone, U: Clone>(
    kind: Kind,
    namespace: &str,
    name: &str,
    run: &str,
    spec: P,
) -> Object<P, U> {
    let mut obj = Object::new(name, &kind.api_resource(), spec);
    obj.metadata.namespace = Some(namespace.to_string());
    obj.metadata.labels = Some(naming::kube_labels(run));
    obj
}

/// What a Backup that has not ended is waiting on, for a timeout: its status (phase, queue
/// position) and its storage location's phase and message (`location` as read: absent, or
/// why it could not be).
pub fn describe_unended_backup(
    backup: &Backup,
    location_name: &str,
    location: &Result<Option<StorageLocation>, String>,
) -> String {
    let name = backup.metadata.name.as_deref().unwrap_or_default();
    let status = backup.status.clone().unwrap_or_default();
    let mut out = format!("Backup {name} is {}", status.describe());
    if status.phase.is_none() {
        out.push_str(" (Velero has not picked it up: is the server running?)");
    }
    let where_ = match location {
        Ok(Some(l)) => {
            let st = l.status.clone().unwrap_or_default();
            let mut s = format!(
                "its location {location_name} is {}",
                st.phase.as_deref().unwrap_or("(never validated)")
            );
            if let Some(t) = &st.last_validation_time {
                s.push_str(&format!(" (validated {t})"));
            }
            if let Some(m) = st.message.as_ref().filter(|m| !m.is_empty()) {
                s.push_str(&format!(": {m}"));
            }
            s
        }
        Ok(None) => format!("its location {location_name} does not exist"),
        Err(e) => format!("its location {location_name} could not be read: {e}"),
    };
    format!("{out}; {where_}")
}

/// Velero's reasons when it processed a DeleteBackupRequest with errors (`None`: not
/// processed yet, gone, or processed cleanly).
pub fn deletion_refused(request: Option<&DeleteBackupRequest>) -> Option<String> {
    let status = request?.status.as_ref()?;
    let errors = status.errors.as_ref().filter(|e| !e.is_empty())?;
    (status.phase.as_deref() == Some("Processed")).then(|| errors.join("; "))
}

/// The run's own processed DeleteBackupRequests for `backup`: Velero never processes one
/// again, so asking anew means removing them first. Requests of other runs, or of other
/// backups, or still pending, are left alone.
pub fn requests_to_renew(requests: &[DeleteBackupRequest], backup: &str, run: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.spec.backup_name == backup)
        .filter(|r| r.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Processed"))
        .filter_map(|r| {
            let name = r.metadata.name.as_deref()?;
            (naming::kube_object_run(name, r.metadata.labels.as_ref()) == Some(run))
                .then(|| name.to_string())
        })
        .collect()
}

pub mod checks;
pub mod cron;

impl carbon_core::failure::Classify for VeleroError {
    fn kind(&self) -> Option<carbon_core::failure::Kind> {
        use carbon_core::failure::Kind;
        match self {
            VeleroError::Config(_) => Some(Kind::Runner),
            VeleroError::Kube(e) => e.kind(),
            VeleroError::Check(_) | VeleroError::Refused { .. } => Some(Kind::Check),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("720h0m0s", Some(720 * 3600))]
    #[case("720h", Some(720 * 3600))]
    #[case("1h30m", Some(5400))]
    #[case("30s", Some(30))]
    #[case("0s", Some(0))]
    #[case("0", Some(0))]
    #[case("720", None)]
    #[case("", None)]
    #[case("3d", None)]
    fn go_durations(#[case] text: &str, #[case] secs: Option<u64>) {
        assert_eq!(go_duration_secs(text), secs, "{text}");
    }

    #[test]
    fn layout_with_and_without_prefix() {
        assert_eq!(layout::backup_dir(None, "b1"), "backups/b1/");
        assert_eq!(
            layout::backup_dir(Some("/velero/"), "b1"),
            "velero/backups/b1/"
        );
        assert_eq!(
            layout::required_files(Some(""), "b1"),
            vec![
                "backups/b1/b1.tar.gz",
                "backups/b1/b1-logs.gz",
                "backups/b1/velero-backup.json"
            ]
        );
    }

    /// A Backup as Velero 1.18 writes it (recorded from the local server), parsed.
    #[test]
    fn parses_a_completed_backup() {
        let json = r#"{"apiVersion":"velero.io/v1","kind":"Backup","metadata":{"name":"b1","namespace":"velero","labels":{"velero.io/storage-location":"default"}},
          "spec":{"includedNamespaces":["data-platform"],"storageLocation":"default","ttl":"720h0m0s","snapshotVolumes":false,"hooks":{},"csiSnapshotTimeout":"10m0s"},
          "status":{"phase":"Completed","startTimestamp":"2026-11-27T06:30:01Z","completionTimestamp":"2026-11-27T06:30:03Z","expiration":"2026-12-27T06:30:01Z","formatVersion":"1.1.0","version":1,
          "progress":{"totalItems":31,"itemsBackedUp":31},"warnings":2}}"#;
        let b: Backup = serde_json::from_str(json).unwrap();
        let s = b.status.unwrap();
        assert!(s.is_final());
        assert_eq!(s.server_duration_secs(), Some(2));
        assert_eq!(
            s.describe(),
            "phase Completed, 0 error(s), 2 warning(s), 31 of 31 item(s)"
        );
        assert_eq!(b.spec.ttl.as_deref(), Some("720h0m0s"));
    }

    #[test]
    fn a_failed_validation_reports_veleros_reasons() {
        let s = RunStatus {
            phase: Some("FailedValidation".into()),
            validation_errors: Some(vec![
                "backup can't be created because BackupStorageLocation x is in Unavailable status."
                    .into(),
            ]),
            ..RunStatus::default()
        };
        assert!(s.is_final());
        assert!(
            s.describe().contains("Unavailable status"),
            "{}",
            s.describe()
        );
    }

    /// The failing-location trial's copy: only the bucket is wrong; what reaches the store
    /// (provider, config, credential, CA bundle) is the original's, and it is not the default.
    /// The location is the shape the API server returns for a platform's TLS store.
    #[test]
    fn a_copy_with_another_bucket_keeps_the_ca_bundle_and_config() {
        let bsl: StorageLocation =
            serde_json::from_str(include_str!("../tests/data/bsl-with-ca.json")).unwrap();
        let copy = bsl.spec.with_bucket("e2e-abcd1234-no-such-bucket");
        assert_eq!(copy.object_storage.bucket, "e2e-abcd1234-no-such-bucket");
        assert_eq!(copy.object_storage.prefix, None);
        assert_eq!(copy.object_storage.ca_cert, bsl.spec.object_storage.ca_cert);
        assert!(copy.object_storage.ca_cert.is_some());
        assert_eq!(copy.config, bsl.spec.config);
        assert_eq!(copy.credential, bsl.spec.credential);
        assert_eq!(copy.provider, "aws");
        assert_eq!(bsl.spec.default, Some(true));
        assert_eq!(
            copy.default, None,
            "the copy must never become the default location"
        );
        let sent = serde_json::to_value(&copy).unwrap();
        assert!(sent["objectStorage"]["caCert"].is_string(), "{sent}");
        assert_eq!(sent["config"]["s3Url"], "https://minio.storage.svc:9000");
        assert_eq!(sent["config"]["checksumAlgorithm"], "");
        assert!(sent.get("default").is_none(), "{sent}");
        assert_eq!(
            copy.describe_access(),
            "provider aws, config keys [checksumAlgorithm, region, s3ForcePathStyle, s3Url], its own credential, caCert (104 base64 characters)"
        );
    }

    #[rstest]
    // The AWS plugin (SDK v2) through Velero's validation, as it reads for a missing bucket.
    #[case::aws(
        "BackupStorageLocation \"e2e-x\" is unavailable: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error StatusCode: 404, RequestID: 1, HostID: 2, api error NoSuchBucket: The specified bucket does not exist",
        true
    )]
    #[case::azure(
        "BackupStorageLocation \"x\" is unavailable: ContainerNotFound: The specified container does not exist.",
        true
    )]
    #[case::gcs(
        "BackupStorageLocation \"x\" is unavailable: rpc error: code = Unknown desc = storage: bucket doesn't exist",
        true
    )]
    #[case::credentials(
        "BackupStorageLocation \"x\" is unavailable: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error StatusCode: 403, api error InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.",
        false
    )]
    #[case::certificate(
        "BackupStorageLocation \"x\" is unavailable: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, exceeded maximum number of attempts, 3, https response error StatusCode: 0, RequestID: , HostID: , request send failed, Get \"https://minio:9000/x\": tls: failed to verify certificate: x509: certificate signed by unknown authority",
        false
    )]
    #[case::unreachable(
        "BackupStorageLocation \"x\" is unavailable: dial tcp 10.0.0.1:9000: connect: connection refused",
        false
    )]
    fn a_missing_bucket_is_told_from_other_reasons(#[case] message: &str, #[case] missing: bool) {
        assert_eq!(says_bucket_missing(message), missing, "{message}");
    }

    fn data<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    /// A backup still queued when the wait ends says so, with its location's state, instead
    /// of a truncated object.
    #[test]
    fn an_unended_backup_tells_its_queue_and_location() {
        let b: Backup = data(include_str!("../tests/data/backup-queued.json"));
        let l: StorageLocation = data(include_str!("../tests/data/bsl-unavailable.json"));
        let got = describe_unended_backup(&b, "default", &Ok(Some(l)));
        assert_eq!(
            got,
            "Backup e2e-abcd1234-files is phase Queued (queue position 2), 0 error(s), 0 warning(s); its location default is Unavailable (validated 2026-11-27T06:17:30Z): BackupStorageLocation \"default\" is unavailable: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error StatusCode: 404, RequestID: , HostID: , api error NoSuchBucket: The specified bucket does not exist"
        );
        let gone = describe_unended_backup(&b, "default", &Ok(None));
        assert!(
            gone.ends_with("its location default does not exist"),
            "{gone}"
        );
        let mut fresh = b.clone();
        fresh.status = None;
        let unread = describe_unended_backup(&fresh, "default", &Err("403 Forbidden".into()));
        assert!(
            unread.contains("phase (none yet), 0 error(s), 0 warning(s) (Velero has not picked it up: is the server running?); its location default could not be read: 403 Forbidden"),
            "{unread}"
        );
    }

    /// Velero's own reason, from the request it refused.
    #[test]
    fn a_refused_deletion_gives_veleros_reason() {
        let r: DeleteBackupRequest =
            data(include_str!("../tests/data/dbr-refused-unavailable.json"));
        assert_eq!(
            deletion_refused(Some(&r)).as_deref(),
            Some(
                "cannot delete backup because backup storage location default is currently in Unavailable state"
            )
        );
        let mut pending = r.clone();
        pending.status = Some(DeleteBackupRequestStatus {
            phase: Some("InProgress".into()),
            errors: None,
        });
        assert_eq!(deletion_refused(Some(&pending)), None);
        let mut clean = r.clone();
        clean.status = Some(DeleteBackupRequestStatus {
            phase: Some("Processed".into()),
            errors: Some(vec![]),
        });
        assert_eq!(deletion_refused(Some(&clean)), None);
        assert_eq!(deletion_refused(None), None);
    }

    /// Only the run's own processed requests for that backup are removed before asking again.
    #[test]
    fn only_the_runs_processed_requests_are_renewed() {
        let refused: DeleteBackupRequest =
            data(include_str!("../tests/data/dbr-refused-unavailable.json"));
        let mut pending = refused.clone();
        pending.metadata.name = Some("e2e-abcd1234-files-delete-2".into());
        pending.status = Some(DeleteBackupRequestStatus {
            phase: Some("New".into()),
            errors: None,
        });
        let mut other_backup = refused.clone();
        other_backup.metadata.name = Some("e2e-abcd1234-restore-delete".into());
        other_backup.spec.backup_name = "e2e-abcd1234-restore".into();
        let mut foreign = refused.clone();
        foreign.metadata.name = Some("e2e-files-delete".into());
        foreign.metadata.labels = None;
        let mut other_run = refused.clone();
        other_run.metadata.name = Some("e2e-ffff0000-files-delete".into());
        other_run.metadata.labels = Some(naming::kube_labels("ffff0000"));
        let all = [refused, pending, other_backup, foreign, other_run];
        assert_eq!(
            requests_to_renew(&all, "e2e-abcd1234-files", "abcd1234"),
            vec!["e2e-abcd1234-files-delete".to_string()]
        );
    }

    #[test]
    fn a_new_object_carries_run_and_owner() {
        let b: Backup = new_object(
            Kind::Backup,
            "velero",
            "e2e-abcd1234-b",
            "abcd1234",
            BackupSpec::default(),
        );
        let labels = b.metadata.labels.unwrap();
        assert_eq!(
            naming::kube_object_run("e2e-abcd1234-b", Some(&labels)),
            Some("abcd1234")
        );
        assert_eq!(b.types.unwrap().api_version, "velero.io/v1");
    }
}
