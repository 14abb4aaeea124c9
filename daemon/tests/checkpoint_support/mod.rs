//! A small checkpoint built in memory, shared by the checkpoint tests.
#![allow(dead_code)]

use funk_kernel::{LearningRate, ModelKind};
use funkd::checkpoint::{Checkpoint, HoldOut, Method, Parameters, Progress, Settings};

/// A biased, constant-rate checkpoint of `users` × `items` rows of `k`
/// values (`rank` of them the model), two epochs in, with distinct values
/// everywhere.
pub fn checkpoint(users: usize, items: usize, rank: u32, k: u32) -> Checkpoint {
    let values = |n: usize, base: f32| -> Vec<f32> {
        (0..n).map(|i| base + (i % 97) as f32 * 0.25).collect()
    };
    Checkpoint {
        settings: Settings {
            kind: ModelKind::Biased,
            method: Method::Gd,
            schedule: LearningRate::Constant,
            rank,
            k,
            users: users as u64,
            items: items as u64,
            grid: 1,
            base_learning_rate: 0.02,
            learning_rate: 0.02,
            reg: 0.05,
            reg_bias: 0.01,
            seed: 7,
            data_identity: 42,
            isa: "scalar".into(),
            epochs: 5,
            early_stop: 0,
            validation: 0.0,
            reg_row: 0.0,
            hold_out: HoldOut::OriginalIds,
        },
        progress: Progress {
            epoch: 2,
            train_rmse: vec![1.0, 0.9],
            test_rmse: vec![1.1, 1.0],
            validation_rmse: vec![f64::NAN, f64::NAN],
            ..Progress::default()
        },
        params: Parameters {
            mu: 3.5,
            user_bias: values(users, 0.0),
            item_bias: values(items, -0.5),
            user_grad_sq: Vec::new(),
            item_grad_sq: Vec::new(),
            user_factors: values(users * k as usize, 0.125),
            item_factors: values(items * k as usize, -0.125),
        },
        epoch_start: None,
        best: None,
    }
}

/// The checkpoint's bytes as written.
pub fn encode(c: &Checkpoint) -> Vec<u8> {
    let mut bytes = Vec::new();
    c.encode(&mut bytes).unwrap();
    bytes
}
