//! Commands that use a trained model, and the demo.

pub mod cv;
pub mod demo;
pub mod eval;
pub mod export;
pub mod gradcheck;
pub mod predict;
pub mod recommend;
pub mod svd;
