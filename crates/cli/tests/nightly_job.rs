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
//! 3. a Job made from the CronJob (as `kubectl create job --from=cronjob/…` does) runs the
//!    runner image to completion on the stack's real node (kubelet, containerd, runc): the
//!    image is written by `carbon-e2e archive` and `carbon-e2e image` under the CronJob's own
//!    image name and imported into the node's containerd (no registry); the pod runs as the
//!    CronJob's ServiceAccount with its automounted token and only the manifest's RBAC, runs
//!    the CronJob's own command (a read-only smoke nightly, gated, results pushed), and leaves
//!    its report in the `reports` volume. What the test
//!    changes for the local cluster, and why: the pod is placed on the real node (its
//!    selector and taint), uses the host's network with the API server's address
//!    (`KUBERNETES_SERVICE_HOST=127.0.0.1`: no kube-proxy or cluster DNS here), mounts a
//!    target of the local stack's services on loopback instead of the platform's Service DNS
//!    names, gets the stack's credentials through the Secret the CronJob already names
//!    (`carbon-e2e-nightly-credentials`), and keeps the reports in a directory of its own on
//!    the node's host where the manifest says to use a PersistentVolumeClaim (a kubelet
//!    removes an emptyDir when the pod ends).
//!
//! Needs the local stack up.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use carbon_config::FromTarget as _;
use carbon_victoriametrics::VmClient;

use carbon_core::wait::{Check, wait_until};
use carbon_kube::k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use carbon_kube::k8s_openapi::api::batch::v1::{CronJob, Job};
use carbon_kube::k8s_openapi::api::core::v1::{
    ConfigMap, EnvVar, HostPathVolumeSource, Pod, Secret, Toleration,
};
use carbon_kube::k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use carbon_kube::kube::api::{Api, DeleteParams, ListParams, LogParams, ObjectMeta, PostParams};
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
fn the_nightly_cronjob_is_accepted_and_its_job_runs_the_runner_on_the_real_node() {
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

        // 3. A Job from the CronJob runs the runner image on the real node.
        let outcome = real_job(&kube, &cron, job_spec, image, &run_id).await;
        let cleanup = cleanup(&kube, &run_id).await;
        let report = outcome.unwrap_or_else(|e| panic!("{e}"));
        cleanup.unwrap_or_else(|e| panic!("cleanup: {e}"));
        println!("{report}");
    });
}

/// Everything part 3 creates carries this run's labels; this removes it (the Job with its pod,
/// the target ConfigMap, the credentials Secret), its files and the run's pushed series.
async fn cleanup(kube: &carbon_kube::KubeClient, run_id: &str) -> Result<(), String> {
    let client = kube.client();
    let lp = ListParams::default().labels(&format!("carbon-e2e/run={run_id}"));
    let bg = DeleteParams::background();
    let jobs = Api::<Job>::namespaced(client.clone(), NS);
    jobs.delete_collection(&bg, &lp)
        .await
        .map_err(|e| format!("delete the run's Jobs: {e}"))?;
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .delete_collection(&bg, &lp)
        .await
        .map_err(|e| format!("delete the run's ConfigMaps: {e}"))?;
    Api::<Secret>::namespaced(client.clone(), NS)
        .delete_collection(&bg, &lp)
        .await
        .map_err(|e| format!("delete the run's Secrets: {e}"))?;
    // The runner, the image and the reports directory.
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("carbon-e2e-{run_id}")));
    let target = carbon_config::load().map_err(|e| e.to_string())?;
    let vm = VmClient::from_target(&target).map_err(|e| e.to_string())?;
    vm.delete_series(&format!(
        "{{__name__=~\"carbon_e2e_.+\",target=\"{JOB_TARGET}\"}}"
    ))
    .await
    .map_err(|e| format!("delete the pushed series: {e}"))
}

/// The name of the pushed results' `target` label: the target file's stem.
const JOB_TARGET: &str = "nightly";

