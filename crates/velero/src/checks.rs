//! The plan's Velero health checks ("schedules present, backup storage location available,
//! backups completing"), each a pure assessment of objects read from the cluster, so the
//! verdicts are unit-tested on recorded objects; the suites read the objects and call them.

use carbon_config::VeleroConfig;

use crate::cron::Cron;
use crate::{Backup, Kind, Schedule, StorageLocation, VeleroClient, VeleroError, rfc3339};

/// The storage location is Available and was validated within `max_age_secs` of `now`.
///
/// # Errors
/// The phase and Velero's message when it is not Available, or the age of its last validation.
pub fn assess_location(
    bsl: &StorageLocation,
    max_age_secs: u64,
    now: i64,
) -> Result<String, String> {
    let name = bsl.metadata.name.as_deref().unwrap_or_default();
    let status = bsl.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("(never validated)");
    if phase != "Available" {
        return Err(format!(
            "BackupStorageLocation {name} is {phase}: {}",
            status.message.as_deref().unwrap_or("(no message)")
        ));
    }
    let Some(validated) = rfc3339(status.last_validation_time.as_deref()) else {
        return Err(format!(
            "BackupStorageLocation {name} is Available but has no lastValidationTime"
        ));
    };
    let age = now - validated;
    if age > i64::try_from(max_age_secs).unwrap_or(i64::MAX) {
        return Err(format!(
            "BackupStorageLocation {name} was last validated {age} s ago, over velero.max_validation_age_secs ({max_age_secs} s): is the Velero server running?"
        ));
    }
    Ok(format!(
        "BackupStorageLocation {name} is Available (bucket {}, provider {}), validated {age} s ago",
        bsl.spec.object_storage.bucket, bsl.spec.provider
    ))
}

/// The schedules: each configured one exists, there are at least `min_schedules`, every one is
/// Enabled and unpaused, keeps `schedule_ttl_hours`, has fired when due (see [`assess_due`]),
/// and its latest backup did not fail. `now` is the API server's clock.
///
/// # Errors
/// Every offender, one per line.
pub fn assess_schedules(
    schedules: &[Schedule],
    backups: &[Backup],
    cfg: &VeleroConfig,
    now: i64,
) -> Result<String, String> {
    let mut offenders = Vec::new();
    let name = |s: &Schedule| s.metadata.name.clone().unwrap_or_default();
    for wanted in &cfg.schedules {
        if !schedules.iter().any(|s| &name(s) == wanted) {
            offenders.push(format!(
                "schedule {wanted} (velero.schedules) does not exist"
            ));
        }
    }
    if schedules.len() < cfg.min_schedules {
        offenders.push(format!(
            "{} schedule(s), fewer than velero.min_schedules ({})",
            schedules.len(),
            cfg.min_schedules
        ));
    }
    let want_ttl = cfg.schedule_ttl_hours * 3600;
    let mut never_ran = Vec::new();
    let mut due = Vec::new();
    for s in schedules {
        let n = name(s);
        let status = s.status.clone().unwrap_or_default();
        let phase = status.phase.as_deref().unwrap_or("(none yet)");
        if phase != "Enabled" {
            let why = status.validation_errors.unwrap_or_default().join("; ");
            offenders.push(format!("schedule {n} is {phase} {why}").trim().to_string());
        }
        if s.spec.paused == Some(true) {
            offenders.push(format!("schedule {n} is paused"));
        }
        let ttl = s
            .spec
            .template
            .ttl
            .as_deref()
            .unwrap_or("(default 720h0m0s)");
        // An unset ttl is Velero's default, 30 days.
        let secs = s
            .spec
            .template
            .ttl
            .as_deref()
            .map_or(Some(720 * 3600), crate::go_duration_secs);
        if secs != Some(want_ttl) {
            offenders.push(format!(
                "schedule {n} keeps backups {ttl}, not {}h (velero.schedule_ttl_hours)",
                cfg.schedule_ttl_hours
            ));
        }
        let of_schedule: Vec<&Backup> = backups
            .iter()
            .filter(|b| {
                b.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(crate::SCHEDULE_LABEL))
                    == Some(&n)
            })
            .collect();
        // A paused schedule is reported as such; it is not due while paused.
        if s.spec.paused != Some(true) {
            match assess_due(s, &of_schedule, cfg.schedule_grace_secs, now) {
                Ok(next) => due.push(format!("{n} {next}")),
                Err(e) => offenders.push(e),
            }
        }
        let latest = of_schedule
            .iter()
            .max_by_key(|b| b.metadata.creation_timestamp.as_ref().map(|t| t.0));
        match latest {
            None => never_ran.push(n.clone()),
            Some(b) => {
                let st = b.status.clone().unwrap_or_default();
                if matches!(
                    st.phase.as_deref(),
                    Some("Failed" | "PartiallyFailed" | "FailedValidation")
                ) {
                    offenders.push(format!(
                        "schedule {n}: its latest backup {} ended {}",
                        b.metadata.name.as_deref().unwrap_or_default(),
                        st.describe()
                    ));
                }
            }
        }
    }
    if !offenders.is_empty() {
        return Err(offenders.join("\n"));
    }
    let mut names: Vec<String> = schedules.iter().map(name).collect();
    names.sort();
    let mut out = format!(
        "{} schedule(s), all Enabled and keeping {}h: {}; each fired when due (grace {} s), next runs: {}",
        schedules.len(),
        cfg.schedule_ttl_hours,
        names.join(", "),
        cfg.schedule_grace_secs,
        due.join(", ")
    );
    if !never_ran.is_empty() {
        out.push_str(&format!(
            "; no backup yet from {} (not yet due)",
            never_ran.join(", ")
        ));
    }
    Ok(out)
}

