//! One declaration per service of the local stack.

pub(crate) mod dolphinscheduler;
pub(crate) mod iceberg_rest;
pub(crate) mod kube;
mod loki;
pub(crate) mod objectstore;
mod postgres;
mod superset;
pub(crate) mod tls_front;
mod trino;
mod velero;
mod victoriametrics;
mod vmalert;

use crate::LocalServer;

/// The services, in start order.
pub(crate) fn all() -> Vec<Box<dyn LocalServer>> {
    vec![
        Box::new(postgres::Postgres),
        Box::new(objectstore::Minio),
        Box::new(objectstore::VersityGw),
        Box::new(tls_front::TlsFront),
        Box::new(victoriametrics::VictoriaMetrics),
        Box::new(victoriametrics::VmAgent),
        Box::new(iceberg_rest::IcebergRest),
        Box::new(trino::Trino),
        Box::new(superset::Superset),
        Box::new(dolphinscheduler::NetnsForward),
        Box::new(dolphinscheduler::DolphinScheduler),
        Box::new(loki::Loki),
        Box::new(vmalert::VmAlert),
        Box::new(kube::Kine),
        Box::new(kube::ApiServer),
        Box::new(kube::ControllerManager),
        Box::new(kube::Scheduler),
        Box::new(kube::node::Containerd),
        Box::new(kube::node::Kubelet),
        // After the control plane: it discovers the real node's pods through the API server.
        Box::new(loki::Promtail),
        Box::new(kube::kwok::Kwok),
        Box::new(velero::Velero),
    ]
}

/// The uid and gid a service runs as: root's services run as `user` (PostgreSQL refuses to run
/// as root); anyone else runs them as themselves.
pub(crate) fn run_as(user: &str) -> Option<(u32, u32)> {
    if crate::status::current_uid() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&user))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
            .flatten()
    })
}

/// The stack's PostgreSQL port.
pub(crate) fn postgres_port() -> u16 {
    postgres::PORT
}

/// The directory the stack's log shipper watches for files trials write.
pub(crate) fn loki_shipper_dir(stack_dir: &std::path::Path) -> std::path::PathBuf {
    loki::shipper_dir(stack_dir)
}

/// Scrape jobs for vmagent beyond VictoriaMetrics and itself: the stack's other services that
/// expose Prometheus metrics (so the alert rules watch them too).
pub(crate) fn extra_scrape_jobs() -> String {
    [
        ("loki", loki::HTTP_PORT),
        ("promtail", loki::PROMTAIL_PORT),
        ("vmalert", vmalert::PORT),
    ]
    .iter()
    .map(|(job, port)| {
        format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n        labels: {{stack: carbon-e2e}}\n"
        )
    })
    .collect()
}
