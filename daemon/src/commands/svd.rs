//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct SvdArgs {}

/// Runs the command.
pub fn run(_args: SvdArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
