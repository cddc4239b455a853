//! One file per service's section of a target file (`[minio]`, `[trino]`, ...); `[target]`
//! itself, the [`crate::Service`] list and the resolved [`crate::Target`] are in `target.rs`,
//! `[gate]` and `[report]` in `gate.rs`.
//!
//! Each service section declares, once and beside its fields, what the rest of the program
//! needs to know of it ([`ServiceSection`]): the locations it names, its credential settings
//! and its TLS settings. `Target` lists the sections once (`service_sections!` in
//! `target.rs`); the credential scrubber, `k8s://` reach, the load checks and every HTTP
//! client's construction iterate that list.

use std::path::Path;

use url::Url;

pub(crate) mod dashboards;
pub(crate) mod dolphinscheduler;
pub(crate) mod entrypoints;
pub(crate) mod grafana;
pub(crate) mod kubernetes;
pub(crate) mod loki;
pub(crate) mod minio;
pub(crate) mod platform;
pub(crate) mod superset;
pub(crate) mod trino;
pub(crate) mod velero;
pub(crate) mod victoriametrics;
pub(crate) mod vmalert;

/// What a service's section of a target file declares about itself.
pub trait ServiceSection: std::fmt::Debug + Send + Sync {
    /// The section's name in a target file: `minio`, `trino`, ...
    fn name(&self) -> &'static str;
    /// How its clients trust the server's certificate (no default: every section says).
    fn tls(&self) -> Tls<'_>;
    /// Its credential settings, as (dotted key, environment variable or `k8s:` Secret
    /// reference): resolved by the clients, read from Secrets by `k8s://` reach, scrubbed from
    /// every output. Default: none (a section reached through the kubeconfig).
    fn credentials(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
    /// The service locations it names, as (dotted key, URL): checked when the target loads,
    /// shown by `doctor`, and rewritten when a `k8s://` reference is port-forwarded. Default:
    /// none.
    fn urls_mut(&mut self) -> Vec<(&'static str, &mut Url)> {
        Vec::new()
    }
}

/// How a section's clients trust the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls<'a> {
    /// The section's own `ca_file` (`None`: the `[target] ca_file` default), then the system
    /// store and the bundled roots. The key is the setting's dotted name.
    CaFile {
        /// The setting's dotted name, e.g. `trino.ca_file`.
        key: &'static str,
        /// Its value, as written (relative to the target file).
        file: Option<&'a Path>,
    },
    /// The cluster's CA from the kubeconfig the `[kubernetes]` section names.
    Kubeconfig,
}
