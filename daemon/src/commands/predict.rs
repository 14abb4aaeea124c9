//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct PredictArgs {}

/// Runs the command.
pub fn run(_args: PredictArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
