//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct ImportArgs {}

/// Runs the command.
pub fn run(_args: ImportArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
