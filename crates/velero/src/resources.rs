//! The spec and status structs of Velero's resources (only the fields the suites set or read),
//! and the parsing of the timestamps, durations and bucket layout they refer to.

use std::collections::BTreeMap;

use carbon_kube::kube::core::Object;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `Backup.spec` (the fields the suites set or read).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Namespaces to back up (`*`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    /// The storage location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    /// Retention, as a Go duration (`720h0m0s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Whether to take volume snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_volumes: Option<bool>,
    /// Whether to back volumes up with the file-system uploader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_volumes_to_fs_backup: Option<bool>,
}

impl BackupSpec {
    /// What a run backs up: `namespaces` to `location`, kept for `ttl` (a Go duration), no
    /// volume snapshots and no file-system backup of volumes.
    pub fn of_namespaces(namespaces: &[&str], location: &str, ttl: &str) -> Self {
        Self {
            included_namespaces: Some(namespaces.iter().map(ToString::to_string).collect()),
            storage_location: Some(location.to_string()),
            ttl: Some(ttl.to_string()),
            snapshot_volumes: Some(false),
            default_volumes_to_fs_backup: Some(false),
        }
    }
}

/// Items counted by a backup or restore.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Items it expects to handle.
    #[serde(default)]
    pub total_items: Option<u64>,
    /// Items a backup has written.
    #[serde(default)]
    pub items_backed_up: Option<u64>,
    /// Items a restore has created.
    #[serde(default)]
    pub items_restored: Option<u64>,
}

/// The status Backups and Restores share (the fields the suites read).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    /// `New`, `InProgress`, `Finalizing`, `Completed`, `PartiallyFailed`, `Failed`,
    /// `FailedValidation`, ...
    #[serde(default)]
    pub phase: Option<String>,
    /// When the server started it (RFC 3339, seconds).
    #[serde(default)]
    pub start_timestamp: Option<String>,
    /// When it ended.
    #[serde(default)]
    pub completion_timestamp: Option<String>,
    /// When a backup expires.
    #[serde(default)]
    pub expiration: Option<String>,
    /// Errors counted.
    #[serde(default)]
    pub errors: Option<u64>,
    /// Warnings counted.
    #[serde(default)]
    pub warnings: Option<u64>,
    /// Why validation failed.
    #[serde(default)]
    pub validation_errors: Option<Vec<String>>,
    /// Why it failed.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// Items counted.
    #[serde(default)]
    pub progress: Option<Progress>,
    /// A Queued backup's place in Velero's queue (1: next).
    #[serde(default)]
    pub queue_position: Option<u64>,
}

/// Phases after which a Backup or Restore changes no more.
pub const FINAL_PHASES: [&str; 4] = ["Completed", "PartiallyFailed", "Failed", "FailedValidation"];

impl RunStatus {
    /// Whether it has ended.
    pub fn is_final(&self) -> bool {
        self.phase
            .as_deref()
            .is_some_and(|p| FINAL_PHASES.contains(&p))
    }

    /// Its phase, `(none yet)` before the server has looked at it.
    pub fn phase(&self) -> &str {
        self.phase.as_deref().unwrap_or("(none yet)")
    }

    /// Phase, counts and Velero's own reasons, for a step or an error.
    pub fn describe(&self) -> String {
        let queued = self
            .queue_position
            .map(|p| format!(" (queue position {p})"))
            .unwrap_or_default();
        let mut out = format!(
            "phase {}{queued}, {} error(s), {} warning(s)",
            self.phase(),
            self.errors.unwrap_or(0),
            self.warnings.unwrap_or(0)
        );
        if let Some(p) = &self.progress {
            let done = p.items_backed_up.or(p.items_restored).unwrap_or(0);
            out.push_str(&format!(
                ", {done} of {} item(s)",
                p.total_items.unwrap_or(0)
            ));
        }
        if let Some(v) = self.validation_errors.as_ref().filter(|v| !v.is_empty()) {
            out.push_str(&format!(", validation errors: {}", v.join("; ")));
        }
        if let Some(r) = self.failure_reason.as_ref().filter(|r| !r.is_empty()) {
            out.push_str(&format!(", failure reason: {r}"));
        }
        out
    }

    /// Seconds from start to completion on the server's clock.
    pub fn server_duration_secs(&self) -> Option<i64> {
        Some(
            rfc3339(self.completion_timestamp.as_deref())?
                - rfc3339(self.start_timestamp.as_deref())?,
        )
    }
}

/// `Restore.spec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// The backup to restore.
    pub backup_name: String,
    /// Namespaces to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub included_namespaces: Option<Vec<String>>,
    /// Old namespace → new namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_mapping: Option<BTreeMap<String, String>>,
    /// Whether to restore persistent volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_p_vs: Option<bool>,
}

/// Where a storage location keeps its files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStorage {
    /// The bucket.
    pub bucket: String,
    /// A key prefix inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The PEM bundle (base64, as the API carries bytes) the plugin trusts for the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// The Secret key holding that bundle instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_ref: Option<serde_json::Value>,
}

/// `BackupStorageLocation.spec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageLocationSpec {
    /// The object-store plugin, e.g. `aws`.
    pub provider: String,
    /// Bucket and prefix.
    pub object_storage: ObjectStorage,
    /// Provider settings (`region`, `s3Url`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
    /// The Secret key holding its credentials, when not the server's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<serde_json::Value>,
    /// `ReadWrite` or `ReadOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_mode: Option<String>,
    /// How often the server validates it (a Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_frequency: Option<String>,
    /// Whether it is the default location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// How often the server syncs backups from the bucket (a Go duration, `0s`: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_sync_period: Option<String>,
}

