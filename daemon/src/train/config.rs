//! The validated configuration of a training run, and how it meets a
//! checkpoint when a run resumes.

use std::collections::BTreeSet;
use std::time::Duration;

use funk_kernel::{HyperParams, Isa, LearningRate, ModelKind};

use super::args::{MethodArg, ScheduleArg, TrainArgs};
use crate::checkpoint::{HoldOut, Method, Settings};
use crate::error::UsageError;
use crate::rank::MAX_RANK;
use crate::ratingfile::RatingFile;
use crate::report::Reporter;

/// Default rank.
pub const DEFAULT_RANK: usize = 32;
/// Default number of epochs.
pub const DEFAULT_EPOCHS: u32 = 20;
/// Default number of epochs of a warm-started run (`--warm-start`, a
/// service round): it continues a trained model, whose known rows need
/// little more; at full Netflix scale with 1% new ratings the first epoch
/// already matches a from-scratch model (docs/benchmarks.md).
pub const DEFAULT_WARM_EPOCHS: u32 = 3;
/// Default SGD learning rate of the adaptive schedule (AdaGrad divides it
/// by each row's gradient history, so it needs no scaling by the data).
pub const DEFAULT_SGD_RATE: f32 = 0.01;
/// Default GD learning rate (GD steps along a sum over all ratings).
pub const DEFAULT_GD_RATE: f32 = 0.0005;
/// Default decay per epoch of the decay schedule.
pub const DEFAULT_DECAY: f32 = 0.05;
/// Default early-stopping patience (epochs without a better validation RMSE).
pub const DEFAULT_EARLY_STOP: u32 = 3;
/// Default fraction of the train ratings held out for validation.
pub const DEFAULT_VALIDATION: f32 = 0.02;
/// SGD step on a data set with one rating per row: η = this / √n̄, where n̄
/// is the mean number of ratings per row (see [`Derived`]). This and the
/// other two fitted constants ([`REG_PER_SQRT_RATINGS`],
/// [`REG_ROW_PER_SPREAD`]) are what `benches/derive-defaults.sh` chooses on
/// a panel of synthetic sets (validation slices of their train splits
/// only; no real data, no test split).
pub const RATE_PER_SQRT_RATINGS: f64 = 0.1;
/// Bounds of the derived SGD learning rate (before dividing by the spread).
pub const RATE_BOUNDS: (f64, f64) = (0.002, 0.05);
/// λ on a data set with one rating per row, per unit of rating spread:
/// λ = this · s / √n̄ (see [`Derived`]).
pub const REG_PER_SQRT_RATINGS: f64 = 0.165;
/// Bounds of the derived λ (before multiplying by the spread).
pub const REG_BOUNDS: (f64, f64) = (0.005, 0.1);
/// λ_b per unit of rating spread: regularisation of biases, per rating.
pub const REG_BIAS_PER_SPREAD: f64 = 0.01;
/// λ₀ per unit of rating spread: the per-row prior, once per epoch.
pub const REG_ROW_PER_SPREAD: f64 = 5.0;
/// Default seed.
pub const DEFAULT_SEED: u64 = 1;
/// Default number of checkpoints kept.
pub const DEFAULT_KEEP: usize = 3;
/// Default number of learning-rate back-offs after divergence.
pub const DEFAULT_MAX_BACKOFFS: u32 = 4;

