//! The harness's own trial: it needs no service, so it runs on every target, and it is the
//! trial `carbon-e2e bench` times to measure what the harness adds per trial.

use carbon_harness::anyhow::{Result, ensure};
use carbon_harness::{Ctx, Env, Suite};

fn main() -> std::process::ExitCode {
    Suite::new("harness")
        .smoke("context_carries_the_run_id_of_the_nextest_run", &[], run_id)
        .run()
}

async fn run_id(ctx: Ctx) -> Result<()> {
    let id = ctx.run_id();
    ensure!(
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "run id {id:?} is not lowercase alphanumeric"
    );
    let env = Env::from_process();
    if let Some(given) = env.get("E2E_RUN_ID") {
        ensure!(
            carbon_harness::run_id_of(&env).ok().as_deref() == Some(id),
            "run id {id} is not the E2E_RUN_ID {given} that validate set"
        );
    } else if let Some(nextest) = env.get("NEXTEST_RUN_ID") {
        let expected: String = nextest
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
            .to_lowercase();
        ensure!(
            id == expected,
            "run id {id} does not come from NEXTEST_RUN_ID {nextest}"
        );
    }
    ensure!(
        ctx.run_name("My Thing") == format!("e2e-{id}-my-thing"),
        "unique names must carry the run id: {}",
        ctx.run_name("My Thing")
    );
    Ok(())
}
