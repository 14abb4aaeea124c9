//! A data set in memory, by external id: what importers and the generator
//! build and [`super::write`] turns into a rating file.

/// One rating by index into [`RatingSet::user_ids`] / [`RatingSet::item_ids`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Triple {
    /// Index of the user in `user_ids`.
    pub user: u32,
    /// Index of the item in `item_ids`.
    pub item: u32,
    /// The rating (any finite real number).
    pub value: f32,
}

/// What is known about a data set besides its ratings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    /// The scale ratings live on (e.g. 1..5 stars), if there is one;
    /// predictions are clamped to it.
    pub rating_range: Option<(f32, f32)>,
    /// RMSE of the true model on the test split (synthetic data only).
    pub noise_floor: Option<f64>,
    /// RMSE of predicting the mean train rating for every test rating.
    pub mean_rmse: Option<f64>,
    /// Where the data came from (free text, e.g. the command that made it).
    pub source: String,
}

/// A whole data set: external ids, train and test ratings, metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RatingSet {
    /// External user ids; a [`Triple::user`] indexes this.
    pub user_ids: Vec<String>,
    /// External item ids; a [`Triple::item`] indexes this.
    pub item_ids: Vec<String>,
    /// Training ratings.
    pub train: Vec<Triple>,
    /// Held-out test ratings.
    pub test: Vec<Triple>,
    /// Range, noise floor, baseline and provenance.
    pub meta: Meta,
}

impl RatingSet {
    /// RMSE of predicting the mean train rating for every test rating
    /// (`None` without test or train ratings).
    pub fn mean_predictor_rmse(&self) -> Option<f64> {
        if self.train.is_empty() || self.test.is_empty() {
            return None;
        }
        let mean =
            self.train.iter().map(|t| f64::from(t.value)).sum::<f64>() / self.train.len() as f64;
        let sse: f64 = self
            .test
            .iter()
            .map(|t| (f64::from(t.value) - mean).powi(2))
            .sum();
        Some((sse / self.test.len() as f64).sqrt())
    }

    /// The set with [`Self::mean_predictor_rmse`] recorded in its meta.
    pub fn with_mean_rmse(mut self) -> RatingSet {
        self.meta.mean_rmse = self.mean_predictor_rmse();
        self
    }
}
