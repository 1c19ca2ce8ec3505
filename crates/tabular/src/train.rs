//! Training (runs on a pod): CSV → selected columns → seeded train/test split → standard
//! scaling (fitted on the training rows only) → fit → score (R² or accuracy) → model,
//! preprocessor and `metadata.json` under `models/<user>/<model_id>/`.

use crate::data::Table;
use crate::model::{self, Hyper, Matrix, ModelKind, Target};
use crate::storage::Storage;
use crate::{Result, TabularError};
use serde::{Deserialize, Serialize};
use smartcore::api::{Transformer, UnsupervisedEstimator};
use smartcore::preprocessing::numerical::{StandardScaler, StandardScalerParameters};

/// What to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    pub user: String,
    /// Key of the CSV, e.g. `datasets/alice/houses.csv`.
    pub dataset: String,
    pub target: String,
    /// Feature columns (default: every column but the target).
    #[serde(default)]
    pub features: Option<Vec<String>>,
    pub model: ModelKind,
    #[serde(default)]
    pub hyperparameters: Hyper,
    #[serde(default = "default_test_size")]
    pub test_size: f32,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Default: a fresh id.
    #[serde(default)]
    pub model_id: Option<String>,
}

fn default_test_size() -> f32 {
    0.2
}
fn default_seed() -> u64 {
    42
}

impl TrainSpec {
    /// A spec with defaults for everything optional.
    pub fn new(user: &str, dataset: &str, target: &str, model: ModelKind) -> Self {
        Self {
            user: user.into(),
            dataset: dataset.into(),
            target: target.into(),
            features: None,
            model,
            hyperparameters: Hyper::default(),
            test_size: default_test_size(),
            seed: default_seed(),
            model_id: None,
        }
    }
}

/// `metadata.json`: what was trained, on what, and how well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub model_id: String,
    pub user: String,
    pub model_type: ModelKind,
    pub task: String,
    pub dataset: String,
    pub target: String,
    pub features: Vec<String>,
    pub hyperparameters: Hyper,
    pub seed: u64,
    /// R² (regression) or accuracy (classification) on the held-out rows.
    pub score: f64,
    pub metric: String,
    pub train_samples: usize,
    pub test_samples: usize,
    /// Class names, for classifiers (predictions are written as these).
    pub classes: Option<Vec<String>>,
}

/// One step of training, for progress reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub step: u32,
    pub of: u32,
    pub what: &'static str,
}

const STEPS: u32 = 6;

/// Where a model's files live.
pub fn model_prefix(user: &str, model_id: &str) -> String {
    format!("models/{user}/{model_id}")
}

