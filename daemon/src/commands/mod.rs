//! Commands that use a trained model, and the demo.

pub mod context;
pub mod cv;
pub mod demo;
pub mod eval;
pub mod export;
pub mod gradcheck;
pub mod npy;
pub mod pairs;
pub mod predict;
pub mod recommend;
pub mod rows;
pub mod svd;
pub mod titles;
pub mod tune;
pub mod workdir;
