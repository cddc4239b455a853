//! VictoriaMetrics and vmagent from Debian's `victoria-metrics` package, at their default
//! settings (the 30 s search latency offset included: the suites cope, the server is not bent).
//! vmagent scrapes the stack's own services so that `up{stack="carbon-e2e"}` has real data.

use std::path::Path;
use std::process::Command;

use crate::install::apt;
use crate::{LocalServer, Readiness, Stack, StackError, io_err};

pub(crate) const VM_PORT: u16 = 18428;
pub(crate) const AGENT_PORT: u16 = 18429;

pub(crate) struct VictoriaMetrics;
pub(crate) struct VmAgent;

pub(crate) fn install(stack: &Stack) -> Result<(), StackError> {
    apt(
        stack,
        || {
            Path::new("/usr/bin/victoria-metrics").exists()
                && Path::new("/usr/bin/vmagent").exists()
        },
        &["victoria-metrics"],
    )
}

impl LocalServer for VictoriaMetrics {
    fn name(&self) -> &'static str {
        "victoriametrics"
    }

    fn role(&self) -> &'static str {
        "VictoriaMetrics (single node)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{VM_PORT}")
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install(stack)
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let mut cmd = Command::new("/usr/bin/victoria-metrics");
        cmd.arg(format!(
            "-storageDataPath={}",
            stack.data_dir("victoriametrics").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{VM_PORT}"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{VM_PORT}/health"),
            contains: Some("OK"),
        }
    }
}

impl LocalServer for VmAgent {
    fn name(&self) -> &'static str {
        "vmagent"
    }

    fn role(&self) -> &'static str {
        "VMAgent (scrapes the stack into VictoriaMetrics)"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{AGENT_PORT}")
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["victoriametrics"]
    }

    fn install(&self, stack: &Stack) -> Result<(), StackError> {
        install(stack)
    }

    fn prepare(&self, stack: &Stack) -> Result<(), StackError> {
        let dir = stack.data_dir("vmagent");
        std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let config = format!(
            "# Written by carbon-e2e stack up.\nglobal:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: victoriametrics\n    static_configs:\n      - targets: ['127.0.0.1:{VM_PORT}']\n        labels: {{stack: carbon-e2e}}\n  - job_name: vmagent\n    static_configs:\n      - targets: ['127.0.0.1:{AGENT_PORT}']\n        labels: {{stack: carbon-e2e}}\n"
        ) + &crate::services::extra_scrape_jobs();
        let path = dir.join("scrape.yml");
        std::fs::write(&path, config).map_err(io_err("write", &path))
    }

    fn command(&self, stack: &Stack) -> Result<Command, StackError> {
        let dir = stack.data_dir("vmagent");
        let mut cmd = Command::new("/usr/bin/vmagent");
        cmd.arg(format!(
            "-promscrape.config={}",
            dir.join("scrape.yml").display()
        ))
        .arg(format!(
            "-remoteWrite.url=http://127.0.0.1:{VM_PORT}/api/v1/write"
        ))
        .arg(format!(
            "-remoteWrite.tmpDataPath={}",
            dir.join("queue").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{AGENT_PORT}"));
        Ok(cmd)
    }

    fn readiness(&self, _stack: &Stack) -> Readiness {
        Readiness::Http {
            url: format!("http://127.0.0.1:{AGENT_PORT}/health"),
            contains: Some("OK"),
        }
    }
}
