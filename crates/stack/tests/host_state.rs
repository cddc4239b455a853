//! The host check can fail: an address added to `lo` after the state was taken is named as a
//! change, and is gone from the changes once removed. (`.ci/run` compares the host before
//! `stack up` with the host after `stack down`; this shows that comparison is not blind.)
//!
//! Needs root (it adds and removes 10.250.0.77/32 on `lo`, an address nothing else uses).

use std::process::Command;

use carbon_stack::host::HostState;

const PROBE: &str = "10.250.0.77/32";

fn ip(verb: &str) -> bool {
    Command::new("ip")
        .args(["addr", verb, PROBE, "dev", "lo"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn an_address_left_on_lo_is_named() {
    let before = HostState::now();
    assert!(ip("add"), "adding {PROBE} to lo (needs root)");
    let during = HostState::now().changes_since(&before);
    let removed = ip("del");
    let want = format!("+ address lo {PROBE}");
    assert!(during.contains(&want), "{want} missing from {during:?}");
    assert!(removed, "removing {PROBE} from lo");
    let after = HostState::now().changes_since(&before);
    assert!(!after.iter().any(|c| c.contains(PROBE)), "{after:?}");
}
