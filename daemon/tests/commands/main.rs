//! End-to-end tests of the model commands (eval, predict, recommend,
//! export, svd, gradcheck, cv, and finding the data file without --data): each spawns the real `funkd` binary on
//! small data generated here, and checks what it prints against the model
//! read back through the library; and of the library calls behind them
//! (tune's among them), against what the commands print.

mod fixture;

mod cv;
mod data_path;
mod eval;
mod export;
mod gradcheck;
mod predict;
mod recommend;
mod svd;
mod tune;
