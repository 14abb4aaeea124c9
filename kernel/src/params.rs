//! Validated hyper-parameters and learning-rate schedules.

use core::fmt;

/// Which model is fitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// r ≈ p_u·q_i: exactly Û V̂ᵀ of the SVD derivation (no mean, no biases).
    Plain,
    /// r ≈ μ + b_u + b_i + p_u·q_i: Funk's biased model.
    Biased,
}

/// How the step size evolves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LearningRate {
    /// η every epoch.
    Constant,
    /// η / (1 + decay · epoch): decays per epoch.
    Decay {
        /// Decay per epoch, ≥ 0.
        decay: f32,
    },
    /// AdaGrad-style per-row step η / √G, G the row's accumulated mean
    /// squared gradient (as LIBMF does); needs accumulators in each
    /// [`Band`](crate::Band).
    Adaptive,
}

/// Why a set of hyper-parameters was refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamError {
    /// The learning rate must be finite and > 0.
    LearningRate(f32),
    /// Factor regularisation must be finite and ≥ 0.
    RegFactors(f32),
    /// Bias regularisation must be finite and ≥ 0.
    RegBias(f32),
    /// The decay must be finite and ≥ 0.
    Decay(f32),
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LearningRate(v) => write!(f, "learning rate {v} must be finite and > 0"),
            Self::RegFactors(v) => write!(f, "factor regularisation {v} must be finite and >= 0"),
            Self::RegBias(v) => write!(f, "bias regularisation {v} must be finite and >= 0"),
            Self::Decay(v) => write!(f, "learning-rate decay {v} must be finite and >= 0"),
        }
    }
}

impl core::error::Error for ParamError {}

/// Validated hyper-parameters: a value of this type is always usable.
///
/// # Examples
///
/// ```
/// use funk_kernel::{HyperParams, LearningRate, ModelKind};
/// let p = HyperParams::new(ModelKind::Biased, 0.01, 0.05, 0.01, LearningRate::Constant).unwrap();
/// assert_eq!(p.learning_rate(), 0.01);
/// assert!(HyperParams::new(ModelKind::Plain, -1.0, 0.0, 0.0, LearningRate::Constant).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HyperParams {
    model: ModelKind,
    learning_rate: f32,
    reg_factors: f32,
    reg_bias: f32,
    schedule: LearningRate,
}

impl HyperParams {
    /// Validates and builds a set of hyper-parameters.
    pub fn new(
        model: ModelKind,
        learning_rate: f32,
        reg_factors: f32,
        reg_bias: f32,
        schedule: LearningRate,
    ) -> Result<Self, ParamError> {
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(ParamError::LearningRate(learning_rate));
        }
        if !(reg_factors.is_finite() && reg_factors >= 0.0) {
            return Err(ParamError::RegFactors(reg_factors));
        }
        if !(reg_bias.is_finite() && reg_bias >= 0.0) {
            return Err(ParamError::RegBias(reg_bias));
        }
        if let LearningRate::Decay { decay } = schedule {
            if !(decay.is_finite() && decay >= 0.0) {
                return Err(ParamError::Decay(decay));
            }
        }
        Ok(Self {
            model,
            learning_rate,
            reg_factors,
            reg_bias,
            schedule,
        })
    }

    /// The model being fitted.
    pub const fn model(&self) -> ModelKind {
        self.model
    }
    /// The base learning rate η.
    pub const fn learning_rate(&self) -> f32 {
        self.learning_rate
    }
    /// λ, the regularisation of factor rows.
    pub const fn reg_factors(&self) -> f32 {
        self.reg_factors
    }
    /// λ_b, the regularisation of biases.
    pub const fn reg_bias(&self) -> f32 {
        self.reg_bias
    }
    /// The learning-rate schedule.
    pub const fn schedule(&self) -> LearningRate {
        self.schedule
    }
    /// The same parameters with another base learning rate (used to back
    /// off after divergence).
    pub fn with_learning_rate(self, learning_rate: f32) -> Result<Self, ParamError> {
        Self::new(
            self.model,
            learning_rate,
            self.reg_factors,
            self.reg_bias,
            self.schedule,
        )
    }

    /// The global step size of `epoch` (0-based) for the constant and
    /// decaying schedules; the base rate for the adaptive one, which scales
    /// it per row.
    pub fn step_size(&self, epoch: u32) -> f32 {
        match self.schedule {
            LearningRate::Constant | LearningRate::Adaptive => self.learning_rate,
            LearningRate::Decay { decay } => self.learning_rate / (1.0 + decay * epoch as f32),
        }
    }
}
