//! The control plane's own CA, certificates and keys, made with the `openssl` CLI (in every
//! Debian image; no extra crate to compile), and the kubeconfigs that use them. Keys never
//! travel in argv; every key and kubeconfig is mode 0600.
//!
//! One CA signs everything: serving certificates (API server; a 127.0.0.1 one shared by the
//! controller manager, scheduler and kwok), client certificates per identity, and the
//! front-proxy client (the requestheader CA is the same CA: a local, single-user cluster).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::install::run_logged;
use crate::{Stack, StackError, io_err};

/// Seconds an openssl command may take.
/// How long one openssl step may take.
const OPENSSL_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);
/// Days the certificates are valid.
const DAYS: &str = "3650";

/// Paths of the generated files.
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    pub(crate) dir: PathBuf,
}

/// A client identity: file stem, common name (the user) and organisation (the group).
pub(crate) struct Identity {
    pub(crate) stem: &'static str,
    pub(crate) user: &'static str,
    pub(crate) group: Option<&'static str>,
}

/// The identities the stack issues client certificates for.
pub(crate) const ADMIN: Identity = Identity {
    stem: "admin",
    user: "carbon-e2e-admin",
    group: Some("system:masters"),
};
pub(crate) const CONTROLLER_MANAGER: Identity = Identity {
    stem: "controller-manager",
    user: "system:kube-controller-manager",
    group: None,
};
pub(crate) const SCHEDULER: Identity = Identity {
    stem: "scheduler",
    user: "system:kube-scheduler",
    group: None,
};
pub(crate) const KWOK: Identity = Identity {
    stem: "kwok",
    user: "carbon-e2e-kwok",
    group: Some("system:masters"),
};
/// The user the repository's read-only ClusterRole is bound to locally (kind-config/rbac).
pub(crate) const READONLY: Identity = Identity {
    stem: "readonly",
    user: "carbon-e2e-readonly",
    group: None,
};
/// The user both repository ClusterRoles (read-only and read-write) are bound to locally.
pub(crate) const READWRITE: Identity = Identity {
    stem: "readwrite",
    user: "carbon-e2e-readwrite",
    group: None,
};
/// A user nothing is bound to: the mutation self test shows the permissions check failing as
/// this user, naming what it lacks.
pub(crate) const UNBOUND: Identity = Identity {
    stem: "unbound",
    user: "carbon-e2e-unbound",
    group: None,
};
/// The real node's kubelet: its client identity (the Node authorizer's) and, with the node's
/// address, its serving certificate.
pub(crate) const NODE_IDENTITY: Identity = Identity {
    stem: "node-carbon-node-0",
    user: "system:node:carbon-node-0",
    group: Some("system:nodes"),
};
/// The API server's client identity towards kubelets (logs, exec, port-forward).
pub(crate) const KUBELET_CLIENT: Identity = Identity {
    stem: "apiserver-kubelet-client",
    user: "kube-apiserver-kubelet-client",
    group: Some("system:masters"),
};
/// The stack's log shipper (promtail), which discovers the real node's pods through the API
/// server. In `system:masters` so that it reads from its first second, before the stack's
/// RBAC bindings are applied; local only.
pub(crate) const LOG_SHIPPER: Identity = Identity {
    stem: "log-shipper",
    user: "carbon-e2e-log-shipper",
    group: Some("system:masters"),
};
const FRONT_PROXY: Identity = Identity {
    stem: "front-proxy-client",
    user: "front-proxy-client",
    group: None,
};