/// The credential variables the local stack's sections name (`*_env`), which the Job gets
/// from the Secret the CronJob names.
const CREDENTIALS: [&str; 5] = [
    "CARBON_STACK_S3_ACCESS_KEY",
    "CARBON_STACK_S3_SECRET_KEY",
    "CARBON_STACK_SUPERSET_PASSWORD",
    "CARBON_STACK_DS_PASSWORD",
    "CARBON_STACK_DS_DATABASE_URL",
];

/// The nightly's target for the local stack seen from a pod on the real node with the host's
/// network: every service section of `.config/targets/local.toml` (services on loopback,
/// credentials by variable), the cluster through the pod's own ServiceAccount, read-only and
/// opting in to the one write a nightly makes, as `kind-config/nightly/target.yaml` does.
fn local_nightly_target() -> String {
    let mut text = String::from(
        "[target]\nkind = \"cluster\"\ndescription = \"the nightly, run as a Job on the local stack's real node\"\nopt_in = [\"push-results\"]\nrequest_timeout_secs = 10\n\n[kubernetes]\nin_cluster = true\n\n",
    );
    for section in [
        "minio",
        "victoriametrics",
        "trino",
        "superset",
        "dolphinscheduler",
        "loki",
        "vmalert",
        "platform",
        "velero",
    ] {
        text.push_str(&common::local_section(section));
        text.push('\n');
    }
    // The local layout's pod count (as local.toml), and the nightly's own gate setting
    // (kind-config/nightly/target.yaml): a read-only run verifies no restore.
    text.push_str("[gate.running_pods]\ntarget = 12.0\n\n[gate.backups]\nrequired = false\n");
    text
}

/// The pods of a Job.
async fn job_pods(client: &Client, name: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), NS)
        .list(&ListParams::default().labels(&format!("job-name={name}")))
        .await
        .map(|l| l.items)
        .unwrap_or_default()
}

