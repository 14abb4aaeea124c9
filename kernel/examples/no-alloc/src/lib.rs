//! A tiny rank-2 factorisation trained entirely on the stack: no heap, no
//! allocator, no std. Builds for any target funk-kernel supports.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

use funk_kernel::{
    evaluate_block, Band, BandView, BlockTrainer, FactorRow, HyperParams, Isa, LearningRate,
    LossStats, ModelKind, Rating,
};

const USERS: usize = 4;
const ITEMS: usize = 5;

/// What [`run`] reports.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// The instruction set the kernel chose.
    pub isa: Isa,
    /// RMSE before training.
    pub initial_rmse: f64,
    /// RMSE after training.
    pub final_rmse: f64,
    /// Epochs run.
    pub epochs: u32,
}

/// Fits a fully observed 4 × 5 rank-2 matrix with SGD and reports the RMSE
/// before and after. Everything lives in fixed-size arrays on the stack.
pub fn run() -> Outcome {
    let a = [1.0f32, -0.5, 0.25, 2.0, 0.0];
    let b = [0.5f32, 1.0, -1.0, 0.0, 1.5];
    let mut ratings = [Rating::default(); USERS * ITEMS];
    for (n, r) in ratings.iter_mut().enumerate() {
        let (u, i) = (n / ITEMS, n % ITEMS);
        // rank 2: r = x_u a_i + y_u b_i
        let (x, y) = (1.0 + u as f32 * 0.5, 1.0 - u as f32 * 0.3);
        *r = Rating {
            user: u as u32,
            item: i as u32,
            value: x * a[i] + y * b[i],
        };
    }
    let mut users = [FactorRow::<16>::zeroed(); USERS];
    let mut items = [FactorRow::<16>::zeroed(); ITEMS];
    for (n, row) in users.iter_mut().chain(items.iter_mut()).enumerate() {
        // a deterministic, asymmetric start in the first two dimensions
        row.0[0] = 0.3 + 0.05 * n as f32;
        row.0[1] = 0.2 - 0.07 * n as f32;
    }
    let params = HyperParams::new(ModelKind::Plain, 0.05, 0.0, 0.0, LearningRate::Constant)
        .unwrap_or_else(|_| unreachable!("constant, valid parameters"));
    let isa = Isa::detect();
    let loss = |users: &[FactorRow<16>], items: &[FactorRow<16>]| -> LossStats {
        let view = |rows| BandView {
            factors: rows,
            biases: &[],
        };
        evaluate_block(
            isa,
            ModelKind::Plain,
            0.0,
            view(users),
            view(items),
            &ratings,
            None,
        )
        .unwrap_or_default()
    };
    let initial_rmse = loss(&users, &items).rmse();
    let epochs = 2000;
    let trainer = BlockTrainer::new(isa, params);
    for epoch in 0..epochs {
        let band = |rows| Band {
            factors: rows,
            biases: &mut [],
            grad_sq: &mut [],
        };
        let trained = trainer
            .at_epoch(epoch)
            .train(band(&mut users), band(&mut items), &ratings);
        if trained.is_err() {
            break;
        }
    }
    Outcome {
        isa,
        initial_rmse,
        final_rmse: loss(&users, &items).rmse(),
        epochs,
    }
}
