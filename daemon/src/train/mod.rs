//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct TrainArgs {}

/// Runs the command.
pub fn run(_args: TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
