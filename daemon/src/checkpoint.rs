//! Checkpoints (not built yet).

/// `funkd inspect` on a checkpoint file (not built yet).
pub fn inspect_command(path: &std::path::Path, _verify: bool, _json: bool) -> anyhow::Result<()> {
    anyhow::bail!("{}: inspecting checkpoints is not built yet", path.display())
}
