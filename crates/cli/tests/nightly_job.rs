//! The nightly's manifests (`kind-config/nightly/`) on the local control plane, which applied
//! them at `stack up` (the real API server validated every object; the CronJob suspended there
//! so that nothing runs on a schedule):
//!
//! 1. the CronJob is what a nightly needs: never two runs at once, a starting deadline,
//!    history limits, a Job deadline above one trial's whole budget, a termination grace at
//!    least the cleanup budget of the target it mounts, the runner image by a tag (not
//!    `latest`), non-root; and its ConfigMap's target loads, read-only, opting in only to
//!    pushing results;
//! 2. its ServiceAccount may read what a read-only run reads and nothing more (the API
//!    server's own SubjectAccessReview answers);
//! 3. a Job made from the CronJob (as `kubectl create job --from=cronjob/…` does) is accepted,
//!    and the real Job controller creates its pod under the CronJob's ServiceAccount with the
//!    token automounted. The pod is held Pending by a node selector of this test: the only
//!    node here is kwok's simulated one, which would only pretend to run it; running the image
//!    for real waits for the real node (crates/cli/tests/archive.rs runs it under runc).
//!
//! Needs the local stack up.

use std::collections::BTreeMap;
use std::time::Duration;

use carbon_core::wait::{Check, wait_until};
use carbon_kube::k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use carbon_kube::k8s_openapi::api::batch::v1::{CronJob, Job};
use carbon_kube::k8s_openapi::api::core::v1::{ConfigMap, Pod};
use carbon_kube::k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use carbon_kube::kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use carbon_kube::kube::{Client, Resource as _};

mod common;

const NS: &str = "carbon-e2e-nightly";
const NAME: &str = "carbon-e2e-nightly";
const SA: &str = "system:serviceaccount:carbon-e2e-nightly:carbon-e2e-nightly";

