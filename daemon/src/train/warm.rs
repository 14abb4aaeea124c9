//! Warm start: the first parameters of a run on a new rating file taken
//! from a model trained on an older one whose users and items it extends.
//!
//! Rows are matched by **original id**, because every rating file numbers
//! its users and items by its own seeded balanced permutation: user "42"
//! may be internal 7 in the old file and internal 1,903 in the new one.
//! Every user and item of the old file must be in the new one (the new
//! file's id maps extend the old one's); otherwise the warm start is
//! refused, naming the first missing id.
//!
//! - Known users and items keep their factor rows and biases.
//! - New ones are initialised by fold-in against the known ones (see
//!   the `warm_foldin` module): a new user's row and bias solve the run's
//!   regularised least-squares problem for that user's train ratings of
//!   known items with the items' kept rows held fixed, a new item's
//!   likewise against the known users who rated it. A new row without
//!   such ratings starts as a fresh run with the same seed starts that
//!   internal id (the draw depends only on the seed and the internal id,
//!   see [`ModelState::init`]). Random rows get little way in a short
//!   run at the continued (small) learning rate; folded-in ones start
//!   where training would pull them.
//! - μ is kept from the old model rather than recomputed from the new
//!   data: the biases were fitted around it, so keeping it leaves every
//!   known (user, item) prediction exactly as the old model made it when
//!   training starts; a changed mean is then learnt by the biases.
//! - The learning rate continues where the old run left off (see
//!   [`WarmStart::continued_learning_rate`]) and the run is short
//!   ([`DEFAULT_WARM_EPOCHS`]) unless the flags say otherwise. AdaGrad
//!   accumulators (adaptive schedule) start afresh. Block order and
//!   determinism rules are a fresh run's, so the same inputs and seed give
//!   the same bits for any thread count.

use std::ops::Range;
use std::path::Path;

use anyhow::Context;
use funk_kernel::{LearningRate, ModelKind};

use super::config::{DEFAULT_EPOCHS, DEFAULT_WARM_EPOCHS};
use super::state::ModelState;
use super::warm_foldin::fold_in_new_rows;
use super::TrainConfig;
use crate::checkpoint::{HoldOut, LoadedModel, Parameters, Settings};
use crate::courtesy::Pacer;
use crate::ratingfile::RatingFile;
use crate::report::Reporter;
use crate::trained::{check_model_matches, load_checked_model, resolve_data};
use crate::usage_bail;

/// The model a run starts from, with the rating file it was trained on
/// (whose id maps say which original id each row belongs to).
#[derive(Debug)]
pub struct WarmStart {
    /// The old model.
    pub loaded: LoadedModel,
    /// The rating file the old model was trained on.
    pub data: RatingFile,
}

/// How many rows a warm start kept and how many it initialised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WarmCounts {
    /// Users whose rows came from the old model.
    pub users_kept: usize,
    /// Users new to the data, initialised.
    pub users_new: usize,
    /// Items whose rows came from the old model.
    pub items_kept: usize,
    /// Items new to the data, initialised.
    pub items_new: usize,
    /// New users initialised by fold-in (the others: a fresh run's draw).
    pub users_folded: usize,
    /// New items initialised by fold-in (the others: a fresh run's draw).
    pub items_folded: usize,
}

impl WarmStart {
    /// Loads the model at `path` (a checkpoint file, or a directory: its
    /// newest good checkpoint) and its rating file: `data`, or the one
    /// `funkd train` recorded in the directory's `status.json`. Skipped
    /// checkpoints are warnings to `reporter`.
    pub fn load(
        path: &Path,
        data: Option<&Path>,
        reporter: &dyn Reporter,
    ) -> anyhow::Result<WarmStart> {
        let loaded = load_checked_model(path, reporter)
            .with_context(|| format!("cannot warm-start from {}", path.display()))?;
        let data_path = resolve_data(path, data)?;
        let data = RatingFile::open(&data_path).with_context(|| {
            format!(
                "cannot open {}, the rating file of the warm-start model",
                data_path.display()
            )
        })?;
        check_model_matches(&loaded, &data)?;
        Ok(WarmStart { loaded, data })
    }

