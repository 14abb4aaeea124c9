//! Not built yet.

/// Options (not built yet).
#[derive(Debug, clap::Args)]
pub struct CvArgs {}

/// Runs the command.
pub fn run(_args: CvArgs) -> anyhow::Result<()> {
    anyhow::bail!("this command is not built yet")
}
