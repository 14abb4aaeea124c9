//! The long-lived service: signals, status file, metrics (not built yet).
