//! `[velero]`: the backup server. Every field documents its default; unknown keys are errors.

use std::time::Duration;

use serde::Deserialize;

/// `[velero]`: the backup server, read and driven through its custom resources in the cluster
/// of `[kubernetes]`; a backup's files are read from the `[minio]` store its storage location
/// names. Defaults: the platform's (PLATFORM.md: four schedules keeping 30 days, backups of
/// `data-platform`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VeleroConfig {
    /// Velero's namespace.
    pub namespace: String,
    /// The BackupStorageLocation backups go to.
    pub storage_location: String,
    /// Its last validation must be this recent, in seconds (Velero validates every minute by
    /// default).
    pub max_validation_age_secs: u64,
    /// Schedules that must exist, by name (empty: any, counted against `min_schedules`).
    pub schedules: Vec<String>,
    /// Schedules, at least.
    pub min_schedules: usize,
    /// The retention every schedule's backups must keep, in hours.
    pub schedule_ttl_hours: u64,
    /// The namespace whose recent Completed backup the smoke tier looks for, and which the
    /// plan's own backup command (`--include-namespaces`, opt-in `platform-backup`) backs up.
    pub backup_namespace: String,
    /// That backup must have completed within this many hours.
    pub max_backup_age_hours: u64,
    /// How long a backup or restore may take to finish, in seconds.
    pub backup_timeout_secs: u64,
    /// How late past its due time a schedule's next backup may be, in seconds, before the
    /// schedule counts as not firing (default 3600).
    pub schedule_grace_secs: u64,
}

impl Default for VeleroConfig {
    fn default() -> Self {
        Self {
            namespace: "velero".into(),
            storage_location: "default".into(),
            max_validation_age_secs: 600,
            schedules: Vec::new(),
            min_schedules: 4,
            schedule_ttl_hours: 720,
            backup_namespace: "data-platform".into(),
            max_backup_age_hours: 26,
            backup_timeout_secs: 180,
            schedule_grace_secs: 3600,
        }
    }
}

impl VeleroConfig {
    /// [`Self::backup_timeout_secs`] as a duration.
    pub fn backup_timeout(&self) -> Duration {
        Duration::from_secs(self.backup_timeout_secs)
    }
}

impl super::ServiceSection for VeleroConfig {
    fn name(&self) -> &'static str {
        "velero"
    }

    /// Reached through the kube client of `[kubernetes]`: no location, credential or CA of its own.
    fn tls(&self) -> super::Tls<'_> {
        super::Tls::Kubeconfig
    }
}
