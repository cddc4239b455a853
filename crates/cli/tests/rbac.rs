//! Self test of the read-write ClusterRole: the suites that write to the cluster (the `velero`
//! suite's full tier: namespaces, ConfigMaps, Secrets, Deployments, Services, Backups, Restores,
//! DeleteBackupRequests, a storage location) and the platform checks pass when run as
//! `carbon-e2e-readwrite`, the user the local control plane binds to exactly
//! `kind-config/rbac/readonly.yaml` and `readwrite.yaml`. A verb the manifests forgot fails a
//! trial with the 403. (The read-only role is proven by `read_only.rs`.)

mod common;

#[test]
fn the_read_write_role_is_enough_for_every_cluster_trial() {
    let env = carbon_config::Env::from_process();
    let stack = carbon_stack::Stack::open(&env).expect("the local stack's directory");
    let kubeconfig = carbon_stack::readwrite_kubeconfig(&stack);
    assert!(
        kubeconfig.exists(),
        "no {} (the stack issues it: carbon-e2e stack up)",
        kubeconfig.display()
    );
    let out = common::nextest(
        // The suites' trials; not the platform self test, which creates a node of its own.
        "package(suite-velero) | (package(suite-platform) & binary(platform))",
        &common::run_id("rw"),
    )
    .env("E2E_STRICT", "1")
    .env("E2E_KUBERNETES_KUBECONFIG", &kubeconfig)
    .output()
    .expect("cargo nextest runs");
    let text = common::console(&out);
    assert!(
        out.status.success(),
        "a trial failed as carbon-e2e-readwrite (kind-config/rbac/ lacks what it names):\n{text}"
    );
    assert!(
        text.contains("velero::full::"),
        "the velero suite's full tier must have run:\n{text}"
    );
}
