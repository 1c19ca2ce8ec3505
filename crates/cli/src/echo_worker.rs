//! A minimal serverless worker on RunPod's worker protocol: echoes its input, streaming one
//! chunk per word of `input.text` when present. Used by `podwarden demo`; the full Rust worker
//! runtime is the `worker` crate.

use crate::UserError;
use runpod::client::worker::{WorkerClient, WorkerConfig};
use runpod::types::worker::JobResultBody;
use serde_json::json;
use std::time::Duration;

pub async fn run() -> Result<(), UserError> {
    let Some(cfg) = WorkerConfig::from_env() else {
        return Err(UserError {
            error: anyhow::anyhow!("RUNPOD_WEBHOOK_GET_JOB is not set"),
            hint: Some("this worker runs inside a serverless endpoint; RunPod (or the emulator) sets its environment".into()),
        });
    };
    let client = WorkerClient::new(cfg)?;
    loop {
        let jobs = match client.take(false).await {
            Ok(j) => j,
            Err(e) if e.kind() == runpod::ErrorKind::RateLimited => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
            Err(e) => {
                note!("job-take failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for job in jobs {
            let words: Vec<String> = job
                .input
                .get("text")
                .and_then(|t| t.as_str())
                .map(|t| t.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            for (i, w) in words.iter().enumerate() {
                client.post_progress(&job.id, json!({"done": i, "of": words.len()})).await?;
                client.post_stream_chunk(&job.id, json!(w)).await?;
            }
            let body = JobResultBody {
                output: Some(json!({"echo": job.input, "words": words.len()})),
                ..JobResultBody::default()
            };
            client.post_result(&job.id, &body, false).await?;
        }
    }
}
