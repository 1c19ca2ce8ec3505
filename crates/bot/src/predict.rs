//! Prediction runs. A cloud model predicts on the person's predict endpoint (serverless
//! workers over their volume, scaled to zero between requests); a local model on this
//! machine. Either way the answer is the first rows as text, the whole CSV as a document, and
//! the cost.

use crate::accounts::{Account, ModelRecord, Place};
use crate::plan::Dataset;
use crate::text::{self, usd};
use crate::{App, podwarden};
use podwarden_api::types::ServerlessJobState;
use std::sync::Arc;
use teloxide::prelude::*;
use teloxide::types::MessageId;

/// The column the predictions go in.
const COLUMN: &str = "prediction";
/// Rows shown in the message.
const SHOWN: usize = 5;

/// Starts a prediction in its own task.
pub(crate) async fn start(
    app: &Arc<App>,
    chat: ChatId,
    acct: Account,
    data: Dataset,
    m: ModelRecord,
) -> anyhow::Result<()> {
    let where_ = match m.place {
        Place::Cloud => "on your predict endpoint (serverless GPU workers, billed per second)",
        Place::Local => "locally (free)",
    };
    let msg = app
        .tg
        .say(
            chat,
            &format!(
                "⏳ Predicting {} rows of {} with model {} {where_}…",
                data.rows, data.name, m.id
            ),
            None,
        )
        .await?;
    let app2 = app.clone();
    app.spawn_run(chat, msg, |e| format!("❌ Prediction failed: {e}"), async move {
        let result = match m.place {
            Place::Cloud => cloud(&app2, chat, msg, &acct, &data, &m).await?,
            Place::Local => local(&app2, &acct, &data, &m).await?,
        };
        match result {
            Some((csv, cost)) => answer(&app2, chat, msg, &data, &m, csv, cost).await,
            None => Ok(()),
        }
    });
    Ok(())
}

fn output_name(data: &Dataset) -> String {
    format!("{}_predictions.csv", data.name.trim_end_matches(".csv").trim_end_matches(".txt"))
}

async fn local(
    app: &App,
    acct: &Account,
    data: &Dataset,
    m: &ModelRecord,
) -> anyhow::Result<Option<(String, f64)>> {
    let input = podwarden_tabular::storage::dataset_key(&acct.user_id, &data.name);
    let output = podwarden_tabular::storage::prediction_key(&acct.user_id, &output_name(data));
    app.local.put(&acct.user_id, &input, data.bytes.clone()).await?;
    let spec = podwarden_tabular::predict::PredictSpec {
        user: acct.user_id.clone(),
        model_id: m.id.clone(),
        input,
        output: output.clone(),
        column: COLUMN.into(),
    };
    podwarden_tabular::predict::predict(&app.local, &spec).await?;
    let bytes = app.local.get(&acct.user_id, &output).await?;
    Ok(Some((String::from_utf8(bytes.to_vec())?, 0.0)))
}

async fn cloud(
    app: &App,
    chat: ChatId,
    msg: MessageId,
    acct: &Account,
    data: &Dataset,
    m: &ModelRecord,
) -> anyhow::Result<Option<(String, f64)>> {
    let c = app.client(&acct.token)?;
    let input = podwarden_tabular::storage::dataset_key(&acct.user_id, &data.name);
    let output = podwarden_tabular::storage::prediction_key(&acct.user_id, &output_name(data));
    podwarden::put(&c, &input, data.bytes.clone()).await?;
    podwarden::ensure_endpoint(&c, &app.cfg.image).await?;
    let req = podwarden_api::types::ServerlessJobSpec::new(
        podwarden::ENDPOINT,
        serde_json::json!({"model_id": m.id, "input": input, "output": output, "column": COLUMN}),
    );
    let mut r = c.submit_serverless_job(&req, false).await?;
    let mut after = 0;
    while r.ended_at.is_none() {
        let evs = tokio::select! {
            () = app.shutdown.cancelled() => return Ok(None),
            e = c.serverless_job_events(&r.id, after, 5_000) => e?,
        };
        after = evs.last().map_or(after, |e| e.id);
        r = c.serverless_job(&r.id).await?;
    }
    if r.state != ServerlessJobState::Succeeded {
        let why = r.reason.clone().unwrap_or_else(|| r.state.to_string());
        app.tg
            .edit(
                chat,
                msg,
                &format!("❌ Prediction ended {}: {why}\nCost: {}.", r.state, usd(r.cost_usd)),
                None,
            )
            .await?;
        return Ok(None);
    }
    // Small results come back inline; larger ones are read from the volume.
    let csv = match r.output.as_ref().and_then(|o| o["csv"].as_str()) {
        Some(csv) => csv.to_owned(),
        None => String::from_utf8(podwarden::get(&c, &output).await?)?,
    };
    Ok(Some((csv, r.cost_usd)))
}

async fn answer(
    app: &App,
    chat: ChatId,
    msg: MessageId,
    data: &Dataset,
    m: &ModelRecord,
    csv: String,
    cost: f64,
) -> anyhow::Result<()> {
    let mut lines = csv.lines();
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.clone().take(SHOWN).collect();
    let total = lines.count();
    let cost_line = match m.place {
        Place::Cloud => format!("Cost: {} (serverless, billed per second).", usd(cost)),
        Place::Local => "Cost: $0 (local).".into(),
    };
    let t = format!(
        "✅ {total} predictions of {} with model {} ({} → {}).\nFirst rows:\n{header}\n{}\n{cost_line}\nThe whole CSV follows.",
        data.name,
        m.id,
        m.kind,
        m.target,
        rows.join("\n")
    );
    app.tg.conclude(chat, msg, &t).await?;
    let name = output_name(data);
    app.tg
        .document(
            chat,
            &name,
            csv.into_bytes(),
            &format!("{total} rows with a {COLUMN} column — {}", text::usd(cost)),
        )
        .await?;
    Ok(())
}