/// Whether the nightly's ServiceAccount may `verb` `resource` (in `namespace`).
async fn allowed(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(SA.into()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{NS}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: namespace.map(str::to_string),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let out = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("a SubjectAccessReview");
    out.status.is_some_and(|s| s.allowed)
}

#[test]
fn the_nightly_cronjob_is_accepted_and_makes_a_job_as_its_service_account() {
    let target = carbon_config::load().expect("the local target loads");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let run_id = common::run_id("cron");
    rt.block_on(async {
        let kube = carbon_kube::KubeClient::from_target(&target)
            .await
            .expect("the stack's cluster");
        let client = kube.client();

        // 1. The CronJob and its target.
        let cron = Api::<CronJob>::namespaced(client.clone(), NS)
            .get(NAME)
            .await
            .expect("the nightly's CronJob (kind-config/nightly, applied at stack up)");
        let spec = cron.spec.as_ref().expect("a spec");
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
        assert!(spec.starting_deadline_seconds.is_some_and(|s| s > 0));
        assert!(spec.successful_jobs_history_limit.is_some() && spec.failed_jobs_history_limit.is_some());
        assert_eq!(spec.suspend, Some(true), "suspended on the local control plane");
        let job_spec = spec.job_template.spec.clone().expect("a job template");
        let pod = job_spec.template.spec.clone().expect("a pod template");
        assert_eq!(pod.service_account_name.as_deref(), Some(NAME));
        let runner = &pod.containers[0];
        let image = runner.image.as_deref().unwrap_or_default();
        assert!(
            image.contains(':') && !image.ends_with(":latest"),
            "the runner image by a tag: {image}"
        );
        assert_eq!(runner.image_pull_policy.as_deref(), Some("IfNotPresent"));

        let cm = Api::<ConfigMap>::namespaced(client.clone(), NS)
            .get("carbon-e2e-nightly-target")
            .await
            .expect("the nightly's target ConfigMap");
        let toml = cm
            .data
            .as_ref()
            .and_then(|d| d.get("nightly.toml"))
            .expect("nightly.toml in the ConfigMap")
            .clone();
        let dir = std::env::temp_dir().join(format!("carbon-e2e-{run_id}"));
        std::fs::create_dir_all(&dir).expect("a directory");
        let file = dir.join("nightly.toml");
        std::fs::write(&file, toml).expect("writing the target");
        let env = carbon_config::Env::from_pairs([("E2E_TARGET", file.to_string_lossy().as_ref())]);
        let paths = carbon_config::Paths::from_env(&env);
        let nightly = carbon_config::load_with(&env, &paths).expect("the nightly's target loads");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(nightly.settings.mode(), carbon_config::Mode::ReadOnly);
        assert_eq!(
            nightly.settings.opt_in,
            Some(vec!["push-results".to_string()])
        );
        let grace = pod.termination_grace_period_seconds.unwrap_or(30);
        let budget = i64::try_from(nightly.settings.cleanup_budget_secs).unwrap_or(i64::MAX);
        assert!(
            grace >= budget,
            "terminationGracePeriodSeconds {grace} must leave the cleanup budget ({budget} s)"
        );
        let deadline = job_spec.active_deadline_seconds.expect("activeDeadlineSeconds");
        let trial = i64::try_from(
            nightly.settings.trial_timeout_secs + nightly.settings.cleanup_budget_secs,
        )
        .unwrap_or(i64::MAX);
        assert!(
            deadline > trial && deadline < 24 * 3600,
            "activeDeadlineSeconds {deadline}: above one trial's budget ({trial} s), under a day"
        );

        // 2. Its RBAC: reads, and not one write.
        for (verb, group, resource, ns) in [
            ("list", "", "pods", None),
            ("get", "", "nodes", None),
            ("list", "apps", "deployments", Some("data-platform")),
            ("list", "velero.io", "backups", Some("velero")),
            ("create", "", "pods/portforward", Some("data-platform")),
        ] {
            assert!(
                allowed(&client, verb, group, resource, ns).await,
                "the nightly may not {verb} {resource}"
            );
        }
        for (verb, group, resource, ns) in [
            ("create", "", "namespaces", None),
            ("delete", "", "pods", Some("data-platform")),
            ("get", "", "secrets", Some("data-platform")),
            ("create", "batch", "jobs", Some(NS)),
            ("create", "velero.io", "backups", Some("velero")),
        ] {
            assert!(
                !allowed(&client, verb, group, resource, ns).await,
                "the nightly's ServiceAccount may {verb} {resource}: more than a read-only run needs"
            );
        }

        // 3. A Job from the CronJob, held off kwok's pretend node.
        let name = format!("{NAME}-manual-{run_id}");
        let mut template = job_spec.clone();
        if let Some(p) = template.template.spec.as_mut() {
            p.node_selector = Some(BTreeMap::from([(
                "carbon-e2e/selftest".to_string(),
                "no-such-node".to_string(),
            )]));
        }
        let job = Job {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(NS.into()),
                annotations: Some(BTreeMap::from([(
                    "cronjob.kubernetes.io/instantiate".to_string(),
                    "manual".to_string(),
                )])),
                labels: Some(BTreeMap::from([
                    ("carbon-e2e/run".to_string(), run_id.clone()),
                    ("carbon-e2e/owner".to_string(), "carbon-e2e".to_string()),
                ])),
                owner_references: Some(vec![OwnerReference {
                    api_version: CronJob::api_version(&()).into_owned(),
                    kind: CronJob::kind(&()).into_owned(),
                    name: NAME.into(),
                    uid: cron.metadata.uid.clone().expect("the CronJob's uid"),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                ..ObjectMeta::default()
            },
            spec: Some(template),
            status: None,
        };
        let jobs = Api::<Job>::namespaced(client.clone(), NS);
        jobs.create(&PostParams::default(), &job)
            .await
            .expect("the API server accepts a Job made from the CronJob");
        let pods = Api::<Pod>::namespaced(client.clone(), NS);
        let selector = format!("job-name={name}");
        let seen = wait_until("the Job controller's pod, unschedulable", Duration::from_secs(60), || {
            let pods = pods.clone();
            let lp = ListParams::default().labels(&selector);
            async move {
                let list = pods.list(&lp).await?;
                let Some(p) = list.items.into_iter().next() else {
                    return Ok::<_, carbon_kube::kube::Error>(Check::Pending("no pod yet".into()));
                };
                let unschedulable = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| {
                        c.iter().any(|c| {
                            c.type_ == "PodScheduled"
                                && c.status == "False"
                                && c.reason.as_deref() == Some("Unschedulable")
                        })
                    });
                Ok(if unschedulable {
                    Check::Ready(p)
                } else {
                    Check::Pending(format!(
                        "pod {} not reported unschedulable yet",
                        p.metadata.name.unwrap_or_default()
                    ))
                })
            }
        })
        .await;
        let _ = jobs
            .delete(&name, &DeleteParams::background())
            .await;
        let pod = seen.expect("the Job controller created the pod");
        let spec = pod.spec.expect("a pod spec");
        assert_eq!(spec.service_account_name.as_deref(), Some(NAME));
        assert!(
            spec.volumes
                .unwrap_or_default()
                .iter()
                .any(|v| v.name.starts_with("kube-api-access-")),
            "the ServiceAccount's token is automounted"
        );
        assert_eq!(spec.containers[0].image.as_deref(), Some(image));
        println!("Job {name}: pod created by the Job controller as {SA}, held unschedulable");
    });
}
