//! The checks a loaded target passes before it is used: credentials over plain HTTP, the
//! read-only policy, variable names, thresholds, files and budgets. Every error names the
//! file, the line (or variable) and the key through [`Origins`], never the value.

use std::path::Path;

use super::Origins;
use crate::{ConfigError, Mode, Target};

/// A credential never goes over plain `http://` to a host beyond this machine unless
/// `[target] allow_insecure_credentials` names its section. Exempt: the object store (S3
/// signs, the secret never travels), the database URL (not HTTP), `k8s://` references (the
/// port-forward runs through the API server's TLS) and loopback.
pub(super) fn check_insecure_credentials(
    target: &Target,
    o: &Origins<'_>,
) -> Result<(), ConfigError> {
    let urls = target.service_urls();
    for (key, _) in target.credential_settings() {
        let section = key.split('.').next().unwrap_or_default();
        if section == "minio"
            || key == "dolphinscheduler.database_url_env"
            || target
                .settings
                .allow_insecure_credentials
                .iter()
                .any(|s| s == section)
        {
            continue;
        }
        let insecure = urls.iter().find(|(k, url)| {
            k.split('.').next() == Some(section) && url.scheme() == "http" && !is_loopback(url)
        });
        if let Some((url_key, url)) = insecure {
            return Err(o.error(
                key,
                format!(
                    "this credential would go over plain http to {} (`{}`): use https://, or                      accept it for this section with `allow_insecure_credentials = [\"{section}\"]` \
                     in [target]",
                    url.host_str().unwrap_or_default(),
                    crate::target::display_key(url_key)
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The environment may make a target more restrictive, never less: what a run may do is the
/// file's to say. A read-only file made read-write (by `E2E_TARGET_MODE` or `E2E_TARGET_KIND`)
/// is refused unless `E2E_ALLOW_WRITES=1` (`validate --allow-writes`, which the report names);
/// a trial kind the file does not opt in to is refused whatever the flags. Returns whether the
/// flag widened the mode.
pub(super) fn check_policy(
    written: &crate::Settings,
    target: &Target,
    o: &Origins<'_>,
) -> Result<bool, ConfigError> {
    let settings = &target.settings;
    // The key whose override changed the policy: the mode's own, else the kind's.
    let key = |own: &str| {
        if o.overrides.iter().any(|(_, k)| k == own) {
            own.to_string()
        } else {
            "target.kind".to_string()
        }
    };
    let mut widened = false;
    if written.mode() == Mode::ReadOnly && settings.mode() == Mode::ReadWrite {
        let allowed = matches!(
            target.env.get("E2E_ALLOW_WRITES").as_deref(),
            Some("1" | "true" | "yes")
        );
        if !allowed {
            return Err(o.error(
                &key("target.mode"),
                "would make a read-only target read-write: the environment may only make a \
                 target more restrictive; write mode = \"read-write\" in the file, or pass \
                 `carbon-e2e validate --allow-writes` (E2E_ALLOW_WRITES=1), which the report \
                 names",
            ));
        }
        widened = true;
    }
    if let Some(kind) = crate::OPT_INS
        .iter()
        .find(|k| settings.allows(k) && !written.allows(k))
    {
        return Err(o.error(
            &key("target.opt_in"),
            format!(
                "would opt in to `{kind}`, which the file does not: the environment may only make \
                 a target more restrictive; add \"{kind}\" to opt_in in the file"
            ),
        ));
    }
    Ok(widened)
}

/// Every `*_env` setting names an environment variable (`[A-Za-z_][A-Za-z0-9_]*`) or a
/// `k8s:` Secret reference. Anything else is most likely a secret written inline: it is
/// refused naming the key and where it was set, never the value.
pub(super) fn check_variable_settings(
    table: &toml::Table,
    origins: &Origins<'_>,
) -> Result<(), ConfigError> {
    for (section, value) in table {
        let toml::Value::Table(keys) = value else {
            continue;
        };
        for (key, value) in keys.iter().filter(|(k, _)| k.ends_with("_env")) {
            let dotted = format!("{section}.{key}");
            match value.as_str() {
                Some(v) if v.starts_with("k8s:") || crate::is_variable_name(v) => {}
                Some(_) => {
                    return Err(origins.error(
                        &dotted,
                        "must name an environment variable (letters, digits and `_`, not \
                         starting with a digit) or a Secret as k8s:<namespace>/<name>#<key>; \
                         the value written here is neither (not shown): this looks like a \
                         secret written inline: put it in the environment and name the variable \
                         here",
                    ));
                }
                None => {
                    return Err(origins.error(
                        &dotted,
                        "must be a string naming an environment variable or a \
                         k8s:<namespace>/<name>#<key> Secret (the value written here is not \
                         shown: if it is a secret, put it in the environment)",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A `min_*` threshold of 0 checks nothing, and nor does an empty list of critical workloads:
/// each is refused, naming where it was set, rather than passing over nothing. Every section's
/// `min_*` key is covered, including those added later.
pub(super) fn check_thresholds(
    table: &toml::Table,
    origins: &Origins<'_>,
) -> Result<(), ConfigError> {
    for (section, value) in table {
        let toml::Value::Table(keys) = value else {
            continue;
        };
        for (key, value) in keys {
            let dotted = format!("{section}.{key}");
            let zero = match value {
                toml::Value::Integer(n) => *n <= 0,
                toml::Value::Float(f) => *f <= 0.0,
                _ => false,
            };
            if key.starts_with("min_") && zero {
                return Err(origins.error(
                    &dotted,
                    "must be above 0: a threshold of 0 passes over nothing; set the least the \
                     platform must have, or remove the key for its default",
                ));
            }
            let listed = matches!(
                (section.as_str(), key.as_str()),
                ("platform", "critical_workloads")
                    | ("dashboards", "required")
                    | ("entrypoints", "urls" | "accept_status")
            );
            if (section.as_str(), key.as_str()) == ("platform", "node_selector")
                && value.as_str().is_some_and(|v| v.trim().is_empty())
            {
                return Err(origins.error(
                    &dotted,
                    "is empty: remove the key to check every node, or name the platform's nodes \
                     with a label selector",
                ));
            }
            if listed && value.as_array().is_some_and(Vec::is_empty) {
                return Err(origins.error(
                    &dotted,
                    "is empty: an empty list checks nothing; name what must be there, or remove \
                     the key for the default list",
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn validate(target: &Target, o: &Origins<'_>) -> Result<(), ConfigError> {
    if target.settings.request_timeout_secs == 0 {
        return Err(o.error("target.request_timeout_secs", "must be at least 1"));
    }
    let s = &target.settings;
    if s.cleanup_budget_secs == 0 || s.cleanup_step_timeout_secs == 0 {
        return Err(o.error(
            "target.cleanup_budget_secs",
            "the cleanup budget and step timeout must be at least 1",
        ));
    }
    if let Some(list) = &s.opt_in
        && let Some(unknown) = list.iter().find(|k| !crate::OPT_INS.contains(&k.as_str()))
    {
        return Err(o.error(
            "target.opt_in",
            format!(
                "unknown kind `{unknown}` (known: {})",
                crate::OPT_INS.join(", ")
            ),
        ));
    }
    if let Some(nextest) =
        NextestLimits::read(&crate::workspace_root().join(".config/nextest.toml"))
    {
        let needed = s.trial_timeout_secs + s.cleanup_budget_secs;
        if needed >= nextest.terminate_after_secs {
            return Err(o.error(
                "target.trial_timeout_secs",
                format!(
                    "trial_timeout_secs ({}) + cleanup_budget_secs ({}) = {needed} s reaches \
                     nextest's terminate-after of {} s (.config/nextest.toml slow-timeout): a hung \
                     trial would be killed before its cleanup ran; lower them or raise slow-timeout",
                    s.trial_timeout_secs, s.cleanup_budget_secs, nextest.terminate_after_secs
                ),
            ));
        }
        if s.cleanup_budget_secs >= nextest.grace_period_secs {
            return Err(o.error(
                "target.cleanup_budget_secs",
                format!(
                    "cleanup_budget_secs ({}) reaches nextest's grace-period of {} s \
                     (.config/nextest.toml slow-timeout): after SIGTERM the cleanups would be \
                     killed before they finish",
                    s.cleanup_budget_secs, nextest.grace_period_secs
                ),
            ));
        }
    }
    check_insecure_credentials(target, o)?;
    let section_ca_files = target.sections().into_iter().filter_map(|s| match s.tls() {
        crate::Tls::CaFile { key, file } => Some((key, file)),
        crate::Tls::Kubeconfig => None,
    });
    let ca_files = std::iter::once(("target.ca_file", target.settings.ca_file.as_deref()))
        .chain(section_ca_files)
        .collect::<Vec<_>>();
    for (key, file) in ca_files {
        if let Some(file) = file
            && let Some(path) = target.ca_file(Some(file))
            && let Err(e) = std::fs::File::open(&path)
        {
            return Err(o.error(key, format!("cannot read {}: {e}", path.display())));
        }
    }
    for (key, url) in target.service_urls() {
        match url.scheme() {
            "http" | "https" => {}
            "k8s" => {
                if let Some(why) = crate::target::k8s_service_ref_error(&url) {
                    return Err(o.error(key, why));
                }
            }
            _ => {
                return Err(o.error(
                    key,
                    "must be an http:// or https:// URL, or a k8s://<namespace>/<service>:<port>[/path] Service reference",
                ));
            }
        }
    }
    for (key, var) in target.credential_settings() {
        if let Some(why) = crate::target::k8s_secret_ref_error(var) {
            return Err(o.error(key, why));
        }
    }
    if let Some(m) = &target.minio {
        if m.test_bucket.is_empty() {
            return Err(o.error("minio.test_bucket", "must not be empty"));
        }
        if m.multipart_object_mib < 6 {
            return Err(o.error(
                "minio.multipart_object_mib",
                "must be at least 6 (two parts of 5 MiB minimum)",
            ));
        }
    }
    if let Some(t) = &target.trino {
        if t.user.is_empty() {
            return Err(o.error("trino.user", "must not be empty"));
        }
        if t.iceberg_catalog.is_empty() {
            return Err(o.error("trino.iceberg_catalog", "must not be empty"));
        }
        if t.query_timeout_secs == 0 {
            return Err(o.error("trino.query_timeout_secs", "must be at least 1"));
        }
        if t.cancel_timeout_secs == 0 {
            return Err(o.error("trino.cancel_timeout_secs", "must be at least 1"));
        }
        if t.warehouse_bucket.is_some() && target.minio.is_none() {
            return Err(o.error(
                "trino.warehouse_bucket",
                "names a bucket of [minio], but the target has no [minio] section",
            ));
        }
    }
    if let Some(d) = &target.dolphinscheduler {
        if d.workflow_timeout_secs == 0 {
            return Err(o.error(
                "dolphinscheduler.workflow_timeout_secs",
                "must be at least 1",
            ));
        }
        if d.tenant.is_empty() {
            return Err(o.error("dolphinscheduler.tenant", "must not be empty"));
        }
    }
    if let Some(l) = &target.loki
        && l.window_minutes == 0
    {
        return Err(o.error("loki.window_minutes", "must be at least 1"));
    }
    if let Some((key, why)) = target.gate.as_ref().and_then(crate::GateConfig::problem) {
        return Err(o.error(&key, why));
    }
    if let Some(g) = &target.grafana
        && g.token_env.is_none()
        && (g.user.is_none() || g.password_env.is_none())
    {
        return Err(o.error(
            "grafana.token_env",
            "set token_env (a service-account token) or both user and password_env (basic auth)",
        ));
    }
    Ok(())
}

/// The limits nextest puts on a test process, from `[profile.default] slow-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NextestLimits {
    /// `period` × `terminate-after`: when nextest sends SIGTERM.
    pub terminate_after_secs: u64,
    /// `grace-period` (nextest's default 10 s): from SIGTERM to SIGKILL.
    pub grace_period_secs: u64,
}

impl NextestLimits {
    /// Reads the file; `None` when it is absent or sets no terminate-after (nothing to check).
    pub(crate) fn read(path: &Path) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(path).ok()?)
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        let table: toml::Table = toml::from_str(text).ok()?;
        let slow = table
            .get("profile")?
            .get("default")?
            .get("slow-timeout")?
            .as_table()?;
        let period = duration_secs(slow.get("period")?.as_str()?)?;
        let after = u64::try_from(slow.get("terminate-after")?.as_integer()?).ok()?;
        let grace = match slow.get("grace-period") {
            Some(v) => duration_secs(v.as_str()?)?,
            None => 10,
        };
        Some(Self {
            terminate_after_secs: period * after,
            grace_period_secs: grace,
        })
    }
}

/// `"60s"`, `"5m"`, `"1h"` as seconds.
pub(super) fn duration_secs(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    Some(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    })
}
