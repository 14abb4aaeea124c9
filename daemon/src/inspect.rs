//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct InspectArgs {}

/// Runs the command.
pub fn run(_args: InspectArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
