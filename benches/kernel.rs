//! Updates per second of funk-kernel's block trainer, for every ISA this
//! CPU has × K ∈ {32, 128} × a block whose rows stay in cache and a block
//! whose rows are larger than L2.
//!
//! `cargo bench --bench kernel`; criterion reports "thrpt" in elements/s,
//! one element being one rating's SGD update (biased model, constant
//! schedule, the ratings sorted by user then item as the rating file
//! stores a block).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use funk_kernel::{
    Band, BlockRatings, BlockTrainer, FactorRow, HyperParams, Isa, LearningRate, ModelKind, Rating,
};
use std::hint::black_box;
use std::time::Duration;

/// A block's shape: rows per band and ratings.
struct Shape {
    name: &'static str,
    user_rows: usize,
    item_rows: usize,
    ratings: usize,
}

const SHAPES: [Shape; 3] = [
    // 2 × 256 rows: 64 KiB of rows at K = 32, 256 KiB at K = 128.
    Shape {
        name: "cache-resident",
        user_rows: 256,
        item_rows: 256,
        ratings: 65_536,
    },
    // 2 × 32,768 rows: 8 MiB at K = 32, 32 MiB at K = 128 (far beyond L2).
    Shape {
        name: "beyond-L2",
        user_rows: 32_768,
        item_rows: 32_768,
        ratings: 1 << 20,
    },
    // One block of the full-scale Netflix grid (P = 32): 480,189 / 32 user
    // rows, 17,770 / 32 item rows, 99 M / 1,024 ratings. The item band stays
    // in L2 (71 KiB at K = 32, 284 KiB at K = 128); the user band does not
    // at K = 128 (7.3 MiB) and each user row is used ~6.5 times.
    Shape {
        name: "netflix-block",
        user_rows: 15_006,
        item_rows: 555,
        ratings: 97_000,
    },
];

#[path = "../kernel/examples/support/splitmix.rs"]
mod splitmix;
use splitmix::SplitMix;

struct Block<const K: usize> {
    users: Vec<FactorRow<K>>,
    items: Vec<FactorRow<K>>,
    user_biases: Vec<f32>,
    item_biases: Vec<f32>,
    ratings: Vec<Rating>,
}

fn block<const K: usize>(shape: &Shape) -> Block<K> {
    let mut rng = SplitMix(42);
    let rows = |n: usize, rng: &mut SplitMix| -> Vec<FactorRow<K>> {
        (0..n)
            .map(|_| {
                let mut row = FactorRow::zeroed();
                row.0.iter_mut().for_each(|v| *v = (rng.unit() - 0.5) * 0.2);
                row
            })
            .collect()
    };
    let users = rows(shape.user_rows, &mut rng);
    let items = rows(shape.item_rows, &mut rng);
    let mut ratings: Vec<Rating> = (0..shape.ratings)
        .map(|_| Rating {
            user: rng.below(shape.user_rows),
            item: rng.below(shape.item_rows),
            value: 1.0 + 4.0 * rng.unit(),
        })
        .collect();
    ratings.sort_by_key(|r| (r.user, r.item));
    Block {
        users,
        items,
        user_biases: vec![0.0; shape.user_rows],
        item_biases: vec![0.0; shape.item_rows],
        ratings,
    }
}

fn bench_k<const K: usize>(c: &mut Criterion) {
    let params = HyperParams::new(ModelKind::Biased, 0.005, 0.05, 0.01, LearningRate::Constant)
        .expect("valid parameters");
    for shape in &SHAPES {
        let mut group = c.benchmark_group(format!("train_block/K{K}/{}", shape.name));
        group.throughput(Throughput::Elements(shape.ratings as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        let mut b = block::<K>(shape);
        for isa in Isa::available() {
            group.bench_function(BenchmarkId::from_parameter(isa.name()), |bench| {
                bench.iter(|| {
                    let stats = BlockTrainer {
                        isa,
                        params,
                        epoch: 0,
                        mu: 3.0,
                    }
                    .train(
                        Band {
                            factors: &mut b.users,
                            biases: &mut b.user_biases,
                            grad_sq: &mut [],
                        },
                        Band {
                            factors: &mut b.items,
                            biases: &mut b.item_biases,
                            grad_sq: &mut [],
                        },
                        BlockRatings::new(black_box(&b.ratings)),
                    )
                    .expect("a valid block");
                    black_box(stats)
                })
            });
        }
        group.finish();
    }
}

fn kernel(c: &mut Criterion) {
    bench_k::<32>(c);
    bench_k::<128>(c);
}

criterion_group!(benches, kernel);
criterion_main!(benches);
