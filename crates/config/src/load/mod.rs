//! Loading a target: file, then overrides, then validation.

use std::path::{Path, PathBuf};

use crate::target::{TargetFile, section_names};
use crate::{ConfigError, Env, Paths, Target};

mod checks;

use checks::*;

/// Variables with the `E2E_` prefix that are not overrides.
const RESERVED: [&str; 6] = [
    "E2E_TARGET",
    "E2E_ALLOW_WRITES",
    "E2E_STRICT",
    "E2E_STACK_DIR",
    "E2E_CACHE_DIR",
    "E2E_RUN_ID",
];

/// Loads the target named by `E2E_TARGET` (default `local`) from the process environment; a
/// relative path is taken from the current directory when the file is there (see
/// [`pin_target`]), else from the workspace root.
///
/// # Errors
/// See [`load_with`].
pub fn load() -> Result<Target, ConfigError> {
    let env = Env::from_process();
    let env = match std::env::current_dir() {
        Ok(cwd) => pin_target(&env, &cwd),
        Err(_) => env,
    };
    let paths = Paths::from_env(&env);
    load_with(&env, &paths)
}

/// `env` with a relative `E2E_TARGET` path made absolute against `cwd`, when the file is there.
/// For a command a person starts in some directory: the processes it starts (nextest's trials
/// run in their package's directory) then find the same file.
pub fn pin_target(env: &Env, cwd: &Path) -> Env {
    let mut env = env.clone();
    if let Some(name) = env.get("E2E_TARGET")
        && is_path(&name)
        && Path::new(&name).is_relative()
        && cwd.join(&name).is_file()
    {
        let path = cwd.join(&name);
        let path = path.canonicalize().unwrap_or(path);
        env.set("E2E_TARGET", &path.to_string_lossy());
    }
    env
}

/// Whether `E2E_TARGET` is a path rather than a name under `.config/targets/`.
fn is_path(name: &str) -> bool {
    name.contains('/') || name.ends_with(".toml")
}

/// The file `E2E_TARGET` (default `local`) names: a name under `paths.targets`, or a path to a
/// `.toml` file. A relative path is taken from the workspace root: trials run in their
/// package's directory, so the directory they were started from is not known to them.
pub fn target_file(env: &Env, paths: &Paths) -> PathBuf {
    let name = env.get("E2E_TARGET").unwrap_or_else(|| "local".to_string());
    if is_path(&name) {
        let path = PathBuf::from(&name);
        if path.is_relative() {
            crate::workspace_root().join(path)
        } else {
            path
        }
    } else {
        paths.targets.join(format!("{name}.toml"))
    }
}

/// Loads the target that `env` selects (see [`target_file`]).
///
/// # Errors
/// [`ConfigError::UnknownTarget`] when no such target exists (with the absolute path tried),
/// and every error of [`load_from_file`].
pub fn load_with(env: &Env, paths: &Paths) -> Result<Target, ConfigError> {
    let name = env.get("E2E_TARGET").unwrap_or_else(|| "local".to_string());
    let path = target_file(env, paths);
    if !path.is_file() {
        return Err(ConfigError::UnknownTarget {
            name,
            path,
            available: available(&paths.targets),
        });
    }
    load_from_file(&path, env, paths)
}

fn available(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".toml")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// Loads one target file and applies the environment over it.
///
/// # Errors
/// [`ConfigError::Read`], [`ConfigError::Parse`] (with line and key) for the file itself,
/// [`ConfigError::Override`] naming the variable for a bad `E2E_*` override, and
/// [`ConfigError::Located`] (file and line, or variable, and key) for values that parse but
/// cannot work.
pub fn load_from_file(path: &Path, env: &Env, paths: &Paths) -> Result<Target, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_err = |e: toml::de::Error| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    // Parsed once as a table that the overrides are laid on ...
    let mut table: toml::Table = toml::from_str(&text).map_err(parse_err)?;

    // Whether to read the stack's env file is the file's to say (`local_stack`, else `kind`):
    // the env file's own variables cannot decide it.
    let settings = table.get("target");
    let local_stack = match settings.and_then(|t| t.get("local_stack")) {
        Some(v) => v.as_bool() == Some(true),
        None => {
            settings
                .and_then(|t| t.get("kind"))
                .and_then(toml::Value::as_str)
                == Some("local")
        }
    };
    let env = if local_stack {
        match std::fs::read_to_string(paths.stack_env_file()) {
            Ok(stack) => env.layered_over(&Env::parse_env_file(&stack)),
            Err(_) => env.clone(),
        }
    } else {
        env.clone()
    };

    let applied = apply_overrides(&mut table, &env)?;
    let origins = Origins::new(path, &text, &applied);
    // Before any typed parse: serde's messages quote the value they reject.
    check_variable_settings(&table, &origins)?;
    check_thresholds(&table, &origins)?;
    // ... and once into the typed schema, so that errors point at the file's line and key.
    let from_file: TargetFile = toml::from_str(&text).map_err(parse_err)?;
    let written = from_file.target.clone();
    let file: TargetFile = if applied.is_empty() {
        from_file
    } else {
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Override {
                var: applied
                    .iter()
                    .map(|(var, _)| var.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                message: e.message().to_string(),
            })?
    };

    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("target")
        .to_string();
    let mut target = Target::from_file(name, path.to_path_buf(), file, env);
    target.allow_writes = check_policy(&written, &target, &origins)?;
    validate(&target, &origins)?;
    Ok(target)
}

