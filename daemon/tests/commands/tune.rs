//! `tune` as a library call: the search over candidates by
//! cross-validation of the train split.

use funkd::cv::WorkDir;
use funkd::report::Collecting;
use funkd::train::{DataShape, Derived};
use funkd::tune::{tune, Candidate, TuneConfig};

use crate::fixture::sparse;

#[test]
fn every_candidate_is_scored_on_every_fold_and_a_capped_one_is_a_warning() {
    let f = sparse(false, 63);
    let data = f.open();
    let derived = Derived::for_shape(&DataShape::of(&data));
    let candidate = |factors| Candidate {
        factors,
        learning_rate: derived.learning_rate,
        reg: derived.reg,
        reg_row: derived.reg_row,
    };
    let config = TuneConfig {
        folds: 2,
        fold_seed: 1,
        epochs: 1,
        threads: Some(1),
        candidates: vec![candidate(4), candidate(2)],
        derived,
    };
    let work = WorkDir::given_or_temporary(None, "tune").unwrap();
    let reporter = Collecting::default();
    let report = tune(&data, &config, &work, &reporter).unwrap();

    assert_eq!(report.train_ratings, data.train_count());
    assert_eq!(report.candidates.len(), 2);
    assert!(report.candidates[0].rmse.mean <= report.candidates[1].rmse.mean);
    assert_eq!(report.best_flags, report.candidates[0].candidate.flags());
    for scored in &report.candidates {
        assert_eq!(scored.per_fold.len(), 2);
        assert!(scored.per_fold.iter().all(|r| r.is_finite() && *r > 0.0));
        // One epoch allowed: every fold's model is the capped one.
        assert_eq!(scored.model_epochs, [1, 1]);
        assert_eq!(scored.capped_folds, 2);
    }
    let notes = reporter.notes();
    assert!(notes[0].starts_with("tune 1/2: --factors 4 "), "{notes:?}");
    assert!(notes[1].starts_with("tune 2/2: --factors 2 "), "{notes:?}");
    let warnings = reporter.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("the best candidate (")
            && warnings[0].contains("(--epochs 1) stopped it on 2 of 2 folds"),
        "{warnings:?}"
    );
    assert!(warnings[1].starts_with("the second best candidate ("));
}
