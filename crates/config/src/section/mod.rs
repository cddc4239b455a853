//! One file per service's section of a target file (`[minio]`, `[trino]`, ...); `[target]`
//! itself, the [`crate::Service`] list and the resolved [`crate::Target`] are in `target.rs`,
//! `[gate]` and `[report]` in `gate.rs`.

pub(crate) mod dolphinscheduler;
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