/// Lays every `E2E_<SECTION>_<KEY>=value` over the table; returns each variable applied with
/// the dotted key it set (`minio.endpoint`).
fn apply_overrides(
    table: &mut toml::Table,
    env: &Env,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut applied = Vec::new();
    for (var, raw) in env.with_prefix("E2E_") {
        if RESERVED.contains(&var) {
            continue;
        }
        let rest = &var["E2E_".len()..];
        let Some(section) = section_names().find(|s| {
            rest.len() > s.len()
                && rest[..s.len()].eq_ignore_ascii_case(s)
                && rest.as_bytes()[s.len()] == b'_'
        }) else {
            continue; // not ours: other tools may use the prefix too
        };
        let key = rest[section.len() + 1..].to_ascii_lowercase();
        let entry = table
            .entry(section.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(section_table) = entry else {
            return Err(ConfigError::Override {
                var: var.to_string(),
                message: format!("`{section}` is not a table"),
            });
        };
        applied.push((var.to_string(), format!("{section}.{key}")));
        // A setting that names a variable is a string whatever it looks like, so that a value
        // that is no name is refused by the name check, which never shows it.
        let value = if key.ends_with("_env") {
            toml::Value::String(raw.to_string())
        } else {
            parse_scalar(raw)
        };
        section_table.insert(key, value);
    }
    Ok(applied)
}

/// A value as TOML would read it (numbers, booleans, arrays), else as a plain string. Never a
/// table: `{namespace="x"}` is a LogQL selector, not an inline table (no setting is one).
fn parse_scalar(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Where each setting of a loaded target came from: a line of the file, or the `E2E_*`
/// variable that overrode it. Every value check reports through [`Origins::error`], so every
/// such error names the file, the line (or variable) and the key, and never the value.
struct Origins<'a> {
    path: &'a Path,
    /// The file with the span of every key (`None` only if it did not parse this way, which
    /// cannot happen once the typed parse has succeeded).
    spans: Option<toml::de::DeTable<'a>>,
    text: &'a str,
    /// `section.key` → the variable that set it.
    overrides: Vec<(String, String)>,
}

impl<'a> Origins<'a> {
    fn new(path: &'a Path, text: &'a str, applied: &[(String, String)]) -> Self {
        Self {
            path,
            spans: toml::de::DeTable::parse(text)
                .ok()
                .map(toml::Spanned::into_inner),
            text,
            overrides: applied.to_vec(),
        }
    }

    /// The 1-based line of `section.key` in the file, or, when the key is absent, of its
    /// section (`false`: the key itself was not found).
    fn line_of(&self, dotted: &str) -> Option<(usize, bool)> {
        let spans = self.spans.as_ref()?;
        let line = |offset: usize| {
            self.text[..offset.min(self.text.len())]
                .matches('\n')
                .count()
                + 1
        };
        // Walk `section.key` or `section.table.key` (`gate.pod_health.weight`) as deep as the
        // file goes; the deepest part found gives the line.
        let mut parts = dotted.split('.');
        let first = parts.next()?;
        let (found_key, mut value) = spans.iter().find(|(k, _)| k.get_ref() == first)?;
        let mut found = line(found_key.span().start);
        let mut whole = true;
        for part in parts {
            let toml::de::DeValue::Table(t) = value.get_ref() else {
                whole = false;
                break;
            };
            // `waiver[2]`: the third table of an array of tables.
            let (key, index) = match part.strip_suffix(']').and_then(|p| p.split_once('[')) {
                Some((k, i)) => (k, i.parse::<usize>().ok()),
                None => (part, None),
            };
            match t.iter().find(|(k, _)| k.get_ref() == key) {
                Some((k, v)) => {
                    found = line(k.span().start);
                    value = v;
                    if let Some(i) = index {
                        match v.get_ref() {
                            toml::de::DeValue::Array(items) if i < items.len() => {
                                found = line(items[i].span().start);
                                value = &items[i];
                            }
                            _ => {
                                whole = false;
                                break;
                            }
                        }
                    }
                }
                None => {
                    whole = false;
                    break;
                }
            }
        }
        Some((found, whole))
    }

    /// The error for `section.key`: `message` says what is wrong and what to write instead.
    fn error(&self, dotted: &str, message: impl Into<String>) -> ConfigError {
        // The last variable applied to the key is the one in force.
        let place = if let Some((var, _)) = self.overrides.iter().rev().find(|(_, k)| k == dotted) {
            format!(" (set by {var})")
        } else {
            match self.line_of(dotted) {
                Some((line, true)) => format!(", line {line}"),
                Some((line, false)) => {
                    format!(", line {line} (the section; the key is not set: its default applies)")
                }
                None => " (not set: its default applies)".to_string(),
            }
        };
        ConfigError::Located {
            path: self.path.to_path_buf(),
            place,
            key: crate::target::display_key(dotted),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = r#"
[target]
kind = "local"

[minio]
endpoint = "http://127.0.0.1:17070"
access_key_env = "TEST_ACCESS"
secret_key_env = "TEST_SECRET"
test_bucket = "carbon-e2e"

[victoriametrics]
url = "http://127.0.0.1:18428"
up_selector = "up"
min_up_targets = 2

[trino]
url = "http://127.0.0.1:18080"
required_catalogs = ["tpch", "iceberg"]
warehouse_bucket = "iceberg"
"#;

    fn setup(text: &str) -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("targets")).unwrap();
        std::fs::write(dir.path().join("targets/local.toml"), text).unwrap();
        let paths = Paths {
            targets: dir.path().join("targets"),
            stack: dir.path().join("stack"),
            cache: dir.path().join("cache"),
        };
        (dir, paths)
    }

    #[test]
    fn a_credential_over_plain_http_beyond_loopback_needs_the_sections_consent() {
        let remote = LOCAL.replace(
            "url = \"http://127.0.0.1:18080\"",
            "url = \"http://trino.data-platform.svc:8080\"\npassword_env = \"TRINO_PW\"",
        );
        let (_d, paths) = setup(&remote);
        let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
        assert!(
            e.contains("`[trino] password_env`")
                && e.contains("plain http to trino.data-platform.svc")
                && e.contains("allow_insecure_credentials = [\"trino\"]"),
            "{e}"
        );
        // Consent in [target] for that section loads it (the Trino client still refuses to send
        // a password over http: that is its own rule).
        let (_d, paths) = setup(&remote.replace(
            "kind = \"local\"",
            "kind = \"local\"\nallow_insecure_credentials = [\"trino\"]",
        ));
        load_with(&Env::default(), &paths).expect("consented");
        // S3 signs its requests: its keys over http are not refused.
        let (_d, paths) = setup(&LOCAL.replace("127.0.0.1:17070", "minio.data-platform.svc:9000"));
        load_with(&Env::default(), &paths).expect("S3 over http");
    }

    #[test]
    fn nextest_limits_come_from_the_default_profile() {
        let limits = NextestLimits::parse(
            "[profile.default]\nslow-timeout = { period = \"60s\", terminate-after = 5, grace-period = \"1m\" }\n",
        )
        .unwrap();
        assert_eq!(limits.terminate_after_secs, 300);
        assert_eq!(limits.grace_period_secs, 60);
        assert!(NextestLimits::parse("[profile.default]\nretries = 0\n").is_none());
    }

    #[test]
    fn a_trial_timeout_that_leaves_no_room_for_cleanup_is_rejected() {
        let (_d, paths) = setup(&LOCAL.replace(
            "kind = \"local\"",
            "kind = \"local\"\ntrial_timeout_secs = 600",
        ));
        let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
        assert!(e.contains("terminate-after"), "{e}");
    }

    #[test]
    fn a_cluster_is_read_only_and_opts_in_to_nothing_unless_it_says_so() {
        let (_d, paths) = setup(&LOCAL.replace("kind = \"local\"", "kind = \"cluster\""));
        let t = load_with(&Env::default(), &paths).unwrap();
        assert_eq!(t.settings.mode(), crate::Mode::ReadOnly);
        assert!(!t.settings.allows("heavy-query"));
        let (_d, paths) = setup(&LOCAL.replace(
            "kind = \"local\"",
            "kind = \"cluster\"\nmode = \"read-write\"\nopt_in = [\"heavy-query\"]",
        ));
        let t = load_with(&Env::default(), &paths).unwrap();
        assert_eq!(t.settings.mode(), crate::Mode::ReadWrite);
        assert!(t.settings.allows("heavy-query"));
        assert!(!t.settings.allows("failed-login"));
        let (_d, paths) = setup(&LOCAL.replace(
            "kind = \"local\"",
            "kind = \"cluster\"\nopt_in = [\"everything\"]",
        ));
        let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
        assert!(e.contains("unknown kind `everything`"), "{e}");
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let (_d, paths) = setup(LOCAL);
        let t = load_with(&Env::default(), &paths).unwrap();
        assert_eq!(t.name, "local");
        assert_eq!(t.settings.request_timeout_secs, 10);
        assert_eq!(t.minio.as_ref().unwrap().region, "us-east-1");
        assert_eq!(t.minio.as_ref().unwrap().multipart_object_mib, 16);
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let (_d, paths) = setup(LOCAL);
        let env = Env::from_pairs([
            ("E2E_MINIO_ENDPOINT", "http://10.1.2.3:9000"),
            ("E2E_MINIO_REGION", "eu-west-1"),
            ("E2E_TARGET_REQUEST_TIMEOUT_SECS", "3"),
            ("E2E_VICTORIAMETRICS_MIN_UP_TARGETS", "19"),
        ]);
        let t = load_with(&env, &paths).unwrap();
        assert_eq!(
            t.minio.as_ref().unwrap().endpoint.as_str(),
            "http://10.1.2.3:9000/"
        );
        assert_eq!(t.minio.as_ref().unwrap().region, "eu-west-1");
        assert_eq!(t.settings.request_timeout_secs, 3);
        assert_eq!(t.victoriametrics.as_ref().unwrap().min_up_targets, 19);
    }

    #[test]
    fn process_environment_wins_over_the_stack_env_file() {
        let (_d, paths) = setup(LOCAL);
        std::fs::create_dir_all(&paths.stack).unwrap();
        std::fs::write(
            paths.stack_env_file(),
            "TEST_ACCESS=from-stack\nTEST_SECRET=stack-secret\nE2E_MINIO_REGION=stack-region\n",
        )
        .unwrap();
        let env = Env::from_pairs([("TEST_ACCESS", "from-process")]);
        let t = load_with(&env, &paths).unwrap();
        assert_eq!(
            t.credential("minio", "TEST_ACCESS").unwrap().expose(),
            "from-process"
        );
        assert_eq!(
            t.credential("minio", "TEST_SECRET").unwrap().expose(),
            "stack-secret"
        );
        assert_eq!(t.minio.as_ref().unwrap().region, "stack-region");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let (_d, paths) = setup(&LOCAL.replace("test_bucket", "tset_bucket"));
        let err = load_with(&Env::default(), &paths).unwrap_err().to_string();
        assert!(err.contains("local.toml"), "{err}");
        assert!(err.contains("line 9"), "{err}");
        assert!(err.contains("tset_bucket"), "{err}");
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let (_d, paths) = setup(&LOCAL.replace("kind = \"local\"", "kind = local\""));
        let err = load_with(&Env::default(), &paths).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn an_override_that_looks_like_an_inline_table_is_a_string() {
        let (_d, paths) = setup(LOCAL);
        let env = Env::from_pairs([
            ("E2E_LOKI_URL", "http://127.0.0.1:13100"),
            ("E2E_LOKI_NAMESPACE", "carbon-e2e"),
            ("E2E_LOKI_MIN_STREAMS", "3"),
            (
                "E2E_LOKI_SHIPPER_SELECTOR",
                r#"{namespace="carbon-e2e", app="x"}"#,
            ),
        ]);
        let t = load_with(&env, &paths).expect("a LogQL selector is a string");
        assert_eq!(
            t.loki.and_then(|l| l.shipper_selector).as_deref(),
            Some(r#"{namespace="carbon-e2e", app="x"}"#)
        );
    }

    #[test]
    fn bad_override_names_the_variable() {
        let (_d, paths) = setup(LOCAL);
        let env = Env::from_pairs([("E2E_MINIO_SECRET_KEY", "oops")]);
        let err = load_with(&env, &paths).unwrap_err().to_string();
        assert!(err.contains("E2E_MINIO_SECRET_KEY"), "{err}");
        assert!(!err.contains("oops"), "a value must not be echoed: {err}");
    }

    #[test]
    fn missing_credential_names_the_variable_to_set() {
        let (_d, paths) = setup(LOCAL);
        let t = load_with(&Env::default(), &paths).unwrap();
        let err = t
            .credential("minio", "TEST_SECRET")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "missing credential for minio: the variable named in `[minio] secret_key_env`, \
             TEST_SECRET, is not set"
        );
    }

    /// The line of `needle` in `text`, 1-based.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|l| l.contains(needle)).unwrap() + 1
    }

    const SECTIONS_WITH_THRESHOLDS: &str = "
[loki]
url = \"http://127.0.0.1:13100\"
namespace = \"carbon-e2e\"
min_streams = 3

[kubernetes]

[platform]
min_argocd_healthy = 5

[velero]
min_schedules = 4

[dashboards]
window_minutes = 60
";

    #[rstest::rstest]
    #[case::victoriametrics_min_up_targets(
        "min_up_targets = 2",
        "min_up_targets = 0",
        "[victoriametrics] min_up_targets"
    )]
    #[case::loki_min_streams("min_streams = 3", "min_streams = 0", "[loki] min_streams")]
    #[case::platform_min_argocd_healthy(
        "min_argocd_healthy = 5",
        "min_argocd_healthy = 0",
        "[platform] min_argocd_healthy"
    )]
    #[case::platform_min_policy_exceptions(
        "min_argocd_healthy = 5",
        "min_policy_exceptions = 0",
        "[platform] min_policy_exceptions"
    )]
    #[case::platform_min_running_percent(
        "min_argocd_healthy = 5",
        "min_running_percent = 0.0",
        "[platform] min_running_percent"
    )]
    #[case::velero_min_schedules(
        "min_schedules = 4",
        "min_schedules = 0",
        "[velero] min_schedules"
    )]
    #[case::empty_critical_workloads(
        "min_argocd_healthy = 5",
        "critical_workloads = []",
        "[platform] critical_workloads"
    )]
    #[case::empty_node_selector(
        "min_argocd_healthy = 5",
        "node_selector = \"\"",
        "[platform] node_selector"
    )]
    #[case::empty_required_dashboards(
        "window_minutes = 60",
        "required = []",
        "[dashboards] required"
    )]
    fn a_threshold_that_checks_nothing_is_refused_naming_file_line_and_key(
        #[case] from: &str,
        #[case] to: &str,
        #[case] key: &str,
    ) {
        let good = format!("{LOCAL}{SECTIONS_WITH_THRESHOLDS}");
        let (_d, paths) = setup(&good);
        load_with(&Env::default(), &paths).expect("the thresholds as written are fine");
        let bad = good.replace(from, to);
        let (_d, paths) = setup(&bad);
        let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
        let line = format!("line {}", line_of(&bad, to));
        assert!(
            e.contains("local.toml") && e.contains(&line) && e.contains(key),
            "{e}"
        );
    }

    #[test]
    fn a_zero_threshold_from_the_environment_names_the_variable() {
        let (_d, paths) = setup(&format!("{LOCAL}{SECTIONS_WITH_THRESHOLDS}"));
        let env = Env::from_pairs([("E2E_PLATFORM_MIN_ARGOCD_HEALTHY", "0")]);
        let e = load_with(&env, &paths).unwrap_err().to_string();
        assert!(
            e.contains("E2E_PLATFORM_MIN_ARGOCD_HEALTHY")
                && e.contains("[platform] min_argocd_healthy"),
            "{e}"
        );
        // The default list of critical workloads is not an empty one.
        let (_d, paths) = setup(&format!("{LOCAL}\n[kubernetes]\n[platform]\n"));
        let t = load_with(&Env::default(), &paths).unwrap();
        assert!(!t.platform.unwrap().critical_workloads.is_empty());
    }

    const GATE: &str = "
