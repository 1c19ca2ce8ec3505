//! Progress and score to the control plane: when podwarden runs the trainer it passes
//! `PODWARDEN_CALLBACK_URL` (…/jobs/{id}/exit) and `PODWARDEN_JOB_TOKEN`; points go to the
//! job's `…/metrics` in order, from a background task so training never waits on the network.
//! Outside podwarden (no such variables) nothing is sent.

use tokio::sync::mpsc;

/// A metrics sender (a no-op without a control plane).
#[derive(Debug)]
pub struct Metrics {
    tx: Option<mpsc::UnboundedSender<serde_json::Value>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Metrics {
    /// From `PODWARDEN_CALLBACK_URL` and `PODWARDEN_JOB_TOKEN`.
    pub fn from_env() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        match (var("PODWARDEN_CALLBACK_URL"), var("PODWARDEN_JOB_TOKEN")) {
            (Some(exit), Some(token)) => {
                Self::to(format!("{}/metrics", exit.trim_end_matches("/exit")), token)
            }
            _ => Self { tx: None, task: None },
        }
    }

    /// Posts to `url` with `token`.
    pub fn to(url: String, token: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<serde_json::Value>();
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            while let Some(point) = rx.recv().await {
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&point)
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {}
                    // Metrics are best effort: training goes on, the log says why.
                    Ok(resp) => eprintln!("metrics not accepted: HTTP {}", resp.status()),
                    Err(e) => eprintln!("metrics not sent: {}", e.without_url()),
                }
            }
        });
        Self { tx: Some(tx), task: Some(task) }
    }

    /// Queues a point.
    pub fn send(&self, point: serde_json::Value) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(point);
        }
    }

    /// Waits until every queued point was posted.
    pub async fn flush(mut self) {
        self.tx.take();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}
