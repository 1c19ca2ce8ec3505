//! `podwarden quickstart`: the README's main job, end to end on the embedded emulator — train
//! a model from the shipped house-price CSV on a (simulated) GPU pod, deploy the predict
//! endpoint, predict a CSV through it, print the first rows and what it all cost, and tear
//! everything down (also when a step fails).
//!
//! The flow is RunPod's: pod and workers share nothing but a network volume (the pod mounts it
//! at /workspace, the workers at /runpod-volume), and they run the image's `podwarden-tabular`
//! with paths on that volume. The CSVs go onto the volume, and the model's metadata and the
//! predictions come back, over the volume's S3 API, as they would on RunPod.

use crate::UserError;
use crate::local::Api;
use crate::transfer::Files;
use anyhow::{Context, anyhow};
use podwarden_api::types::{DeployResult, EndpointView, JobDetail, ServerlessJobView, Status};
use podwarden_api::types::{JobSpec, JobState, ServerlessJobSpec, ServerlessJobState};
use serde_json::json;
use std::time::Duration;

/// The dataset and the rows to predict, shipped in the binary.
const TRAIN_CSV: &[u8] = include_bytes!("../../../examples/data/houses.csv");
const PREDICT_CSV: &[u8] = include_bytes!("../../../examples/data/houses_new.csv");
const ENDPOINT: &str = "quickstart-predict";
/// The embedded emulator's seeded volume, the admin's (`podwarden volume ls`).
const VOLUME_NAME: &str = crate::emulator::QUICKSTART_VOLUME_NAME;
const IMAGE: &str = "@tabular";

/// `podwarden quickstart`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model to train (linear, ridge, lasso, elastic_net, decision_tree_regressor,
    /// random_forest_regressor, gradient_boosting_regressor).
    #[arg(long, default_value = "random_forest_regressor")]
    model: String,
    /// Keep the predict endpoint afterwards (`podwarden endpoint rm quickstart-predict`).
    #[arg(long)]
    keep: bool,
}

/// A single-quoted shell word.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub async fn run(a: Args) -> Result<(), UserError> {
    let api = Api::connect().await?;
    let status: Status = api.run(|c| c.status()).await?;
    if !status.simulated {
        return Err(UserError {
            error: anyhow!("the quickstart runs on the embedded emulator, but this server uses {}", status.provider),
            hint: Some(
                "run it without RUNPOD_API_KEY (and PODWARDEN_URL); on RunPod, build Dockerfile.tabular, put the data on a network volume and use examples/tabular/ (docs/tabular.md)"
                    .into(),
            ),
        });
    }
    // The data goes onto the network volume over its S3 API.
    let store = Files::of(&api, VOLUME_NAME).await?;
    store.write_small("datasets/local/houses.csv", TRAIN_CSV.to_vec()).await?;
    store.write_small("datasets/local/houses_new.csv", PREDICT_CSV.to_vec()).await?;
    let model_id = format!(
        "quickstart-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );

    let result = steps(&api, &a, &model_id, &store).await;
    // Teardown, whatever happened above.
    if !a.keep {
        match api.run(|c| c.remove_endpoint(ENDPOINT)).await {
            Ok(e) => note!("[teardown] endpoint {ENDPOINT}: {}", e.state),
            Err(e) if e.error.to_string().contains("not found") => {}
            Err(e) => note!("[teardown] endpoint {ENDPOINT}: {} (the server retries)", e.error),
        }
        let left: Vec<EndpointView> = api.run(|c| c.endpoints()).await?;
        let left = left.iter().filter(|e| e.name == ENDPOINT).count();
        note!(
            "[teardown] left running: {left} endpoint(s); the training pod was terminated when its job ended"
        );
    }
    if std::env::var_os("PODWARDEN_URL").is_none() {
        if let Some((url, pid)) = Api::local_server(&crate::local::home()).await {
            note!(
                "[teardown] still running: the local podwarden server on {url} (pid {pid}), which the next command uses; `podwarden server stop` stops it"
            );
        }
    }
    result
}

async fn steps(api: &Api, a: &Args, model_id: &str, store: &Files) -> Result<(), UserError> {
    let job = train(api, a, model_id, store).await?;
    deploy(api).await?;
    let r = predict(api, store, model_id).await?;
    let train_cost = job.job.spent_usd;
    out!(
        "cost (simulated): training ${train_cost:.4} on {} + prediction ${:.6} on {} ({} ms) = ${:.4}",
        job.job.gpu.as_deref().unwrap_or("?"),
        r.cost_usd,
        r.gpu,
        r.execution_ms.unwrap_or(0),
        train_cost + r.cost_usd
    );
    Ok(())
}

