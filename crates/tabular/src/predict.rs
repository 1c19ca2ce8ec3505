//! Prediction (a serverless worker): load a saved model, read a CSV, check its header against
//! the model's features, add a prediction column, write the CSV back; report the row count.

use crate::data::Table;
use crate::model::{Fitted, Matrix, Target};
use crate::storage::Storage;
use crate::train::{Metadata, model_prefix, panic_text};
use crate::{Result, TabularError};
use serde::{Deserialize, Serialize};
use smartcore::api::Transformer;
use smartcore::preprocessing::numerical::StandardScaler;

/// What to predict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictSpec {
    pub user: String,
    pub model_id: String,
    /// Key of the CSV to predict, e.g. `datasets/alice/new.csv`.
    pub input: String,
    /// Where the CSV with predictions goes, e.g. `predictions/alice/new.csv`.
    pub output: String,
    /// Name of the added column.
    #[serde(default = "default_column")]
    pub column: String,
}

fn default_column() -> String {
    "prediction".into()
}

/// What a prediction run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictReport {
    pub rows: usize,
    pub output: String,
    pub column: String,
    pub model_id: String,
    /// The CSV with predictions itself when it is small (up to [`INLINE_BYTES`]); a larger one
    /// is only on the volume at `output` (`podwarden cp` fetches it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
}

/// Largest prediction CSV returned inline in the job's output.
pub const INLINE_BYTES: usize = 256 * 1024;

/// A saved model's metadata (a missing model is `NoSuchModel`).
pub async fn metadata(store: &Storage, user: &str, model_id: &str) -> Result<Metadata> {
    let key = format!("{}/metadata.json", model_prefix(user, model_id));
    let bytes = store.get(user, &key).await.map_err(|e| match e {
        TabularError::NotFound(key) => {
            TabularError::NoSuchModel { user: user.into(), model_id: model_id.into(), key }
        }
        other => other,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| TabularError::Corrupt(format!("{key}: {e}")))
}

/// Predicts per `spec`.
pub async fn predict(store: &Storage, spec: &PredictSpec) -> Result<PredictReport> {
    Storage::check(&spec.user, &spec.output)?;
    let meta = metadata(store, &spec.user, &spec.model_id).await?;
    let prefix = model_prefix(&spec.user, &spec.model_id);
    let load = |what: &str| {
        TabularError::Corrupt(format!("{prefix}/{what} cannot be read; retrain the model"))
    };
    let model_bytes = store.get(&spec.user, &format!("{prefix}/model.json")).await?;
    let scaler_bytes = store.get(&spec.user, &format!("{prefix}/preprocessor.json")).await?;
    let table = Table::parse(&spec.input, &store.get(&spec.user, &spec.input).await?)?;
    let missing: Vec<String> =
        meta.features.iter().filter(|f| !table.header.contains(f)).cloned().collect();
    if !missing.is_empty() {
        return Err(TabularError::HeaderMismatch {
            file: spec.input.clone(),
            missing,
            expected: meta.features.clone(),
        });
    }
    if table.header.contains(&spec.column) {
        return Err(TabularError::BadSpec(format!(
            "{} already has a column {:?}; choose another name for the predictions",
            spec.input, spec.column
        )));
    }
    let x = table.numeric(&meta.features)?;
    let model: Fitted = serde_json::from_slice(&model_bytes).map_err(|_| load("model.json"))?;
    let scaler: StandardScaler<f64> =
        serde_json::from_slice(&scaler_bytes).map_err(|_| load("preprocessor.json"))?;
    let predicted = tokio::task::spawn_blocking(move || -> Result<Target> {
        let x = Matrix::from_2d_vec(&x).map_err(|e| TabularError::Fit(e.to_string()))?;
        let x = scaler.transform(&x).map_err(|e| TabularError::Fit(e.to_string()))?;
        model.predict(&x)
    })
    .await
    .map_err(|e| TabularError::Fit(format!("the model panicked: {}", panic_text(e))))??;
    let values: Vec<String> = match predicted {
        Target::Numbers(v) => v.iter().map(|x| x.to_string()).collect(),
        Target::Classes(v) => {
            let classes = meta.classes.clone().unwrap_or_default();
            v.iter()
                .map(|&i| classes.get(i as usize).cloned().unwrap_or_else(|| i.to_string()))
                .collect()
        }
    };
    let csv = table.with_column(&spec.column, &values)?;
    let inline = (csv.len() <= INLINE_BYTES).then(|| String::from_utf8_lossy(&csv).into_owned());
    store.put(&spec.user, &spec.output, csv).await?;
    Ok(PredictReport {
        rows: values.len(),
        output: spec.output.clone(),
        column: spec.column.clone(),
        model_id: spec.model_id.clone(),
        csv: inline,
    })
}
