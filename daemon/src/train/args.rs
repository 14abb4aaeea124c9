//! The options of `funkd train`, as clap parses them. Every value is
//! optional here: [`super::TrainConfig::from_args`] fills in defaults, and a
//! resumed run takes its settings from the checkpoint (flags that disagree
//! with it are refused rather than silently ignored).

use std::path::PathBuf;

/// Options of `funkd train`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_long_help = "Resuming: starting `train` on a checkpoint directory that holds a checkpoint \
continues that run (same data file, same rank; flags that disagree with the checkpoint are \
refused; --epochs may extend it); --fresh starts over instead, keeping the old run in \
DIR.old-<time>. A resumed run ends with exactly the same model bytes as one \
that never stopped.\n\nSignals: SIGINT/SIGTERM finish the blocks in flight, checkpoint and exit 0 \
(a second one exits at once, non-zero); SIGHUP checkpoints and goes on; SIGUSR1 prints a status \
line. DIR/status.json is replaced atomically; DIR/metrics.jsonl gets one JSON line per epoch."
)]
pub struct TrainArgs {
    /// The rating file to train on (made by `funkd gen` or `funkd import`).
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,

    /// Directory for checkpoints, metrics.jsonl and status.json; created if
    /// missing, resumed from if it holds a checkpoint.
    #[arg(long, value_name = "DIR", required = true)]
    pub checkpoint_dir: Option<PathBuf>,

    /// Start a new run even if DIR holds one: everything in DIR is first
    /// moved, whole, to a new directory `DIR.old-<UTC time>` beside it
    /// (nothing is deleted; the new path is printed).
    #[arg(long)]
    pub fresh: bool,

    /// Rank of the model: factors per user and item, 1..=256 [default: 32].
    #[arg(long, visible_alias = "rank", value_name = "K")]
    pub factors: Option<usize>,

    /// Epochs (passes over the train ratings) to train in all [default: 20;
    /// 3 with --warm-start].
    #[arg(long, value_name = "N")]
    pub epochs: Option<u32>,

    /// Worker threads, 1..=P (more than the grid's P cannot be used)
    /// [default: the CPUs available, at most P]. The model does not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,

    /// Seed of the initialisation and the block schedule [default: 1].
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// sgd: one update per rating (the default); gd: full-batch gradient descent.
    #[arg(long, value_enum, value_name = "METHOD")]
    pub method: Option<MethodArg>,

    /// Fit the plain model p·q (no global mean, no biases) instead of Funk's
    /// biased model μ + b_u + b_i + p·q.
    #[arg(long)]
    pub plain: bool,

    /// Base learning rate η [default: derived from the data for sgd:
    /// clamp(0.1/√n̄, 0.002, 0.05)/s with n̄ the train ratings per row and s
    /// a quarter of the rating range; 0.01 for --schedule adaptive; 0.0005 for gd;
    /// with --warm-start, where the model's run left off].
    #[arg(long, visible_alias = "lr", value_name = "ETA")]
    pub learning_rate: Option<f32>,

    /// constant: η every epoch; decay: η/(1 + decay·epoch); adaptive:
    /// per-row AdaGrad steps as LIBMF does [default: decay].
    #[arg(long, value_enum, value_name = "SCHEDULE")]
    pub schedule: Option<ScheduleArg>,

    /// Decay per epoch of the decay schedule (implies --schedule decay) [default: 0.05].
    #[arg(long, value_name = "D")]
    pub decay: Option<f32>,

    /// λ: regularisation of the factor rows, per rating [default:
    /// clamp(0.165/√n̄, 0.005, 0.1)·s].
    #[arg(long, value_name = "LAMBDA")]
    pub reg: Option<f32>,

    /// λ_b: regularisation of the biases, per rating [default: 0.01·s].
    #[arg(long, value_name = "LAMBDA")]
    pub reg_bias: Option<f32>,

    /// λ₀: a per-row prior on the factors, the same for every row whatever
    /// its number of ratings (so rare users and items are held near zero),
    /// applied once per epoch as p ← (1 − η_t·λ₀)·p [default: 5·s for the
    /// biased model trained by sgd with the decay or constant schedule and
    /// no explicit --reg; 0 otherwise].
    #[arg(long, value_name = "LAMBDA0")]
    pub reg_row: Option<f32>,

