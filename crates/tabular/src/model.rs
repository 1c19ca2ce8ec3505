//! The learners (all smartcore's) and one enum that holds whichever was fitted, serializable.

use crate::{Result, TabularError};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::elastic_net::{ElasticNet, ElasticNetParameters};
use smartcore::linear::lasso::{Lasso, LassoParameters};
use smartcore::linear::linear_regression::{LinearRegression, LinearRegressionParameters};
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::linear::ridge_regression::{RidgeRegression, RidgeRegressionParameters};
use smartcore::tree::decision_tree_classifier::{
    DecisionTreeClassifier, DecisionTreeClassifierParameters,
};
use smartcore::tree::decision_tree_regressor::{
    DecisionTreeRegressor, DecisionTreeRegressorParameters,
};
use smartcore::xgboost::{XGRegressor, XGRegressorParameters};

/// The feature matrix type.
pub type Matrix = DenseMatrix<f64>;

/// Which model to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Linear,
    Ridge,
    Lasso,
    ElasticNet,
    Logistic,
    DecisionTreeRegressor,
    DecisionTreeClassifier,
    RandomForestRegressor,
    RandomForestClassifier,
    GradientBoostingRegressor,
}

impl ModelKind {
    /// Every kind, by its spec name.
    pub const ALL: [(&'static str, ModelKind); 10] = [
        ("linear", Self::Linear),
        ("ridge", Self::Ridge),
        ("lasso", Self::Lasso),
        ("elastic_net", Self::ElasticNet),
        ("logistic", Self::Logistic),
        ("decision_tree_regressor", Self::DecisionTreeRegressor),
        ("decision_tree_classifier", Self::DecisionTreeClassifier),
        ("random_forest_regressor", Self::RandomForestRegressor),
        ("random_forest_classifier", Self::RandomForestClassifier),
        ("gradient_boosting_regressor", Self::GradientBoostingRegressor),
    ];

    /// Parses a spec name, with the list of names when it is unknown.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k).ok_or_else(|| {
            TabularError::BadSpec(format!(
                "unknown model {s:?}; one of: {}",
                Self::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The spec name.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }

    /// Whether it predicts classes (scored by accuracy) rather than numbers (R²).
    pub fn is_classifier(self) -> bool {
        matches!(self, Self::Logistic | Self::DecisionTreeClassifier | Self::RandomForestClassifier)
    }
}

/// Hyperparameters (each used by the models it applies to; the rest are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hyper {
    /// Regularization strength (ridge, lasso, elastic net, logistic).
    pub alpha: f64,
    /// Elastic net's L1 share.
    pub l1_ratio: f64,
    /// Trees and boosting.
    pub max_depth: u16,
    /// Random forests and boosting.
    pub n_trees: usize,
    /// Boosting.
    pub learning_rate: f64,
}

impl Default for Hyper {
    fn default() -> Self {
        Self { alpha: 1.0, l1_ratio: 0.5, max_depth: 8, n_trees: 50, learning_rate: 0.3 }
    }
}

/// A fitted model.
#[derive(Debug, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Fitted {
    Linear(LinearRegression<f64, f64, Matrix, Vec<f64>>),
    Ridge(RidgeRegression<f64, f64, Matrix, Vec<f64>>),
    Lasso(Lasso<f64, f64, Matrix, Vec<f64>>),
    ElasticNet(ElasticNet<f64, f64, Matrix, Vec<f64>>),
    Logistic(LogisticRegression<f64, i64, Matrix, Vec<i64>>),
    TreeRegressor(DecisionTreeRegressor<f64, f64, Matrix, Vec<f64>>),
    TreeClassifier(DecisionTreeClassifier<f64, i64, Matrix, Vec<i64>>),
    ForestRegressor(RandomForestRegressor<f64, f64, Matrix, Vec<f64>>),
    ForestClassifier(RandomForestClassifier<f64, i64, Matrix, Vec<i64>>),
    Boosting(XGRegressor<f64, f64, Matrix, Vec<f64>>),
}

/// The target: numbers, or class ids (indices into the metadata's class names).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Numbers(Vec<f64>),
    Classes(Vec<i64>),
}

fn fail(e: impl std::fmt::Display) -> TabularError {
    TabularError::Fit(e.to_string())
}

