//! Training runs. Cloud: the CSV goes onto the person's volume, a podwarden job runs the
//! tabular trainer on a GPU pod with the confirmed budget and a deadline, and one message
//! follows it — stage, progress, the last log lines — until the score, the cost and the model
//! id (read back from the volume). Local: the same trainer in this process, on the local store.
//!
//! Invariants: the run's message is edited, never re-sent, so a chat holds one message per
//! run; a run that ends any other way than with a model says how it ended and what it cost
//! (a budget reached is named as such). The job's pod is podwarden's to tear down.

use crate::accounts::{Account, CloudRun, ModelRecord, Place};
use crate::plan::{Dataset, Estimate};
use crate::text::{self, short, usd};
use crate::{App, podwarden};
use futures::StreamExt;
use podwarden_api::types::ErrorCode;
use podwarden_api::types::GpuRow;
use podwarden_api::types::{EventKind, JobSpec, JobState};
use podwarden_tabular::model::ModelKind;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use teloxide::prelude::*;
use teloxide::types::MessageId;

/// Log lines shown under a run's progress.
const LOG_LINES: usize = 3;

/// A fresh model id: the model kind and the time, sortable.
fn model_id(kind: &str) -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}-{}", kind.replace('_', "-"), t.as_millis())
}

/// How well a model scored: `r2 = 0.9761 on 200 held-out rows (800 trained).`
fn score_line(meta: &podwarden_tabular::train::Metadata) -> String {
    format!(
        "{} = {:.4} on {} held-out rows ({} trained).",
        meta.metric, meta.score, meta.test_samples, meta.train_samples
    )
}

/// What the run's message says.
struct Panel {
    head: String,
    stage: String,
    progress: Option<f64>,
    logs: VecDeque<String>,
    /// While the job waits for a GPU: since when (ms since the epoch, the API's `queued_since`).
    queued_since: Option<i64>,
}

impl Panel {
    fn render(&self) -> String {
        let mut t = format!("{}\nStage: {}", self.head, self.stage);
        if let Some(ms) = self.queued_since {
            let minute = ms.div_euclid(60_000).rem_euclid(24 * 60);
            t.push_str(&format!(
                "\nWaiting for a GPU since {:02}:{:02} UTC",
                minute / 60,
                minute % 60
            ));
        }
        if let Some(p) = self.progress {
            let filled = (p / 10.0).round().clamp(0.0, 10.0) as usize;
            t.push_str(&format!(
                "\nProgress: {}{} {p:.0}%",
                "▓".repeat(filled),
                "░".repeat(10 - filled)
            ));
        }
        if !self.logs.is_empty() {
            t.push_str("\n\nLast log lines:\n");
            t.push_str(&self.logs.iter().cloned().collect::<Vec<_>>().join("\n"));
        }
        t
    }
}

/// The pod job of a cloud run: the chosen GPU type first, then its fallbacks, on the bot's
/// network volume, within the estimate's budget and time. The confirmation prices this same
/// spec (`POST /api/v1/estimate`), so what is quoted is what runs.
pub(crate) fn job_spec(
    app: &App,
    model: ModelKind,
    gpu_type: &str,
    fallbacks: &[String],
    est: &Estimate,
    args: Vec<String>,
) -> JobSpec {
    let mut types = vec![gpu_type.to_owned()];
    types.extend(fallbacks.iter().cloned());
    let name = format!("bot-train-{}", model.name().replace('_', "-"));
    let mut spec = JobSpec::with_args(name, app.cfg.image.clone(), args);
    spec.network_volume = Some(podwarden::VOLUME.to_owned());
    spec.gpu.types = types;
    spec.limits.budget_usd = Some(est.budget_usd);
    spec.limits.max_runtime = Some(std::time::Duration::from_secs(est.max_runtime_secs));
    spec
}

/// A training run with every answer given: what a local run needs.
#[derive(Debug)]
pub(crate) struct Training {
    pub data: Dataset,
    pub target: String,
    pub features: Vec<String>,
    pub model: ModelKind,
}

