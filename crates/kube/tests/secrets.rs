//! Credentials from Secrets against the real local control plane: a Secret this test creates
//! (named with a unique suffix, deleted at the end) is read into the never-printed type; a
//! missing Secret and a missing key each fail naming what is missing.

use carbon_kube::k8s_openapi::api::core::v1::Secret as K8sSecret;
use carbon_kube::kube::api::{Api, DeleteParams, PostParams};
use carbon_kube::{KubeClient, SecretRef};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_key_is_read_and_missing_ones_are_named() {
    let target = carbon_config::load().expect("loading the target");
    let kube = KubeClient::from_target(&target)
        .await
        .expect("the target needs [kubernetes] (carbon-e2e stack up)");
    let name = format!(
        "e2e-secret-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let api: Api<K8sSecret> = Api::namespaced(kube.client(), "data-platform");
    let mut s = K8sSecret::default();
    s.metadata.name = Some(name.clone());
    s.string_data = Some([("rootPassword".to_string(), "s3cr3t-value".to_string())].into());
    api.create(&PostParams::default(), &s)
        .await
        .expect("create");

    let got = kube
        .secret(&SecretRef::parse(&format!("k8s:data-platform/{name}#rootPassword")).unwrap())
        .await;
    let missing_key = kube
        .secret(&SecretRef::parse(&format!("k8s:data-platform/{name}#nope")).unwrap())
        .await;
    let missing = kube
        .secret(&SecretRef::parse("k8s:data-platform/no-such-secret-e2e#k").unwrap())
        .await;
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("cleanup");

    let got = got.expect("read");
    assert_eq!(got.expose(), "s3cr3t-value");
    assert_eq!(format!("{got} {got:?}"), "*** Secret(***)");
    let e = missing_key.unwrap_err().to_string();
    assert!(
        e.contains("has no key nope") && e.contains("rootPassword"),
        "{e}"
    );
    assert!(!e.contains("s3cr3t"), "{e}");
    let e = missing.unwrap_err().to_string();
    assert!(
        e.contains("data-platform/no-such-secret-e2e does not exist"),
        "{e}"
    );
}
