//! `HyperParams`: what is refused and why, and that an accepted set keeps
//! exactly what it was given (the daemon reads every field back to save
//! and report it).

use funk_kernel::{HyperParams, LearningRate, ModelKind, ParamError};
use proptest::prelude::*;

proptest! {
    #[test]
    fn accepted_parameters_keep_what_they_were_given(
        eta in 1e-6f32..10.0,
        lambda in 0.0f32..10.0,
        lambda_b in 0.0f32..10.0,
        decay in 0.0f32..5.0,
        biased in any::<bool>(),
        which in 0usize..3,
    ) {
        let model = if biased { ModelKind::Biased } else { ModelKind::Plain };
        let schedule = [
            LearningRate::Constant,
            LearningRate::Decay { decay },
            LearningRate::Adaptive,
        ][which];
        let p = HyperParams::new(model, eta, lambda, lambda_b, schedule).unwrap();
        prop_assert_eq!(p.model(), model);
        prop_assert_eq!(p.learning_rate().to_bits(), eta.to_bits());
        prop_assert_eq!(p.reg_factors().to_bits(), lambda.to_bits());
        prop_assert_eq!(p.reg_bias().to_bits(), lambda_b.to_bits());
        prop_assert_eq!(p.schedule(), schedule);

        let halved = p.with_learning_rate(eta / 2.0).unwrap();
        prop_assert_eq!(halved.learning_rate(), eta / 2.0);
        prop_assert_eq!(halved.model(), model);
        prop_assert_eq!(halved.reg_factors(), lambda);
        prop_assert_eq!(halved.reg_bias(), lambda_b);
        prop_assert_eq!(halved.schedule(), schedule);
        prop_assert_eq!(
            p.with_learning_rate(0.0),
            Err(ParamError::LearningRate(0.0))
        );
    }
}

#[test]
fn each_refusal_names_the_parameter_and_its_value() {
    let new = |eta, lambda, lambda_b, schedule| {
        HyperParams::new(ModelKind::Biased, eta, lambda, lambda_b, schedule)
    };
    let constant = LearningRate::Constant;
    let cases = [
        (
            new(-1.0, 0.0, 0.0, constant),
            ParamError::LearningRate(-1.0),
            "learning rate -1 must be finite and > 0",
        ),
        (
            new(0.1, -0.5, 0.0, constant),
            ParamError::RegFactors(-0.5),
            "factor regularisation -0.5 must be finite and >= 0",
        ),
        (
            new(0.1, 0.0, f32::INFINITY, constant),
            ParamError::RegBias(f32::INFINITY),
            "bias regularisation inf must be finite and >= 0",
        ),
        (
            new(0.1, 0.0, 0.0, LearningRate::Decay { decay: -2.0 }),
            ParamError::Decay(-2.0),
            "learning-rate decay -2 must be finite and >= 0",
        ),
    ];
    for (got, want, message) in cases {
        assert_eq!(got, Err(want));
        assert_eq!(want.to_string(), message);
    }
    assert!(matches!(
        new(f32::NAN, 0.0, 0.0, constant),
        Err(ParamError::LearningRate(v)) if v.is_nan()
    ));
    // Zero regularisation and zero decay are allowed.
    assert!(new(0.1, 0.0, 0.0, LearningRate::Decay { decay: 0.0 }).is_ok());
}