impl StorageLocationSpec {
    /// A copy of this location that stores into `bucket` (no prefix) and differs in nothing
    /// else the server reads to reach the store: provider, its config (endpoint, region,
    /// path style...), credential and CA bundle are kept, so the one thing wrong with the copy
    /// is the bucket. It is never the default, is validated every 10 s, and syncs nothing.
    pub fn with_bucket(&self, bucket: &str) -> Self {
        let mut copy = self.clone();
        copy.object_storage.bucket = bucket.to_string();
        copy.object_storage.prefix = None;
        copy.default = None;
        copy.validation_frequency = Some("10s".into());
        copy.backup_sync_period = Some("0s".into());
        copy
    }

    /// What reaches the store, for a step: provider, config keys (values can be endpoints
    /// with credentials in them, so not shown), credential and CA bundle present or not.
    pub fn describe_access(&self) -> String {
        let keys: Vec<&str> = self
            .config
            .iter()
            .flat_map(|c| c.keys().map(String::as_str))
            .collect();
        let ca = match (
            &self.object_storage.ca_cert,
            &self.object_storage.ca_cert_ref,
        ) {
            (Some(c), _) => format!("caCert ({} base64 characters)", c.len()),
            (None, Some(_)) => "caCertRef".into(),
            (None, None) => "no CA bundle".into(),
        };
        format!(
            "provider {}, config keys [{}], {}, {ca}",
            self.provider,
            keys.join(", "),
            if self.credential.is_some() {
                "its own credential"
            } else {
                "the server's credential"
            }
        )
    }
}

/// Whether a storage location's `status.message` says its bucket does not exist (how the AWS
/// plugin, S3-compatible stores, Azure and GCS put it), as opposed to any other reason to be
/// Unavailable (credentials, certificate, endpoint).
pub fn says_bucket_missing(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "nosuchbucket",
        "bucket does not exist",
        "bucket doesn't exist",
        "containernotfound",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// `BackupStorageLocation.status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageLocationStatus {
    /// `Available` or `Unavailable`.
    #[serde(default)]
    pub phase: Option<String>,
    /// When the server last validated it.
    #[serde(default)]
    pub last_validation_time: Option<String>,
    /// Why it is unavailable.
    #[serde(default)]
    pub message: Option<String>,
}

/// `Schedule.spec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSpec {
    /// Its cron expression.
    pub schedule: String,
    /// The backup each run creates.
    #[serde(default)]
    pub template: BackupSpec,
    /// Whether it is paused.
    #[serde(default)]
    pub paused: Option<bool>,
}

/// `Schedule.status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleStatus {
    /// `New`, `Enabled` or `FailedValidation`.
    #[serde(default)]
    pub phase: Option<String>,
    /// When it last created a backup.
    #[serde(default)]
    pub last_backup: Option<String>,
    /// When it was last told to skip a run (`skipImmediately`); Velero counts its next run
    /// from the latest of this, `lastBackup` and its creation.
    #[serde(default)]
    pub last_skipped: Option<String>,
    /// Why validation failed.
    #[serde(default)]
    pub validation_errors: Option<Vec<String>>,
}

/// `DeleteBackupRequest.spec`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackupRequestSpec {
    /// The backup to delete, files included.
    pub backup_name: String,
}

/// `DeleteBackupRequest.status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteBackupRequestStatus {
    /// `New`, `InProgress` or `Processed`.
    #[serde(default)]
    pub phase: Option<String>,
    /// What went wrong.
    #[serde(default)]
    pub errors: Option<Vec<String>>,
}

/// A Backup.
pub type Backup = Object<BackupSpec, RunStatus>;
/// A Restore.
pub type Restore = Object<RestoreSpec, RunStatus>;
/// A BackupStorageLocation.
pub type StorageLocation = Object<StorageLocationSpec, StorageLocationStatus>;
/// A Schedule.
pub type Schedule = Object<ScheduleSpec, ScheduleStatus>;
/// A DeleteBackupRequest.
pub type DeleteBackupRequest = Object<DeleteBackupRequestSpec, DeleteBackupRequestStatus>;

/// Seconds since the epoch of an RFC 3339 time.
pub fn rfc3339(text: Option<&str>) -> Option<i64> {
    OffsetDateTime::parse(text?, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Seconds in a Go duration such as `720h0m0s` or `1h30m` (`None` when it is not one).
pub fn go_duration_secs(text: &str) -> Option<u64> {
    let mut total = 0f64;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    if text.trim().is_empty() {
        return None;
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_digit() || n == '.' {
                break;
            }
            unit.push(n);
            chars.next();
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        total += value
            * match unit.as_str() {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 0.001,
                "us" | "µs" => 0.000_001,
                "ns" => 0.000_000_001,
                _ => return None,
            };
    }
    if !number.is_empty() {
        // A bare number is only valid as zero.
        return (number == "0").then_some(0);
    }
    // Whole seconds; Velero's durations are.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(total as u64)
}

/// The bucket keys of one backup under a storage location's prefix (Velero's layout).
pub mod layout {
    /// `<prefix>/backups/<backup>/`.
    pub fn backup_dir(prefix: Option<&str>, backup: &str) -> String {
        match prefix
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
        {
            Some(p) => format!("{p}/backups/{backup}/"),
            None => format!("backups/{backup}/"),
        }
    }

    /// The files every completed backup has: its tarball, its log and its metadata.
    pub fn required_files(prefix: Option<&str>, backup: &str) -> Vec<String> {
        let dir = backup_dir(prefix, backup);
        vec![
            format!("{dir}{backup}.tar.gz"),
            format!("{dir}{backup}-logs.gz"),
            format!("{dir}velero-backup.json"),
        ]
    }
}