/// A cloud run: the answers, and the GPU and estimate the person confirmed.
#[derive(Debug)]
pub(crate) struct CloudTraining {
    pub training: Training,
    /// Set when the CSV is already on the person's volume (`/train FILE`): its key.
    pub on_volume: Option<String>,
    pub data_center: String,
    pub gpu: GpuRow,
    /// Cheaper-or-similar GPUs to fall back to when the chosen one has no capacity.
    pub fallbacks: Vec<String>,
    pub estimate: Estimate,
}

/// Starts a cloud run: volume, upload, job; then follows it in its own task.
pub(crate) async fn start_cloud(
    app: &Arc<App>,
    chat: ChatId,
    acct: Account,
    d: CloudTraining,
) -> anyhow::Result<()> {
    let (gpu, est, model) = (&d.gpu, &d.estimate, d.training.model);
    let head = format!(
        "⏳ Training {} on a {} GPU pod (billed per second, budget {})",
        model.name().replace('_', " "),
        text::gpu_name(&gpu.gpu_type),
        usd(est.budget_usd)
    );
    let panel = Panel {
        head,
        stage: "preparing your volume".into(),
        progress: None,
        logs: VecDeque::new(),
        queued_since: None,
    };
    let msg = app.tg.say(chat, &panel.render(), None).await?;
    let app2 = app.clone();
    app.spawn_run(
        chat,
        msg,
        |e| format!("❌ The training run failed: {e}\n/jobs shows whether its job ran."),
        async move { cloud(&app2, chat, msg, &acct, d, panel).await },
    );
    Ok(())
}