/// Whether schedule `s` fired when due: Velero runs a schedule at the first time its cron
/// matches after the latest of its creation, its `lastBackup` and its `lastSkipped`; if that
/// time plus `grace_secs` has passed at `now` (the API server's clock), the schedule should
/// have made a backup and did not. `backups` are the schedule's own, named when one still
/// running explains it (Velero skips a run while one is New or InProgress).
///
/// # Errors
/// The schedule named, with its cron, what its run was counted from, when it was due and how
/// late it is; or that its cron cannot be read.
pub fn assess_due(
    s: &Schedule,
    backups: &[&Backup],
    grace_secs: u64,
    now: i64,
) -> Result<String, String> {
    let n = s.metadata.name.as_deref().unwrap_or_default();
    let spec = &s.spec.schedule;
    let cron = Cron::parse(spec).map_err(|e| {
        format!(
            "schedule {n}: its cron cannot be read ({e}), so whether it fires cannot be checked"
        )
    })?;
    let status = s.status.clone().unwrap_or_default();
    let created = s
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second());
    let reference = [
        ("it was created", created),
        ("its last backup", rfc3339(status.last_backup.as_deref())),
        (
            "it last skipped a run",
            rfc3339(status.last_skipped.as_deref()),
        ),
    ]
    .into_iter()
    .filter_map(|(what, t)| Some((what, t?)))
    .max_by_key(|(_, t)| *t);
    let Some((since, reference)) = reference else {
        return Err(format!(
            "schedule {n} has neither a creationTimestamp nor a lastBackup: when it is due cannot be told"
        ));
    };
    let Some(due) = cron.due_after(reference) else {
        return Err(format!(
            "schedule {n}: `{spec}` matches no date in the next five years, so it never runs"
        ));
    };
    let approx = if cron.is_exact() {
        ""
    } else {
        " at the latest (its zone's offset is not looked up)"
    };
    let grace = i64::try_from(grace_secs).unwrap_or(i64::MAX);
    if now - due <= grace {
        return Ok(if due > now {
            format!("due {}{approx}", show_time(due))
        } else {
            format!("due {}{approx}, within the grace", show_time(due))
        });
    }
    let mut why = format!(
        "schedule {n} (`{spec}`, {cron}) made no backup since {since} at {}: its next run was due {}{approx}, {} ago, past velero.schedule_grace_secs ({grace_secs} s); is the Velero server running?",
        show_time(reference),
        show_time(due),
        show_span(now - due)
    );
    let running: Vec<String> = backups
        .iter()
        .filter(|b| !b.status.as_ref().is_some_and(crate::RunStatus::is_final))
        .map(|b| {
            format!(
                "{} ({})",
                b.metadata.name.as_deref().unwrap_or_default(),
                b.status.clone().unwrap_or_default().phase()
            )
        })
        .collect();
    if !running.is_empty() {
        why.push_str(&format!(
            " Velero skips a run while one of the schedule's backups has not ended: {}",
            running.join(", ")
        ));
    }
    Err(why)
}

