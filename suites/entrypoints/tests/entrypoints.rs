//! The `entrypoints` suite: every public URL of the platform (`[entrypoints] urls`; the plan's
//! `https://dolphin.<domain>`, `https://grafana.<domain>`, `https://superset.<domain>`,
//! `https://trino.<domain>`) answers as a browser sees it: `GET`, redirects followed, the last
//! answer's status one of `[entrypoints] accept_status` (default 200). All URLs are fetched at
//! once and each is reported, up or not.

use carbon_entrypoints::EntryPointsClient;
use carbon_harness::anyhow::{Result, anyhow};
use carbon_harness::{Ctx, Service, Suite};

const ENTRYPOINTS: &[Service] = &[Service::EntryPoints];

fn main() -> std::process::ExitCode {
    Suite::new("entrypoints")
        .smoke(
            "every_public_entry_point_answers_as_a_browser_sees_it",
            ENTRYPOINTS,
            every_entry_point,
        )
        .run()
}

async fn every_entry_point(ctx: Ctx) -> Result<()> {
    let client = ctx.client::<EntryPointsClient>()?;
    let up = client.check().await.map_err(|e| anyhow!(e))?;
    for line in &up {
        ctx.step(line);
    }
    ctx.step(format_args!(
        "{} of {} entry point(s) up (accepted statuses {:?})",
        up.len(),
        client.urls().len(),
        client.accepted()
    ));
    Ok(())
}
