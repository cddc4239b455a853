//! Reaching a Service through the API server against the real local control plane (the
//! target's `[kubernetes]`; `carbon-e2e stack up`): the platform's `trino` Service in
//! `data-platform` resolves to its Ready pod, and a port-forward to that pod reaches the real
//! native Trino (kwok forwards the pod port to its loopback port). A Service with no Ready pod
//! fails at once naming the service and what its pods are doing.

use std::time::{Duration, Instant};

use carbon_kube::{KubeClient, ServiceRef};

async fn client() -> KubeClient {
    let target = carbon_config::load().expect("loading the target");
    KubeClient::from_target(&target).await.expect(
        "the target needs [kubernetes] pointing at the local control plane (carbon-e2e stack up)",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_reference_reaches_the_real_server_through_a_port_forward() {
    let kube = client().await;
    let r = ServiceRef::parse("k8s://data-platform/trino:8080").unwrap();
    let (addr, backend) = kube.forward(&r).await.expect("forward");
    assert!(backend.pod.starts_with("trino-coordinator-"), "{backend:?}");
    assert_eq!(
        backend.port, 8080,
        "the named targetPort resolves to the pod's port"
    );
    // No connection reuse: every request is a new connection, so a new port-forward.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut took = Vec::new();
    for _ in 0..5 {
        let t0 = Instant::now();
        let body = http
            .get(format!("http://{addr}/v1/info"))
            .send()
            .await
            .expect("request through the port-forward")
            .text()
            .await
            .expect("body");
        took.push(t0.elapsed());
        assert!(
            body.contains("\"nodeVersion\""),
            "not Trino's /v1/info: {body}"
        );
    }
    took.sort();
    println!(
        "per-request through a new port-forward: median {:?}",
        took[took.len() / 2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_ready_pods_fails_naming_what_its_pods_do() {
    let kube = client().await;
    let r = ServiceRef::parse("k8s://carbon-e2e-broken/pending:80").unwrap();
    let err = kube
        .resolve(&r)
        .await
        .expect_err("no ready pod")
        .to_string();
    assert!(err.contains("k8s://carbon-e2e-broken/pending:80"), "{err}");
    assert!(
        err.contains("no Ready pod") && err.contains("Pending"),
        "{err}"
    );
}
