//! Apache Superset 6.1.0 (Apache-2.0, from PyPI): the platform's dashboards over Trino, port
//! 18088. Installed once into a virtual environment of its own under the cache
//! (`assets/superset/requirements.txt`: every package pinned, installed with `--no-deps`), run
//! by gunicorn (two workers, four threads each). Metadata in SQLite under `data/superset/`.
//!
//! The config (`superset_config.py`, written by `prepare`) keeps Superset's CSRF protection on
//! (as on the platform: every write of the client carries the CSRF token), turns off Talisman
//! and rate-limit storage, keeps every cache in memory and polls Trino every 0.1 s (Superset's default second makes each SQL Lab
//! call cost at least one). The secret key and the admin password are generated into
//! `stack.env` and reach Superset only through its environment.
//!
//! First start: `superset db upgrade`, `superset init`, then the admin user through
//! Flask-AppBuilder with the password from the environment (each under a deadline, about half a
//! minute together). After it is ready, the stack creates through the
//! API, once: the database connection `trino` to the local Trino (catalog `tpch`), a dataset
//! over `tpch.tiny.nation`, the dashboard "Data Platform" with a table chart of the nations,
//! and the dashboard "carbon-e2e-broken" whose chart names a column the table does not have
//! (the suite's failing case; chart creation does not check column names).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use carbon_config::Secret;
use carbon_core::http::{ClientOptions, HttpClient};
use carbon_core::wait::{Check, wait_until};
use carbon_superset::SupersetClient;
use futures::future::BoxFuture;

use super::trino;
use crate::install::{LOCAL_STEP_TIMEOUT, run_logged};
use crate::secrets::{SUPERSET_PASSWORD, SUPERSET_SECRET_KEY, SUPERSET_VIEWER_PASSWORD};
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const PORT: u16 = 18088;
pub(crate) const VERSION: &str = "6.1.0";
/// A database connection whose Superset connection test fails (Trino's URI on a closed port).
pub(crate) const UNREACHABLE: &str = "trino-unreachable";

/// The local Trino's SQLAlchemy URI, on `port`.
fn trino_uri(port: u16) -> String {
    format!("trino://carbon-e2e-superset@127.0.0.1:{port}/tpch")
}

/// The admin user the stack creates (its password is `CARBON_STACK_SUPERSET_PASSWORD`).
pub(crate) const ADMIN: &str = "admin";
/// A user who may read the dashboards and use the `trino` connection but has no SQL Lab rights
/// (Superset's `Gamma` role plus access to that one database): the saved-query trial's
/// failing case, as a platform identity without SQL Lab would see it. Its password is
/// `CARBON_STACK_SUPERSET_VIEWER_PASSWORD`.
pub(crate) const VIEWER: &str = "carbon-e2e-viewer";
/// Creates a user (idempotent) with the role `CARBON_SUPERSET_ROLE`: Superset's own (`Admin`,
/// once `superset init` made the roles) or, when no such role exists, one of the stack's named
/// so, holding Gamma's permissions and access to the `trino` connection (which must exist).
/// The password is read from the environment, never from argv (`superset fab create-admin`
/// takes it there, where `ps` shows it).
const CREATE_USER: &str = r#"
import os
from superset import db
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset.models.core import Database
    sm = app.appbuilder.sm
    name, role_name = os.environ["CARBON_SUPERSET_USER"], os.environ["CARBON_SUPERSET_ROLE"]
    role = sm.find_role(role_name)
    if role is None:
        role = sm.add_role(role_name)
        for pv in sm.find_role("Gamma").permissions:
            sm.add_permission_role(role, pv)
        trino = db.session.query(Database).filter_by(database_name="trino").one()
        sm.add_permission_role(role, sm.find_permission_view_menu("database_access", trino.perm))
    if sm.find_user(username=name) is None:
        user = sm.add_user(name, "carbon", "e2e", name + "@localhost", role,
                           password=os.environ["CARBON_SUPERSET_PASSWORD"])
        if not user:
            raise SystemExit("could not create the user " + name)
"#;
const REQUIREMENTS: &str = include_str!("../../assets/superset/requirements.txt");
/// `pip install` of about 150 packages (~850 MB installed).
const PIP_TIMEOUT: Duration = Duration::from_secs(900);
/// The dashboard the platform's plan counts, and the one made to fail.
pub(crate) const DASHBOARD: &str = "Data Platform";
pub(crate) const BROKEN_DASHBOARD: &str = "carbon-e2e-broken";

pub(crate) struct Superset;

fn venv(stack: &Stack) -> PathBuf {
    stack.cache.join(format!("superset-{VERSION}")).join("venv")
}

fn config_file(stack: &Stack) -> PathBuf {
    stack.data_dir("superset").join("superset_config.py")
}

