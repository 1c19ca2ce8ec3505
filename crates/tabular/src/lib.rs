//! podwarden's built-in tabular workloads (seed `000_*` §5–6): **train** a model from a CSV
//! (runs on a pod) and **predict** a CSV with a saved model (runs on a serverless worker).
//! Learning is smartcore's (linear, ridge, lasso, elastic net, logistic regression, decision
//! trees and random forests for regression and classification, gradient boosting for
//! regression); this crate selects columns, validates, splits, scales, scores and stores.
//!
//! Storage goes through [`storage::Storage`] (object_store; a local directory now), keyed by
//! user: `datasets/<user>/…`, `models/<user>/<model_id>/…`, `predictions/<user>/…`. A caller
//! can read and write only under its own user segment.
//!
//! Must not: reach outside the caller's user segment, or link the emulator (it ships as a
//! worker image).
//!
//! ```no_run
//! # async fn demo() -> Result<(), podwarden_tabular::TabularError> {
//! use podwarden_tabular::{storage::Storage, train::{TrainSpec, train}, model::ModelKind};
//! let store = Storage::local(std::path::Path::new("/tmp/pw-store"))?;
//! let spec = TrainSpec::new("alice", "datasets/alice/houses.csv", "price", ModelKind::RandomForestRegressor);
//! let meta = train(&store, &spec, &mut |p| eprintln!("{p:?}")).await?;
//! println!("{} scored {}", meta.model_id, meta.score);
//! # Ok(()) }
//! ```

pub mod cli;
pub mod data;
pub mod model;
pub mod predict;
pub mod report;
pub mod storage;
pub mod train;

/// What went wrong, named so the user can fix it (the column, the file, the row, the limit).
#[derive(Debug, thiserror::Error)]
pub enum TabularError {
    #[error("{file}: no column {column:?} (columns: {available})")]
    MissingColumn { file: String, column: String, available: String },
    #[error(
        "{file}: column {column:?} row {row} is not a number: {value:?}; features must be numeric"
    )]
    NotNumeric { file: String, column: String, row: usize, value: String },
    #[error("{file}: the CSV has no data rows")]
    EmptyCsv { file: String },
    #[error("{file}: {why}")]
    BadCsv { file: String, why: String },
    #[error("no model {model_id:?} for user {user:?} (looked for {key})")]
    NoSuchModel { user: String, model_id: String, key: String },
    #[error(
        "{file}: header does not match the model: missing {missing:?}; the model was trained on {expected:?}"
    )]
    HeaderMismatch { file: String, missing: Vec<String>, expected: Vec<String> },
    #[error(
        "{key}: user {user:?} may only use keys under datasets/{user}/, models/{user}/ or predictions/{user}/"
    )]
    Forbidden { key: String, user: String },
    #[error("no object at {0}")]
    NotFound(String),
    #[error("invalid training spec: {0}")]
    BadSpec(String),
    #[error("training failed: {0}")]
    Fit(String),
    #[error("storage error")]
    Storage(#[from] object_store::Error),
    #[error("stored model is unreadable: {0}")]
    Corrupt(String),
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, TabularError>;
