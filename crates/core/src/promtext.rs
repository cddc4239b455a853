//! Reading one sample's labels out of a Prometheus text exposition (`/metrics`): how the
//! clients read a server's build information (`vm_app_version`, `loki_build_info`).

use std::collections::BTreeMap;

/// The labels of the first sample of `metric` in `text` (Prometheus text format 0.0.4), or
/// `None` when no sample of that name is there. Label values are unescaped (`\"`, `\\`, `\n`);
/// `# HELP`/`# TYPE` lines and samples of other metrics (`metric_total` for `metric`) are
/// skipped. A sample without labels has an empty map.
pub fn sample_labels(text: &str, metric: &str) -> Option<BTreeMap<String, String>> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(metric)?;
        match rest.chars().next() {
            Some('{') => parse_labels(&rest[1..]),
            Some(' ' | '\t') | None => Some(BTreeMap::new()),
            Some(_) => None,
        }
    })
}

/// `name="value",...}` up to the closing brace; `None` when malformed.
fn parse_labels(mut rest: &str) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.starts_with('}') {
            return Some(labels);
        }
        let (name, after) = rest.split_once('=')?;
        let mut chars = after.trim_start().strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.trim().to_string(), value);
        rest = &after.trim_start()[1 + end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::loki_1_6(
        "# HELP loki_build_info A metric with a constant '1' value labeled by version, revision, branch, and goversion from which loki was built.\n# TYPE loki_build_info gauge\nloki_build_info{branch=\"HEAD\",goversion=\"go1.14.2\",revision=\"v1.6.1\",version=\"1.6.1\"} 1\n",
        "loki_build_info",
        Some(Some("1.6.1"))
    )]
    #[case::vm_release(
        "vm_app_version{version=\"victoria-metrics-20240201-143207-tags-v1.97.1-0-gd3d5c5b7a\", short_version=\"v1.97.1\"} 1\n",
        "vm_app_version",
        Some(Some("victoria-metrics-20240201-143207-tags-v1.97.1-0-gd3d5c5b7a"))
    )]
    #[case::vm_unstamped(
        "vm_app_version{version=\"\", short_version=\"\"} 1\n",
        "vm_app_version",
        Some(Some(""))
    )]
    #[case::escaped(
        "x_info{version=\"a\\\"b,c\\\\d\",other=\"}\"} 1\n",
        "x_info",
        Some(Some("a\"b,c\\d"))
    )]
    #[case::other_metric_with_the_prefix("loki_build_info_total 3\n", "loki_build_info", None)]
    #[case::absent("go_info{version=\"go1.22\"} 1\n", "vm_app_version", None)]
    #[case::no_labels("x_info 1\n", "x_info", Some(None))]
    #[case::unterminated("x_info{version=\"1.0 1\n", "x_info", None)]
    fn the_first_sample_s_labels_are_read(
        #[case] text: &str,
        #[case] metric: &str,
        #[case] version: Option<Option<&str>>,
    ) {
        let labels = sample_labels(text, metric);
        assert_eq!(
            labels
                .as_ref()
                .map(|l| l.get("version").map(String::as_str)),
            version
        );
    }
}
