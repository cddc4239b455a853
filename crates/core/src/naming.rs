//! The one place that makes, and recognises, every name and ownership marker a run creates.
//!
//! A run id is 8 to 12 lowercase letters or digits. What a run creates carries it in a name of
//! a fixed shape **and**, where the service can hold one, an ownership marker naming the owner
//! (`carbon-e2e`), the run and the creation time on the server's clock. The reaper removes
//! nothing that fails either test: a team's project `e2e-orders` or schema `e2e_sales_2024`
//! has the prefix but neither the shape nor the marker.
//!
//! | what | name | marker |
//! |---|---|---|
//! | DolphinScheduler project | `e2e-<run>-<what>` | description, [`Marker`] |
//! | Kubernetes object (namespace, Velero Backup, Restore, ...) | `e2e-<run>-<what>` | labels [`KUBE_RUN_LABEL`], [`KUBE_OWNER_LABEL`]; age from `creationTimestamp` |
//! | Iceberg schema, SQL identifiers | `e2e_<run>_<what>_<created>` | table comment, [`Marker`] |
//! | S3 object | `e2e/<run>/<trial>/…` | user metadata `carbon-e2e-run: <run>` |
//! | series | `carbon_e2e_<what>` | labels `e2e_run`, `e2e_owner="carbon-e2e"` |
//! | DolphinScheduler access token | [`token`]: `carbone2e<len><run><created><random>` | the shape itself |

use std::fmt;

/// Who owns what a run creates: the word every marker carries.
pub const OWNER: &str = "carbon-e2e";

/// The label (VictoriaMetrics, Loki, Kubernetes) that says who owns a thing.
pub const OWNER_LABEL: &str = "e2e_owner";

/// The label (VictoriaMetrics, Loki) that carries the run id.
pub const RUN_LABEL: &str = "e2e_run";

/// The Kubernetes label that carries the run id of an object a run created.
pub const KUBE_RUN_LABEL: &str = "carbon-e2e/run";

/// The Kubernetes label that says who owns it (value [`OWNER`]).
pub const KUBE_OWNER_LABEL: &str = "carbon-e2e/owner";

/// The labels of a Kubernetes object `run` creates.
pub fn kube_labels(run: &str) -> std::collections::BTreeMap<String, String> {
    std::collections::BTreeMap::from([
        (KUBE_RUN_LABEL.to_string(), run.to_string()),
        (KUBE_OWNER_LABEL.to_string(), OWNER.to_string()),
    ])
}

/// Seconds since the epoch of an RFC 3339 time a server wrote (`None` when absent or not
/// RFC 3339): how the reaper reads creation times.
pub fn rfc3339_secs(text: Option<&str>) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    text.and_then(|t| time::OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(time::OffsetDateTime::unix_timestamp)
}

/// The run id of a Kubernetes object made by a run: its name has the [`resource`] shape and its
/// labels name the same run and the owner. `None` for anything else.
pub fn kube_object_run<'a>(
    name: &'a str,
    labels: Option<&std::collections::BTreeMap<String, String>>,
) -> Option<&'a str> {
    let run = parse_resource(name)?;
    let labels = labels?;
    (labels.get(KUBE_OWNER_LABEL).map(String::as_str) == Some(OWNER)
        && labels.get(KUBE_RUN_LABEL).map(String::as_str) == Some(run))
    .then_some(run)
}

/// The S3 user-metadata key (sent as `x-amz-meta-carbon-e2e-run`) that carries the run id.
pub const S3_RUN_METADATA: &str = "carbon-e2e-run";

/// The first key segment of every object a run writes.
pub const S3_ROOT: &str = "e2e/";

/// The shape of a run id, in words, for messages: [`is_run_id`] is the one test of it.
pub const RUN_ID_SHAPE: &str = "8 to 12 lowercase ASCII letters or digits";

/// Whether `run` has the shape of a run id: 8 to 12 lowercase ASCII letters or digits. The one
/// definition: what a run accepts as its id (`E2E_RUN_ID`) and what the reaper recognises in
/// a name are both this.
pub fn is_run_id(run: &str) -> bool {
    (8..=12).contains(&run.len())
        && run
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `what` reduced to lowercase letters, digits and `sep`.
fn slug(what: &str, sep: char) -> String {
    what.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                sep
            }
        })
        .collect()
}