/// Everything a training run needs to know, validated.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Plain or biased model.
    pub kind: ModelKind,
    /// SGD or full-batch GD.
    pub method: Method,
    /// Rank, 1..=256.
    pub rank: usize,
    /// Epochs in all.
    pub epochs: u32,
    /// Worker threads, 1..=P.
    pub threads: usize,
    /// The `--threads` given, if any (more than P is capped to P).
    pub requested_threads: Option<usize>,
    /// Seed of initialisation and schedule.
    pub seed: u64,
    /// Base learning rate.
    pub learning_rate: f32,
    /// Learning-rate schedule.
    pub schedule: LearningRate,
    /// λ.
    pub reg: f32,
    /// λ_b.
    pub reg_bias: f32,
    /// The kernel's instruction set.
    pub isa: Isa,
    /// Checkpoint when this much time passed since the last checkpoint.
    pub checkpoint_every: Option<Duration>,
    /// Checkpoint every N epochs (0: only at the end and on signals).
    pub checkpoint_every_epochs: u32,
    /// Checkpoints kept.
    pub keep: usize,
    /// Early-stopping patience on the validation RMSE (0 = off).
    pub early_stop: u32,
    /// Early stopping also ends a run whose validation RMSE gained less
    /// than this fraction of itself over the last `early_stop` epochs
    /// (0: any gain keeps it going; `train`'s setting). Not saved in
    /// checkpoints: for runs that are never resumed (`tune`'s).
    pub early_stop_min_gain: f64,
    /// Fraction of the train ratings held out as the validation slice.
    pub validation: f32,
    /// λ₀: per-row prior, applied once per epoch to every factor row.
    pub reg_row: f32,
    /// Learning-rate halvings allowed after divergence.
    pub max_backoffs: u32,
    /// Install SIGINT/SIGTERM/SIGHUP/SIGUSR1 handlers (the `train`
    /// command does; library callers usually do not).
    pub handle_signals: bool,
    /// Flags the user gave explicitly (by long name): on resume, these
    /// must agree with the checkpoint.
    pub explicit: BTreeSet<&'static str>,
    /// Settings (by flag name) a warm start chose instead of the default
    /// ([`super::WarmStart::adapt`]), so that the run's description says so.
    pub from_warm_start: BTreeSet<&'static str>,
    /// Testing aid: sleep after every stratum.
    pub stratum_delay: Option<Duration>,
    /// Testing aid: pause in the middle of writing a checkpoint.
    pub checkpoint_pause: Option<Duration>,
}

fn usage(msg: String) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg))
}

