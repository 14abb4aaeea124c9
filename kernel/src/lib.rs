//! # funk-kernel
//!
//! The `#![no_std]` numeric core of funk: Simon Funk's stochastic "SVD"
//! (regularised low-rank matrix factorisation trained by SGD).
//!
//! It owns the numbers and nothing else: fixed-size aligned factor rows
//! ([`FactorRow`]), the rating record ([`Rating`]), validated
//! hyper-parameters ([`HyperParams`]), the per-rating update in a scalar
//! reference and explicit SIMD paths (AVX2+FMA, AVX-512F, NEON) chosen at
//! run time from a CPU-feature token ([`Isa`]), the cache-blocked block
//! trainer ([`BlockTrainer`]), loss in f64 ([`evaluate_block`]), full
//! gradients ([`accumulate_gradient`], [`gradient_step`]), the objective
//! ([`objective()`]) and the gradient check ([`check_gradient`]), and
//! divergence detection ([`DivergenceMonitor`], [`all_finite`]),
//! fold-in of a new user against fixed item factors ([`fold_in`]), and a
//! trained model's arithmetic: the value of a pair ([`predict`],
//! [`row_prior`], [`clamp`]) and a row scored against every item, best N
//! first ([`ItemPanels`], [`top_n`], [`top_n_cosine`]).
//!
//! No allocation, no I/O, no threads, no global ids: a block's rows and
//! ratings are handed in by the caller.
//!
//! The objective, one definition for SGD, GD and the check:
//!
//! J = Σ_(u,i)∈Ω [ e_ui² + λ(‖p_u‖² + ‖q_i‖²) + λ_b(b_u² + b_i²) ],
//! e_ui = r_ui − (μ + b_u + b_i + p_u·q_i) (plain model: no μ, no biases).
//!
//! # Examples
//!
//! ```
//! use funk_kernel::*;
//! let params = HyperParams::new(ModelKind::Plain, 0.05, 0.0, 0.0, LearningRate::Constant).unwrap();
//! let mut users = [FactorRow::<16>::splat(0.1); 2];
//! let mut items = [FactorRow::<16>::splat(0.1); 2];
//! let ratings = [
//!     Rating { user: 0, item: 0, value: 1.0 },
//!     Rating { user: 1, item: 1, value: 0.5 },
//! ];
//! let trainer = BlockTrainer::new(Isa::detect(), params);
//! let mut last = f64::INFINITY;
//! for epoch in 0..50 {
//!     let band = |f| Band { factors: f, biases: &mut [], grad_sq: &mut [] };
//!     let stats = trainer.at_epoch(epoch).train(band(&mut users), band(&mut items), &ratings).unwrap();
//!     assert!(stats.sse <= last);
//!     last = stats.sse;
//! }
//! assert!(last < 0.01);
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod advanced;
pub mod arch;
mod band;
mod block;
mod checked;
mod divergence;
mod error;
mod foldin;
mod gradcheck;
mod gradient;
mod loss;
mod objective;
mod params;
mod rating;
mod row;
mod rowops;
mod score;
mod sgd;
mod shape;
mod validate;
mod view;

pub use arch::{Avx2FmaToken, Avx512Token, Isa, NeonToken};
pub use band::Band;
pub use block::{BlockRatings, BlockStats, BlockTrainer, ADAPTIVE_INITIAL_ACCUMULATOR};
pub use checked::CheckedRatings;
pub use divergence::{all_finite, DivergenceMonitor, Health};
pub use error::KernelError;
pub use foldin::{fold_in, FoldIn, FoldInError, ItemFactors, ItemRating};
pub use gradcheck::{check_gradient, GradCheckReport, RELATIVE_ERROR_FLOOR};
pub use gradient::{accumulate_gradient, gradient_step};
pub use loss::{evaluate_block, LossStats};
pub use objective::{objective, ParamRef};
pub use params::{HyperParams, LearningRate, ModelKind, ParamError};
pub use rating::Rating;
pub use row::FactorRow;
pub use score::{
    clamp, dot, item_prior, predict, row_norm, row_prior, score, top_n, top_n_cosine, ItemPanels,
    ScoreError, Scored, TopN, PANEL_ITEMS,
};
pub use view::{BandGrad, BandView};

// The Rust examples in the crate's README run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