/// 1. Trains on a GPU pod and shows what the trainer saved and reported.
async fn train(api: &Api, a: &Args, model_id: &str, store: &Files) -> Result<JobDetail, UserError> {
    use crate::emulator::QUICKSTART_VOLUME as VOLUME;
    note!("[1/3] training a {} on datasets/local/houses.csv (1,000 rows) on a GPU pod", a.model);
    let mut train = JobSpec::new(
        "quickstart-train",
        IMAGE,
        format!(
            "podwarden-tabular --store /workspace train --user local --dataset datasets/local/houses.csv --target price --model {} --model-id {model_id}",
            sh(&a.model)
        ),
    );
    train.network_volume = Some(VOLUME.into());
    train.gpu.min_vram_gb = Some(16);
    train.limits.budget_usd = Some(0.5);
    train.limits.max_runtime = Some(Duration::from_secs(30 * 60));
    let job: JobDetail = api.run(|c| c.submit_job(&train)).await?;
    let job = crate::run::follow(api, &job.job.id, true, true).await?;
    if job.job.state != JobState::Succeeded {
        return Err(UserError {
            error: anyhow!(
                "training ended {}: {}",
                job.job.state,
                job.job.reason.unwrap_or_default()
            ),
            hint: Some(format!("`podwarden logs {}` shows what the trainer printed", job.job.id)),
        });
    }

    // What the trainer saved (read from the store, not from the log stream).
    let meta_key = format!(
        "{}/metadata.json",
        podwarden_tabular::train::model_prefix("local", model_id).trim_end_matches('/')
    );
    let meta: podwarden_tabular::train::Metadata =
        serde_json::from_slice(&store.read(&meta_key).await?)
            .context("the trainer's metadata.json")?;
    out!(
        "model {model_id}: {} predicting {} from {}; {} = {:.4} on {} held-out rows ({} trained)",
        meta.model_type.name(),
        meta.target,
        meta.features.join(", "),
        meta.metric,
        meta.score,
        meta.test_samples,
        meta.train_samples
    );

    let points: Vec<serde_json::Value> = api.run(|c| c.job_metrics(&job.job.id)).await?;
    let score = points.iter().rev().find_map(|p| p["point"]["score"].as_f64());
    out!(
        "the trainer reported {} metric points to the control plane (last score: {})",
        points.len(),
        score.map_or_else(|| "none".into(), |s| format!("{s:.4}"))
    );

    Ok(job)
}

/// 2. Deploys the predict endpoint (scale to zero, over the quickstart's volume).
async fn deploy(api: &Api) -> Result<(), UserError> {
    use crate::emulator::QUICKSTART_VOLUME as VOLUME;
    note!("[2/3] deploying the predict endpoint {ENDPOINT}");
    let endpoint =
        podwarden_api::tabular::predict_endpoint(ENDPOINT, IMAGE, VOLUME, Duration::from_secs(5));
    let d: DeployResult = api.run(|c| c.deploy_endpoint(&endpoint)).await?;
    note!(
        "  endpoint {} {} ({})",
        d.endpoint.name,
        d.change,
        d.endpoint.endpoint_id.as_deref().unwrap_or("-")
    );

    Ok(())
}

/// 3. Predicts through the endpoint and shows the first rows of what it wrote.
async fn predict(api: &Api, store: &Files, model_id: &str) -> Result<ServerlessJobView, UserError> {
    note!("[3/3] predicting datasets/local/houses_new.csv through it");
    let input = ServerlessJobSpec::new(
        ENDPOINT,
        json!({
            "user": "local",
            "model_id": model_id,
            "input": "datasets/local/houses_new.csv",
            "output": "predictions/local/houses_new.csv",
            "column": "predicted_price",
        }),
    );
    let r: ServerlessJobView = api.run(|c| c.submit_serverless_job(&input, false)).await?;
    let r = crate::serverless::follow_serverless_job(api, &r.id, true).await?;
    if r.state != ServerlessJobState::Succeeded {
        return Err(UserError {
            error: anyhow!("prediction ended {}: {}", r.state, r.reason.unwrap_or_default()),
            hint: None,
        });
    }

    let text = String::from_utf8(store.read("predictions/local/houses_new.csv").await?)
        .context("the predictions are not UTF-8")?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut t = crate::print::table(&header);
    for line in lines.clone().take(5) {
        // The prediction (last column) rounded to dollars; the inputs as given.
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        if let Some(last) = cells.last_mut() {
            if let Ok(v) = last.parse::<f64>() {
                *last = format!("{v:.0}");
            }
        }
        t.add_row(cells);
    }
    out!("{t}");
    out!(
        "({} rows with predictions in vol:{VOLUME_NAME}/predictions/local/houses_new.csv; `podwarden cp` fetches it)",
        lines.count()
    );
    Ok(r)
}
