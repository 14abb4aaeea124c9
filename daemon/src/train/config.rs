//! The validated configuration of a training run, and how it meets a
//! checkpoint when a run resumes.

use std::collections::BTreeSet;
use std::time::Duration;

use funk_kernel::{HyperParams, Isa, LearningRate, ModelKind};

use super::args::{MethodArg, ScheduleArg, TrainArgs};
use crate::checkpoint::{Method, Settings};
use crate::error::UsageError;
use crate::rank::MAX_RANK;
use crate::ratingfile::RatingFile;

/// Default rank.
pub const DEFAULT_RANK: usize = 32;
/// Default number of epochs.
pub const DEFAULT_EPOCHS: u32 = 20;
/// Default SGD learning rate.
pub const DEFAULT_SGD_RATE: f32 = 0.01;
/// Default GD learning rate (GD steps along a sum over all ratings).
pub const DEFAULT_GD_RATE: f32 = 0.0005;
/// Default decay per epoch of the decay schedule.
pub const DEFAULT_DECAY: f32 = 0.05;
/// Default λ.
pub const DEFAULT_REG: f32 = 0.03;
/// Default λ_b.
pub const DEFAULT_REG_BIAS: f32 = 0.01;
/// Default seed.
pub const DEFAULT_SEED: u64 = 1;
/// Default number of checkpoints kept.
pub const DEFAULT_KEEP: usize = 3;
/// Default number of learning-rate back-offs after divergence.
pub const DEFAULT_MAX_BACKOFFS: u32 = 4;

/// How much `train` tells on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Warnings and errors only.
    Quiet,
    /// Settings at start, a line per epoch, a progress bar on a terminal.
    Normal,
}

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
    /// Early-stopping patience (0 = off).
    pub early_stop: u32,
    /// Learning-rate halvings allowed after divergence.
    pub max_backoffs: u32,
    /// Output on stderr.
    pub verbosity: Verbosity,
    /// Install SIGINT/SIGTERM/SIGHUP/SIGUSR1 handlers (the `train`
    /// command does; library callers usually do not).
    pub handle_signals: bool,
    /// Flags the user gave explicitly (by long name): on resume, these
    /// must agree with the checkpoint.
    pub explicit: BTreeSet<&'static str>,
    /// Testing aid: sleep after every stratum.
    pub stratum_delay: Option<Duration>,
    /// Testing aid: pause in the middle of writing a checkpoint.
    pub checkpoint_pause: Option<Duration>,
}

fn usage(msg: String) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg))
}

impl TrainConfig {
    /// The defaults for a data file: biased SGD model of rank 32, 20 epochs,
    /// decaying learning rate, every CPU (at most P threads), the best ISA.
    pub fn defaults_for(data: &RatingFile) -> TrainConfig {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        TrainConfig {
            kind: ModelKind::Biased,
            method: Method::Sgd,
            rank: DEFAULT_RANK,
            epochs: DEFAULT_EPOCHS,
            threads: cpus.clamp(1, data.grid().max(1)),
            seed: DEFAULT_SEED,
            learning_rate: DEFAULT_SGD_RATE,
            schedule: LearningRate::Decay {
                decay: DEFAULT_DECAY,
            },
            reg: DEFAULT_REG,
            reg_bias: DEFAULT_REG_BIAS,
            isa: Isa::detect(),
            checkpoint_every: None,
            checkpoint_every_epochs: 1,
            keep: DEFAULT_KEEP,
            early_stop: 0,
            max_backoffs: DEFAULT_MAX_BACKOFFS,
            verbosity: Verbosity::Normal,
            handle_signals: false,
            explicit: BTreeSet::new(),
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
        }
        if args.plain {
            explicit.insert("plain");
            c.kind = ModelKind::Plain;
        }
        if let Some(lr) = args.learning_rate {
            explicit.insert("learning-rate");
            c.learning_rate = lr;
        }
        let decay = args.decay.unwrap_or(DEFAULT_DECAY);
        match (args.schedule, args.decay) {
            (Some(ScheduleArg::Constant), Some(_)) | (Some(ScheduleArg::Adaptive), Some(_)) => {
                return Err(usage("--decay only applies to --schedule decay".into()))
            }
            (Some(ScheduleArg::Constant), None) => c.schedule = LearningRate::Constant,
            (Some(ScheduleArg::Adaptive), None) => c.schedule = LearningRate::Adaptive,
            (Some(ScheduleArg::Decay), _) | (None, Some(_)) => {
                c.schedule = LearningRate::Decay { decay }
            }
            (None, None) => {}
        }
        if args.schedule.is_some() || args.decay.is_some() {
            explicit.insert("schedule");
        }
        if let Some(reg) = args.reg {
            explicit.insert("reg");
            c.reg = reg;
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
        if let Some(n) = args.max_backoffs {
            c.max_backoffs = n;
        }
        if let Some(name) = &args.isa {
            explicit.insert("isa");
            c.isa = Isa::from_name(name).ok_or_else(|| {
                usage(format!(
                    "--isa {name}: unknown or not available on this CPU (available: {})",
                    Isa::available()
                        .iter()
                        .map(|i| i.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        }
        c.verbosity = if args.quiet {
            Verbosity::Quiet
        } else {
            Verbosity::Normal
        };
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
            early_stop: self.early_stop,
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
                 not {} (identity {:016x}, {} × {}, grid {}); use another --checkpoint-dir",
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
        let mut conflicts = Vec::new();
        let mut check = |flag: &'static str, ours: String, theirs: String| {
            if self.explicit.contains(flag) && ours != theirs {
                conflicts.push(format!("--{flag} {ours} (checkpoint: {theirs})"));
            }
        };
        check("factors", self.rank.to_string(), saved.rank.to_string());
        check("seed", self.seed.to_string(), saved.seed.to_string());
        check(
            "method",
            self.method.name().into(),
            saved.method.name().into(),
        );
        check(
            "plain",
            format!("{:?}", self.kind),
            format!("{:?}", saved.kind),
        );
        check(
            "learning-rate",
            self.learning_rate.to_string(),
            saved.base_learning_rate.to_string(),
        );
        check(
            "schedule",
            format!("{:?}", self.schedule),
            format!("{:?}", saved.schedule),
        );
        check("reg", self.reg.to_string(), saved.reg.to_string());
        check(
            "reg-bias",
            self.reg_bias.to_string(),
            saved.reg_bias.to_string(),
        );
        check(
            "early-stop",
            self.early_stop.to_string(),
            saved.early_stop.to_string(),
        );
        if !conflicts.is_empty() {
            let what = if self.explicit.contains("factors") && self.rank as u32 != saved.rank {
                "another rank"
            } else {
                "other settings"
            };
            return Err(usage(format!(
                "the checkpoint directory holds a run with {what}: {}; use another --checkpoint-dir, or drop these flags to resume it",
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
    pub fn isa_for(&self, settings: &Settings) -> Isa {
        match Isa::from_name(&settings.isa) {
            Some(isa) => isa,
            None => {
                eprintln!(
                    "funkd: warning: the checkpoint used ISA {}, not available here; using {} (results will differ in the last bits)",
                    settings.isa,
                    self.isa.name()
                );
                self.isa
            }
        }
    }
}