    /// Fraction of the train ratings held out (deterministically, by a hash
    /// of the user's and the item's original ids, so the same pairs in a
    /// file and in any extension of it) as the validation slice that early
    /// stopping watches; 0 = none [default: 0.02; 0 with --plain].
    #[arg(long, value_name = "F")]
    pub validation: Option<f32>,

    /// Also checkpoint whenever this many seconds passed since the last one
    /// (checked after every window of strata, a quarter epoch at most) [default: off].
    #[arg(long, value_name = "SECS")]
    pub checkpoint_every_secs: Option<f64>,

    /// Checkpoint after every N epochs (0: only at the end and on signals) [default: 1].
    #[arg(long, value_name = "N")]
    pub checkpoint_every_epochs: Option<u32>,

    /// Keep the newest N checkpoints [default: 3].
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,

    /// Stop when the validation RMSE has not improved for PATIENCE epochs
    /// (0 = never); the model of the best epoch is restored at the end
    /// either way [default: 3].
    #[arg(long, value_name = "PATIENCE")]
    pub early_stop: Option<u32>,

    /// Times the learning rate may be halved after divergence before giving up [default: 4].
    #[arg(long, value_name = "N")]
    pub max_backoffs: Option<u32>,

    /// Instruction set of the kernel (scalar, avx2, avx512, neon) [default: the best this CPU has].
    #[arg(long, value_name = "NAME")]
    pub isa: Option<String>,

    /// Start a new run from a model trained on an older rating file that
    /// this one extends (a checkpoint file, or a directory: its newest good
    /// checkpoint). Users and items of the old file keep their rows and
    /// biases (matched by original id; every old id must be in --data), μ
    /// is kept; a new user's row and bias are folded in (the regularised
    /// least-squares fit, at this run's λ, λ_b and --reg-row, of their train
    /// ratings of known items against those items' rows), a new item's
    /// likewise against the known users who rated it; a new row with no
    /// such rating is initialised as a fresh run would. The seed, block
    /// order and determinism rules are those of a fresh run. Needs an empty
    /// --checkpoint-dir; the rank is taken from the model. The validation
    /// slice holds out the same pairs the old run held out (it is chosen by
    /// original ids), plus its share of the new ones, so early stopping
    /// works as in a fresh run (if the old run held out less than
    /// --validation, a warning says that part of the slice was trained on).
    /// Unless given, the learning rate continues the model's decay where
    /// its run left off (no lower than where a fresh 20-epoch run ends) and
    /// --epochs is 3: a trained model needs few epochs more.
    #[arg(long, value_name = "CHECKPOINT")]
    pub warm_start: Option<PathBuf>,

    /// The rating file the --warm-start model was trained on [default: the
    /// one recorded in its directory's status.json].
    #[arg(long, value_name = "FILE")]
    pub warm_start_data: Option<PathBuf>,

    /// Print the final summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    /// No progress output on stderr (errors and warnings still go there).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Testing aid: sleep this long per stratum trained (after every window
    /// of strata). A flag only with the `test-hooks` feature (the tests'
    /// build); 0 otherwise.
    #[cfg_attr(feature = "test-hooks", arg(long, hide = true, default_value_t = 0))]
    #[cfg_attr(not(feature = "test-hooks"), arg(skip))]
    pub stratum_delay_ms: u64,

    /// Testing aid: pause this long in the middle of writing each
    /// checkpoint. A flag only with the `test-hooks` feature; 0 otherwise.
    #[cfg_attr(feature = "test-hooks", arg(long, hide = true, default_value_t = 0))]
    #[cfg_attr(not(feature = "test-hooks"), arg(skip))]
    pub checkpoint_pause_ms: u64,
}

/// `--method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// Stochastic gradient descent.
    Sgd,
    /// Full-batch gradient descent.
    Gd,
}

/// `--schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleArg {
    /// η every epoch.
    Constant,
    /// η / (1 + decay · epoch).
    Decay,
    /// Per-row AdaGrad.
    Adaptive,
}
