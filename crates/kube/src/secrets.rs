//! Credentials from Kubernetes Secrets: `k8s:<namespace>/<name>#<key>`, read into the same
//! never-printed [`Secret`] type the environment's credentials use.

use carbon_config::Secret;
use k8s_openapi::api::core::v1::Secret as K8sSecret;
use kube::api::Api;

use crate::{KubeClient, KubeError, api_err};

/// A `k8s:<namespace>/<name>#<key>` reference to one key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The namespace.
    pub namespace: String,
    /// The Secret's name.
    pub name: String,
    /// The key in its data.
    pub key: String,
}

impl SecretRef {
    /// Parses `k8s:<namespace>/<name>#<key>`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("k8s:")?;
        let (path, key) = rest.split_once('#')?;
        let (namespace, name) = path.split_once('/')?;
        [namespace, name, key]
            .iter()
            .all(|s| !s.is_empty() && !s.contains('/'))
            .then(|| Self {
                namespace: namespace.into(),
                name: name.into(),
                key: key.into(),
            })
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "k8s:{}/{}#{}", self.namespace, self.name, self.key)
    }
}

impl KubeClient {
    /// Reads one key of a Secret.
    ///
    /// # Errors
    /// Naming the Secret or key that is missing, or (on a 403) the permission to grant:
    /// `get secrets` in its namespace.
    pub async fn secret(&self, r: &SecretRef) -> Result<Secret, KubeError> {
        let api: Api<K8sSecret> = Api::namespaced(self.client(), &r.namespace);
        let found = api.get_opt(&r.name).await.map_err(api_err(format!(
            "get secrets {} in namespace {} (needs `get` on `secrets` there: kind-config/rbac/readwrite.yaml)",
            r.name, r.namespace
        )))?;
        let secret = found.ok_or_else(|| {
            KubeError::Config(format!(
                "{r}: the Secret {}/{} does not exist",
                r.namespace, r.name
            ))
        })?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&r.key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(&r.key))
                    .map(|s| s.clone().into_bytes())
            })
            .ok_or_else(|| {
                let mut keys: Vec<&String> = secret.data.iter().flat_map(|d| d.keys()).collect();
                keys.sort();
                KubeError::Config(format!(
                    "{r}: the Secret {}/{} has no key {} (its keys: {})",
                    r.namespace,
                    r.name,
                    r.key,
                    keys.iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| KubeError::Config(format!("{r}: the value is not UTF-8")))?;
        Ok(Secret::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespace_name_and_key() {
        assert_eq!(
            SecretRef::parse("k8s:data-platform/minio#rootPassword"),
            Some(SecretRef {
                namespace: "data-platform".into(),
                name: "minio".into(),
                key: "rootPassword".into(),
            })
        );
        assert_eq!(SecretRef::parse("k8s:data-platform/minio"), None);
        assert_eq!(SecretRef::parse("MINIO_PASSWORD"), None);
        assert_eq!(SecretRef::parse("k8s:/minio#k"), None);
    }
}
