//! The C ABI, called as C calls it (raw pointers and lengths): results
//! equal to calling funk-kernel directly, to the bit, and every bad
//! pointer, length or parameter answered by its status code with the
//! caller's buffers untouched.

use std::ffi::CStr;
use std::ptr;

use funk_capi::*;
use funk_kernel::{
    evaluate_block, fold_in, Band, BandView, BlockRatings, BlockTrainer, FactorRow, FoldIn,
    HyperParams, Isa, ItemFactors, ItemRating, LearningRate, ModelKind, Rating,
};

/// A small deterministic generator (xorshift64*), so the tests need no
/// random-number crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [lo, hi).
    fn float(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// A model's worth of buffers: factors, biases and accumulators per band.
#[derive(Clone, Debug, PartialEq)]
struct Model<const K: usize> {
    users: Vec<FactorRow<K>>,
    items: Vec<FactorRow<K>>,
    user_biases: Vec<f32>,
    item_biases: Vec<f32>,
    user_grad_sq: Vec<f32>,
    item_grad_sq: Vec<f32>,
}

impl<const K: usize> Model<K> {
    fn random(rng: &mut Rng, n_users: usize, n_items: usize) -> Self {
        let mut row = || {
            let mut r = FactorRow::<K>::zeroed();
            for v in &mut r.0 {
                *v = rng.float(-0.3, 0.3);
            }
            r
        };
        let users = (0..n_users).map(|_| row()).collect();
        let items = (0..n_items).map(|_| row()).collect();
        let mut biases = |n| (0..n).map(|_| rng.float(-0.5, 0.5)).collect::<Vec<_>>();
        Self {
            users,
            items,
            user_biases: biases(n_users),
            item_biases: biases(n_items),
            user_grad_sq: vec![ADAPTIVE; n_users],
            item_grad_sq: vec![ADAPTIVE; n_items],
        }
    }

    fn c_bands(&mut self) -> (FunkBand, FunkBand) {
        (
            FunkBand {
                factors: self.users.as_mut_ptr().cast(),
                biases: self.user_biases.as_mut_ptr(),
                grad_sq: self.user_grad_sq.as_mut_ptr(),
                rows: self.users.len(),
            },
            FunkBand {
                factors: self.items.as_mut_ptr().cast(),
                biases: self.item_biases.as_mut_ptr(),
                grad_sq: self.item_grad_sq.as_mut_ptr(),
                rows: self.items.len(),
            },
        )
    }

    fn c_views(&self) -> (FunkBandView, FunkBandView) {
        (
            FunkBandView {
                factors: self.users.as_ptr().cast(),
                biases: self.user_biases.as_ptr(),
                rows: self.users.len(),
            },
            FunkBandView {
                factors: self.items.as_ptr().cast(),
                biases: self.item_biases.as_ptr(),
                rows: self.items.len(),
            },
        )
    }

    fn views(&self) -> (BandView<'_, K>, BandView<'_, K>) {
        (
            BandView {
                factors: &self.users,
                biases: &self.user_biases,
            },
            BandView {
                factors: &self.items,
                biases: &self.item_biases,
            },
        )
    }
}

const ADAPTIVE: f32 = FUNK_ADAPTIVE_INITIAL_ACCUMULATOR;

fn ratings(rng: &mut Rng, n: usize, n_users: u32, n_items: u32) -> Vec<FunkRating> {
    (0..n)
        .map(|_| FunkRating {
            user: rng.below(n_users),
            item: rng.below(n_items),
            value: rng.float(1.0, 5.0),
        })
        .collect()
}

fn kernel_ratings(r: &[FunkRating]) -> Vec<Rating> {
    r.iter()
        .map(|r| Rating {
            user: r.user,
            item: r.item,
            value: r.value,
        })
        .collect()
}

fn train_params(k: usize, model: FunkModelKind, schedule: FunkSchedule) -> FunkTrainParams {
    FunkTrainParams {
        k: k as u32,
        model: model as u32,
        schedule: schedule as u32,
        isa: FunkIsa::Auto as u32,
        learning_rate: 0.02,
        reg_factors: 0.05,
        reg_bias: 0.01,
        decay: 0.1,
        mu: 3.0,
        epoch: 2,
    }
}

fn eval_params(k: usize, model: FunkModelKind) -> FunkEvalParams {
    FunkEvalParams {
        k: k as u32,
        model: model as u32,
        isa: FunkIsa::Auto as u32,
        mu: 3.0,
        clamp_low: f32::NEG_INFINITY,
        clamp_high: f32::INFINITY,
    }
}

/// Calls `funk_train_block` on `model` with the ratings and skip list.
fn c_train<const K: usize>(
    params: &FunkTrainParams,
    model: &mut Model<K>,
    ratings: &[FunkRating],
    skip: &[u32],
) -> (FunkStatus, FunkBlockStats) {
    let (users, items) = model.c_bands();
    let mut stats = FunkBlockStats::default();
    // SAFETY: every pointer is to live memory of the stated length.
    let status = unsafe {
        funk_train_block(
            params,
            &users,
            &items,
            ratings.as_ptr(),
            ratings.len(),
            skip.as_ptr(),
            skip.len(),
            &mut stats,
        )
    };
    (status, stats)
}

/// Every instruction set this CPU has, as the kernel and the C interface
/// name it.
fn isas() -> Vec<(Isa, FunkIsa)> {
    Isa::available()
        .into_iter()
        .map(|isa| {
            let code = match isa.name() {
                "scalar" => FunkIsa::Scalar,
                "avx2" => FunkIsa::Avx2,
                "avx512" => FunkIsa::Avx512,
                "neon" => FunkIsa::Neon,
                other => panic!("an instruction set the C interface does not name: {other}"),
            };
            (isa, code)
        })
        .collect()
}

fn train_equals_kernel<const K: usize>(model_kind: FunkModelKind, schedule: FunkSchedule) {
    for (isa, code) in isas() {
        train_on_isa_equals_kernel::<K>(model_kind, schedule, isa, code);
    }
}

fn train_on_isa_equals_kernel<const K: usize>(
    model_kind: FunkModelKind,
    schedule: FunkSchedule,
    isa: Isa,
    code: FunkIsa,
) {
    let mut rng = Rng(0x5eed ^ K as u64);
    let (n_users, n_items) = (23, 17);
    let start = Model::<K>::random(&mut rng, n_users, n_items);
    let ratings = ratings(&mut rng, 300, n_users as u32, n_items as u32);
    let skip = [3, 10, 11, 299];
    let params = FunkTrainParams {
        isa: code as u32,
        ..train_params(K, model_kind, schedule)
    };

    let mut through_c = start.clone();
    let mut c_sse = Vec::new();
    for epoch in 0..3 {
        let params = FunkTrainParams { epoch, ..params };
        let (status, stats) = c_train(&params, &mut through_c, &ratings, &skip);
        assert_eq!(status, FunkStatus::Ok);
        assert_eq!(stats.count, (ratings.len() - skip.len()) as u64);
        c_sse.push(stats.sse);
    }

    let kind = match model_kind {
        FunkModelKind::Plain => ModelKind::Plain,
        FunkModelKind::Biased => ModelKind::Biased,
    };
    let rate = match schedule {
        FunkSchedule::Constant => LearningRate::Constant,
        FunkSchedule::Decay => LearningRate::Decay { decay: 0.1 },
        FunkSchedule::Adaptive => LearningRate::Adaptive,
    };
    let hyper = HyperParams::new(kind, 0.02, 0.05, 0.01, rate).unwrap();
    let mut direct = start.clone();
    let kernel = kernel_ratings(&ratings);
    let mut kernel_sse = Vec::new();
    for epoch in 0..3 {
        let users = Band {
            factors: &mut direct.users,
            biases: &mut direct.user_biases,
            grad_sq: &mut direct.user_grad_sq,
        };
        let items = Band {
            factors: &mut direct.items,
            biases: &mut direct.item_biases,
            grad_sq: &mut direct.item_grad_sq,
        };
        let trainer = BlockTrainer::new(isa, hyper).at_epoch(epoch).with_mean(3.0);
        let block = BlockRatings::new(&kernel).skipping(&skip);
        let stats = trainer.train(users, items, block).unwrap();
        kernel_sse.push(stats.sse);
    }
    let label = format!("K = {K} on {}", isa.name());
    assert_same_bits(&through_c, &direct, &label);
    assert_eq!(c_sse, kernel_sse, "{label}");
    assert_ne!(through_c, start, "training moved nothing");
}

/// Bit equality (NaN included), naming the first differing value.
fn assert_same_bits<const K: usize>(a: &Model<K>, b: &Model<K>, label: &str) {
    let flat = |m: &Model<K>| -> Vec<(String, u32)> {
        let rows = |name: &str, rows: &[FactorRow<K>]| {
            rows.iter()
                .enumerate()
                .flat_map(|(r, row)| {
                    row.0
                        .iter()
                        .enumerate()
                        .map(move |(d, v)| (format!("{name}[{r}][{d}]"), v.to_bits()))
                })
                .collect::<Vec<_>>()
        };
        let side = |name: &str, v: &[f32]| {
            v.iter()
                .enumerate()
                .map(|(i, x)| (format!("{name}[{i}]"), x.to_bits()))
                .collect::<Vec<_>>()
        };
        [
            rows("users", &m.users),
            rows("items", &m.items),
            side("user_biases", &m.user_biases),
            side("item_biases", &m.item_biases),
            side("user_grad_sq", &m.user_grad_sq),
            side("item_grad_sq", &m.item_grad_sq),
        ]
        .concat()
    };
    let (fa, fb) = (flat(a), flat(b));
    assert_eq!(fa.len(), fb.len());
    if let Some(((name, x), (_, y))) = fa.iter().zip(&fb).find(|(x, y)| x.1 != y.1) {
        panic!(
            "{label}: {name} differs: {} vs {}",
            f32::from_bits(*x),
            f32::from_bits(*y)
        );
    }
}

#[test]
fn train_block_equals_the_kernel_bit_for_bit_for_every_k_and_isa() {
    train_equals_kernel::<16>(FunkModelKind::Plain, FunkSchedule::Constant);
    train_equals_kernel::<32>(FunkModelKind::Biased, FunkSchedule::Decay);
    train_equals_kernel::<64>(FunkModelKind::Biased, FunkSchedule::Adaptive);
    train_equals_kernel::<128>(FunkModelKind::Biased, FunkSchedule::Constant);
}

#[test]
fn train_block_accepts_null_stats_and_an_empty_block_with_null_pointers() {
    let mut rng = Rng(7);
    let mut model = Model::<16>::random(&mut rng, 4, 4);
    let before = model.clone();
    let params = train_params(16, FunkModelKind::Plain, FunkSchedule::Constant);
    let (users, items) = model.c_bands();
    // SAFETY: empty arrays may be NULL; the bands point to live memory.
    let status = unsafe {
        funk_train_block(
            &params,
            &users,
            &items,
            ptr::null(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, FunkStatus::Ok);
    assert_eq!(model, before);
}

fn evaluate_equals_kernel<const K: usize>(kind: FunkModelKind, clamp: (f32, f32)) {
    for (isa, code) in isas() {
        evaluate_on_isa_equals_kernel::<K>(kind, clamp, isa, code);
    }
}

fn evaluate_on_isa_equals_kernel<const K: usize>(
    kind: FunkModelKind,
    clamp: (f32, f32),
    isa: Isa,
    code: FunkIsa,
) {
    let mut rng = Rng(99 + K as u64);
    let model = Model::<K>::random(&mut rng, 9, 11);
    let ratings = ratings(&mut rng, 200, 9, 11);
    let params = FunkEvalParams {
        clamp_low: clamp.0,
        clamp_high: clamp.1,
        isa: code as u32,
        ..eval_params(K, kind)
    };
    let (users, items) = model.c_views();
    let mut out = FunkLossStats::default();
    // SAFETY: every pointer is to live memory of the stated length.
    let status = unsafe {
        funk_evaluate_block(
            &params,
            &users,
            &items,
            ratings.as_ptr(),
            ratings.len(),
            &mut out,
        )
    };
    assert_eq!(status, FunkStatus::Ok);
    let model_kind = match kind {
        FunkModelKind::Plain => ModelKind::Plain,
        FunkModelKind::Biased => ModelKind::Biased,
    };
    let (u, i) = model.views();
    let loss = evaluate_block(
        isa,
        model_kind,
        3.0,
        u,
        i,
        &kernel_ratings(&ratings),
        Some(clamp),
    )
    .unwrap();
    assert_eq!(
        (out.sse, out.sae, out.count),
        (loss.sse, loss.sae, loss.count)
    );
    assert_eq!((out.rmse, out.mae), (loss.rmse(), loss.mae()));
    assert!(out.rmse > 0.0);
}

#[test]
fn evaluate_block_equals_the_kernel_for_every_k_and_isa() {
    let none = (f32::NEG_INFINITY, f32::INFINITY);
    evaluate_equals_kernel::<16>(FunkModelKind::Plain, none);
    evaluate_equals_kernel::<32>(FunkModelKind::Biased, (1.0, 5.0));
    evaluate_equals_kernel::<64>(FunkModelKind::Biased, none);
    evaluate_equals_kernel::<128>(FunkModelKind::Plain, (2.0, 2.5));
}

fn c_predict<const K: usize>(
    params: &FunkEvalParams,
    model: &Model<K>,
    user: u32,
    item: u32,
) -> (FunkStatus, f32) {
    let (users, items) = model.c_views();
    let mut out = f32::NAN;
    // SAFETY: every pointer is to live memory of the stated length.
    let status = unsafe { funk_predict(params, &users, &items, user, item, &mut out) };
    (status, out)
}

#[test]
fn predict_is_exactly_the_prediction_evaluation_scores() {
    let mut rng = Rng(3);
    let model = Model::<32>::random(&mut rng, 5, 6);
    let cases = isas().into_iter().flat_map(|(_, isa)| {
        [FunkModelKind::Plain, FunkModelKind::Biased].map(move |kind| (isa, kind))
    });
    for (isa, kind) in cases {
        for clamp in [(f32::NEG_INFINITY, f32::INFINITY), (2.9, 3.1)] {
            let params = FunkEvalParams {
                clamp_low: clamp.0,
                clamp_high: clamp.1,
                isa: isa as u32,
                ..eval_params(32, kind)
            };
            for (user, item) in [(0, 0), (4, 5), (2, 3)] {
                let (status, predicted) = c_predict(&params, &model, user, item);
                assert_eq!(status, FunkStatus::Ok);
                // A rating equal to the prediction has error 0 in the
                // kernel's evaluation only if both compute the same bits.
                let rating = [FunkRating {
                    user,
                    item,
                    value: predicted,
                }];
                let (users, items) = model.c_views();
                let mut loss = FunkLossStats::default();
                // SAFETY: every pointer is to live memory of the stated length.
                let status = unsafe {
                    funk_evaluate_block(&params, &users, &items, rating.as_ptr(), 1, &mut loss)
                };
                assert_eq!(status, FunkStatus::Ok);
                assert_eq!(loss.sae, 0.0, "{isa:?} {kind:?} {clamp:?} ({user}, {item})");
            }
        }
    }
    // And the number is the model's: μ + b_u + b_i + p·q, to rounding.
    let params = eval_params(32, FunkModelKind::Biased);
    let (_, predicted) = c_predict(&params, &model, 1, 2);
    let dot: f32 = (0..32)
        .map(|d| model.users[1].0[d] * model.items[2].0[d])
        .sum();
    let expected = 3.0 + model.user_biases[1] + model.item_biases[2] + dot;
    assert!(
        (predicted - expected).abs() < 1e-5,
        "{predicted} vs {expected}"
    );
}

#[test]
fn predict_refuses_rows_outside_the_bands() {
    let model = Model::<16>::random(&mut Rng(5), 3, 4);
    let params = eval_params(16, FunkModelKind::Plain);
    assert_eq!(
        c_predict(&params, &model, 3, 0).0,
        FunkStatus::UserOutOfRange
    );
    assert_eq!(
        c_predict(&params, &model, 0, 4).0,
        FunkStatus::ItemOutOfRange
    );
    let (status, out) = c_predict(&params, &model, 2, 3);
    assert_eq!(status, FunkStatus::Ok);
    assert!(out.is_finite());
}

fn foldin_params(k: usize, rank: usize, kind: FunkModelKind, reg: f32) -> FunkFoldInParams {
    FunkFoldInParams {
        k: k as u32,
        rank: rank as u32,
        model: kind as u32,
        reg_factors: reg,
        reg_bias: reg,
        reg_row: 0.5,
        mu: 3.0,
    }
}

fn c_fold_in<const K: usize>(
    params: &FunkFoldInParams,
    model: &Model<K>,
    ratings: &[FunkItemRating],
    row: &mut [f32],
) -> (FunkStatus, f32) {
    let (_, items) = model.c_views();
    let mut bias = f32::NAN;
    // SAFETY: every pointer is to live memory of the stated length.
    let status = unsafe {
        funk_fold_in(
            params,
            &items,
            ratings.as_ptr(),
            ratings.len(),
            row.as_mut_ptr(),
            &mut bias,
        )
    };
    (status, bias)
}

fn fold_in_equals_kernel<const K: usize>(rank: usize, kind: FunkModelKind) {
    let mut rng = Rng(11 + K as u64);
    let model = Model::<K>::random(&mut rng, 1, 40);
    let ratings: Vec<FunkItemRating> = (0..25)
        .map(|_| FunkItemRating {
            item: rng.below(40),
            value: rng.float(1.0, 5.0),
        })
        .collect();
    let params = foldin_params(K, rank, kind, 0.05);
    let mut row = vec![f32::NAN; K];
    let (status, bias) = c_fold_in(&params, &model, &ratings, &mut row);
    assert_eq!(status, FunkStatus::Ok);

    let model_kind = match kind {
        FunkModelKind::Plain => ModelKind::Plain,
        FunkModelKind::Biased => ModelKind::Biased,
    };
    let solver = FoldIn::new(model_kind, 0.05, 0.05, 3.0)
        .unwrap()
        .with_row_prior(0.5)
        .unwrap();
    let items = ItemFactors::from_rows(&model.items, rank, &model.item_biases).unwrap();
    let kernel: Vec<ItemRating> = ratings
        .iter()
        .map(|r| ItemRating {
            item: r.item,
            value: r.value,
        })
        .collect();
    let mut expected = vec![f32::NAN; K];
    let expected_bias = fold_in::<K>(&solver, &items, &kernel, &mut expected).unwrap();
    assert_eq!(row, expected, "K = {K}, rank = {rank}");
    assert_eq!(bias.to_bits(), expected_bias.to_bits());
    assert!(row[rank..].iter().all(|&v| v == 0.0));
    assert!(row[..rank].iter().any(|&v| v != 0.0));
}

#[test]
fn fold_in_equals_the_kernel_for_every_k() {
    fold_in_equals_kernel::<16>(16, FunkModelKind::Plain);
    fold_in_equals_kernel::<32>(20, FunkModelKind::Biased);
    fold_in_equals_kernel::<64>(64, FunkModelKind::Biased);
    fold_in_equals_kernel::<128>(100, FunkModelKind::Plain);
}

#[test]
fn fold_in_without_a_bias_pointer_still_writes_the_row() {
    let model = Model::<16>::random(&mut Rng(8), 1, 5);
    let ratings = [FunkItemRating {
        item: 2,
        value: 4.0,
    }];
    let params = foldin_params(16, 16, FunkModelKind::Biased, 0.1);
    let (_, items) = model.c_views();
    let mut row = [f32::NAN; 16];
    // SAFETY: live memory; the bias pointer may be NULL.
    let status = unsafe {
        funk_fold_in(
            &params,
            &items,
            ratings.as_ptr(),
            1,
            row.as_mut_ptr(),
            ptr::null_mut(),
        )
    };
    assert_eq!(status, FunkStatus::Ok);
    assert!(row.iter().all(|v| v.is_finite()));
}

#[test]
fn fold_in_reports_its_own_refusals() {
    let model = Model::<16>::random(&mut Rng(9), 1, 5);
    let one = [FunkItemRating {
        item: 1,
        value: 4.0,
    }];
    let mut row = [7.0f32; 16];
    // λ = 0, λ₀ = 0 and one rating cannot determine 16 factors.
    let singular = FunkFoldInParams {
        reg_row: 0.0,
        ..foldin_params(16, 16, FunkModelKind::Plain, 0.0)
    };
    assert_eq!(
        c_fold_in(&singular, &model, &one, &mut row).0,
        FunkStatus::Singular
    );
    let cases = [
        (
            foldin_params(16, 17, FunkModelKind::Plain, 0.1),
            FunkStatus::Rank,
        ),
        (
            foldin_params(16, 4, FunkModelKind::Plain, -0.1),
            FunkStatus::RegFactors,
        ),
        (
            FunkFoldInParams {
                reg_row: f32::NAN,
                ..foldin_params(16, 4, FunkModelKind::Plain, 0.1)
            },
            FunkStatus::RegRow,
        ),
        (
            FunkFoldInParams {
                mu: f32::INFINITY,
                ..foldin_params(16, 4, FunkModelKind::Biased, 0.1)
            },
            FunkStatus::Mean,
        ),
        (
            foldin_params(48, 4, FunkModelKind::Plain, 0.1),
            FunkStatus::UnsupportedK,
        ),
        (
            FunkFoldInParams {
                model: 7,
                ..foldin_params(16, 4, FunkModelKind::Plain, 0.1)
            },
            FunkStatus::UnknownModel,
        ),
    ];
    for (params, want) in cases {
        assert_eq!(c_fold_in(&params, &model, &one, &mut row).0, want);
    }
    let params = foldin_params(16, 4, FunkModelKind::Plain, 0.1);
    let outside = [FunkItemRating {
        item: 5,
        value: 4.0,
    }];
    assert_eq!(
        c_fold_in(&params, &model, &outside, &mut row).0,
        FunkStatus::ItemOutOfRange
    );
    let nan = [FunkItemRating {
        item: 0,
        value: f32::NAN,
    }];
    assert_eq!(
        c_fold_in(&params, &model, &nan, &mut row).0,
        FunkStatus::RatingNotFinite
    );
    assert_eq!(row, [7.0; 16], "a refused fold-in wrote the row");
}

#[test]
fn null_required_pointers_are_refused_and_nothing_is_written() {
    let mut rng = Rng(13);
    let mut model = Model::<16>::random(&mut rng, 4, 4);
    let before = model.clone();
    let ratings = ratings(&mut rng, 10, 4, 4);
    let params = train_params(16, FunkModelKind::Biased, FunkSchedule::Constant);
    let (users, items) = model.c_bands();
    let null_factors = FunkBand {
        factors: ptr::null_mut(),
        ..users
    };
    // SAFETY: in each call, every non-NULL pointer is to live memory of the
    // stated length; the NULL ones are what is tested.
    let calls: [(&str, FunkStatus); 6] = unsafe {
        [
            (
                "params",
                funk_train_block(
                    ptr::null(),
                    &users,
                    &items,
                    ratings.as_ptr(),
                    10,
                    ptr::null(),
                    0,
                    ptr::null_mut(),
                ),
            ),
            (
                "users",
                funk_train_block(
                    &params,
                    ptr::null(),
                    &items,
                    ratings.as_ptr(),
                    10,
                    ptr::null(),
                    0,
                    ptr::null_mut(),
                ),
            ),
            (
                "items",
                funk_train_block(
                    &params,
                    &users,
                    ptr::null(),
                    ratings.as_ptr(),
                    10,
                    ptr::null(),
                    0,
                    ptr::null_mut(),
                ),
            ),
            (
                "ratings",
                funk_train_block(
                    &params,
                    &users,
                    &items,
                    ptr::null(),
                    10,
                    ptr::null(),
                    0,
                    ptr::null_mut(),
                ),
            ),
            (
                "skip",
                funk_train_block(
                    &params,
                    &users,
                    &items,
                    ratings.as_ptr(),
                    10,
                    ptr::null(),
                    2,
                    ptr::null_mut(),
                ),
            ),
            (
                "factors",
                funk_train_block(
                    &params,
                    &null_factors,
                    &items,
                    ratings.as_ptr(),
                    10,
                    ptr::null(),
                    0,
                    ptr::null_mut(),
                ),
            ),
        ]
    };
    for (what, status) in calls {
        assert_eq!(status, FunkStatus::NullPointer, "NULL {what}");
    }
    assert_eq!(model, before);

    let eval = eval_params(16, FunkModelKind::Plain);
    let (u, i) = model.c_views();
    // SAFETY: live memory except the NULL out-parameter under test.
    let status =
        unsafe { funk_evaluate_block(&eval, &u, &i, ratings.as_ptr(), 10, ptr::null_mut()) };
    assert_eq!(status, FunkStatus::NullPointer);
    // SAFETY: as above.
    let status = unsafe { funk_predict(&eval, &u, &i, 0, 0, ptr::null_mut()) };
    assert_eq!(status, FunkStatus::NullPointer);
    let fold = foldin_params(16, 16, FunkModelKind::Plain, 0.1);
    // SAFETY: as above (the NULL row).
    let status =
        unsafe { funk_fold_in(&fold, &i, ptr::null(), 0, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(status, FunkStatus::NullPointer);
}

#[test]
fn misaligned_oversized_and_overlapping_buffers_are_refused_untouched() {
    let mut rng = Rng(17);
    let mut model = Model::<16>::random(&mut rng, 4, 4);
    let ratings = ratings(&mut rng, 10, 4, 4);
    let params = train_params(16, FunkModelKind::Plain, FunkSchedule::Constant);
    let (users, items) = model.c_bands();
    let train = |users: &FunkBand, items: &FunkBand| {
        // SAFETY: every pointer is inside live memory; the bands' rows
        // claims are what is tested (and checked before any access).
        unsafe {
            funk_train_block(
                &params,
                users,
                items,
                ratings.as_ptr(),
                10,
                ptr::null(),
                0,
                ptr::null_mut(),
            )
        }
    };
    let before = model.clone();

    // One float past a 64-byte boundary: 4-aligned, not row-aligned.
    // SAFETY: inside the user factors (3 of 4 rows claimed).
    let shifted = unsafe { users.factors.add(1) };
    let misaligned = FunkBand {
        factors: shifted,
        rows: 3,
        ..users
    };
    assert_eq!(train(&misaligned, &items), FunkStatus::Misaligned);

    let huge = FunkBand {
        rows: usize::MAX / 8,
        ..users
    };
    assert_eq!(train(&huge, &items), FunkStatus::TooLarge);

    // The item band claims the user band's last row as its first.
    // SAFETY: inside the user factors.
    let last_user_row = unsafe { users.factors.add(3 * 16) };
    let overlapping = FunkBand {
        factors: last_user_row,
        rows: 1,
        ..items
    };
    let local = [FunkRating {
        user: 0,
        item: 0,
        value: 1.0,
    }];
    // SAFETY: every pointer is to live memory; the overlap is what is tested.
    let status = unsafe {
        funk_train_block(
            &params,
            &users,
            &overlapping,
            local.as_ptr(),
            1,
            ptr::null(),
            0,
            ptr::null_mut(),
        )
    };
    assert_eq!(status, FunkStatus::Overlap);
    // Biases that alias another band's accumulators.
    let aliased = FunkBand {
        biases: users.grad_sq,
        ..items
    };
    assert_eq!(train(&users, &aliased), FunkStatus::Overlap);
    assert_eq!(model, before);
}

#[test]
fn bad_parameters_and_indices_get_their_codes_and_leave_the_bands_untouched() {
    let mut rng = Rng(19);
    let mut model = Model::<32>::random(&mut rng, 5, 5);
    let before = model.clone();
    let good = ratings(&mut rng, 20, 5, 5);
    let base = train_params(32, FunkModelKind::Biased, FunkSchedule::Adaptive);
    let cases = [
        (FunkTrainParams { k: 24, ..base }, FunkStatus::UnsupportedK),
        (FunkTrainParams { k: 8, ..base }, FunkStatus::UnsupportedK),
        (
            FunkTrainParams { model: 2, ..base },
            FunkStatus::UnknownModel,
        ),
        (
            FunkTrainParams {
                schedule: 9,
                ..base
            },
            FunkStatus::UnknownSchedule,
        ),
        (FunkTrainParams { isa: 77, ..base }, FunkStatus::UnknownIsa),
        (
            FunkTrainParams {
                learning_rate: 0.0,
                ..base
            },
            FunkStatus::LearningRate,
        ),
        (
            FunkTrainParams {
                reg_factors: f32::NAN,
                ..base
            },
            FunkStatus::RegFactors,
        ),
        (
            FunkTrainParams {
                reg_bias: -1.0,
                ..base
            },
            FunkStatus::RegBias,
        ),
        (
            FunkTrainParams {
                schedule: FunkSchedule::Decay as u32,
                decay: -0.5,
                ..base
            },
            FunkStatus::Decay,
        ),
    ];
    for (params, want) in cases {
        assert_eq!(
            c_train(&params, &mut model, &good, &[]).0,
            want,
            "{params:?}"
        );
    }
    let mut bad_user = good.clone();
    bad_user[7].user = 5;
    assert_eq!(
        c_train(&base, &mut model, &bad_user, &[]).0,
        FunkStatus::UserOutOfRange
    );
    let mut bad_item = good.clone();
    bad_item[19].item = u32::MAX;
    assert_eq!(
        c_train(&base, &mut model, &bad_item, &[]).0,
        FunkStatus::ItemOutOfRange
    );
    assert_eq!(
        c_train(&base, &mut model, &good, &[4, 4]).0,
        FunkStatus::InvalidSkip
    );
    assert_eq!(
        c_train(&base, &mut model, &good, &[20]).0,
        FunkStatus::InvalidSkip
    );
    assert_eq!(model, before);

    // The biased model without biases, the adaptive schedule without
    // accumulators.
    let (users, items) = model.c_bands();
    let no_biases = FunkBand {
        biases: ptr::null_mut(),
        ..users
    };
    let no_grad_sq = FunkBand {
        grad_sq: ptr::null_mut(),
        ..items
    };
    for (u, i) in [(&no_biases, &items), (&users, &no_grad_sq)] {
        // SAFETY: every non-NULL pointer is to live memory of the stated length.
        let status = unsafe {
            funk_train_block(
                &base,
                u,
                i,
                good.as_ptr(),
                good.len(),
                ptr::null(),
                0,
                ptr::null_mut(),
            )
        };
        assert_eq!(status, FunkStatus::BandShape);
    }
    assert_eq!(model, before);

    let eval = FunkEvalParams {
        clamp_low: 4.0,
        clamp_high: 1.0,
        ..eval_params(32, FunkModelKind::Plain)
    };
    let (u, i) = model.c_views();
    let mut out = FunkLossStats::default();
    // SAFETY: every pointer is to live memory of the stated length.
    let status = unsafe { funk_evaluate_block(&eval, &u, &i, good.as_ptr(), good.len(), &mut out) };
    assert_eq!(status, FunkStatus::InvalidClamp);
    assert_eq!(out, FunkLossStats::default());
    assert_eq!(c_predict(&eval, &model, 0, 0).0, FunkStatus::InvalidClamp);
}

#[test]
fn every_isa_the_cpu_lacks_is_refused_and_scalar_always_runs() {
    assert!(funk_isa_available(FunkIsa::Auto as u32));
    assert!(funk_isa_available(FunkIsa::Scalar as u32));
    assert!(!funk_isa_available(99));
    for (code, name) in [
        (FunkIsa::Avx2, "avx2"),
        (FunkIsa::Avx512, "avx512"),
        (FunkIsa::Neon, "neon"),
    ] {
        assert_eq!(
            funk_isa_available(code as u32),
            Isa::from_name(name).is_some(),
            "{name}"
        );
    }
    let mut model = Model::<16>::random(&mut Rng(23), 3, 3);
    let r = ratings(&mut Rng(29), 9, 3, 3);
    let scalar = FunkTrainParams {
        isa: FunkIsa::Scalar as u32,
        ..train_params(16, FunkModelKind::Plain, FunkSchedule::Constant)
    };
    assert_eq!(c_train(&scalar, &mut model, &r, &[]).0, FunkStatus::Ok);
    if !funk_isa_available(FunkIsa::Neon as u32) {
        let neon = FunkTrainParams {
            isa: FunkIsa::Neon as u32,
            ..scalar
        };
        assert_eq!(
            c_train(&neon, &mut model, &r, &[]).0,
            FunkStatus::IsaUnavailable
        );
    }
}

#[test]
fn k_support_is_exactly_the_dispatched_row_lengths() {
    let supported: Vec<u32> = (0..=1024).filter(|&k| funk_k_supported(k)).collect();
    assert_eq!(supported, [16, 32, 64, 128]);
}

#[test]
fn every_status_has_its_own_message() {
    let mut seen = Vec::new();
    for code in 0..=27 {
        // SAFETY: funk_status_message returns a static NUL-terminated string.
        let message = unsafe { CStr::from_ptr(funk_status_message(code)) }
            .to_str()
            .unwrap();
        assert!(
            !message.is_empty() && !message.contains("unknown status"),
            "{code}"
        );
        assert!(!seen.contains(&message), "{code}: {message}");
        seen.push(message);
    }
    // SAFETY: as above.
    let unknown = unsafe { CStr::from_ptr(funk_status_message(-3)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown status code");
    assert_eq!(FunkStatus::Panic as i32, 26);
}
