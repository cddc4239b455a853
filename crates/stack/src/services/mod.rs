//! One declaration per service of the local stack.

pub(crate) mod dolphinscheduler;
pub(crate) mod kube;
mod objectstore;
mod postgres;
mod trino;
mod victoriametrics;

use crate::Service;

/// The services, in start order.
pub(crate) fn all() -> Vec<Box<dyn Service>> {
    vec![
        Box::new(postgres::Postgres),
        Box::new(objectstore::VersityGw),
        Box::new(victoriametrics::VictoriaMetrics),
        Box::new(victoriametrics::VmAgent),
        Box::new(trino::Trino),
        Box::new(dolphinscheduler::NetnsForward),
        Box::new(dolphinscheduler::DolphinScheduler),
        Box::new(kube::Kine),
        Box::new(kube::ApiServer),
        Box::new(kube::ControllerManager),
        Box::new(kube::Scheduler),
        Box::new(kube::kwok::Kwok),
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