/// A dash-style name: `e2e-<run>-<what>` (DolphinScheduler projects, Kubernetes objects).
pub fn resource(run: &str, what: &str) -> String {
    format!("e2e-{run}-{}", slug(what, '-'))
}

/// The run id of a dash-style name made by [`resource`], if `name` has that shape.
pub fn parse_resource(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("e2e-")?;
    let (run, what) = rest.split_once('-')?;
    (is_run_id(run) && !what.is_empty()).then_some(run)
}

/// An identifier-style name: `e2e_<run>_<what>_<created>` (SQL schemas), where `created` is
/// the creation time in unix seconds on the server's clock.
pub fn identifier(run: &str, what: &str, created: i64) -> String {
    format!("e2e_{run}_{}_{created}", slug(what, '_'))
}

/// The run id and creation time of a name made by [`identifier`], if `name` has that shape.
pub fn parse_identifier(name: &str) -> Option<(&str, i64)> {
    let rest = name.strip_prefix("e2e_")?;
    let (run, rest) = rest.split_once('_')?;
    let (what, created) = rest.rsplit_once('_')?;
    let created = plausible_time(created)?;
    (is_run_id(run) && !what.is_empty()).then_some((run, created))
}

/// The key prefix of a trial's objects: `e2e/<run>/<trial>/`.
pub fn object_prefix(run: &str, trial: &str) -> String {
    format!("{S3_ROOT}{run}/{}/", slug(trial, '-'))
}

/// The run id of an object key under [`S3_ROOT`], if the key has the shape.
pub fn parse_object_key(key: &str) -> Option<&str> {
    let run = key.strip_prefix(S3_ROOT)?.split('/').next()?;
    is_run_id(run).then_some(run)
}

/// A creation time in unix seconds that can be real (2020 to 2100), from decimal digits.
fn plausible_time(text: &str) -> Option<i64> {
    let t: i64 = text.parse().ok()?;
    (text.len() == 10 && (1_577_836_800..4_102_444_800).contains(&t)).then_some(t)
}

/// An ownership marker: owner, run id and creation time (unix seconds, server's clock).
///
/// Written as `carbon-e2e run=<run> created=<seconds>` into a description or comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The run that created the thing.
    pub run: String,
    /// When, in unix seconds on the server's clock.
    pub created: i64,
}

impl Marker {
    /// A marker for `run`, created at `created` (unix seconds, server's clock).
    pub fn new(run: &str, created: i64) -> Self {
        Self {
            run: run.to_string(),
            created,
        }
    }

    /// Reads a marker from a description or comment; `None` unless it is one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.trim().strip_prefix(OWNER)?.strip_prefix(' ')?;
        let mut run = None;
        let mut created = None;
        for field in rest.split_whitespace() {
            match field.split_once('=') {
                Some(("run", v)) if is_run_id(v) => run = Some(v),
                Some(("created", v)) => created = plausible_time(v),
                _ => {}
            }
        }
        Some(Self::new(run?, created?))
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{OWNER} run={} created={}", self.run, self.created)
    }
}

/// A DolphinScheduler access-token string owned by `run`, unique per call (`random` fills it to
/// 40 characters): `carbone2e<run length, hex><run><created><random>`. Two runs, or two trials
/// of one run, never generate the same token; the reaper recognises it by its shape alone
/// (the `r`, `o` and `n` of the prefix never occur in the server's own hex tokens).
pub fn token(run: &str, created: i64, random: &str) -> String {
    let mut t = format!("carbone2e{:x}{run}{created}", run.len());
    t.extend(
        random
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40usize.saturating_sub(t.len())),
    );
    t
}

