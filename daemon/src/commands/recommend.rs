//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct RecommendArgs {}

/// Runs the command.
pub fn run(_args: RecommendArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
