//! # funkd
//!
//! The std side of funk: everything with a file or a thread in it. It
//! memory-maps a binary rating file, streams strata of non-conflicting
//! blocks to worker threads that run [`funk_kernel::BlockTrainer`],
//! checkpoints atomically, resumes bit-exactly, and runs as a service.
//!
//! The binary `funkd` is a thin shell over [`cli`]; every command lives in
//! its own module so that other programs (and the tests) can call it.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod atomic;
pub mod bounded_io;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod compact;
pub mod courtesy;
pub mod cv;
pub mod dirlock;
pub mod error;
pub mod eval;
pub mod export;
pub mod gen;
pub mod gradcheck;
pub mod import;
pub mod input;
pub mod model;
pub mod output;
pub mod rank;
pub mod ratingfile;
pub mod report;
pub mod runstate;
pub mod serve;
pub mod service;
pub mod svd;
pub mod train;
pub mod trained;
pub mod tune;