/// Fits `kind` on `x`/`y` (`y` must be numbers for regressors, classes for classifiers).
pub fn fit(kind: ModelKind, x: &Matrix, y: &Target, h: &Hyper, seed: u64) -> Result<Fitted> {
    use ModelKind as K;
    Ok(match (kind, y) {
        (K::Linear, Target::Numbers(y)) => Fitted::Linear(
            LinearRegression::fit(x, y, LinearRegressionParameters::default()).map_err(fail)?,
        ),
        (K::Ridge, Target::Numbers(y)) => Fitted::Ridge(
            RidgeRegression::fit(x, y, RidgeRegressionParameters::default().with_alpha(h.alpha))
                .map_err(fail)?,
        ),
        (K::Lasso, Target::Numbers(y)) => Fitted::Lasso(
            Lasso::fit(x, y, LassoParameters::default().with_alpha(h.alpha)).map_err(fail)?,
        ),
        (K::ElasticNet, Target::Numbers(y)) => Fitted::ElasticNet(
            ElasticNet::fit(
                x,
                y,
                ElasticNetParameters::default().with_alpha(h.alpha).with_l1_ratio(h.l1_ratio),
            )
            .map_err(fail)?,
        ),
        (K::Logistic, Target::Classes(y)) => Fitted::Logistic(
            LogisticRegression::fit(
                x,
                y,
                LogisticRegressionParameters::default().with_alpha(h.alpha),
            )
            .map_err(fail)?,
        ),
        (K::DecisionTreeRegressor, Target::Numbers(y)) => Fitted::TreeRegressor(
            DecisionTreeRegressor::fit(
                x,
                y,
                DecisionTreeRegressorParameters::default().with_max_depth(h.max_depth),
            )
            .map_err(fail)?,
        ),
        (K::DecisionTreeClassifier, Target::Classes(y)) => Fitted::TreeClassifier(
            DecisionTreeClassifier::fit(
                x,
                y,
                DecisionTreeClassifierParameters::default().with_max_depth(h.max_depth),
            )
            .map_err(fail)?,
        ),
        (K::RandomForestRegressor, Target::Numbers(y)) => Fitted::ForestRegressor(
            RandomForestRegressor::fit(
                x,
                y,
                RandomForestRegressorParameters::default()
                    .with_n_trees(h.n_trees)
                    .with_max_depth(h.max_depth)
                    .with_seed(seed),
            )
            .map_err(fail)?,
        ),
        (K::RandomForestClassifier, Target::Classes(y)) => Fitted::ForestClassifier(
            RandomForestClassifier::fit(
                x,
                y,
                RandomForestClassifierParameters::default()
                    .with_n_trees(h.n_trees as u16)
                    .with_max_depth(h.max_depth)
                    .with_seed(seed),
            )
            .map_err(fail)?,
        ),
        (K::GradientBoostingRegressor, Target::Numbers(y)) => Fitted::Boosting(
            XGRegressor::fit(
                x,
                y,
                XGRegressorParameters::default()
                    .with_n_estimators(h.n_trees)
                    .with_max_depth(h.max_depth)
                    .with_learning_rate(h.learning_rate)
                    .with_seed(seed),
            )
            .map_err(fail)?,
        ),
        (k, _) => {
            return Err(TabularError::BadSpec(format!(
                "model {} does not fit this kind of target",
                k.name()
            )));
        }
    })
}

impl Fitted {
    /// Predictions for `x`.
    pub fn predict(&self, x: &Matrix) -> Result<Target> {
        Ok(match self {
            Self::Linear(m) => Target::Numbers(m.predict(x).map_err(fail)?),
            Self::Ridge(m) => Target::Numbers(m.predict(x).map_err(fail)?),
            Self::Lasso(m) => Target::Numbers(m.predict(x).map_err(fail)?),
            Self::ElasticNet(m) => Target::Numbers(m.predict(x).map_err(fail)?),
            Self::Logistic(m) => Target::Classes(m.predict(x).map_err(fail)?),
            Self::TreeRegressor(m) => Target::Numbers(m.predict(x).map_err(fail)?),
            Self::TreeClassifier(m) => Target::Classes(m.predict(x).map_err(fail)?),
            Self::ForestRegressor(m) => Target::Numbers(m.predict(x).map_err(fail)?),
            Self::ForestClassifier(m) => Target::Classes(m.predict(x).map_err(fail)?),
            Self::Boosting(m) => Target::Numbers(m.predict(x).map_err(fail)?),
        })
    }
}
