//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct ExportArgs {}

/// Runs the command.
pub fn run(_args: ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
