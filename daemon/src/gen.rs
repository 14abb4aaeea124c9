//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct GenArgs {}

/// Runs the command.
pub fn run(_args: GenArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
