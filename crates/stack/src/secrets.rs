//! The stack's credentials: generated once, kept in `stack.env` (mode 0600), never printed.

use std::io::{Read, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use carbon_config::Env;

use crate::{StackError, io_err};

/// Names of the variables the stack exports; `.config/targets/local.toml` names the same.
pub(crate) const S3_ACCESS_KEY: &str = "CARBON_STACK_S3_ACCESS_KEY";
pub(crate) const S3_SECRET_KEY: &str = "CARBON_STACK_S3_SECRET_KEY";
pub(crate) const PG_USER: &str = "CARBON_STACK_PG_USER";
pub(crate) const PG_PASSWORD: &str = "CARBON_STACK_PG_PASSWORD";
pub(crate) const DS_PASSWORD: &str = "CARBON_STACK_DS_PASSWORD";
/// The password of Superset's `admin` user.
pub(crate) const SUPERSET_PASSWORD: &str = "CARBON_STACK_SUPERSET_PASSWORD";
/// The password of Superset's `carbon-e2e-viewer` user (dashboards and the `trino` connection,
/// no SQL Lab: the saved-query trial's failing case).
pub(crate) const SUPERSET_VIEWER_PASSWORD: &str = "CARBON_STACK_SUPERSET_VIEWER_PASSWORD";
/// Superset's `SECRET_KEY` (signs sessions, encrypts stored database passwords).
pub(crate) const SUPERSET_SECRET_KEY: &str = "CARBON_STACK_SUPERSET_SECRET_KEY";
/// A `postgres://` URL of DolphinScheduler's metadata database, for the suite's SQL trial.
pub(crate) const DS_DATABASE_URL: &str = "CARBON_STACK_DS_DATABASE_URL";
/// The directory the stack's log shipper (promtail) watches, as an override of the `local`
/// target's `loki.shipper_dir` (it depends on the stack dir, which the target file cannot know).
pub(crate) const LOKI_SHIPPER_DIR: &str = "E2E_LOKI_SHIPPER_DIR";
/// The stack's private CA, as an override of the `local` target's `entrypoints.ca_file` (its
/// https entry point is the TLS front).
pub(crate) const ENTRYPOINTS_CA_FILE: &str = "E2E_ENTRYPOINTS_CA_FILE";

/// Writes `bytes` to `path` readable by its owner only: the file is 0600 from its creation (an
/// existing one is narrowed before a byte is written), so there is no window in which another
/// user could open it.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StackError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err("open", path))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io_err("chmod", path))?;
    file.set_len(0).map_err(io_err("truncate", path))?;
    file.write_all(bytes).map_err(io_err("write", path))
}

/// Creates `dir` (and missing parents) 0700, or checks an existing one: it must be a directory
/// (not a symlink) owned by this user, and is narrowed to 0700 if others could read it. A
/// directory someone else owns is refused: they could read or swap what the stack keeps there.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StackError> {
    create_owned_dir(dir, None)
}

/// [`create_private_dir`], except that group `gid` (when given) may pass through: mode 0710,
/// group `gid`. For the state directory when root runs PostgreSQL as `postgres`, which must
/// reach its data and socket directories below it.
pub(crate) fn create_owned_dir(dir: &Path, traverse_gid: Option<u32>) -> Result<(), StackError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("create", dir))?;
    let meta = std::fs::symlink_metadata(dir).map_err(io_err("inspect", dir))?;
    let uid = crate::status::current_uid();
    if !meta.is_dir() {
        return Err(StackError::Other(format!(
            "{} is not a directory (a symlink?): the stack keeps credentials there and refuses it; remove it or set E2E_STACK_DIR",
            dir.display()
        )));
    }
    if meta.uid() != uid {
        return Err(StackError::Other(format!(
            "{} is owned by uid {}, not by this user (uid {uid}): the stack keeps credentials there and refuses a directory another user controls; remove it or set E2E_STACK_DIR",
            dir.display(),
            meta.uid()
        )));
    }
    let wanted = match traverse_gid {
        Some(gid) => {
            if meta.gid() != gid {
                std::os::unix::fs::chown(dir, None, Some(gid)).map_err(io_err("chown", dir))?;
            }
            0o710
        }
        None => 0o700,
    };
    if meta.mode() & 0o777 != wanted {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(wanted))
            .map_err(io_err("chmod", dir))?;
    }
    Ok(())
}
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
        (SUPERSET_PASSWORD, random_hex(12)?),
        (SUPERSET_VIEWER_PASSWORD, random_hex(12)?),
        (SUPERSET_SECRET_KEY, random_hex(32)?),
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
    if let Some(stack_dir) = path.parent() {
        let dir = crate::services::loki_shipper_dir(stack_dir);
        wanted.push((LOKI_SHIPPER_DIR, dir.display().to_string()));
        wanted.push((
            ENTRYPOINTS_CA_FILE,
            crate::services::tls_front::ca_file(stack_dir)
                .display()
                .to_string(),
        ));
        wanted.push((
            KUBECONFIG,
            stack_dir.join("kubeconfig").display().to_string(),
        ));
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
        write_private(path, text.as_bytes())?;
    } else if path.exists() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err("chmod", path))?;
    }
    Ok(Env::parse_env_file(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_dir_is_0700_and_a_foreign_one_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/stack");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.path().join("a")), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700, "an existing open directory is narrowed");
        if crate::status::current_uid() == 0 {
            // As root the test can hand the directory to `nobody` and see it refused.
            std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
            let e = create_private_dir(&dir).unwrap_err().to_string();
            assert!(e.contains("owned by uid 65534"), "{e}");
        }
        let link = root.path().join("link");
        std::os::unix::fs::symlink(root.path(), &link).unwrap();
        assert!(create_private_dir(&link).is_err(), "a symlink is refused");
    }

    #[test]
    fn private_file_is_0600_before_its_first_byte() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("stack.env");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"K=v\n").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "K=v\n");
    }
}