/// Part 3: writes and imports the image, runs a Job made from the CronJob on the real node,
/// and checks what it left; returns the evidence as text.
async fn real_job(
    kube: &carbon_kube::KubeClient,
    cron: &CronJob,
    mut job_spec: carbon_kube::k8s_openapi::api::batch::v1::JobSpec,
    image: &str,
    run_id: &str,
) -> Result<String, String> {
    let client = kube.client();
    let labels = BTreeMap::from([
        ("carbon-e2e/run".to_string(), run_id.to_string()),
        ("carbon-e2e/owner".to_string(), "carbon-e2e".to_string()),
    ]);
    let meta = |name: &str| ObjectMeta {
        name: Some(name.into()),
        namespace: Some(NS.into()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };

    // The image, under the CronJob's own name, into the node's containerd.
    let tmp = std::env::temp_dir().join(format!("carbon-e2e-{run_id}"));
    let runner = tmp.join("runner");
    let file = tmp.join("runner.oci.tar");
    let t0 = Instant::now();
    for args in [
        vec!["archive", "--out", runner.to_str().unwrap_or_default()],
        vec![
            "image",
            "--runner",
            runner.to_str().unwrap_or_default(),
            "--out",
            file.to_str().unwrap_or_default(),
            "--name",
            image,
        ],
    ] {
        let out = common::carbon_e2e(&args)
            .output()
            .map_err(|e| format!("carbon-e2e {}: {e}", args[0]))?;
        if !out.status.success() {
            return Err(format!("carbon-e2e {}: {}", args[0], common::console(&out)));
        }
    }
    let stack = carbon_stack::Stack::open(&carbon_config::Env::from_process())
        .map_err(|e| e.to_string())?;
    carbon_stack::import_image(&stack, &file).map_err(|e| e.to_string())?;
    let imported = t0.elapsed();
    let _ = std::fs::remove_dir_all(&runner);
    let _ = std::fs::remove_file(&file);

    // The local target and the stack's credentials, as the manifests name them.
    let target_cm = format!("{NAME}-target-{run_id}");
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: meta(&target_cm),
                data: Some(BTreeMap::from([(
                    format!("{JOB_TARGET}.toml"),
                    local_nightly_target(),
                )])),
                ..ConfigMap::default()
            },
        )
        .await
        .map_err(|e| format!("create ConfigMap {target_cm}: {e}"))?;
    let local = carbon_config::load().map_err(|e| e.to_string())?;
    let mut secret_data = BTreeMap::new();
    for var in CREDENTIALS {
        let value = local
            .env_var(var)
            .ok_or_else(|| format!("{var} is not in the stack's env file"))?;
        secret_data.insert(var.to_string(), value);
    }
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(
            &PostParams::default(),
            &Secret {
                metadata: meta(&format!("{NAME}-credentials")),
                string_data: Some(secret_data),
                ..Secret::default()
            },
        )
        .await
        .map_err(|e| format!("create Secret {NAME}-credentials: {e}"))?;

    // The CronJob's Job, placed on the real node, on the host's network.
    let pod = job_spec
        .template
        .spec
        .as_mut()
        .ok_or("the CronJob's template has no pod spec")?;
    pod.node_selector = Some(BTreeMap::from([(
        carbon_stack::REAL_NODE_LABEL.to_string(),
        "real".to_string(),
    )]));
    pod.tolerations = Some(vec![Toleration {
        key: Some(carbon_stack::REAL_NODE_TAINT.into()),
        operator: Some("Exists".into()),
        effect: Some("NoSchedule".into()),
        ..Toleration::default()
    }]);
    pod.host_network = Some(true);
    // The reports: the manifest's `reports` volume is an emptyDir (the results live in
    // VictoriaMetrics) and says to use a PersistentVolumeClaim to keep them; a kubelet tears an
    // emptyDir down when the pod ends, so here a directory of this test's on the node's host
    // stands in for that claim (owned by the runner's uid).
    let reports = tmp.join("reports");
    std::fs::create_dir_all(&reports).map_err(|e| format!("{}: {e}", reports.display()))?;
    std::os::unix::fs::chown(&reports, Some(65532), Some(65532))
        .map_err(|e| format!("chown {}: {e}", reports.display()))?;
    for v in pod.volumes.iter_mut().flatten() {
        if let Some(cm) = v.config_map.as_mut() {
            cm.name.clone_from(&target_cm);
        }
        if v.name == "reports" {
            v.empty_dir = None;
            v.host_path = Some(HostPathVolumeSource {
                path: reports.to_string_lossy().into_owned(),
                type_: Some("Directory".into()),
            });
        }
    }
    let runner_c = &mut pod.containers[0];
    let env = runner_c.env.get_or_insert_with(Vec::new);
    for (k, v) in [
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1".to_string()),
        ("KUBERNETES_SERVICE_PORT", "16401".to_string()),
        ("E2E_RUN_ID", run_id.to_string()),
    ] {
        env.retain(|e| e.name != k);
        env.push(EnvVar {
            name: k.into(),
            value: Some(v),
            ..EnvVar::default()
        });
    }
    let name = format!("{NAME}-{run_id}");
    let mut job_meta = meta(&name);
    job_meta.annotations = Some(BTreeMap::from([(
        "cronjob.kubernetes.io/instantiate".to_string(),
        "manual".to_string(),
    )]));
    job_meta.owner_references = Some(vec![OwnerReference {
        api_version: CronJob::api_version(&()).into_owned(),
        kind: CronJob::kind(&()).into_owned(),
        name: NAME.into(),
        uid: cron.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    let jobs = Api::<Job>::namespaced(client.clone(), NS);
    let t1 = Instant::now();
    jobs.create(
        &PostParams::default(),
        &Job {
            metadata: job_meta,
            spec: Some(job_spec),
            status: None,
        },
    )
    .await
    .map_err(|e| format!("create Job {name}: {e}"))?;
    let finished = wait_until(
        "the nightly Job to finish",
        Duration::from_secs(420),
        || {
            let jobs = jobs.clone();
            let name = name.clone();
            async move {
                let job = jobs.get(&name).await?;
                let done = job
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| {
                        c.iter()
                            .find(|c| {
                                (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                            })
                            .map(|c| c.type_.clone())
                    });
                Ok::<_, carbon_kube::kube::Error>(match done {
                    Some(t) => Check::Ready(t),
                    None => Check::Pending(format!("Job {name}: {:?}", job.status)),
                })
            }
        },
    )
    .await;
    let took = t1.elapsed();
    let pods = job_pods(&client, &name).await;
    let p = pods.first().ok_or("the Job made no pod")?;
    let pod_name = p.metadata.name.clone().unwrap_or_default();
    let log = Api::<Pod>::namespaced(client.clone(), NS)
        .logs(&pod_name, &LogParams::default())
        .await
        .unwrap_or_else(|e| format!("(no log: {e})"));
    let tail: String = {
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(400)..].join("\n")
    };
    let finished = finished.map_err(|e| format!("{e}\nthe pod's log, last lines:\n{tail}"))?;
    if finished != "Complete" {
        return Err(format!(
            "Job {name} ended {finished}; the pod's state: {:?}\nits log, last lines:\n{tail}",
            carbon_kube::pods::pod_problem(p)
        ));
    }
    let spec = p.spec.clone().unwrap_or_default();
    let node = spec.node_name.clone().unwrap_or_default();
    if node != carbon_stack::REAL_NODE {
        return Err(format!("the pod ran on {node}, not the real node"));
    }
    if spec.service_account_name.as_deref() != Some(NAME) {
        return Err(format!("the pod ran as {:?}", spec.service_account_name));
    }
    for needle in ["gate: GO", "gate: results pushed: "] {
        if !log.contains(needle) {
            return Err(format!("the run's log lacks `{needle}`:\n{tail}"));
        }
    }

    // The report in the `reports` volume.
    let mut stack_dirs = vec![reports.clone()];
    let mut report = None;
    while let Some(d) = stack_dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack_dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "report.json") {
                report = Some(path);
            }
        }
    }
    let report = report.ok_or_else(|| format!("no report.json under {}", reports.display()))?;
    let verdict: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&report).map_err(|e| format!("{}: {e}", report.display()))?,
    )
    .map_err(|e| format!("{}: {e}", report.display()))?;

    // The results in VictoriaMetrics, under this run.
    let vm = VmClient::from_target(&local).map_err(|e| e.to_string())?;
    let expr = format!("carbon_e2e_run_info{{target=\"{JOB_TARGET}\",run=\"{run_id}\"}}");
    wait_until(
        "the Job's pushed run to be queryable",
        Duration::from_secs(90),
        || {
            let vm = &vm;
            let expr = &expr;
            async move {
                let rows = vm.query(expr, None).await?;
                Ok::<_, carbon_victoriametrics::VmError>(if rows.is_empty() {
                    Check::Pending(format!("{expr}: nothing yet"))
                } else {
                    Check::Ready(())
                })
            }
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let line = |prefix: &str, has: &str| {
        log.lines()
            .find(|l| l.starts_with(prefix) && l.contains(has))
            .unwrap_or_default()
            .to_string()
    };
    Ok(format!(
        "Job {name}: image written and imported in {imported:.1?}; pod {pod_name} ran on {node} as {SA}, Complete in {took:.1?}; {}; {}; report {} (verdict {}); {expr} queryable",
        line("validate: ", " passed, "),
        line("gate: GO", ""),
        report.display(),
        verdict
            .get("verdict")
            .map_or("?".into(), ToString::to_string),
    ))
}