[gate]
min_readiness = 95.0
optional_suites = []

[gate.running_pods]
target = 20.0
weight = 1.0

[gate.dashboards]
required = false

[[gate.waiver]]
trial = 'platform::smoke::every_node_is_ready'
reason = 'NODE-12: the kwok node reports NotReady for an hour after a restart'
owner = 'platform-team'
expires = '2027-01-31'
";

    #[rstest::rstest]
    #[case::min_readiness_above_100(
        "min_readiness = 95.0",
        "min_readiness = 101.0",
        "[gate] min_readiness"
    )]
    #[case::min_readiness_zero("min_readiness = 95.0", "min_readiness = 0", "[gate] min_readiness")]
    #[case::negative_weight("weight = 1.0", "weight = -1.0", "[gate.running_pods] weight")]
    #[case::zero_target("target = 20.0", "target = 0.0", "[gate.running_pods] target")]
    #[case::target_that_lives_in_platform(
        "[gate.dashboards]\nrequired = false",
        "[gate.pod_health]\ntarget = 95.0",
        "[gate.pod_health] target"
    )]
    #[case::waiver_without_a_date("expires = '2027-01-31'", "expires = '31/01/2027'", "expires")]
    fn a_gate_setting_that_makes_no_sense_is_refused_naming_file_line_and_key(
        #[case] from: &str,
        #[case] to: &str,
        #[case] key: &str,
    ) {
        let good = format!("{LOCAL}{GATE}");
        let (_d, paths) = setup(&good);
        let t = load_with(&Env::default(), &paths).expect("the gate as written is fine");
        let gate = t.gate.expect("a [gate]");
        assert_eq!(gate.target(crate::GateCategory::RunningPods), Some(20.0));
        assert!(!gate.required(crate::GateCategory::Dashboards));
        let bad = good.replace(from, to);
        let (_d, paths) = setup(&bad);
        let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
        let line = format!("line {}", line_of(&bad, to.lines().last().unwrap()));
        assert!(
            e.contains("local.toml") && e.contains(&line) && e.contains(key),
            "{e}"
        );
    }

    #[test]
    fn min_readiness_may_be_set_from_the_environment() {
        let (_d, paths) = setup(LOCAL);
        let env = Env::from_pairs([("E2E_GATE_MIN_READINESS", "98")]);
        let t = load_with(&env, &paths).unwrap();
        assert_eq!(t.gate.unwrap().min_readiness, 98.0);
        let env = Env::from_pairs([("E2E_GATE_MIN_READINESS", "120")]);
        let e = load_with(&env, &paths).unwrap_err().to_string();
        assert!(
            e.contains("E2E_GATE_MIN_READINESS") && e.contains("[gate] min_readiness"),
            "{e}"
        );
    }

    const INLINE: &str = "hunter2-Zq9/x+Kd";

    #[rstest::rstest]
    #[case::trino_password("[trino]", "[trino]\npassword_env = \"{v}\"", "[trino] password_env")]
    #[case::minio_secret_key(
        "secret_key_env = \"TEST_SECRET\"",
        "secret_key_env = \"{v}\"",
        "[minio] secret_key_env"
    )]
    #[case::victoriametrics_token(
        "min_up_targets = 2",
        "min_up_targets = 2\nbearer_token_env = \"{v}\"",
        "[victoriametrics] bearer_token_env"
    )]
    #[case::a_number(
        "[trino]",
        "[trino]\npassword_env = 4242424242",
        "[trino] password_env"
    )]
    #[case::starts_with_a_digit(
        "[trino]",
        "[trino]\npassword_env = \"9LIVES\"",
        "[trino] password_env"
    )]
    fn a_secret_written_inline_is_refused_and_never_shown(
        #[case] from: &str,
        #[case] to: &str,
        #[case] key: &str,
    ) {
        let to = to.replace("{v}", INLINE);
        let text = LOCAL.replace(from, &to);
        let (_d, paths) = setup(&text);
        let e = load_with(&Env::default(), &paths).unwrap_err();
        let (shown, debug) = (e.to_string(), format!("{e:?}"));
        let line = format!("line {}", line_of(&text, key.split(' ').nth(1).unwrap()));
        assert!(shown.contains(key) && shown.contains(&line), "{shown}");
        for text in [&shown, &debug] {
            for secret in [INLINE, "4242424242", "9LIVES"] {
                assert!(!text.contains(secret), "the value is shown: {text}");
            }
        }
    }

    #[test]
    fn a_secret_given_inline_in_an_override_is_refused_and_never_shown() {
        let (_d, paths) = setup(LOCAL);
        for value in [INLINE, "123456"] {
            let env = Env::from_pairs([("E2E_TRINO_PASSWORD_ENV", value)]);
            let e = load_with(&env, &paths).unwrap_err();
            let (shown, debug) = (e.to_string(), format!("{e:?}"));
            assert!(
                shown.contains("E2E_TRINO_PASSWORD_ENV") && shown.contains("inline"),
                "{shown}"
            );
            assert!(
                !shown.contains(value) && !debug.contains(value),
                "{shown} {debug}"
            );
        }
        // A real variable's name, or a Secret reference, is fine.
        for name in ["_TRINO_PW1", "k8s:data-platform/trino#password"] {
            let env = Env::from_pairs([("E2E_TRINO_PASSWORD_ENV", name)]);
            load_with(&env, &paths).unwrap();
        }
    }

    #[test]
    fn an_unresolved_credential_names_its_setting_and_never_a_value() {
        let (_d, paths) = setup(LOCAL);
        let mut t = load_with(&Env::default(), &paths).unwrap();
        // Not through a file: a caller that put a value where a name belongs.
        t.trino.as_mut().unwrap().password_env = Some(INLINE.into());
        let e = t.credential("trino", INLINE).unwrap_err().to_string();
        assert!(
            e.contains("[trino] password_env") && !e.contains(INLINE),
            "{e}"
        );
    }

    const MORE_SECTIONS: &str = "