    /// Makes `config` agree with the old model: its rank is taken when
    /// `--factors` was not given; another rank or model kind is refused
    /// (a usage error), since rows of another shape cannot be kept. Unless
    /// given, the learning rate continues the old run's schedule
    /// ([`WarmStart::continued_learning_rate`]) and the run trains
    /// [`DEFAULT_WARM_EPOCHS`] epochs.
    pub fn adapt(&self, config: &mut TrainConfig) -> anyhow::Result<()> {
        let model = &self.loaded.model;
        if !config.explicit.contains("learning-rate") {
            config.learning_rate =
                self.continued_learning_rate(config.learning_rate, config.schedule);
            config.from_warm_start.insert("learning-rate");
        }
        if !config.explicit.contains("epochs") {
            config.epochs = DEFAULT_WARM_EPOCHS;
            config.from_warm_start.insert("epochs");
        }
        if !config.explicit.contains("factors") {
            config.rank = model.rank;
        } else if config.rank != model.rank {
            usage_bail!(
                "--factors {} differs from the rank {} of the warm-start model {}: give --factors {} or leave it out",
                config.rank,
                model.rank,
                self.loaded.path.display(),
                model.rank
            );
        }
        if config.kind != model.kind {
            let (is, flag) = match model.kind {
                ModelKind::Plain => ("plain", "add --plain"),
                ModelKind::Biased => ("biased", "leave out --plain"),
            };
            usage_bail!(
                "the warm-start model {} is a {is} model: {flag}",
                self.loaded.path.display()
            );
        }
        Ok(())
    }

    /// The learning rate a warm-started run begins with, given `fresh`,
    /// the one a fresh run on the new data would begin with, and the run's
    /// `schedule`. With the decay schedule (the default), where the old run
    /// left off: its rate at the epoch after the old model's, so that the
    /// run continues the old one's descent instead of restarting it at the
    /// large steps of a fresh run (which would throw away much of the
    /// convergence: measured at full scale, a restarted run needs as many
    /// epochs as a fresh one to come back); but never below the rate at
    /// which a fresh run of [`DEFAULT_EPOCHS`] ends, so that a chain of warm
    /// starts (service rounds) keeps steps large enough to learn new rows.
    /// With the old run's schedule otherwise: the old run's rate. With
    /// another schedule: `fresh`.
    pub fn continued_learning_rate(&self, fresh: f32, schedule: LearningRate) -> f32 {
        let old = &self.loaded.settings;
        match (schedule, old.schedule) {
            (LearningRate::Decay { decay }, LearningRate::Decay { decay: old_decay }) => {
                let left_off =
                    old.learning_rate / (1.0 + old_decay * self.loaded.model_epoch as f32);
                let floor = fresh / (1.0 + decay * DEFAULT_EPOCHS as f32);
                left_off.max(floor)
            }
            (ours, theirs) if ours == theirs => old.learning_rate,
            _ => fresh,
        }
    }

    /// Why a run holding out `validation` of its ratings would validate on
    /// ratings the old model trained on, if it would. The slice is chosen
    /// by original ids, and a smaller fraction's slice lies inside a
    /// larger one's, so it cannot when the old run held out at least as
    /// much by the same rule.
    pub fn validation_overlap(&self, validation: f32) -> Option<String> {
        let old = &self.loaded.settings;
        if validation <= 0.0 {
            return None;
        }
        let why = if old.hold_out != HoldOut::OriginalIds && old.validation > 0.0 {
            "held out its validation slice by internal ids (an older funkd)".to_string()
        } else if old.validation < validation {
            format!("held out {} of its train ratings", old.validation)
        } else {
            return None;
        };
        Some(format!(
            "the warm-start model {} {why}; this run holds out {validation}, some of which the model \
             was trained on, so the validation RMSE starts optimistic and early stopping may stop too \
             soon (give --validation {} or less to validate only on ratings the model never saw)",
            self.loaded.path.display(),
            if old.hold_out == HoldOut::OriginalIds { old.validation } else { 0.0 }
        ))
    }

