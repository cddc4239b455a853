//! What the stack may change on the host, as one comparable set of lines: network links and
//! addresses, network namespaces, mounts, iptables rules, the sysctls the real node's kubelet
//! and bridge set, the fixed paths its programs use, the kubelet's cgroups. `stack host --save`
//! before `stack up` and `stack host --compare` after `stack down` show that the stack left the
//! host as it found it (`.ci/run` does both).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::services::kube::node::{FIXED_PATHS, KUBEPODS, SYSCTLS};

/// The host's state, one line per fact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    /// `link lo`, `address lo 127.0.0.1/8`, `mount /proc proc`, `sysctl kernel/panic=1`, ...
    pub facts: BTreeSet<String>,
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

impl HostState {
    /// Reads the host now.
    #[must_use]
    pub fn now() -> Self {
        let mut facts = BTreeSet::new();
        // `2: eth0@if3: <...>`: the name without the peer.
        for l in output("ip", &["-o", "link"]).lines() {
            if let Some(name) = l.split(':').nth(1) {
                let name = name.trim().split('@').next().unwrap_or_default();
                facts.insert(format!("link {name}"));
            }
        }
        // `1: lo    inet 127.0.0.1/8 scope host lo ...`
        for l in output("ip", &["-o", "addr"]).lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if let (Some(dev), Some(addr)) = (f.get(1), f.get(3)) {
                facts.insert(format!("address {dev} {addr}"));
            }
        }
        for l in std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
        {
            // `id parent major:minor root mountpoint options ... - fstype source ...`
            let point = l.split(' ').nth(4).unwrap_or_default();
            let fstype = l
                .split(" - ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .unwrap_or_default();
            facts.insert(format!("mount {point} {fstype}"));
        }
        for l in output("iptables-save", &[]).lines() {
            if !l.starts_with('#') && !l.starts_with(':') && !l.is_empty() {
                facts.insert(format!("iptables {l}"));
            }
            // Chains: `:NAME POLICY [counters]`, without the counters.
            if let Some(chain) = l.strip_prefix(':') {
                let mut f = chain.split_whitespace();
                let (name, policy) = (f.next().unwrap_or_default(), f.next().unwrap_or_default());
                facts.insert(format!("iptables chain {name} {policy}"));
            }
        }
        for s in SYSCTLS {
            let v = std::fs::read_to_string(Path::new("/proc/sys").join(s)).unwrap_or_default();
            facts.insert(format!("sysctl {s}={}", v.trim()));
        }
        for p in FIXED_PATHS
            .iter()
            .chain(&["/run/netns", "/opt/containerd", "/etc/cni"])
        {
            if Path::new(p).exists() {
                facts.insert(format!("path {p}"));
            }
        }
        if let Ok(d) = std::fs::read_dir("/run/netns") {
            for e in d.flatten() {
                facts.insert(format!("netns {}", e.file_name().to_string_lossy()));
            }
        }
        for e in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().join(KUBEPODS).exists() {
                facts.insert(format!("cgroup {}/{KUBEPODS}", e.path().display()));
            }
        }
        Self { facts }
    }

    /// What differs from `before`: `- fact` gone, `+ fact` new. Empty when the same.
    #[must_use]
    pub fn changes_since(&self, before: &Self) -> Vec<String> {
        let gone = before
            .facts
            .difference(&self.facts)
            .map(|f| format!("- {f}"));
        let new = self
            .facts
            .difference(&before.facts)
            .map(|f| format!("+ {f}"));
        gone.chain(new).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_what_went_and_what_came() {
        let before = HostState {
            facts: ["link lo", "sysctl kernel/panic=1"]
                .map(String::from)
                .into(),
        };
        let after = HostState {
            facts: ["link lo", "link carbon0", "sysctl kernel/panic=10"]
                .map(String::from)
                .into(),
        };
        assert_eq!(
            after.changes_since(&before),
            [
                "- sysctl kernel/panic=1",
                "+ link carbon0",
                "+ sysctl kernel/panic=10"
            ]
        );
        assert!(before.changes_since(&before).is_empty());
    }

    #[test]
    fn the_host_is_read() {
        let now = HostState::now();
        assert!(now.facts.contains("link lo"), "{:?}", now.facts);
        assert!(
            now.facts.iter().any(|f| f.starts_with("mount / ")),
            "{:?}",
            now.facts
        );
        assert!(
            now.facts
                .iter()
                .any(|f| f.starts_with("sysctl kernel/panic="))
        );
    }
}