/// The ISA an `--isa` flag names: a name that is unknown or unavailable on
/// this CPU is a usage error that lists the ones available.
pub fn isa_named(name: &str) -> anyhow::Result<Isa> {
    Isa::from_name(name).ok_or_else(|| {
        usage(format!(
            "--isa {name}: unknown or not available on this CPU (available: {})",
            Isa::available()
                .iter()
                .map(|i| i.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

impl TrainConfig {
    /// The defaults for a data file: biased SGD model of rank 32, at most 20
    /// epochs with early stopping on a 2% validation slice, decaying learning
    /// rate; learning rate and regularisation derived from the data's shape
    /// ([`Derived::for_shape`]); every CPU (at most P threads), the best ISA.
    pub fn defaults_for(data: &RatingFile) -> TrainConfig {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let derived = Derived::for_shape(&DataShape::of(data));
        TrainConfig {
            kind: ModelKind::Biased,
            method: Method::Sgd,
            rank: DEFAULT_RANK,
            epochs: DEFAULT_EPOCHS,
            threads: cpus.clamp(1, data.grid().max(1)),
            requested_threads: None,
            seed: DEFAULT_SEED,
            learning_rate: derived.learning_rate,
            schedule: LearningRate::Decay {
                decay: DEFAULT_DECAY,
            },
            reg: derived.reg,
            reg_bias: derived.reg_bias,
            isa: Isa::detect(),
            checkpoint_every: None,
            checkpoint_every_epochs: 1,
            keep: DEFAULT_KEEP,
            early_stop: DEFAULT_EARLY_STOP,
            early_stop_min_gain: 0.0,
            validation: DEFAULT_VALIDATION,
            reg_row: derived.reg_row,
            max_backoffs: DEFAULT_MAX_BACKOFFS,
            handle_signals: false,
            explicit: BTreeSet::new(),
            from_warm_start: BTreeSet::new(),
            stratum_delay: None,
            checkpoint_pause: None,
        }
    }

    /// Builds and validates the configuration from the command line; bad
    /// values are usage errors (exit code 2).
    pub fn from_args(args: &TrainArgs, data: &RatingFile) -> anyhow::Result<TrainConfig> {
        let mut c = TrainConfig::defaults_for(data);
        let mut explicit = BTreeSet::new();
        if let Some(rank) = args.factors {
            explicit.insert("factors");
            c.rank = rank;
        }
        if let Some(epochs) = args.epochs {
            explicit.insert("epochs");
            c.epochs = epochs;
        }
        if let Some(threads) = args.threads {
            if threads == 0 {
                return Err(usage("--threads must be at least 1".into()));
            }
            c.threads = threads.min(data.grid().max(1));
            c.requested_threads = Some(threads);
        }
        if let Some(seed) = args.seed {
            explicit.insert("seed");
            c.seed = seed;
        }
        if let Some(method) = args.method {
            explicit.insert("method");
            c.method = match method {
                MethodArg::Sgd => Method::Sgd,
                MethodArg::Gd => Method::Gd,
            };
        }
        if c.method == Method::Gd {
            c.learning_rate = DEFAULT_GD_RATE;
            c.schedule = LearningRate::Constant;
            // GD descends J exactly as `gradcheck` defines it: no row prior.
            c.reg_row = 0.0;
        }
        if args.plain {
            // The plain model is the textbook least-squares fit of p·q to
            // every train rating (SVD recovery, LIBMF comparisons): no
            // validation slice, no row prior unless asked for.
            explicit.insert("plain");
            c.kind = ModelKind::Plain;
            c.validation = 0.0;
            c.reg_row = 0.0;
        }
        let decay = args.decay.unwrap_or(DEFAULT_DECAY);
        match (args.schedule, args.decay) {
            (Some(ScheduleArg::Constant), Some(_)) | (Some(ScheduleArg::Adaptive), Some(_)) => {
                return Err(usage("--decay only applies to --schedule decay".into()))
            }
            (Some(ScheduleArg::Constant), None) => c.schedule = LearningRate::Constant,
            (Some(ScheduleArg::Adaptive), None) => {
                // AdaGrad scales steps per row by itself: the plain base
                // rate, and no per-epoch row prior (its step is not η_t).
                c.schedule = LearningRate::Adaptive;
                if c.method == Method::Sgd {
                    c.learning_rate = DEFAULT_SGD_RATE;
                }
                c.reg_row = 0.0;
            }
            (Some(ScheduleArg::Decay), _) | (None, Some(_)) => {
                c.schedule = LearningRate::Decay { decay }
            }
            (None, None) => {}
        }
        if args.schedule.is_some() || args.decay.is_some() {
            explicit.insert("schedule");
        }
        if let Some(lr) = args.learning_rate {
            explicit.insert("learning-rate");
            c.learning_rate = lr;
        }
        if let Some(reg) = args.reg {
            // Choosing λ chooses the regulariser: the derived row prior
            // only comes with the derived λ (or with --reg-row).
            explicit.insert("reg");
            c.reg = reg;
            c.reg_row = 0.0;
        }
        if let Some(reg_bias) = args.reg_bias {
            explicit.insert("reg-bias");
            c.reg_bias = reg_bias;
        }
        if let Some(secs) = args.checkpoint_every_secs {
            if !(secs.is_finite() && secs > 0.0) {
                return Err(usage(format!(
                    "--checkpoint-every-secs {secs} must be a positive number"
                )));
            }
            c.checkpoint_every = Some(Duration::from_secs_f64(secs));
        }
        if let Some(n) = args.checkpoint_every_epochs {
            c.checkpoint_every_epochs = n;
        }
        if let Some(keep) = args.keep {
            if keep == 0 {
                return Err(usage("--keep must be at least 1".into()));
            }
            c.keep = keep;
        }
        if let Some(patience) = args.early_stop {
            explicit.insert("early-stop");
            c.early_stop = patience;
        }
        if let Some(fraction) = args.validation {
            explicit.insert("validation");
            c.validation = fraction;
        }
        if let Some(reg_row) = args.reg_row {
            explicit.insert("reg-row");
            c.reg_row = reg_row;
        }
        if let Some(n) = args.max_backoffs {
            c.max_backoffs = n;
        }
        if let Some(name) = &args.isa {
            explicit.insert("isa");
            c.isa = isa_named(name)?;
        }
        c.handle_signals = true;
        c.stratum_delay =
            (args.stratum_delay_ms > 0).then(|| Duration::from_millis(args.stratum_delay_ms));
        c.checkpoint_pause =
            (args.checkpoint_pause_ms > 0).then(|| Duration::from_millis(args.checkpoint_pause_ms));
        c.explicit = explicit;
        c.validate()?;
        Ok(c)
    }

    /// Checks the values a caller may have set by hand.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=MAX_RANK).contains(&self.rank) {
            return Err(usage(format!(
                "--factors {} must be within 1..={MAX_RANK}",
                self.rank
            )));
        }
        if self.epochs == 0 {
            return Err(usage("--epochs must be at least 1".into()));
        }
        if self.threads == 0 {
            return Err(usage("--threads must be at least 1".into()));
        }
        if !(0.0..=0.5).contains(&self.validation) {
            return Err(usage(format!(
                "--validation {} must be within 0..=0.5 (a fraction of the train ratings)",
                self.validation
            )));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(usage(format!(
                "--learning-rate {} must be a finite number > 0",
                self.learning_rate
            )));
        }
        for (flag, value) in [("reg", self.reg), ("reg-bias", self.reg_bias)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(usage(format!(
                    "--{flag} {value} must be a finite number ≥ 0"
                )));
            }
        }
        if let LearningRate::Decay { decay } = self.schedule {
            if !(decay.is_finite() && decay >= 0.0) {
                return Err(usage(format!(
                    "--decay {decay} must be a finite number ≥ 0"
                )));
            }
        }
        if !(self.reg_row.is_finite() && self.reg_row >= 0.0) {
            return Err(usage(format!(
                "--reg-row {} must be a finite number ≥ 0",
                self.reg_row
            )));
        }
        if self.early_stop > 0 && self.validation == 0.0 && self.explicit.contains("early-stop") {
            return Err(usage(
                "--early-stop needs a validation slice (--validation > 0): stopping on the test split would tune to it".into(),
            ));
        }
        self.hyper_params()?;
        Ok(())
    }

    /// The kernel's hyper-parameters at the base learning rate.
    pub fn hyper_params(&self) -> anyhow::Result<HyperParams> {
        HyperParams::new(
            self.kind,
            self.learning_rate,
            self.reg,
            self.reg_bias,
            self.schedule,
        )
        .map_err(|e| usage(format!("invalid hyper-parameters: {e}")))
    }

    /// The settings of a fresh run on `data`.
    pub fn fresh_settings(&self, data: &RatingFile) -> Settings {
        Settings {
            kind: self.kind,
            method: self.method,
            schedule: self.schedule,
            rank: self.rank as u32,
            k: crate::rank::padded_k(self.rank) as u32,
            users: data.users() as u64,
            items: data.items() as u64,
            grid: data.grid() as u32,
            base_learning_rate: self.learning_rate,
            learning_rate: self.learning_rate,
            reg: self.reg,
            reg_bias: self.reg_bias,
            seed: self.seed,
            data_identity: data.identity(),
            isa: self.isa.name().to_string(),
            epochs: self.epochs,
            early_stop: if self.validation > 0.0 {
                self.early_stop
            } else {
                0
            },
            validation: self.validation,
            reg_row: self.reg_row,
            hold_out: HoldOut::OriginalIds,
        }
    }

    /// The settings of a resumed run: the checkpoint's, checked against the
    /// data file and against the flags given explicitly. Another data file
    /// or another rank is refused (a usage error), as is any explicit flag
    /// that disagrees; `--epochs` may change the target.
    pub fn resumed_settings(
        &self,
        saved: &Settings,
        data: &RatingFile,
    ) -> anyhow::Result<Settings> {
        if saved.data_identity != data.identity()
            || saved.users != data.users() as u64
            || saved.items != data.items() as u64
            || saved.grid != data.grid() as u32
        {
            return Err(usage(format!(
                "the checkpoint was trained on another data file (identity {:016x}, {} users × {} items, grid {}), \
                 not {} (identity {:016x}, {} × {}, grid {}); use another --checkpoint-dir, \
                 or add --fresh to start over (the old run is moved aside, not deleted)",
                saved.data_identity,
                saved.users,
                saved.items,
                saved.grid,
                data.path().display(),
                data.identity(),
                data.users(),
                data.items(),
                data.grid()
            )));
        }
        if saved.validation > 0.0 && saved.hold_out != HoldOut::OriginalIds {
            return Err(usage(format!(
                "the checkpoint directory holds a run that an older funkd began with a validation \
                 slice ({} of the train ratings) chosen by internal ids; this build chooses it by \
                 original ids, so the resumed run would validate on ratings it has trained on. \
                 Add --fresh to start over (the old run is moved aside, not deleted), or train its \
                 model on with --warm-start DIR and another --checkpoint-dir",
                saved.validation
            )));
        }
        // Every comparison is spoken in flags: what was given, and the
        // flags that would resume the run in the directory.
        let mut conflicts = Vec::new();
        let mut check = |flag: &'static str, ours: String, theirs: String| {
            if self.explicit.contains(flag) && ours != theirs {
                conflicts.push(format!("{ours} (the run there: {theirs})"));
            }
        };
        let plain = |kind: ModelKind| match kind {
            ModelKind::Plain => "--plain".to_string(),
            ModelKind::Biased => "the biased model, no --plain".to_string(),
        };
        let value = |flag: &str, v: String| format!("--{flag} {v}");
        check(
            "factors",
            value("factors", self.rank.to_string()),
            value("factors", saved.rank.to_string()),
        );
        check(
            "seed",
            value("seed", self.seed.to_string()),
            value("seed", saved.seed.to_string()),
        );
        check(
            "method",
            value("method", self.method.name().into()),
            value("method", saved.method.name().into()),
        );
        check("plain", plain(self.kind), plain(saved.kind));
        check(
            "learning-rate",
            value("learning-rate", self.learning_rate.to_string()),
            value("learning-rate", saved.base_learning_rate.to_string()),
        );
        check(
            "schedule",
            schedule_flags(self.schedule),
            schedule_flags(saved.schedule),
        );
        check(
            "reg",
            value("reg", self.reg.to_string()),
            value("reg", saved.reg.to_string()),
        );
        check(
            "reg-bias",
            value("reg-bias", self.reg_bias.to_string()),
            value("reg-bias", saved.reg_bias.to_string()),
        );
        check(
            "early-stop",
            value("early-stop", self.early_stop.to_string()),
            value("early-stop", saved.early_stop.to_string()),
        );
        check(
            "validation",
            value("validation", self.validation.to_string()),
            value("validation", saved.validation.to_string()),
        );
        check(
            "reg-row",
            value("reg-row", self.reg_row.to_string()),
            value("reg-row", saved.reg_row.to_string()),
        );
        if !conflicts.is_empty() {
            let what = if self.explicit.contains("factors") && self.rank as u32 != saved.rank {
                "another rank"
            } else {
                "other settings"
            };
            return Err(usage(format!(
                "the checkpoint directory holds a run with {what}: {}; drop these flags to resume it, \
                 add --fresh to start over (the old run is moved aside, not deleted), \
                 or use another --checkpoint-dir",
                conflicts.join(", ")
            )));
        }
        let mut settings = saved.clone();
        if self.explicit.contains("epochs") {
            settings.epochs = self.epochs;
        }
        if self.explicit.contains("isa") {
            settings.isa = self.isa.name().to_string();
        }
        Ok(settings)
    }

    /// The ISA a run with these settings uses: the checkpoint's, if this
    /// CPU has it; otherwise the configured one (with a warning, since
    /// another ISA rounds differently).
    pub fn isa_for(&self, settings: &Settings, reporter: &dyn Reporter) -> Isa {
        match Isa::from_name(&settings.isa) {
            Some(isa) => isa,
            None => {
                reporter.warning(&format!(
                    "the checkpoint used ISA {}, not available here; using {} (results will differ in the last bits)",
                    settings.isa,
                    self.isa.name()
                ));
                self.isa
            }
        }
    }
}

/// A learning-rate schedule as the flags that choose it
/// (`--schedule decay --decay 0.05`).
pub fn schedule_flags(schedule: LearningRate) -> String {
    match schedule {
        LearningRate::Constant => "--schedule constant".to_string(),
        LearningRate::Decay { decay } => format!("--schedule decay --decay {decay}"),
        LearningRate::Adaptive => "--schedule adaptive".to_string(),
    }
}

/// What the default hyper-parameters are derived from: two numbers any
/// rating file gives without a pass over its ratings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataShape {
    /// The rating spread s: a quarter of the rating range (1 for a 1–5
    /// scale, 2.25 for 1–10), or 1 when the file records no range.
    pub spread: f64,
    /// n̄: train ratings per row, `train / (users + items)` — how many SGD
    /// updates a row sees per epoch, on average.
    pub ratings_per_row: f64,
}

impl DataShape {
    /// The shape of a rating file.
    pub fn of(data: &RatingFile) -> DataShape {
        let spread = match data.rating_range() {
            Some((lo, hi)) if hi > lo => f64::from(hi - lo) / 4.0,
            _ => 1.0,
        };
        let rows = (data.users() + data.items()).max(1) as f64;
        DataShape {
            spread,
            ratings_per_row: data.train_count() as f64 / rows,
        }
    }
}

/// The default SGD hyper-parameters of a data set, derived from its shape
/// (never searched on its test split; the three constants were fitted on
/// synthetic data by `benches/derive-defaults.sh`):
///
/// - η = clamp(0.1414 / √n̄, 0.002, 0.05) / s. A row takes about n̄ steps
///   per epoch; their noise adds up like √n̄, so sparse data (MovieLens
///   100K, n̄ ≈ 30: η ≈ 0.026) can take larger steps than dense data
///   (Netflix, n̄ ≈ 200: η ≈ 0.010). Dividing by s keeps the factor updates
///   invariant when all ratings are scaled (p, q then scale like √s).
/// - λ = clamp(0.1167 / √n̄, 0.005, 0.1)·s per rating for factor rows
///   (MovieLens 100K: 0.021; Netflix: 0.0083), λ_b = 0.01·s for biases.
///   Regularisation is in rating units (hence ·s); the more ratings a
///   row has, the less each one needs to be held back — the per-rating λ
///   shrinks with the density like the step size does; biases are few and
///   well determined, so they are regularised less.
/// - λ₀ = 3.536·s: a per-row Gaussian prior, the same for every row whatever
///   its number of ratings, applied once per epoch as the shrink
///   p ← (1 − η_t·λ₀)·p. Per rating it adds λ₀/n to a row with n
///   ratings: strong for rare users and items, negligible for common ones
///   (maximum a posteriori with a prior, where per-rating λ alone would
///   regularise a 5-rating user as weakly as a 500-rating one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Derived {
    /// η.
    pub learning_rate: f32,
    /// λ.
    pub reg: f32,
    /// λ_b.
    pub reg_bias: f32,
    /// λ₀.
    pub reg_row: f32,
}

impl Derived {
    /// The defaults for data of this shape.
    pub fn for_shape(shape: &DataShape) -> Derived {
        let s = if shape.spread.is_finite() && shape.spread > 0.0 {
            shape.spread
        } else {
            1.0
        };
        let n = shape.ratings_per_row.max(1.0);
        let (lo, hi) = RATE_BOUNDS;
        let eta = (RATE_PER_SQRT_RATINGS / n.sqrt()).clamp(lo, hi) / s;
        let (lo, hi) = REG_BOUNDS;
        let reg = (REG_PER_SQRT_RATINGS / n.sqrt()).clamp(lo, hi) * s;
        Derived {
            learning_rate: eta as f32,
            reg: reg as f32,
            reg_bias: (REG_BIAS_PER_SPREAD * s) as f32,
            reg_row: (REG_ROW_PER_SPREAD * s) as f32,
        }
    }
}
