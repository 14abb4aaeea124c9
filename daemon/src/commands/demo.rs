//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs the command.
pub fn run(_args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