    /// The first parameters of a run on `new` with `settings` (see the
    /// module documentation), and what was kept; `threads` fold in the new
    /// rows (the result is the same for any count).
    pub fn initial_parameters(
        &self,
        new: &RatingFile,
        settings: &Settings,
        threads: usize,
    ) -> anyhow::Result<(Parameters, WarmCounts)> {
        let model = &self.loaded.model;
        if settings.rank as usize != model.rank || settings.k as usize != model.k {
            usage_bail!(
                "the run's rank {} differs from the warm-start model's rank {}",
                settings.rank,
                model.rank
            );
        }
        let users = self.mapping(new, Side::Users)?;
        let items = self.mapping(new, Side::Items)?;
        let bands = |side: Side| -> Vec<Range<usize>> {
            (0..new.grid())
                .map(|b| match side {
                    Side::Users => new.user_band(b),
                    Side::Items => new.item_band(b),
                })
                .collect()
        };
        let mut p = crate::with_k!(settings.rank as usize, K => ModelState::<K>::init(
            &bands(Side::Users),
            &bands(Side::Items),
            settings.rank as usize,
            settings.seed,
            model.mu,
            settings.schedule,
        )
        .to_parameters());
        // Every loop over rows below passes a pause point every so many
        // rows (the service's rounds run this on a background thread).
        let mut pacer = Pacer::new();
        let k = model.k;
        for &(old, new) in &users {
            pacer.step();
            p.user_factors[new * k..(new + 1) * k]
                .copy_from_slice(&model.user_factors[old * k..(old + 1) * k]);
            p.user_bias[new] = model.user_bias[old];
        }
        for &(old, new) in &items {
            pacer.step();
            p.item_factors[new * k..(new + 1) * k]
                .copy_from_slice(&model.item_factors[old * k..(old + 1) * k]);
            p.item_bias[new] = model.item_bias[old];
        }
        let mut known = |count: usize, pairs: &[(usize, usize)]| {
            let mut known = vec![false; count];
            for &(_, n) in pairs {
                pacer.step();
                known[n] = true;
            }
            known
        };
        let (known_users, known_items) = (known(new.users(), &users), known(new.items(), &items));
        let folded = fold_in_new_rows(&mut p, new, &known_users, &known_items, settings, threads)?;
        let counts = WarmCounts {
            users_kept: users.len(),
            users_new: new.users() - users.len(),
            items_kept: items.len(),
            items_new: new.items() - items.len(),
            users_folded: folded.users,
            items_folded: folded.items,
        };
        Ok((p, counts))
    }

    /// (old internal id, new internal id) of every old user or item;
    /// refuses an old id the new file lacks.
    fn mapping(&self, new: &RatingFile, side: Side) -> anyhow::Result<Vec<(usize, usize)>> {
        let old = &self.data;
        let (count, index, what) = match side {
            Side::Users => (old.users(), new.user_index(), "user"),
            Side::Items => (old.items(), new.item_index(), "item"),
        };
        let mut pairs = Vec::with_capacity(count);
        // A lookup is a binary search over the new file's ids (a
        // microsecond or two): a pause point every 64.
        let mut pacer = Pacer::every(64);
        for internal in 0..count {
            pacer.step();
            let id = match side {
                Side::Users => old.user_id(internal),
                Side::Items => old.item_id(internal),
            };
            match index.get(id) {
                Some(n) => pairs.push((internal, n)),
                None => usage_bail!(
                    "cannot warm-start: {what} {id:?} of {} is not in {}; the new rating file must hold every user and item of the old one (its id maps extend the old ones)",
                    old.path().display(),
                    new.path().display()
                ),
            }
        }
        Ok(pairs)
    }
}

#[derive(Clone, Copy)]
enum Side {
    Users,
    Items,
}
