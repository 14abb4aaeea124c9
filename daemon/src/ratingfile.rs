//! The binary rating file (not built yet).
