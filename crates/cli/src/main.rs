//! `carbon-e2e`: one command for the repository's tasks, so that what passes locally passes in
//! CI. `validate` is the main job; `.ci/run` calls it too. The commands live in the library
//! (`src/lib.rs`); this binary parses the command line and calls them.

use std::process::ExitCode;

use anyhow::Context as _;
use carbon_e2e::{archive, bench, doctor, gate, image, reap, validate};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "carbon-e2e",
    version,
    about = "End-to-end validation of the data platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the resolved target (secrets redacted) and probe each configured service once.
    Doctor(doctor::Args),
    /// Manage the local stack of native processes.
    Stack {
        #[command(subcommand)]
        verb: StackVerb,
    },
    /// Bring up the local stack (for a `local` target), run the suites with nextest's `ci`
    /// profile, and summarise the JUnit report.
    Validate(validate::Args),
    /// The acceptance gate over a finished run: the readiness table, the score and a GO /
    /// NO-GO / INCONCLUSIVE verdict from the JUnit `validate` completed; writes report.md and
    /// report.json beside it. Exit code 0 GO, 3 a required check failed, 4 below
    /// `[gate] min_readiness`, 5 inconclusive, 2 no run to gate.
    Gate(gate::Args),
    /// Compare two finished runs (directories `validate` wrote): new and fixed failures, the
    /// readiness and each category's score before and after (both judged with the current
    /// target's settings), and the versions, images and revisions that differ. Reads only.
    Diff(gate::DiffArgs),
    /// Remove what killed runs left behind, and only that: artifacts whose name has a run's
    /// shape and that carry the carbon-e2e ownership marker, aged on the server's clock.
    Reap(reap::Args),
    /// Run the benchmarks and print their tables.
    Bench(bench::Args),
    /// Write a runner directory that runs the suites without cargo or the sources: this
    /// binary, cargo-nextest, a `cargo nextest archive` of every suite, the target files and
    /// fixtures. Run it with `<dir>/bin/carbon-e2e validate --archive-file <dir>/suites.tar.zst`.
    Archive(archive::Args),
    /// Write the runner image (a runner directory from `archive`, the C library it loads, CA
    /// certificates; no compiler, no shell) as an OCI archive, without a daemon or a registry.
    Image(image::Args),
}

/// `stack host`: save the host's state, or compare it with a saved one.
fn stack_host(
    env: &carbon_config::Env,
    save: Option<std::path::PathBuf>,
    compare: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    use carbon_stack::host::HostState;
    let now = HostState::now();
    if let Some(path) = save {
        anyhow::ensure!(
            !carbon_stack::real_node_running(env),
            "the stack's real node runs: save the host's state before `stack up` (or after `stack down`)"
        );
        std::fs::write(&path, serde_json::to_vec_pretty(&now)?)
            .with_context(|| format!("write {}", path.display()))?;
        println!(
            "stack: the host's state ({} facts) saved to {}",
            now.facts.len(),
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = compare else {
        anyhow::bail!("`stack host` needs --save FILE or --compare FILE");
    };
    let text = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
    let before: HostState = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a saved host state", path.display()))?;
    anyhow::ensure!(
        !before.facts.is_empty(),
        "{}: a saved state without facts compares nothing",
        path.display()
    );
    let changes = now.changes_since(&before);
    if changes.is_empty() {
        println!(
            "stack: the host is as saved in {} ({} facts)",
            path.display(),
            now.facts.len()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "stack: the host differs from {} in {} fact(s):",
        path.display(),
        changes.len()
    );
    for c in &changes {
        println!("  {c}");
    }
    Ok(ExitCode::FAILURE)
}

#[derive(Subcommand)]
enum StackVerb {
    /// Install what is missing, start every service, wait until each is ready.
    Up,
    /// Stop the services this stack started (by pid).
    Down {
        /// Also delete the stack's data and credentials.
        #[arg(long)]
        purge: bool,
    },
    /// Show whether each service runs and answers its readiness probe.
    Status,
    /// What the stack may change on the host (links, addresses, namespaces, mounts, iptables
    /// rules, the kubelet's sysctls, fixed paths, cgroups). `--save F` before `stack up`,
    /// `--compare F` after `stack down`: exits 1 listing every difference.
    Host {
        /// Write the host's state to this file (refused while the real node runs).
        #[arg(long, conflicts_with = "compare")]
        save: Option<std::path::PathBuf>,
        /// Compare the host with the state saved in this file.
        #[arg(long)]
        compare: Option<std::path::PathBuf>,
    },
    /// (Internal: started by `stack up`.) Bridge loopback ports between the host and a network
    /// namespace until killed.
    #[command(hide = true)]
    Forward {
        /// The namespace, as `ip netns` names it.
        #[arg(long)]
        netns: String,
        /// Host 127.0.0.1:PORT -> namespace 127.0.0.1:PORT.
        #[arg(long)]
        expose: Vec<u16>,
        /// Namespace 127.0.0.1:PORT -> host 127.0.0.1:PORT.
        #[arg(long)]
        import: Vec<u16>,
    },
    /// (Internal: started by `stack up`.) Terminate TLS on a loopback port and forward to a
    /// plain one until killed.
    #[command(hide = true)]
    TlsForward {
        /// The TLS port on 127.0.0.1.
        #[arg(long)]
        listen: u16,
        /// The plain port on 127.0.0.1.
        #[arg(long)]
        to: u16,
        /// The certificate chain (PEM).
        #[arg(long)]
        cert: std::path::PathBuf,
        /// Its private key (PEM).
        #[arg(long)]
        key: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Doctor(args) => doctor::run(args).await,
            Command::Stack { verb } => stack(verb).await,
            Command::Validate(args) => validate::run(args).await,
            Command::Gate(args) => gate::run(args).await,
            Command::Diff(args) => gate::diff(args),
            Command::Reap(args) => reap::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Archive(args) => archive::run(args),
            Command::Image(args) => image::run(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn stack(verb: StackVerb) -> anyhow::Result<ExitCode> {
    let env = carbon_config::Env::from_process();
    match verb {
        StackVerb::Up => {
            let started = carbon_stack::up(&env).await?;
            carbon_e2e::print_started(&started);
        }
        StackVerb::Forward {
            netns,
            expose,
            import,
        } => {
            tokio::task::spawn_blocking(move || {
                carbon_stack::forward::run(&netns, &expose, &import)
            })
            .await??;
        }
        StackVerb::TlsForward {
            listen,
            to,
            cert,
            key,
        } => {
            carbon_stack::forward::run_tls(listen, to, &cert, &key).await?;
        }
        StackVerb::Host { save, compare } => return stack_host(&env, save, compare),
        StackVerb::Down { purge } => {
            let stopped = carbon_stack::down(&env, purge).await?;
            println!("stack: {} service(s) stopped", stopped.len());
        }
        StackVerb::Status => {
            let all = carbon_stack::status(&env).await?;
            println!(
                "{:<21} {:<8} {:<40} {:<8} role",
                "service", "pid", "endpoint", "ready"
            );
            let mut code = ExitCode::SUCCESS;
            for s in all {
                let pid = s.pid.map_or("-".to_string(), |p| p.to_string());
                let ready = match &s.ready {
                    Ok(()) => "yes".to_string(),
                    Err(e) => {
                        code = ExitCode::FAILURE;
                        format!("no ({e})")
                    }
                };
                println!(
                    "{:<21} {:<8} {:<40} {:<8} {}",
                    s.name, pid, s.endpoint, ready, s.role
                );
            }
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}
