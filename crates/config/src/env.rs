//! A snapshot of the environment, so that precedence can be tested without touching the process.
#![allow(clippy::disallowed_methods)] // the one place that reads the process environment

use std::collections::BTreeMap;

/// A snapshot of environment variables: the process's, or one a test builds. Its `Debug` shows
/// the variables' names only: values include credentials.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("keys", &self.vars.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Takes a snapshot of the process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// Builds an environment from pairs, for tests.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `key`, if set and not empty.
    pub fn get(&self, key: &str) -> Option<String> {
        self.vars.get(key).filter(|v| !v.is_empty()).cloned()
    }

    /// All variables whose name starts with `prefix`.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_string()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Returns a copy where `lower` fills in what this environment does not set.
    pub fn layered_over(&self, lower: &Env) -> Env {
        let mut vars = lower.vars.clone();
        vars.extend(self.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        Env { vars }
    }

    /// Sets `key` (a credential the harness resolved, e.g. from a Kubernetes Secret).
    pub(crate) fn set(&mut self, key: &str, value: &str) {
        self.vars.insert(key.to_string(), value.to_string());
    }

    /// Parses `KEY=VALUE` lines (blank lines and `#` comments skipped), as the stack writes them.
    pub fn parse_env_file(text: &str) -> Env {
        let vars = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Env { vars }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_never_values() {
        let env = Env::from_pairs([("CARBON_STACK_PG_PASSWORD", "hunter2")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("CARBON_STACK_PG_PASSWORD"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