/// A unix time as RFC 3339.
fn show_time(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// A span of seconds as days, hours and minutes.
fn show_span(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

/// A Completed backup that includes `cfg.backup_namespace` (or every namespace) finished within
/// `cfg.max_backup_age_hours` of `now`.
///
/// # Errors
/// What the newest such backup was, or that there is none.
pub fn assess_recent_backup(
    backups: &[Backup],
    cfg: &VeleroConfig,
    now: i64,
) -> Result<String, String> {
    let ns = &cfg.backup_namespace;
    let covers = |b: &Backup| {
        b.spec
            .included_namespaces
            .as_ref()
            .is_some_and(|n| n.iter().any(|x| x == ns || x == "*"))
    };
    let completed_at = |b: &Backup| {
        b.status
            .as_ref()
            .filter(|s| s.phase.as_deref() == Some("Completed"))
            .and_then(|s| rfc3339(s.completion_timestamp.as_deref()))
    };
    let newest = backups
        .iter()
        .filter(|b| covers(b))
        .filter_map(|b| Some((completed_at(b)?, b)))
        .max_by_key(|(t, _)| *t);
    let limit = i64::try_from(cfg.max_backup_age_hours * 3600).unwrap_or(i64::MAX);
    match newest {
        Some((t, b)) if now - t <= limit => Ok(format!(
            "backup {} of {ns} Completed {} min ago ({})",
            b.metadata.name.as_deref().unwrap_or_default(),
            (now - t) / 60,
            b.status.clone().unwrap_or_default().describe()
        )),
        Some((t, b)) => Err(format!(
            "the newest Completed backup of {ns}, {}, finished {} h ago, over velero.max_backup_age_hours ({} h)",
            b.metadata.name.as_deref().unwrap_or_default(),
            (now - t) / 3600,
            cfg.max_backup_age_hours
        )),
        None => {
            let tried: Vec<String> = backups
                .iter()
                .filter(|b| covers(b))
                .map(|b| {
                    format!(
                        "{} ({})",
                        b.metadata.name.as_deref().unwrap_or_default(),
                        b.status.clone().unwrap_or_default().phase()
                    )
                })
                .collect();
            Err(format!(
                "no Completed backup of {ns} ({} backup(s) of it: {})",
                tried.len(),
                if tried.is_empty() {
                    "none".into()
                } else {
                    tried.join(", ")
                }
            ))
        }
    }
}

impl VeleroClient {
    /// [`assess_location`] on the configured location, now on the API server's clock.
    ///
    /// # Errors
    /// [`VeleroError::Check`] with the offence, or the read's error.
    pub async fn check_location(&self) -> Result<String, VeleroError> {
        let bsl = self.storage_location(&self.cfg.storage_location).await?;
        let now = self.kube.server_time().await?;
        assess_location(&bsl, self.cfg.max_validation_age_secs, now).map_err(VeleroError::Check)
    }

    /// [`assess_schedules`] on the cluster's schedules and backups, now on the API server's clock.
    ///
    /// # Errors
    /// [`VeleroError::Check`] listing the offenders, or the read's error.
    pub async fn check_schedules(&self) -> Result<String, VeleroError> {
        let schedules: Vec<Schedule> = self.list(Kind::Schedule).await?;
        let backups: Vec<Backup> = self.list(Kind::Backup).await?;
        let now = self.kube.server_time().await?;
        assess_schedules(&schedules, &backups, &self.cfg, now).map_err(VeleroError::Check)
    }

    /// [`assess_recent_backup`] on the cluster's backups, now on the API server's clock.
    ///
    /// # Errors
    /// [`VeleroError::Check`], or the read's error.
    pub async fn check_recent_backup(&self) -> Result<String, VeleroError> {
        let backups: Vec<Backup> = self.list(Kind::Backup).await?;
        let now = self.kube.server_time().await?;
        assess_recent_backup(&backups, &self.cfg, now).map_err(VeleroError::Check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const NOW: i64 = 1_795_760_000; // 2026-11-27T06:13:20Z

    fn bsl(phase: Option<&str>, validated: Option<&str>, message: Option<&str>) -> StorageLocation {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
            "metadata": {"name": "default", "namespace": "velero"},
            "spec": {"provider": "aws", "objectStorage": {"bucket": "velero-backups"}},
            "status": {"phase": phase, "lastValidationTime": validated, "message": message}
        }))
        .unwrap()
    }

    #[rstest]
    #[case::fresh(
        Some("Available"),
        Some("2026-11-27T06:13:00Z"),
        None,
        Ok("validated 20 s ago")
    )]
    #[case::stale(
        Some("Available"),
        Some("2026-11-27T05:00:00Z"),
        None,
        Err("last validated 4400 s ago")
    )]
    #[case::unavailable(
        Some("Unavailable"),
        Some("2026-11-27T06:13:00Z"),
        Some("NoSuchBucket: bucket x"),
        Err("is Unavailable: NoSuchBucket")
    )]
    #[case::never(None, None, None, Err("is (never validated)"))]
    fn location(
        #[case] phase: Option<&str>,
        #[case] validated: Option<&str>,
        #[case] message: Option<&str>,
        #[case] expect: Result<&str, &str>,
    ) {
        let got = assess_location(&bsl(phase, validated, message), 600, NOW);
        match (got, expect) {
            (Ok(s), Ok(want)) | (Err(s), Err(want)) => assert!(s.contains(want), "{s}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    fn schedule(name: &str, phase: &str, ttl: Option<&str>, paused: bool) -> Schedule {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "Schedule",
            "metadata": {"name": name, "namespace": "velero",
                         "creationTimestamp": "2026-11-27T05:13:20Z"},
            "spec": {"schedule": "0 2 * * *", "paused": paused,
                     "template": {"includedNamespaces": ["data-platform"], "ttl": ttl}},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    /// The platform's daily schedule as the API server returns it (the stack's
    /// `kind-config/velero/schedules.yaml` after Velero enabled it), created two days before
    /// [`NOW`], never run; `edit` sets the fields each case varies.
    fn recorded_schedule(edit: serde_json::Value) -> Schedule {
        let mut obj: serde_json::Value =
            serde_json::from_str(include_str!("../tests/data/schedule-enabled.json")).unwrap();
        for (path, value) in edit.as_object().unwrap() {
            let (section, field) = path.split_once('.').unwrap();
            obj[section][field] = value.clone();
        }
        serde_json::from_value(obj).unwrap()
    }

    /// `now - max(creation, lastBackup, lastSkipped)` against the cron's next run plus the
    /// grace (1 h by default), at [`NOW`] (2026-11-27T06:13:20Z).
    #[rstest]
    #[case::created_two_days_ago_never_ran(
        serde_json::json!({}),
        Err("schedule data-platform-daily (`0 2 * * *`, cron in UTC) made no backup since it was created at 2026-11-25T06:13:20Z: its next run was due 2026-11-26T02:00:00Z, 1 d 4 h ago")
    )]
    #[case::created_an_hour_ago(
        serde_json::json!({"metadata.creationTimestamp": "2026-11-27T05:13:20Z"}),
        Ok("data-platform-daily due 2026-11-28T02:00:00Z")
    )]
    #[case::last_backup_recent(
        serde_json::json!({"status.lastBackup": "2026-11-27T02:00:03Z"}),
        Ok("data-platform-daily due 2026-11-28T02:00:00Z")
    )]
    #[case::last_backup_a_day_old(
        serde_json::json!({"status.lastBackup": "2026-11-26T02:00:03Z"}),
        Err("made no backup since its last backup at 2026-11-26T02:00:03Z: its next run was due 2026-11-27T02:00:00Z, 4 h 13 min ago")
    )]
    #[case::late_within_the_grace(
        serde_json::json!({"spec.schedule": "0 6 * * *", "status.lastBackup": "2026-11-26T06:00:02Z"}),
        Ok("due 2026-11-27T06:00:00Z, within the grace")
    )]
    #[case::skipped_recently(
        serde_json::json!({"status.lastSkipped": "2026-11-27T05:00:00Z"}),
        Ok("due 2026-11-28T02:00:00Z")
    )]
    #[case::weekly_not_yet_due(
        serde_json::json!({"spec.schedule": "0 4 * * 0"}),
        Ok("due 2026-11-29T04:00:00Z")
    )]
    #[case::every_hour_stopped(
        serde_json::json!({"spec.schedule": "@every 1h", "status.lastBackup": "2026-11-27T03:10:00Z"}),
        Err("(`@every 1h`, every 3600 s) made no backup since its last backup")
    )]
    #[case::other_zone_bounded(
        serde_json::json!({"spec.schedule": "CRON_TZ=Europe/Berlin 0 2 * * *"}),
        Err("its next run was due 2026-11-26T14:00:00Z at the latest")
    )]
    #[case::unreadable(
        serde_json::json!({"spec.schedule": "0 0 2 * * *"}),
        Err("schedule data-platform-daily: its cron cannot be read (`0 0 2 * * *`: 6 field(s), not 5")
    )]
    fn schedule_fired_when_due(
        #[case] edit: serde_json::Value,
        #[case] expect: Result<&str, &str>,
    ) {
        let s = recorded_schedule(edit);
        let cfg = VeleroConfig {
            min_schedules: 1,
            ..VeleroConfig::default()
        };
        let got = assess_schedules(std::slice::from_ref(&s), &[], &cfg, NOW);
        match (got, expect) {
            (Ok(s), Ok(want)) | (Err(s), Err(want)) => assert!(s.contains(want), "{s}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn a_late_schedule_names_its_unfinished_backup() {
        let s = recorded_schedule(serde_json::json!({}));
        let mut b = backup(
            "data-platform-daily-20261125062000",
            Some("data-platform-daily"),
            "InProgress",
            "2026-11-25T06:20:00Z",
            "data-platform",
        );
        b.status.as_mut().unwrap().completion_timestamp = None;
        let err = assess_due(&s, &[&b], 3600, NOW).unwrap_err();
        assert!(
            err.contains("has not ended: data-platform-daily-20261125062000 (InProgress)"),
            "{err}"
        );
    }

    #[test]
    fn a_paused_schedule_is_reported_paused_not_late() {
        let s = recorded_schedule(serde_json::json!({"spec.paused": true}));
        let cfg = VeleroConfig {
            min_schedules: 1,
            ..VeleroConfig::default()
        };
        let err = assess_schedules(&[s], &[], &cfg, NOW).unwrap_err();
        assert_eq!(err, "schedule data-platform-daily is paused");
    }

    fn backup(
        name: &str,
        schedule: Option<&str>,
        phase: &str,
        completed: &str,
        ns: &str,
    ) -> Backup {
        let labels = schedule.map(|s| serde_json::json!({"velero.io/schedule-name": s}));
        serde_json::from_value(serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": name, "namespace": "velero", "labels": labels,
                         "creationTimestamp": completed},
            "spec": {"includedNamespaces": [ns]},
            "status": {"phase": phase, "completionTimestamp": completed}
        }))
        .unwrap()
    }

    fn cfg() -> VeleroConfig {
        VeleroConfig {
            schedules: vec!["daily".into()],
            min_schedules: 2,
            ..VeleroConfig::default()
        }
    }

    #[test]
    fn healthy_schedules_pass_and_say_which_never_ran() {
        let s = [
            schedule("daily", "Enabled", Some("720h0m0s"), false),
            schedule("weekly", "Enabled", None, false),
        ];
        let b = [backup(
            "daily-1",
            Some("daily"),
            "Completed",
            "2026-11-27T02:00:05Z",
            "data-platform",
        )];
        let out = assess_schedules(&s, &b, &cfg(), NOW).unwrap();
        assert!(
            out.contains("2 schedule(s), all Enabled and keeping 720h: daily, weekly"),
            "{out}"
        );
        assert!(out.contains("no backup yet from weekly"), "{out}");
    }

    #[test]
    fn every_schedule_offender_is_named() {
        let s = [schedule(
            "weekly",
            "FailedValidation",
            Some("168h0m0s"),
            true,
        )];
        let b = [backup(
            "weekly-1",
            Some("weekly"),
            "PartiallyFailed",
            "2026-11-27T02:00:05Z",
            "x",
        )];
        let err = assess_schedules(&s, &b, &cfg(), NOW).unwrap_err();
        for want in [
            "schedule daily (velero.schedules) does not exist",
            "1 schedule(s), fewer than velero.min_schedules (2)",
            "schedule weekly is FailedValidation",
            "schedule weekly is paused",
            "keeps backups 168h0m0s, not 720h",
            "its latest backup weekly-1 ended phase PartiallyFailed",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
    }

    #[rstest]
    #[case::recent(
        "Completed",
        "2026-11-27T02:00:00Z",
        "data-platform",
        Ok("Completed 253 min ago")
    )]
    #[case::all_namespaces(
        "Completed",
        "2026-11-27T02:00:00Z",
        "*",
        Ok("backup b of data-platform")
    )]
    #[case::too_old(
        "Completed",
        "2026-11-25T02:00:00Z",
        "data-platform",
        Err("finished 52 h ago")
    )]
    #[case::failed(
        "Failed",
        "2026-11-27T02:00:00Z",
        "data-platform",
        Err("no Completed backup of data-platform (1 backup(s) of it: b (Failed))")
    )]
    #[case::other_namespace(
        "Completed",
        "2026-11-27T02:00:00Z",
        "monitoring",
        Err("(0 backup(s) of it: none)")
    )]
    fn recent_backup(
        #[case] phase: &str,
        #[case] completed: &str,
        #[case] ns: &str,
        #[case] expect: Result<&str, &str>,
    ) {
        let got = assess_recent_backup(&[backup("b", None, phase, completed, ns)], &cfg(), NOW);
        match (got, expect) {
            (Ok(s), Ok(want)) | (Err(s), Err(want)) => assert!(s.contains(want), "{s}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }
}