/// The run id and creation time of a token made by [`token`].
pub fn parse_token(token: &str) -> Option<(&str, i64)> {
    let rest = token.strip_prefix("carbone2e")?;
    let len = usize::from_str_radix(rest.get(..1)?, 16).ok()?;
    let run = rest.get(1..1 + len)?;
    let created = plausible_time(rest.get(1 + len..11 + len)?)?;
    is_run_id(run).then_some((run, created))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const RUN: &str = "1f2e3d4c";
    const T: i64 = 1_795_000_000;

    #[test]
    fn what_is_made_is_recognised_with_its_run() {
        assert_eq!(parse_resource(&resource(RUN, "Two Task DAG")), Some(RUN));
        assert_eq!(resource(RUN, "Two Task DAG"), "e2e-1f2e3d4c-two-task-dag");
        assert_eq!(
            parse_identifier(&identifier(RUN, "round-trip", T)),
            Some((RUN, T))
        );
        assert_eq!(
            parse_object_key(&format!("{}part-1", object_prefix(RUN, "multipart"))),
            Some(RUN)
        );
        assert_eq!(
            Marker::parse(&Marker::new(RUN, T).to_string()),
            Some(Marker::new(RUN, T))
        );
        let tok = token(RUN, T, "abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(tok.len(), 40);
        assert_eq!(parse_token(&tok), Some((RUN, T)));
        assert_ne!(tok, token(RUN, T, "bcdefghijklmnopqrstuvwxyz0123456789"));
    }

    #[rstest]
    #[case::a_teams_project("e2e-orders")]
    #[case::a_teams_project_with_a_suffix("e2e-orders-v2")]
    #[case::uppercase_run("e2e-1F2E3D4C-x")]
    #[case::run_too_short("e2e-abc-x")]
    #[case::no_what("e2e-1f2e3d4c-")]
    fn foreign_resource_names_are_not_ours(#[case] name: &str) {
        assert_eq!(parse_resource(name), None);
    }

    #[rstest]
    #[case::a_teams_schema("e2e_sales_2024")]
    #[case::year_is_not_a_time("e2e_salesteam_q1_2024")]
    #[case::no_time("e2e_1f2e3d4c_round_trip")]
    #[case::time_from_the_future("e2e_1f2e3d4c_x_9999999999")]
    fn foreign_identifiers_are_not_ours(#[case] name: &str) {
        assert_eq!(parse_identifier(name), None);
    }

    #[rstest]
    #[case::someone_elses_words("orders pipeline, owned by team data")]
    #[case::owner_without_run("carbon-e2e created=1795000000")]
    #[case::owner_without_time("carbon-e2e run=1f2e3d4c")]
    #[case::bad_run("carbon-e2e run=orders created=1795000000")]
    #[case::other_owner("carbon-e2e-legacy run=1f2e3d4c created=1795000000")]
    fn foreign_descriptions_are_not_markers(#[case] text: &str) {
        assert_eq!(Marker::parse(text), None);
    }

    #[rstest]
    #[case::server_hex_token("e2e8d3f1c2b4a5968778695a4b3c2d1e0")]
    #[case::short("carbone2e8")]
    #[case::bad_time("carbone2e81f2e3d4c0000000001abc")]
    fn foreign_tokens_are_not_ours(#[case] tok: &str) {
        assert_eq!(parse_token(tok), None);
    }

    #[rstest]
    #[case::eight("1f2e3d4c", true)]
    #[case::twelve("k8s1f2e3d4c0", true)]
    #[case::seven("1f2e3d4", false)]
    #[case::thirteen("k8s1f2e3d4c01", false)]
    #[case::one("a", false)]
    #[case::uppercase("1F2E3D4C", false)]
    #[case::dash("1f2e-3d4c", false)]
    #[case::underscore("1f2e_3d4c", false)]
    #[case::non_ascii("1f2e3d4cé", false)]
    fn run_ids_have_one_shape(#[case] run: &str, #[case] ok: bool) {
        assert_eq!(is_run_id(run), ok);
        // Whatever a run accepts as its id, the reaper recognises in a name.
        assert_eq!(parse_resource(&resource(run, "x")).is_some(), ok);
    }

    #[test]
    fn object_keys_outside_the_root_or_without_a_run_are_not_ours() {
        assert_eq!(parse_object_key("backups/1f2e3d4c/x"), None);
        assert_eq!(parse_object_key("e2e/orders/x"), None);
    }
}
