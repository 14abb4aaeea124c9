//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct GradcheckArgs {}

/// Runs the command.
pub fn run(_args: GradcheckArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
