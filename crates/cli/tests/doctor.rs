//! `doctor` against the local stack walks the registry: every declared service the local
//! target configures answers its probe, Grafana (live-only) is skipped with its reason, and
//! every capability is probed; then with one service pointed at a closed port, doctor fails
//! and names that service and its endpoint. Needs the stack up (`carbon-e2e validate` brings
//! it up before running the tests).

use carbon_config::{Capability, Service};

mod common;

/// `doctor --message-format json` with `env`; its exit status and the JSON it printed.
fn doctor(env: &[(&str, &str)]) -> (bool, serde_json::Value, String) {
    let mut cmd = common::carbon_e2e(&["doctor", "--message-format", "json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("carbon-e2e doctor runs");
    let console = common::console(&out);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}):\n{console}"));
    (out.status.success(), json, console)
}

fn status<'a>(json: &'a serde_json::Value, name: &str) -> (&'a str, &'a str) {
    let entry = json["services"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["service"] == name))
        .unwrap_or_else(|| panic!("doctor shows no `{name}`: {json:#}"));
    (
        entry["status"].as_str().unwrap_or_default(),
        entry["detail"].as_str().unwrap_or_default(),
    )
}

#[test]
fn doctor_probes_every_declared_service_and_names_one_that_is_down() {
    let (healthy, json, console) = doctor(&[]);
    assert!(healthy, "doctor failed on the local stack:\n{console}");
    for service in Service::ALL {
        let (state, detail) = status(&json, service.name());
        let want = if service == Service::Grafana {
            "skip"
        } else {
            "ok"
        };
        assert_eq!(state, want, "{}: {detail}", service.name());
    }
    for capability in Capability::ALL {
        let (state, detail) = status(&json, capability.name());
        assert_eq!(state, "ok", "{}: {detail}", capability.name());
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let (healthy, json, console) = doctor(&[("E2E_SUPERSET_URL", &dead)]);
    assert!(!healthy, "doctor passed with Superset down:\n{console}");
    let (state, detail) = status(&json, "superset");
    assert!(
        state == "fail" && detail.contains(&format!("127.0.0.1:{port}")),
        "superset: {state} {detail}"
    );
    let (state, detail) = status(&json, "trino");
    assert_eq!(state, "ok", "the others still pass: trino {detail}");
}