/// Trains per `spec`, reporting each step to `progress`.
pub async fn train(
    store: &Storage,
    spec: &TrainSpec,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Metadata> {
    train_with_checkpoints(store, spec, &Checkpoints::default(), progress).await
}

/// A podwarden job's checkpoints (its `checkpoint_dir`): a fit is kept there once done, and a
/// relaunched pod that finds the same training there (`PODWARDEN_RESUME_FROM`) saves it
/// instead of fitting again. A fit is one call (smartcore has no partial fits), so the
/// checkpoint is the fitted model, `checkpoint-1`.
#[derive(Debug, Clone, Default)]
pub struct Checkpoints {
    pub dir: Option<std::path::PathBuf>,
    pub resume_from: Option<std::path::PathBuf>,
}

/// The files a model is saved as, in the store and in a checkpoint.
const MODEL_FILES: [&str; 3] = ["model.json", "preprocessor.json", "metadata.json"];

impl Checkpoints {
    /// `PODWARDEN_CHECKPOINT_DIR` and `PODWARDEN_RESUME_FROM`, as podwarden's wrapper sets them.
    pub fn from_env() -> Self {
        let path = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(Into::into);
        Self { dir: path("PODWARDEN_CHECKPOINT_DIR"), resume_from: path("PODWARDEN_RESUME_FROM") }
    }

    /// The model files of a checkpoint of this very training (same user, model id, data,
    /// model and settings), if there is one.
    fn resumable(&self, spec: &TrainSpec, model_id: &str) -> Option<(Vec<Vec<u8>>, Metadata)> {
        let dir = self.resume_from.as_ref()?;
        let files: Vec<Vec<u8>> = MODEL_FILES
            .iter()
            .map(|f| std::fs::read(dir.join(f)))
            .collect::<std::io::Result<_>>()
            .ok()?;
        let meta: Metadata = serde_json::from_slice(&files[2]).ok()?;
        let same = meta.model_id == model_id
            && meta.user == spec.user
            && meta.dataset == spec.dataset
            && meta.target == spec.target
            && meta.model_type == spec.model
            && meta.hyperparameters == spec.hyperparameters
            && meta.seed == spec.seed
            && spec.features.as_ref().is_none_or(|f| *f == meta.features);
        same.then_some((files, meta))
    }

    /// Keeps a finished fit: the files first, `.complete` last.
    fn keep(&self, files: &[&[u8]]) {
        let Some(dir) = &self.dir else { return };
        let at = dir.join("checkpoint-1");
        let written = std::fs::create_dir_all(&at)
            .and_then(|()| {
                MODEL_FILES.iter().zip(files).try_for_each(|(f, b)| std::fs::write(at.join(f), b))
            })
            .and_then(|()| std::fs::write(at.join(".complete"), b""));
        if let Err(e) = written {
            eprintln!("podwarden-tabular: could not keep a checkpoint in {}: {e}", at.display());
        }
    }
}

/// [`train`], keeping the fit in `ck` and resuming from it.
pub async fn train_with_checkpoints(
    store: &Storage,
    spec: &TrainSpec,
    ck: &Checkpoints,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Metadata> {
    if !(0.0..1.0).contains(&spec.test_size) || spec.test_size == 0.0 {
        return Err(TabularError::BadSpec(format!(
            "test_size must be between 0 and 1 (exclusive), got {}",
            spec.test_size
        )));
    }
    let model_id =
        spec.model_id.clone().unwrap_or_else(|| format!("m-{}", uuid::Uuid::now_v7().simple()));
    let prefix = model_prefix(&spec.user, &model_id);
    Storage::check(&spec.user, &format!("{prefix}/metadata.json"))?;
    let mut step = |n: u32, what: &'static str| progress(Progress { step: n, of: STEPS, what });
    if let Some((files, meta)) = ck.resumable(spec, &model_id) {
        // A lost pod had fitted it: save that fit.
        step(5, "resumed from a checkpoint");
        step(6, "saving");
        for (f, bytes) in MODEL_FILES.iter().zip(files) {
            store.put(&spec.user, &format!("{prefix}/{f}"), bytes).await?;
        }
        return Ok(meta);
    }

    step(1, "reading the dataset");
    let bytes = store.get(&spec.user, &spec.dataset).await?;
    step(2, "selecting columns");
    let table = Table::parse(&spec.dataset, &bytes)?;
    table.column(&spec.target)?;
    let features: Vec<String> = match &spec.features {
        Some(f) if f.is_empty() => {
            return Err(TabularError::BadSpec(
                "features is empty; name at least one column".into(),
            ));
        }
        Some(f) => f.clone(),
        None => table.header.iter().filter(|h| **h != spec.target).cloned().collect(),
    };
    if features.contains(&spec.target) {
        return Err(TabularError::BadSpec(format!(
            "the target {:?} is also listed as a feature",
            spec.target
        )));
    }
    let x = table.numeric(&features)?;
    let (y, classes) = if spec.model.is_classifier() {
        let raw = table.strings(&spec.target)?;
        let mut classes: Vec<String> = raw.clone();
        classes.sort();
        classes.dedup();
        let ids = raw.iter().map(|v| classes.binary_search(v).map_or(0, |i| i as i64)).collect();
        (Target::Classes(ids), Some(classes))
    } else {
        let y =
            table.numeric(std::slice::from_ref(&spec.target))?.into_iter().map(|r| r[0]).collect();
        (Target::Numbers(y), None)
    };
    if x.len() < 4 {
        return Err(TabularError::BadCsv {
            file: spec.dataset.clone(),
            why: format!("{} data rows; at least 4 are needed to split", x.len()),
        });
    }
    // The CSV and its table are not needed while the model fits: their memory goes first.
    drop(table);
    drop(bytes);

    step(3, "splitting and scaling");
    let (kind, hyper, seed, test_size) =
        (spec.model, spec.hyperparameters.clone(), spec.seed, spec.test_size);
    // The learning is CPU-bound: off the async threads; a learner's panic becomes an error.
    let fitted = tokio::task::spawn_blocking(move || -> Result<_> {
        let n = x.len();
        let (train_idx, test_idx) = split_indices(n, test_size, seed);
        let pick = |idx: &[usize]| -> Result<Matrix> {
            let rows: Vec<Vec<f64>> = idx.iter().map(|&i| x[i].clone()).collect();
            Matrix::from_2d_vec(&rows).map_err(|e| TabularError::Fit(e.to_string()))
        };
        let (x_train, x_test) = (pick(&train_idx)?, pick(&test_idx)?);
        let scaler = StandardScaler::fit(&x_train, StandardScalerParameters::default())
            .map_err(|e| TabularError::Fit(e.to_string()))?;
        let x_train = scaler.transform(&x_train).map_err(|e| TabularError::Fit(e.to_string()))?;
        let x_test = scaler.transform(&x_test).map_err(|e| TabularError::Fit(e.to_string()))?;
        let (y_train, y_test) = match &y {
            Target::Numbers(v) => {
                (Target::Numbers(pick_vec(v, &train_idx)), Target::Numbers(pick_vec(v, &test_idx)))
            }
            Target::Classes(v) => {
                (Target::Classes(pick_vec(v, &train_idx)), Target::Classes(pick_vec(v, &test_idx)))
            }
        };
        let m = model::fit(kind, &x_train, &y_train, &hyper, seed)?;
        let score = match (m.predict(&x_test)?, &y_test) {
            (Target::Numbers(p), Target::Numbers(t)) => smartcore::metrics::r2(t, &p),
            (Target::Classes(p), Target::Classes(t)) => smartcore::metrics::accuracy(t, &p),
            _ => return Err(TabularError::Fit("prediction and target kinds differ".into())),
        };
        Ok((m, scaler, score, train_idx.len(), test_idx.len()))
    })
    .await
    .map_err(|e| TabularError::Fit(format!("the learner panicked: {}", panic_text(e))))??;
    let (m, scaler, score, train_samples, test_samples) = fitted;
    step(4, "fitted");
    step(5, "scored");

    let meta = Metadata {
        model_id: model_id.clone(),
        user: spec.user.clone(),
        model_type: spec.model,
        task: if spec.model.is_classifier() { "classification" } else { "regression" }.into(),
        dataset: spec.dataset.clone(),
        target: spec.target.clone(),
        features,
        hyperparameters: spec.hyperparameters.clone(),
        seed: spec.seed,
        score,
        metric: if spec.model.is_classifier() { "accuracy" } else { "r2" }.into(),
        train_samples,
        test_samples,
        classes,
    };
    step(6, "saving");
    let files = [to_json(&m)?, to_json(&scaler)?, to_json(&meta)?];
    ck.keep(&files.iter().map(Vec::as_slice).collect::<Vec<_>>());
    for (f, bytes) in MODEL_FILES.iter().zip(files) {
        store.put(&spec.user, &format!("{prefix}/{f}"), bytes).await?;
    }
    Ok(meta)
}

/// A seeded shuffle of `0..n` cut into train and test (at least one row in each).
fn split_indices(n: usize, test_size: f32, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    // SplitMix64: a fixed, documented generator, so a seed means the same split everywhere.
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..n).rev() {
        idx.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let test = ((n as f64 * f64::from(test_size)).round() as usize).clamp(1, n - 1);
    let train = idx.split_off(test);
    (train, idx)
}

fn pick_vec<T: Copy>(v: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| v[i]).collect()
}

pub(crate) fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default(),
        Err(e) => e.to_string(),
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| TabularError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_seeded_disjoint_and_complete() {
        let (a, b) = split_indices(100, 0.2, 7);
        assert_eq!((a.len(), b.len()), (80, 20));
        let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split_indices(100, 0.2, 7), (a, b), "same seed, same split");
        assert_ne!(split_indices(100, 0.2, 8).1, split_indices(100, 0.2, 7).1);
        assert_eq!(split_indices(4, 0.01, 1).1.len(), 1, "at least one test row");
    }
}
