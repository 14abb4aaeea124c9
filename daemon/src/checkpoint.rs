//! Checkpoints (not built yet).