/// The environment every Superset command runs with (secret key through the environment).
fn superset_env(stack: &Stack, cmd: &mut Command) {
    cmd.env("SUPERSET_CONFIG_PATH", config_file(stack))
        .env("SUPERSET_HOME", stack.data_dir("superset"))
        .env("SUPERSET_SECRET_KEY", stack.var(SUPERSET_SECRET_KEY))
        .env("FLASK_APP", "superset")
        .env("PYTHONDONTWRITEBYTECODE", "1");
}

fn client(stack: &Stack) -> Result<SupersetClient, StackError> {
    let http = HttpClient::new(
        "superset",
        ClientOptions {
            timeout: Duration::from_secs(60),
            ca_file: None,
        },
    )
    .map_err(|e| StackError::Other(e.to_string()))?;
    Ok(SupersetClient::new(
        url::Url::parse(&format!("http://127.0.0.1:{PORT}"))
            .map_err(|e| StackError::Other(e.to_string()))?,
        ADMIN,
        Secret::new(stack.var(SUPERSET_PASSWORD)),
        "db",
        http,
    ))
}

impl LocalServer for Superset {
    fn name(&self) -> &'static str {
        "superset"
    }

    fn role(&self) -> &'static str {
        "Apache Superset 6.1.0 (gunicorn, SQLite metadata, Trino connection)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["trino"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        let venv = venv(stack);
        let marker = venv.join(".carbon-e2e-installed");
        if std::fs::read_to_string(&marker).ok().as_deref() == Some(REQUIREMENTS) {
            return Ok(());
        }
        if venv.exists() {
            std::fs::remove_dir_all(&venv).map_err(io_err("remove", &venv))?;
        }
        println!(
            "stack: installing Apache Superset {VERSION} from PyPI into {} (once, about 850 MB)",
            venv.display()
        );
        run_logged(
            stack,
            "create Superset's virtual environment",
            LOCAL_STEP_TIMEOUT,
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
        )?;
        let requirements = venv.join("requirements.txt");
        std::fs::write(&requirements, REQUIREMENTS).map_err(io_err("write", &requirements))?;
        run_logged(
            stack,
            &format!("pip install Apache Superset {VERSION}"),
            PIP_TIMEOUT,
            Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "-r",
                ])
                .arg(&requirements),
        )?;
        std::fs::write(&marker, REQUIREMENTS).map_err(io_err("write", &marker))
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let data = stack.data_dir("superset");
        std::fs::create_dir_all(&data).map_err(io_err("create", &data))?;
        let config = format!(
            "# Written by carbon-e2e stack up.
import os
SECRET_KEY = os.environ[\"SUPERSET_SECRET_KEY\"]
SQLALCHEMY_DATABASE_URI = \"sqlite:///{db}\"
TALISMAN_ENABLED = False
CACHE_CONFIG = {{\"CACHE_TYPE\": \"SimpleCache\"}}
DATA_CACHE_CONFIG = {{\"CACHE_TYPE\": \"SimpleCache\"}}
FILTER_STATE_CACHE_CONFIG = {{\"CACHE_TYPE\": \"SimpleCache\"}}
EXPLORE_FORM_DATA_CACHE_CONFIG = {{\"CACHE_TYPE\": \"SimpleCache\"}}
RATELIMIT_STORAGE_URI = \"memory://\"
DB_POLL_INTERVAL_SECONDS = {{\"trino\": 0.1}}
",
            db = data.join("superset.db").display()
        );
        let path = config_file(stack);
        std::fs::write(&path, config).map_err(io_err("write", &path))?;
        let initialized = data.join(".initialized");
        if initialized.exists() {
            return Ok(());
        }
        let venv = venv(stack);
        for (what, program, args) in [
            ("superset db upgrade", "bin/superset", vec!["db", "upgrade"]),
            ("superset init", "bin/superset", vec!["init"]),
            // Not `superset fab create-admin`, which takes the password on argv (`ps` shows
            // it): Flask-AppBuilder's own call, the password read from the environment.
            (
                "create Superset's admin user",
                "bin/python",
                vec!["-c", CREATE_USER],
            ),
        ] {
            let mut cmd = Command::new(venv.join(program));
            cmd.args(&args)
                .env("CARBON_SUPERSET_USER", ADMIN)
                .env("CARBON_SUPERSET_ROLE", "Admin")
                .env("CARBON_SUPERSET_PASSWORD", stack.var(SUPERSET_PASSWORD));
            superset_env(stack, &mut cmd);
            run_logged(stack, what, LOCAL_STEP_TIMEOUT, &mut cmd)?;
        }
        std::fs::write(&initialized, "db upgrade, create-admin, init done\n")
            .map_err(io_err("write", &initialized))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new(venv(stack).join("bin/gunicorn"));
        cmd.args([
            "--workers",
            "2",
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--timeout",
            "120",
            "--bind",
            &format!("127.0.0.1:{PORT}"),
            "superset.app:create_app()",
        ])
        .current_dir(stack.data_dir("superset"));
        superset_env(stack, &mut cmd);
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{PORT}/health"),
            contains: Some("OK"),
        }
    }

    fn ready_timeout(&self) -> Duration {
        Duration::from_secs(120)
    }

    fn after_ready<'a>(&'a self, stack: &'a Stack) -> BoxFuture<'a, Result<(), StackError>> {
        Box::pin(async move {
            let err = |what: &str, e: carbon_superset::SupersetError| {
                StackError::Other(format!("Superset: {what}: {e}"))
            };
            let s = client(stack)?;
            // `/health` answers as soon as a worker is up; the login wants the app's security
            // manager ready too. Ready means a login answers.
            wait_until(
                "Superset to accept the admin login",
                Duration::from_secs(60),
                || async {
                    Ok::<_, std::convert::Infallible>(match s.login().await {
                        Ok(_) => Check::Ready(()),
                        Err(e) => Check::Pending(e.to_string()),
                    })
                },
            )
            .await
            .map_err(|e| StackError::Other(e.to_string()))?;
            // A connection that fails Superset's own test (the connection trial's failing
            // case): created over the working URI, since Superset tests a connection when it is
            // created or changed through its API, then pointed at a port nothing listens on in
            // Superset's metadata database (a platform whose Trino moved looks the same).
            let databases = s.databases().await.map_err(|e| err("list databases", e))?;
            if !databases.iter().any(|d| d.database_name == UNREACHABLE) {
                s.create_database(UNREACHABLE, &trino_uri(trino::PORT))
                    .await
                    .map_err(|e| err("create the unreachable database", e))?;
            }
            let mut cmd = Command::new(venv(stack).join("bin/python"));
            cmd.args([
                "-c",
                "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1])\nc.execute('UPDATE dbs SET sqlalchemy_uri = ? WHERE database_name = ?', (sys.argv[2], sys.argv[3]))\nc.commit()",
            ])
            .arg(stack.data_dir("superset").join("superset.db"))
            .arg(trino_uri(9))
            .arg(UNREACHABLE);
            run_logged(
                stack,
                "point Superset's trino-unreachable connection at port 9",
                LOCAL_STEP_TIMEOUT,
                &mut cmd,
            )?;
            let dashboards = s
                .dashboards()
                .await
                .map_err(|e| err("list dashboards", e))?;
            if !(dashboards.iter().any(|d| d.dashboard_title == DASHBOARD)
                && dashboards
                    .iter()
                    .any(|d| d.dashboard_title == BROKEN_DASHBOARD))
            {
                create_dashboards(&s).await?;
            }
            let viewer = stack.data_dir("superset").join(".viewer");
            if viewer.exists() {
                return Ok(());
            }
            let mut cmd = Command::new(venv(stack).join("bin/python"));
            cmd.args(["-c", CREATE_USER])
                .env("CARBON_SUPERSET_USER", VIEWER)
                .env("CARBON_SUPERSET_ROLE", VIEWER)
                .env(
                    "CARBON_SUPERSET_PASSWORD",
                    stack.var(SUPERSET_VIEWER_PASSWORD),
                );
            superset_env(stack, &mut cmd);
            run_logged(
                stack,
                "create Superset's user without SQL Lab",
                LOCAL_STEP_TIMEOUT,
                &mut cmd,
            )?;
            std::fs::write(&viewer, "created\n").map_err(io_err("write", &viewer))
        })
    }
}

/// The dashboard the plan counts and the broken one, over `tpch.tiny.nation` of the `trino`
/// connection (created if missing).
async fn create_dashboards(s: &SupersetClient) -> Result<(), StackError> {
    let err = |what: &str, e: carbon_superset::SupersetError| {
        StackError::Other(format!("Superset: {what}: {e}"))
    };
    let databases = s.databases().await.map_err(|e| err("list databases", e))?;
    let db = match databases.iter().find(|d| d.database_name == "trino") {
        Some(d) => d.id,
        None => s
            .create_database("trino", &trino_uri(trino::PORT))
            .await
            .map_err(|e| err("create the trino database", e))?,
    };
    let dataset = s
        .create_dataset(db, Some("tpch"), "tiny", "nation")
        .await
        .map_err(|e| err("create the dataset tpch.tiny.nation", e))?;
    let board = s
        .create_dashboard(DASHBOARD)
        .await
        .map_err(|e| err("create the dashboard", e))?;
    s.create_table_chart("Nations", dataset, &["nationkey", "name"], 100, board)
        .await
        .map_err(|e| err("create the nations chart", e))?;
    let broken = s
        .create_dashboard(BROKEN_DASHBOARD)
        .await
        .map_err(|e| err("create the broken dashboard", e))?;
    s.create_table_chart(
        "Nations by a column that does not exist",
        dataset,
        &["n_nationkey"],
        100,
        broken,
    )
    .await
    .map_err(|e| err("create the broken chart", e))?;
    Ok(())
}
