//! The tabular workloads as a command line — `train` (on a pod), `predict` (one shot), and
//! `worker` (the predict endpoint's serverless worker, RunPod's protocol through the `worker`
//! crate) — shared by `podwarden-tabular` and `podwarden tabular`. Data lives in a store
//! directory: `--store`, `PODWARDEN_STORE`, else `/runpod-volume` (a RunPod network volume) when
//! it exists, else `./store`.

use crate::model::{Hyper, ModelKind};
use crate::predict::{PredictSpec, predict};
use crate::storage::Storage;
use crate::train::{Checkpoints, TrainSpec, train_with_checkpoints};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "podwarden-tabular",
    version,
    about = "Train and serve tabular models (podwarden's built-in workloads)"
)]
pub struct Cli {
    /// Store directory (datasets/<user>/, models/<user>/, predictions/<user>/).
    #[arg(long, env = "PODWARDEN_STORE", global = true)]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a CSV and save it under models/<user>/<model_id>/.
    Train {
        /// Whose prefix (default and required: `PODWARDEN_USER`, which podwarden sets to the
        /// job's owner).
        #[arg(long)]
        user: Option<String>,
        /// Key of the CSV, e.g. datasets/alice/houses.csv.
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        target: String,
        /// Comma-separated feature columns (default: all but the target).
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// linear, ridge, lasso, elastic_net, logistic, decision_tree_regressor,
        /// decision_tree_classifier, random_forest_regressor, random_forest_classifier,
        /// gradient_boosting_regressor.
        #[arg(long)]
        model: String,
        #[arg(long, default_value_t = 0.2)]
        test_size: f32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long)]
        model_id: Option<String>,
        #[arg(long)]
        alpha: Option<f64>,
        #[arg(long)]
        max_depth: Option<u16>,
        #[arg(long)]
        n_trees: Option<usize>,
    },
    /// Add a prediction column to a CSV with a saved model.
    Predict {
        /// As for `train`.
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        model_id: String,
        #[arg(long)]
        input: String,
        #[arg(long)]
        output: String,
        #[arg(long, default_value = "prediction")]
        column: String,
    },
    /// Serve predictions as a RunPod serverless worker (job input: a predict spec as JSON).
    Worker {
        /// The worker's own flags (`--test-input '{"input": {...}}'`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn store_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        let volume = PathBuf::from("/runpod-volume");
        if volume.is_dir() { volume } else { PathBuf::from("store") }
    })
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

/// Runs the command line (inside a Tokio runtime).
pub async fn run(cli: Cli) -> ExitCode {
    let store = match Storage::local(&store_dir(cli.store)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match cli.command {
        Command::Worker { args } => {
            let w = podwarden_worker::Worker::new(move |job: podwarden_worker::Job| {
                let store = store.clone();
                async move {
                    let spec: PredictSpec = serde_json::from_value(job.input.clone())
                        .map_err(|e| format!("invalid predict input: {e}"))?;
                    let report = predict(&store, &spec).await.map_err(|e| e.to_string())?;
                    serde_json::to_value(report).map_err(|e| e.to_string())
                }
            });
            w.run(&args).await
        }
        Command::Train {
            user,
            dataset,
            target,
            features,
            model,
            test_size,
            seed,
            model_id,
            alpha,
            max_depth,
            n_trees,
        } => {
            let user = match signed_in(user) {
                Ok(u) => u,
                Err(e) => return fail(e),
            };
            let model = match ModelKind::parse(&model) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            let mut h = Hyper::default();
            h.alpha = alpha.unwrap_or(h.alpha);
            h.max_depth = max_depth.unwrap_or(h.max_depth);
            h.n_trees = n_trees.unwrap_or(h.n_trees);
            let spec = TrainSpec {
                user,
                dataset,
                target,
                features,
                model,
                hyperparameters: h,
                test_size,
                seed,
                model_id,
            };
            let metrics = crate::report::Metrics::from_env();
            let mut report = |p: crate::train::Progress| {
                eprintln!("progress {}/{}: {}", p.step, p.of, p.what);
                metrics.send(serde_json::json!({"step": p.step, "of": p.of, "stage": p.what, "progress": 100.0 * f64::from(p.step) / f64::from(p.of)}));
            };
            // In a podwarden job with `checkpoint_dir`: keep the fit there, resume from it.
            let ck = Checkpoints::from_env();
            let result = train_with_checkpoints(&store, &spec, &ck, &mut report).await;
            if let Ok(meta) = &result {
                metrics.send(serde_json::json!({"score": meta.score, "metric": meta.metric, "progress": 100.0}));
            }
            metrics.flush().await;
            match result {
                Ok(meta) => {
                    println!("{}", serde_json::to_string_pretty(&meta).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Predict { user, model_id, input, output, column } => {
            let user = match signed_in(user) {
                Ok(u) => u,
                Err(e) => return fail(e),
            };
            match predict(&store, &PredictSpec { user, model_id, input, output, column }).await {
                Ok(r) => {
                    println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

/// The user whose prefix a pod's command may use: podwarden sets `PODWARDEN_USER` to the job's
/// owner, and `--user` may only repeat it; without podwarden, `--user` is required.
fn signed_in(flag: Option<String>) -> Result<String, String> {
    user_for(flag, std::env::var("PODWARDEN_USER").ok().filter(|u| !u.is_empty()))
}

fn user_for(flag: Option<String>, env: Option<String>) -> Result<String, String> {
    match (flag, env) {
        (Some(f), Some(e)) if f != e => {
            Err(format!("this job runs for user {e:?}; it may not use user {f:?}'s prefix"))
        }
        (_, Some(e)) => Ok(e),
        (Some(f), None) => Ok(f),
        (None, None) => {
            Err("--user is required (podwarden sets PODWARDEN_USER in its jobs)".into())
        }
    }
}

#[cfg(test)]
mod user_tests {
    use super::user_for;

    #[test]
    fn the_jobs_owner_decides_the_prefix() {
        assert_eq!(user_for(None, Some("alice".into())), Ok("alice".into()));
        assert_eq!(user_for(Some("alice".into()), Some("alice".into())), Ok("alice".into()));
        assert!(
            user_for(Some("bob".into()), Some("alice".into())).is_err_and(|e| e.contains("bob"))
        );
        assert_eq!(user_for(Some("carol".into()), None), Ok("carol".into()));
        assert!(user_for(None, None).is_err());
    }
}
