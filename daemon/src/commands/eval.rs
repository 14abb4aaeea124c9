//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct EvalArgs {}

/// Runs the command.
pub fn run(_args: EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
