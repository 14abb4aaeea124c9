//! The commands: each takes its parsed options, checks them into the
//! configuration of a library call, makes the call, and prints what it
//! returns (as text, or as one JSON object with `--json`). `context` is
//! what several of them share.

pub mod context;
pub mod cv;
pub mod demo;
pub mod eval;
pub mod export;
pub mod gen;
pub mod gradcheck;
pub mod import;
pub mod inspect;
pub mod predict;
pub mod recommend;
pub mod svd;
pub mod train;
pub mod tune;