[loki]
url = \"http://127.0.0.1:13100\"
namespace = \"carbon-e2e\"
min_streams = 3

[vmalert]
url = \"http://127.0.0.1:18880\"
required_rules = [\"ServiceDown\"]

[grafana]
url = \"https://grafana.example.com\"
token_env = \"GRAFANA_TOKEN\"
metrics_datasource = \"VM\"
logs_datasource = \"Loki\"
logs_query = \"{a=\\\"b\\\"}\"
";

    #[rstest::rstest]
    #[case::wrong_url_scheme(
        "url = \"http://127.0.0.1:18080\"",
        "url = \"ftp://127.0.0.1:18080\"",
        "[trino] url"
    )]
    #[case::malformed_service_reference(
        "url = \"http://127.0.0.1:18428\"",
        "url = \"k8s://monitoring/vm:http\"",
        "[victoriametrics] url"
    )]
    #[case::malformed_secret_reference(
        "secret_key_env = \"TEST_SECRET\"",
        "secret_key_env = \"k8s:data-platform/minio\"",
        "[minio] secret_key_env"
    )]
    #[case::unknown_opt_in(
        "kind = \"local\"",
        "kind = \"local\"\nopt_in = [\"everything\"]",
        "[target] opt_in"
    )]
    #[case::target_ca_file(
        "kind = \"local\"",
        "kind = \"local\"\nca_file = \"missing.pem\"",
        "[target] ca_file"
    )]
    #[case::minio_ca_file(
        "test_bucket = \"carbon-e2e\"",
        "test_bucket = \"carbon-e2e\"\nca_file = \"missing.pem\"",
        "[minio] ca_file"
    )]
    #[case::trino_ca_file(
        "warehouse_bucket = \"iceberg\"",
        "warehouse_bucket = \"iceberg\"\nca_file = \"missing.pem\"",
        "[trino] ca_file"
    )]
    #[case::loki_ca_file(
        "min_streams = 3",
        "min_streams = 3\nca_file = \"missing.pem\"",
        "[loki] ca_file"
    )]
    #[case::vmalert_ca_file(
        "required_rules = [\"ServiceDown\"]",
        "required_rules = [\"ServiceDown\"]\nca_file = \"missing.pem\"",
        "[vmalert] ca_file"
    )]
    #[case::grafana_ca_file(
        "logs_datasource = \"Loki\"",
        "logs_datasource = \"Loki\"\nca_file = \"missing.pem\"",
        "[grafana] ca_file"
    )]
    #[case::empty_test_bucket(
        "test_bucket = \"carbon-e2e\"",
        "test_bucket = \"\"",
        "[minio] test_bucket"
    )]
    #[case::zero_cancel_timeout(
        "warehouse_bucket = \"iceberg\"",
        "warehouse_bucket = \"iceberg\"\ncancel_timeout_secs = 0",
        "[trino] cancel_timeout_secs"
    )]
    fn every_value_check_names_file_line_and_key(
        #[case] from: &str,
        #[case] to: &str,
        #[case] key: &str,
    ) {
        let good = format!("{LOCAL}{MORE_SECTIONS}");
        let (_d, paths) = setup(&good);
        load_with(&Env::default(), &paths).expect("the file as written is fine");
        let bad = good.replacen(from, to, 1);
        assert_ne!(bad, good);
        let (_d, paths) = setup(&bad);
        let e = load_with(&Env::default(), &paths).unwrap_err();
        assert!(matches!(e, ConfigError::Located { .. }), "{e:?}");
        let e = e.to_string();
        let last = to.lines().last().unwrap();
        let line = format!("line {}", line_of(&bad, last));
        assert!(
            e.contains(&paths.targets.join("local.toml").display().to_string())
                && e.contains(&format!("{line}:"))
                && e.contains(key),
            "{e}"
        );
    }

    #[test]
    fn a_relative_target_path_is_taken_from_the_workspace_root_or_the_starting_directory() {
        let (_d, paths) = setup(LOCAL);
        // Trials run in their package's directory: a relative path is the workspace root's.
        let env = Env::from_pairs([("E2E_TARGET", ".config/targets/staging.toml")]);
        let t = load_with(&env, &paths).unwrap();
        assert_eq!(
            t.source,
            crate::workspace_root().join(".config/targets/staging.toml")
        );
        // Not there: the error shows the absolute path it tried.
        let env = Env::from_pairs([("E2E_TARGET", ".config/targets/mine.toml")]);
        let e = load_with(&env, &paths).unwrap_err().to_string();
        let tried = crate::workspace_root().join(".config/targets/mine.toml");
        assert!(e.contains(&tried.display().to_string()), "{e}");
        // A command started elsewhere pins the path it was given to an absolute one.
        let dir = paths.targets.parent().unwrap();
        let env = pin_target(
            &Env::from_pairs([("E2E_TARGET", "targets/local.toml")]),
            dir,
        );
        let pinned = env.get("E2E_TARGET").unwrap();
        assert!(Path::new(&pinned).is_absolute(), "{pinned}");
        assert_eq!(load_with(&env, &paths).unwrap().name, "local");
        // Names and paths that are not there are left as they are.
        for given in ["local", "nowhere/x.toml"] {
            let env = pin_target(&Env::from_pairs([("E2E_TARGET", given)]), dir);
            assert_eq!(env.get("E2E_TARGET").unwrap(), given);
        }
    }

    #[rstest::rstest]
    #[case::read_write_made_read_only("kind = \"local\"", &[("E2E_TARGET_MODE", "read-only")], crate::Mode::ReadOnly)]
    #[case::local_made_a_cluster("kind = \"local\"", &[("E2E_TARGET_KIND", "cluster")], crate::Mode::ReadOnly)]
    #[case::opt_ins_narrowed("kind = \"cluster\"\nopt_in = [\"heavy-query\"]", &[("E2E_TARGET_OPT_IN", "[]")], crate::Mode::ReadOnly)]
    #[case::widened_by_the_flag("kind = \"cluster\"", &[("E2E_TARGET_MODE", "read-write"), ("E2E_ALLOW_WRITES", "1")], crate::Mode::ReadWrite)]
    fn the_environment_may_restrict_a_target(
        #[case] settings: &str,
        #[case] env: &[(&str, &str)],
        #[case] mode: crate::Mode,
    ) {
        let (_d, paths) = setup(&LOCAL.replace("kind = \"local\"", settings));
        let t = load_with(&Env::from_pairs(env.iter().copied()), &paths).unwrap();
        assert_eq!(t.settings.mode(), mode);
        assert_eq!(t.allow_writes, mode == crate::Mode::ReadWrite);
        if env[0].0 == "E2E_TARGET_OPT_IN" {
            assert!(!t.settings.allows("heavy-query"));
        }
    }

    #[rstest::rstest]
    #[case::read_only_made_read_write("kind = \"cluster\"", &[("E2E_TARGET_MODE", "read-write")], "E2E_TARGET_MODE", "--allow-writes")]
    #[case::a_cluster_made_local("kind = \"cluster\"", &[("E2E_TARGET_KIND", "local")], "E2E_TARGET_KIND", "--allow-writes")]
    #[case::stated_read_only_made_read_write("kind = \"local\"\nmode = \"read-only\"", &[("E2E_TARGET_MODE", "read-write")], "E2E_TARGET_MODE", "--allow-writes")]
    #[case::opt_in_widened("kind = \"cluster\"\nmode = \"read-write\"", &[("E2E_TARGET_OPT_IN", "[\"heavy-query\"]")], "E2E_TARGET_OPT_IN", "heavy-query")]
    #[case::opt_in_widened_even_with_the_flag("kind = \"cluster\"", &[("E2E_TARGET_KIND", "local"), ("E2E_ALLOW_WRITES", "1")], "E2E_TARGET_KIND", "opt_in")]
    fn the_environment_may_not_widen_a_target(
        #[case] settings: &str,
        #[case] env: &[(&str, &str)],
        #[case] var: &str,
        #[case] says: &str,
    ) {
        let (_d, paths) = setup(&LOCAL.replace("kind = \"local\"", settings));
        let e = load_with(&Env::from_pairs(env.iter().copied()), &paths)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(var) && e.contains(says) && e.contains("more restrictive"),
            "{e}"
        );
    }

    #[test]
    fn a_cluster_target_that_says_local_stack_reads_the_stacks_env_file() {
        let text = LOCAL.replace(
            "kind = \"local\"",
            "kind = \"cluster\"\nmode = \"read-write\"\nlocal_stack = true",
        );
        let (_d, paths) = setup(&text);
        std::fs::create_dir_all(&paths.stack).unwrap();
        std::fs::write(paths.stack_env_file(), "TEST_SECRET=stack-secret\n").unwrap();
        let t = load_with(&Env::default(), &paths).unwrap();
        assert!(t.settings.uses_local_stack());
        assert_eq!(t.settings.mode(), crate::Mode::ReadWrite);
        assert_eq!(
            t.credential("minio", "TEST_SECRET").unwrap().expose(),
            "stack-secret"
        );
        // Without it, a cluster does not read the stack's file.
        let (_d2, paths2) = setup(&text.replace("local_stack = true", ""));
        std::fs::create_dir_all(&paths2.stack).unwrap();
        std::fs::write(paths2.stack_env_file(), "TEST_SECRET=stack-secret\n").unwrap();
        let t = load_with(&Env::default(), &paths2).unwrap();
        assert!(!t.settings.uses_local_stack());
        assert!(t.credential("minio", "TEST_SECRET").is_err());
    }

    #[test]
    fn unknown_target_lists_the_available_ones() {
        let (_d, paths) = setup(LOCAL);
        let err = load_with(&Env::from_pairs([("E2E_TARGET", "prod")]), &paths)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown target `prod`") && err.contains("available: local"),
            "{err}"
        );
    }

    #[test]
    fn non_http_endpoint_is_rejected() {
        let (_d, paths) = setup(LOCAL);
        let err = load_with(
            &Env::from_pairs([("E2E_MINIO_ENDPOINT", "ftp://x")]),
            &paths,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[minio] endpoint") && err.contains("E2E_MINIO_ENDPOINT"),
            "{err}"
        );
    }

    #[test]
    fn kubernetes_references_are_accepted_and_checked() {
        let (_d, paths) = setup(LOCAL);
        let t = load_with(
            &Env::from_pairs([
                ("E2E_MINIO_ENDPOINT", "k8s://data-platform/minio:9000"),
                (
                    "E2E_MINIO_SECRET_KEY_ENV",
                    "k8s:data-platform/minio#secretKey",
                ),
                ("E2E_TRINO_URL", "k8s://data-platform/trino:8080/v1"),
            ]),
            &paths,
        )
        .unwrap();
        assert!(crate::is_service_ref(&t.minio.as_ref().unwrap().endpoint));
        // A credential resolved from a Secret is found under the reference and scrubbed.
        let mut t = t;
        let r = "k8s:data-platform/minio#secretKey";
        assert!(t.credential("minio", r).is_err());
        t.set_credential(r, &crate::Secret::new("from-the-secret"));
        assert_eq!(
            t.credential("minio", r).unwrap().expose(),
            "from-the-secret"
        );
        assert!(
            t.secret_values()
                .iter()
                .any(|s| s.expose() == "from-the-secret")
        );
        for (var, value, key) in [
            (
                "E2E_MINIO_ENDPOINT",
                "k8s://data-platform/minio",
                "[minio] endpoint",
            ),
            (
                "E2E_TRINO_URL",
                "k8s://data-platform/trino:http",
                "[trino] url",
            ),
            (
                "E2E_MINIO_SECRET_KEY_ENV",
                "k8s:data-platform/minio",
                "Secret reference",
            ),
        ] {
            let err = load_with(&Env::from_pairs([(var, value)]), &paths)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn each_service_is_configured_by_the_section_of_its_name() {
        // A section's own name (ServiceSection::name) is its field's (SERVICE_SECTIONS), and a
        // service whose section is present is configured: `service_configured` finds it by name.
        let (_d, paths) = setup(include_str!("../../../../.config/targets/staging.toml"));
        let t = load_with(&Env::default(), &paths).unwrap();
        let names: Vec<&str> = t.sections().iter().map(|s| s.name()).collect();
        assert!(names.len() >= 8, "{names:?}");
        for n in &names {
            assert!(crate::SERVICE_SECTIONS.contains(n), "{n}");
        }
        for service in crate::Service::ALL {
            if names.contains(&service.section()) && service != crate::Service::IcebergRestCatalog {
                assert_eq!(t.service_configured(service), Ok(()), "{service:?}");
            }
        }
    }

    #[test]
    fn absent_section_explains_the_skip() {
        let without_vm = LOCAL.split("[victoriametrics]").next().unwrap();
        let (_d, paths) = setup(without_vm);
        let t = load_with(&Env::default(), &paths).unwrap();
        let reason = t
            .service_configured(crate::Service::VictoriaMetrics)
            .unwrap_err();
        assert!(
            reason.contains("victoriametrics is not configured for target `local`"),
            "{reason}"
        );
    }

    #[test]
    fn trino_section_defaults_and_overrides() {
        let (_d, paths) = setup(LOCAL);
        let env = Env::from_pairs([
            ("E2E_TRINO_USER", "alice"),
            ("E2E_TRINO_PASSWORD_ENV", "TRINO_PW"),
            ("TRINO_PW", "s3cret-pw"),
        ]);
        let t = load_with(&env, &paths).unwrap();
        let trino = t.trino.as_ref().unwrap();
        assert_eq!(trino.user, "alice");
        assert_eq!(trino.iceberg_catalog, "iceberg");
        assert_eq!(trino.query_timeout_secs, 120);
        assert_eq!(trino.required_catalogs, ["tpch", "iceberg"]);
        assert!(
            t.secret_values().iter().any(|s| s.expose() == "s3cret-pw"),
            "the Trino password must be scrubbed from output"
        );
    }

    #[test]
    fn dolphinscheduler_section_defaults_and_overrides() {
        let text = format!(
            "{LOCAL}\n[dolphinscheduler]\nurl = \"http://127.0.0.1:12345/dolphinscheduler\"\npassword_env = \"DS_PW\"\n"
        );
        let (_d, paths) = setup(&text);
        let t = load_with(&Env::default(), &paths).unwrap();
        let d = t.dolphinscheduler.as_ref().unwrap();
        assert_eq!(d.user, "admin");
        assert_eq!(d.api, crate::DsApi::Auto);
        assert_eq!(d.workflow_timeout_secs, 120);
        assert!(
            t.service_configured(crate::Service::DolphinScheduler)
                .is_ok()
        );
        let reason = t
            .capability_available(crate::Capability::DolphinSchedulerDatabase)
            .unwrap_err();
        assert!(reason.contains("database_url_env"), "{reason}");

        let env = Env::from_pairs([
            ("E2E_DOLPHINSCHEDULER_API", "3.3+"),
            ("E2E_DOLPHINSCHEDULER_DATABASE_URL_ENV", "DS_DB"),
            ("DS_DB", "postgres://u:p@127.0.0.1:1/ds"),
            ("DS_PW", "pw-value"),
        ]);
        let t = load_with(&env, &paths).unwrap();
        let d = t.dolphinscheduler.as_ref().unwrap();
        assert_eq!(d.api, crate::DsApi::From3_3);
        assert!(
            t.capability_available(crate::Capability::DolphinSchedulerDatabase)
                .is_ok()
        );
        let secrets: Vec<String> = t
            .secret_values()
            .iter()
            .map(|s| s.expose().to_string())
            .collect();
        assert!(secrets.contains(&"pw-value".to_string()), "{secrets:?}");
        assert!(secrets.iter().any(|s| s.starts_with("postgres://")));
    }

    #[test]
    fn api_generations_are_named_by_versions_and_old_names_say_what_to_write() {
        let base = format!(
            "{LOCAL}\n[dolphinscheduler]\nurl = \"http://127.0.0.1:12345/dolphinscheduler\"\npassword_env = \"DS_PW\"\n"
        );
        for (value, expected) in [
            ("auto", crate::DsApi::Auto),
            ("pre-3.3", crate::DsApi::UpTo3_2),
            ("3.3+", crate::DsApi::From3_3),
        ] {
            let (_d, paths) = setup(&format!("{base}api = \"{value}\"\n"));
            let t = load_with(&Env::default(), &paths).unwrap();
            assert_eq!(t.dolphinscheduler.unwrap().api, expected);
            assert_eq!(expected.to_string(), value);
        }
        for (old, new) in [("v1", "pre-3.3"), ("v2", "3.3+")] {
            let (_d, paths) = setup(&format!("{base}api = \"{old}\"\n"));
            let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
            assert!(e.contains(new) && e.contains("api"), "{e}");
            let env = Env::from_pairs([("E2E_DOLPHINSCHEDULER_API", old)]);
            let (_d, paths) = setup(&base);
            let e = load_with(&env, &paths).unwrap_err().to_string();
            assert!(
                e.contains(new) && e.contains("E2E_DOLPHINSCHEDULER_API"),
                "{e}"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = crate::Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
    }

    #[test]
    fn shipped_targets_parse() {
        let env = Env::default();
        let paths = Paths::from_env(&env);
        for name in ["local", "local-k8s", "staging"] {
            let path = paths.targets.join(format!("{name}.toml"));
            load_from_file(&path, &env, &paths).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn loki_vmalert_grafana_sections_and_their_skips() {
        let text = format!(
            "{LOCAL}\n[loki]\nurl = \"http://127.0.0.1:13100\"\nnamespace = \"carbon-e2e\"\nmin_streams = 3\nshipper_selector = '{{app=\"e2e-trial\"}}'\n\n[vmalert]\nurl = \"http://127.0.0.1:18880\"\nrequired_rules = [\"ServiceDown\"]\n"
        );
        let (_dir, paths) = setup(&text);
        let t = load_with(&Env::default(), &paths).unwrap();
        let loki = t.loki.as_ref().unwrap();
        assert_eq!(
            (
                loki.window_minutes,
                loki.pod_label.as_str(),
                loki.max_entries_limit
            ),
            (60, "pod", 5000)
        );
        assert!(t.service_configured(crate::Service::Loki).is_ok());
        let shipper = t
            .capability_available(crate::Capability::LokiShipper)
            .unwrap_err();
        assert!(shipper.contains("loki.shipper_dir"), "{shipper}");
        let probe = t
            .capability_available(crate::Capability::VmAlertProbe)
            .unwrap_err();
        assert!(probe.contains("vmalert.probe_rule"), "{probe}");
        assert!(t.service_configured(crate::Service::Grafana).is_err());

        // The stack exports the shipper directory as an override in its env file.
        let env = Env::from_pairs([("E2E_LOKI_SHIPPER_DIR", "/tmp/trials")]);
        let t = load_with(&env, &paths).unwrap();
        assert!(
            t.capability_available(crate::Capability::LokiShipper)
                .is_ok()
        );

        // Grafana needs a token or user and password.
        let (_dir, paths) = setup(&format!(
            "{LOCAL}\n[grafana]\nurl = \"https://g\"\nmetrics_datasource = \"VM\"\nlogs_datasource = \"Loki\"\nlogs_query = \"{{a=\\\"b\\\"}}\"\n"
        ));
        let e = load_with(&Env::default(), &paths).unwrap_err().to_string();
        assert!(
            e.contains("[grafana] token_env") && e.contains("line 21"),
            "{e}"
        );
    }
}
