//! `podwarden run` on a serverless job spec (`endpoint = …`): submit to the endpoint, then
//! follow states, queue reasons and progress (stderr) and stream chunks (stdout) until it
//! settles; the output goes to stdout as JSON.

use crate::UserError;
use crate::local::Api;
use anyhow::anyhow;
use podwarden_api::types::ServerlessJobState;
use podwarden_api::types::{EventKind, EventView, ServerlessJobView};
use podwarden_core::serverless_job::ServerlessJobSpec;

/// A serverless job's cost: fractions of a cent matter.
fn money(v: f64, simulated: bool) -> String {
    crate::print::usd(v, 6, simulated)
}

/// Submits `spec`; follows it when `follow` or `sync`.
pub async fn run(
    file: &str,
    text: &str,
    follow: bool,
    sync: bool,
    json: bool,
) -> Result<(), UserError> {
    let spec = ServerlessJobSpec::from_toml(file, text).map_err(|e| UserError {
        error: anyhow!("invalid serverless job spec: {e}"),
        hint: e.hint.clone(),
    })?;
    let api = Api::connect().await?;
    let created: ServerlessJobView = api.run(|c| c.submit_serverless_job(&spec, sync)).await?;
    let id = created.id.clone();
    if !follow && !sync {
        if json {
            out!("{}", serde_json::to_string_pretty(&created).unwrap_or_default());
        } else {
            out!("{id}");
            note!(
                "submitted to endpoint {} (at most {}); `podwarden stop {id}` cancels it",
                created.endpoint,
                money(created.estimate_usd, created.simulated)
            );
        }
        return Ok(());
    }
    let done = follow_serverless_job(&api, &id, !json).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&done).unwrap_or_default());
    } else {
        if let Some(o) = &done.output {
            out!("{}", serde_json::to_string_pretty(o).unwrap_or_default());
        }
        note!(
            "serverless job {id} {}: ran {} ms on {}, cost {}",
            done.state,
            done.execution_ms.unwrap_or(0),
            done.gpu,
            money(done.cost_usd, done.simulated)
        );
    }
    if done.state == ServerlessJobState::Succeeded {
        Ok(())
    } else {
        Err(UserError {
            error: anyhow!(
                "serverless job {id} ended {}: {}",
                done.state,
                done.reason.unwrap_or_default()
            ),
            hint: Some(format!(
                "`podwarden endpoint ls` shows the endpoint; its events: GET /api/v1/requests/{id}/events"
            )),
        })
    }
}

/// Prints events (chunks on stdout when `print`) until the job settles; returns it.
pub async fn follow_serverless_job(
    api: &Api,
    id: &str,
    print: bool,
) -> Result<ServerlessJobView, UserError> {
    let mut after = 0;
    loop {
        let evs: Vec<EventView> = api.run(|c| c.serverless_job_events(id, after, 2000)).await?;
        let mut settled_event = false;
        for e in &evs {
            after = e.id;
            if print {
                match e.kind {
                    EventKind::Chunk => out!("{}", e.message),
                    _ => note!("  {}", e.message),
                }
            }
            settled_event |= e.request.is_some_and(|s| s.is_final());
        }
        let r: ServerlessJobView = api.run(|c| c.serverless_job(id)).await?;
        if r.state.is_final() && (settled_event || evs.is_empty()) {
            return Ok(r);
        }
    }
}
