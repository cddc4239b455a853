//! The local cluster's simulated pods (those on kwok's node) hold still: no kwok stage rewrites
//! a pod in a loop.
//!
//! A stage whose selector still matches the pod after its own patch is chosen again at once;
//! without a delay that is a hot loop. The ImagePullBackOff stage of
//! `kind-config/local/stages.yaml` was one (142 status writes a second for the whole life of the
//! stack, kube-apiserver above one core, every other server on the machine starved). This
//! watches the namespaces where the stack's stages apply for a window and fails naming any pod
//! written more often than a kubelet would (its crash-loop and image-pull back-offs write every
//! 20 s or more).
//!
//! Needs the local stack up.

use std::collections::BTreeMap;
use std::time::Duration;

use carbon_kube::k8s_openapi::api::core::v1::Pod;
use carbon_kube::kube::api::{Api, WatchEvent, WatchParams};
use futures::StreamExt as _;

/// kwok's node: only its pods are written by stages.
const KWOK_NODE: &str = "carbon-kwok-0";
/// How long to watch.
const WINDOW: Duration = Duration::from_secs(10);
/// The most writes of one pod a window may hold: a back-off of 20 s or more writes at most
/// once in 10 s; twice leaves room for a restart landing in the window.
const MOST: usize = 2;

#[test]
fn no_simulated_pod_is_rewritten_in_a_loop() {
    let target = carbon_config::load().expect("the local target loads");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let kube = carbon_kube::KubeClient::from_target(&target)
            .await
            .expect("the stack's cluster");
        // The platform's namespaces at once, each watched for the window. (The broken
        // namespace's failing pods run on the real node: their writes are a kubelet's.)
        let watches = ["data-platform", "monitoring"].map(|ns| {
            let pods: Api<Pod> = Api::namespaced(kube.client(), ns);
            async move {
                let list = pods
                    .list_metadata(&Default::default())
                    .await
                    .expect("listing pods");
                // A namespace without pods would make the watch prove nothing.
                assert!(
                    !list.items.is_empty(),
                    "namespace {ns} holds no pod: the stack's layout is missing (stack up)"
                );
                let version = list
                    .metadata
                    .resource_version
                    .expect("a list's resourceVersion");
                let stream = pods
                    .watch(
                        &WatchParams::default().timeout(u32::try_from(WINDOW.as_secs()).unwrap_or(10)),
                        &version,
                    )
                    .await
                    .expect("watching pods");
                // The watch ends by itself at the server-side timeout; the client-side bound
                // only guards a server that does not end it.
                let events = tokio::time::timeout(WINDOW * 2, stream.collect::<Vec<_>>())
                    .await
                    .unwrap_or_default();
                events
                    .into_iter()
                    .filter_map(|e| match e {
                        Ok(WatchEvent::Modified(p))
                            if p.spec.as_ref().and_then(|s| s.node_name.as_deref())
                                == Some(KWOK_NODE) =>
                        {
                            Some(format!("{ns}/{}", p.metadata.name.unwrap_or_default()))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            }
        });
        let mut writes: BTreeMap<String, usize> = BTreeMap::new();
        for pod in futures::future::join_all(watches).await.into_iter().flatten() {
            *writes.entry(pod).or_default() += 1;
        }
        let looping: Vec<String> = writes
            .iter()
            .filter(|(_, n)| **n > MOST)
            .map(|(pod, n)| format!("{pod}: {n} writes in {WINDOW:?}"))
            .collect();
        println!("pod writes in {WINDOW:?}: {writes:?}");
        assert!(
            looping.is_empty(),
            "a kwok stage rewrites these pods in a loop (give it a delay, or a selector its own patch stops matching):\n{}",
            looping.join("\n")
        );
    });
}