async fn cloud(
    app: &App,
    chat: ChatId,
    msg: MessageId,
    acct: &Account,
    d: CloudTraining,
    mut panel: Panel,
) -> anyhow::Result<()> {
    let c = app.client(&acct.token)?;
    let CloudTraining { training, on_volume, data_center, gpu, fallbacks, estimate: est } = d;
    let Training { data, target, features, model } = training;
    podwarden::ensure_volume(&c, &data_center, &app.shutdown).await?;
    let key = match on_volume {
        Some(k) => k,
        None => {
            panel.stage = "uploading the dataset".into();
            app.tg.progress(chat, msg, &panel.render()).await;
            let key = podwarden_tabular::storage::dataset_key(&acct.user_id, &data.name);
            podwarden::put(&c, &key, data.bytes.clone()).await?;
            key
        }
    };
    let id = model_id(model.name());
    let all_but_target = data.header.iter().filter(|h| **h != target).count() == features.len();
    let mut args = vec![
        "podwarden-tabular".to_owned(),
        "--store".into(),
        "/workspace".into(),
        "train".into(),
        "--dataset".into(),
        key.clone(),
        "--target".into(),
        target.clone(),
        "--model".into(),
        model.name().into(),
        "--model-id".into(),
        id.clone(),
    ];
    if !all_but_target {
        args.push("--features".into());
        args.push(features.join(","));
    }
    let spec = job_spec(app, model, &gpu.gpu_type, &fallbacks, &est, args);
    let job = match c.submit_job(&spec).await {
        Ok(j) => j,
        Err(e)
            if matches!(
                e.code(),
                Some(ErrorCode::SpendCapReached | ErrorCode::InsufficientBalance)
            ) =>
        {
            app.tg.conclude(chat, msg, &format!("⛔ Not started: {}", short(&e.into()))).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let run = CloudRun {
        job_id: job.job.id.clone(),
        chat: chat.0,
        message: msg.0,
        telegram_id: acct.telegram_id,
        model_id: id,
        dataset: data.name.clone(),
        head: format!("{}\nJob {} (/stop {} stops it)", panel.head, job.job.id, job.job.id),
        budget_usd: est.budget_usd,
    };
    // Recorded before it is followed: a bot restarted meanwhile follows it again (`resume`).
    app.accounts.add_run(run.clone())?;
    follow(app, acct, &run).await
}

/// Follows every cloud run a previous bot process left unfinished, each in its own task.
pub(crate) fn resume(app: &Arc<App>) {
    for run in app.accounts.runs() {
        let Some(acct) = app.accounts.get(run.telegram_id) else { continue };
        let app2 = app.clone();
        app.runs.spawn(async move {
            tracing::info!(job = %run.job_id, "following a run again after a restart");
            if let Err(e) = follow(&app2, &acct, &run).await {
                tracing::warn!(error = %format!("{e:#}"), "a resumed run failed");
            }
        });
    }
}

/// Keeps the run's message current until its job ends, then concludes it (score, cost and
/// model id, or how it ended) and forgets the run.
async fn follow(app: &App, acct: &Account, run: &CloudRun) -> anyhow::Result<()> {
    let c = app.client(&acct.token)?;
    let (chat, msg, job_id) = (ChatId(run.chat), MessageId(run.message), run.job_id.as_str());
    let mut panel = Panel {
        head: run.head.clone(),
        stage: "queued".into(),
        progress: None,
        logs: VecDeque::new(),
        queued_since: None,
    };
    app.tg.progress(chat, msg, &panel.render()).await;

    // The pod's log lines, as they come (the stream ends when the job has no pod).
    let logs: Arc<Mutex<VecDeque<String>>> = Arc::default();
    // Ends with this function, however it returns.
    let _follower = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(follow_logs(
        c.clone(),
        job_id.to_owned(),
        logs.clone(),
    )));
    let mut after = 0;
    let mut last_edit = std::time::Instant::now();
    let end = loop {
        let events = tokio::select! {
            () = app.shutdown.cancelled() => return Ok(()),
            e = c.job_events(job_id, after, 5_000) => e,
        };
        let events = match events {
            Ok(e) => e,
            Err(e) if e.is_server_side() => {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(last) = events.last() {
            after = last.id;
            panel.stage = last.message.clone();
        }
        // The metric points are read when a new one came, the job when its state may have
        // changed (a state event, or a quiet long poll): not every round.
        let has = |kind: EventKind| events.iter().any(|e| e.kind == kind);
        if has(EventKind::Metric) {
            if let Some(p) = c
                .job_metrics(job_id)
                .await
                .ok()
                .and_then(|ps| ps.iter().rev().find_map(|p| p["point"]["progress"].as_f64()))
            {
                panel.progress = Some(p);
            }
        }
        panel.logs = logs.lock().map(|l| l.clone()).unwrap_or_default();
        if events.is_empty() || has(EventKind::State) {
            let j = c.job(job_id).await?;
            if j.job.ended_at.is_some() {
                break j;
            }
            panel.queued_since = j.job.queued_since;
        }
        // Telegram allows about one edit a second per chat.
        if last_edit.elapsed() >= std::time::Duration::from_secs(1) {
            app.tg.progress(chat, msg, &panel.render()).await;
            last_edit = std::time::Instant::now();
        }
    };
    panel.logs = logs.lock().map(|l| l.clone()).unwrap_or_default();
    let spent = end.job.spent_usd;
    let gpu_used = end.job.gpu.as_deref().map_or_else(|| "GPU".to_owned(), text::gpu_name);
    let outcome = if end.job.state != JobState::Succeeded {
        let reason = end.job.reason.clone().unwrap_or_default();
        let why = if end.job.state == JobState::BudgetExceeded {
            format!(
                "its budget of {} was reached, so podwarden stopped it and terminated the pod",
                usd(end.job.budget_usd.unwrap_or(run.budget_usd))
            )
        } else {
            format!("{} ({reason})", end.job.state)
        };
        panel.head = format!(
            "❌ Training ended: {why}.\nCost: {} on {gpu_used} (billed per second). Job {job_id}.",
            usd(spent)
        );
        panel.stage = end.job.state.to_string();
        panel.progress = None;
        panel.render()
    } else {
        let id = &run.model_id;
        let meta_key =
            format!("{}/metadata.json", podwarden_tabular::train::model_prefix(&acct.user_id, id));
        let meta: podwarden_tabular::train::Metadata =
            serde_json::from_slice(&podwarden::get(&c, &meta_key).await?)?;
        app.accounts
            .add_model(run.telegram_id, ModelRecord::of(&meta, Place::Cloud, &run.dataset))?;
        format!(
            "✅ Model {id} trained on a {gpu_used} GPU pod.\n{}\nCost: {} (billed per second). Job {job_id}.\n/predict uses it.",
            score_line(&meta),
            usd(spent)
        )
    };
    app.tg.conclude(chat, msg, &outcome).await?;
    app.accounts.remove_run(job_id)?;
    Ok(())
}

async fn follow_logs(c: podwarden_api::Client, job: String, into: Arc<Mutex<VecDeque<String>>>) {
    // No pod yet is a 404; try again until there is one.
    for _ in 0..600 {
        match c.job_logs(&job).await {
            Ok(r) => {
                let mut s = eventsource_stream::Eventsource::eventsource(r.bytes_stream());
                while let Some(Ok(ev)) = s.next().await {
                    let mut l = into.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    for line in ev.data.lines().filter(|l| !l.trim().is_empty()) {
                        l.push_back(line.chars().take(200).collect());
                        while l.len() > LOG_LINES {
                            l.pop_front();
                        }
                    }
                }
                return;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

/// Trains in this process on the local store (free), in its own task.
pub(crate) async fn start_local(
    app: &Arc<App>,
    chat: ChatId,
    acct: Account,
    d: Training,
) -> anyhow::Result<()> {
    let model = d.model;
    let head = format!("⏳ Training {} locally (free)", model.name().replace('_', " "));
    let panel = Panel {
        head,
        stage: "starting".into(),
        progress: None,
        logs: VecDeque::new(),
        queued_since: None,
    };
    let msg = app.tg.say(chat, &panel.render(), None).await?;
    let app2 = app.clone();
    app.spawn_run(chat, msg, |e| format!("❌ Training failed: {e}"), async move {
        local(&app2, chat, msg, &acct, d, panel).await
    });
    Ok(())
}

async fn local(
    app: &App,
    chat: ChatId,
    msg: MessageId,
    acct: &Account,
    d: Training,
    mut panel: Panel,
) -> anyhow::Result<()> {
    let Training { data, target, features, model } = d;
    let key = podwarden_tabular::storage::dataset_key(&acct.user_id, &data.name);
    app.local.put(&acct.user_id, &key, data.bytes.clone()).await?;
    let id = model_id(model.name());
    let mut spec = podwarden_tabular::train::TrainSpec::new(&acct.user_id, &key, &target, model);
    spec.features = Some(features);
    spec.model_id = Some(id.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let store = app.local.clone();
    let run = tokio::spawn(async move {
        podwarden_tabular::train::train(&store, &spec, &mut |p| {
            let _ = tx.send(p);
        })
        .await
    });
    while let Some(p) = rx.recv().await {
        panel.stage = p.what.to_owned();
        panel.progress = Some(100.0 * f64::from(p.step) / f64::from(p.of));
        app.tg.progress(chat, msg, &panel.render()).await;
    }
    let meta = match run.await? {
        Ok(m) => m,
        Err(e) => {
            app.tg.conclude(chat, msg, &format!("❌ Training failed: {e}")).await?;
            return Ok(());
        }
    };
    app.accounts.add_model(acct.telegram_id, ModelRecord::of(&meta, Place::Local, &data.name))?;
    let done = format!(
        "✅ Model {id} trained locally.\n{}\nCost: $0 (local). /predict uses it.",
        score_line(&meta)
    );
    app.tg.conclude(chat, msg, &done).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job waiting for a GPU says since when, beside its reason; a started one does not.
    #[test]
    fn a_queued_job_says_since_when_it_waits() {
        let mut p = Panel {
            head: "Training".into(),
            stage: "no GPU matching the spec has stock right now; waiting, next check in 30 s"
                .into(),
            progress: None,
            logs: VecDeque::new(),
            // 2026-12-07 13:05:30 UTC.
            queued_since: Some(1_796_648_730_000),
        };
        let t = p.render();
        assert!(t.contains("Stage: no GPU matching the spec has stock"), "{t}");
        assert!(t.ends_with("Waiting for a GPU since 13:05 UTC"), "{t}");
        p.queued_since = None;
        assert!(!p.render().contains("Waiting"));
    }
}