impl Pki {
    pub(crate) fn of(stack: &Stack) -> Self {
        Self {
            dir: stack.data_dir("kube").join("pki"),
        }
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(crate) fn ca(&self) -> PathBuf {
        self.file("ca.crt")
    }

    /// A kubeconfig for `identity` (the admin's is the stack's exported one).
    pub(crate) fn kubeconfig(&self, identity: &Identity) -> PathBuf {
        self.file(&format!("{}.kubeconfig", identity.stem))
    }

    /// Creates whatever is missing. Idempotent.
    pub(crate) fn ensure(&self, stack: &Stack, server: &str) -> Result<(), StackError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
        set_mode(&self.dir, 0o700)?;
        if !self.ca().exists() {
            openssl(
                stack,
                "create the control plane CA",
                &self.dir,
                &[
                    "req",
                    "-x509",
                    "-new",
                    "-nodes",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.crt",
                    "-days",
                    DAYS,
                    "-subj",
                    "/CN=carbon-e2e-kubernetes-ca",
                ],
            )?;
        }
        self.leaf(
            stack,
            "apiserver",
            "/CN=kube-apiserver",
            Some("IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"),
        )?;
        self.leaf(
            stack,
            "local-serving",
            "/CN=carbon-e2e-local-serving",
            Some("IP:127.0.0.1,DNS:localhost"),
        )?;
        // Before the identity loop issues it without one: the kubelet serves on the node address.
        let san = format!("IP:{},DNS:{}", super::node::NODE_IP, super::node::NODE);
        self.leaf(
            stack,
            NODE_IDENTITY.stem,
            &format!("/O=system:nodes/CN={}", NODE_IDENTITY.user),
            Some(&san),
        )?;
        for id in [
            &NODE_IDENTITY,
            &KUBELET_CLIENT,
            &LOG_SHIPPER,
            &ADMIN,
            &CONTROLLER_MANAGER,
            &SCHEDULER,
            &KWOK,
            &READONLY,
            &READWRITE,
            &UNBOUND,
            &FRONT_PROXY,
        ] {
            let subject = match id.group {
                Some(g) => format!("/O={g}/CN={}", id.user),
                None => format!("/CN={}", id.user),
            };
            self.leaf(stack, id.stem, &subject, None)?;
            if id.stem != FRONT_PROXY.stem && id.stem != KUBELET_CLIENT.stem {
                self.write_kubeconfig(id, server)?;
            }
        }
        if !self.file("sa.key").exists() {
            openssl(
                stack,
                "create the service-account signing key",
                &self.dir,
                &[
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                    "sa.key",
                ],
            )?;
            set_mode(&self.file("sa.key"), 0o600)?;
        }
        if !self.file("sa.pub").exists() {
            openssl(
                stack,
                "derive the service-account public key",
                &self.dir,
                &["ec", "-in", "sa.key", "-pubout", "-out", "sa.pub"],
            )?;
        }
        Ok(())
    }

    /// A key and a certificate signed by the CA, for client and server use.
    fn leaf(
        &self,
        stack: &Stack,
        stem: &str,
        subject: &str,
        san: Option<&str>,
    ) -> Result<(), StackError> {
        if self.file(&format!("{stem}.crt")).exists() {
            return Ok(());
        }
        let (key, crt) = (format!("{stem}.key"), format!("{stem}.crt"));
        let mut args = vec![
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-days",
            DAYS,
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth,clientAuth",
        ];
        let san = san.map(|s| format!("subjectAltName={s}"));
        if let Some(s) = &san {
            args.extend(["-addext", s]);
        }
        openssl(
            stack,
            &format!("issue the {stem} certificate"),
            &self.dir,
            &args,
        )?;
        set_mode(&self.file(&key), 0o600)
    }

    fn write_kubeconfig(&self, id: &Identity, server: &str) -> Result<(), StackError> {
        let path = self.kubeconfig(id);
        let text = kubeconfig_yaml(
            server,
            &self.ca(),
            id.user,
            &self.file(&format!("{}.crt", id.stem)),
            &self.file(&format!("{}.key", id.stem)),
        );
        write_private(&path, &text)
    }
}

/// A kubeconfig with one cluster, one client-certificate user and one context `carbon-e2e`.
pub(crate) fn kubeconfig_yaml(
    server: &str,
    ca: &Path,
    user: &str,
    crt: &Path,
    key: &Path,
) -> String {
    format!(
        "# Written by carbon-e2e stack up.\napiVersion: v1\nkind: Config\nclusters:\n- name: carbon-e2e\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate: {crt}\n    client-key: {key}\ncontexts:\n- name: carbon-e2e\n  context:\n    cluster: carbon-e2e\n    user: {user}\ncurrent-context: carbon-e2e\n",
        ca = ca.display(),
        crt = crt.display(),
        key = key.display(),
    )
}

/// Writes `text` to `path` with mode 0600.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), StackError> {
    std::fs::write(path, text).map_err(io_err("write", path))?;
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StackError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("set the mode of", path))
}

fn openssl(stack: &Stack, what: &str, dir: &Path, args: &[&str]) -> Result<(), StackError> {
    run_logged(
        stack,
        what,
        OPENSSL_LIMIT,
        Command::new("openssl").args(args).current_dir(dir),
    )
}
