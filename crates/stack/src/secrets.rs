//! The stack's credentials: generated once, kept in `stack.env` (mode 0600), never printed.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use carbon_config::Env;

use crate::{StackError, io_err};

/// Names of the variables the stack exports; `.config/targets/local.toml` names the same.
pub(crate) const S3_ACCESS_KEY: &str = "CARBON_STACK_S3_ACCESS_KEY";
pub(crate) const S3_SECRET_KEY: &str = "CARBON_STACK_S3_SECRET_KEY";
pub(crate) const PG_USER: &str = "CARBON_STACK_PG_USER";
pub(crate) const PG_PASSWORD: &str = "CARBON_STACK_PG_PASSWORD";
pub(crate) const DS_PASSWORD: &str = "CARBON_STACK_DS_PASSWORD";
/// A `postgres://` URL of DolphinScheduler's metadata database, for the suite's SQL trial.
pub(crate) const DS_DATABASE_URL: &str = "CARBON_STACK_DS_DATABASE_URL";
/// The local control plane's admin kubeconfig (`<stack dir>/kubeconfig`, mode 0600).
pub(crate) const KUBECONFIG: &str = "CARBON_STACK_KUBECONFIG";

fn random_hex(bytes: usize) -> Result<String, StackError> {
    let path = Path::new("/dev/urandom");
    let mut buf = vec![0u8; bytes];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(io_err("read", path))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads `stack.env`, adding any credential it lacks.
pub(crate) fn load_or_create(path: &Path) -> Result<Env, StackError> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let env = Env::parse_env_file(&existing);
    let mut text = existing.clone();
    let mut wanted: Vec<(&str, String)> = vec![
        (S3_ACCESS_KEY, format!("carbon{}", random_hex(6)?)),
        (S3_SECRET_KEY, random_hex(20)?),
        (PG_USER, "carbon".to_string()),
        (PG_PASSWORD, random_hex(16)?),
        (DS_PASSWORD, random_hex(12)?),
    ];
    // Derived from the values above, whichever of them already existed.
    let value = |key: &str, wanted: &[(&str, String)]| {
        env.get(key).unwrap_or_else(|| {
            wanted
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
    };
    let ds_url = format!(
        "postgres://{}:{}@127.0.0.1:{}/dolphinscheduler",
        value(PG_USER, &wanted),
        value(PG_PASSWORD, &wanted),
        crate::services::postgres_port()
    );
    wanted.push((DS_DATABASE_URL, ds_url));
    if let Some(dir) = path.parent() {
        wanted.push((KUBECONFIG, dir.join("kubeconfig").display().to_string()));
    }
    for (key, fresh) in wanted {
        if env.get(key).is_none() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("{key}={fresh}\n"));
        }
    }
    if text != existing {
        if existing.is_empty() {
            text = format!(
                "# Written by `carbon-e2e stack up`; read by the `local` target. Do not commit.\n{text}"
            );
        }
        std::fs::write(path, &text).map_err(io_err("write", path))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err("chmod", path))?;
    Ok(Env::parse_env_file(&text))
}
