//! `--serve-api`: the handler behind RunPod's job API on localhost, with real queue semantics —
//! chunks reach `/stream` while the handler is still running, `/cancel` drops the handler,
//! `/runsync` returns the result — checked through the `runpod` client as an app would call it.

use podwarden_worker::{Job, LocalApi, Worker};
use runpod::types::serverless::{JobStatus, RunRequest};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// Sends on drop: tells the test the handler's future was dropped (cancelled).
struct Dropped(mpsc::UnboundedSender<String>, String);

impl Drop for Dropped {
    fn drop(&mut self) {
        let _ = self.0.send(self.1.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_streams_as_chunks_come_cancels_and_runs_sync() {
    let api = LocalApi::start("127.0.0.1:0".parse().expect("addr")).await.expect("local api");
    let gate = Arc::new(Notify::new());
    let (dropped_tx, mut dropped) = mpsc::unbounded_channel();
    let g = gate.clone();
    let w = Worker::streaming(move |job: Job| {
        let (g, guard) = (g.clone(), Dropped(dropped_tx.clone(), job.id.clone()));
        let mode = job.input["mode"].as_str().unwrap_or("").to_owned();
        let echo = json!({"echo": job.input});
        // Steps: (step, guard) → the next chunk; the guard lives as long as the stream.
        futures::stream::unfold((0, guard), move |(step, guard)| {
            let (g, mode, echo) = (g.clone(), mode.clone(), echo.clone());
            async move {
                let item = match (mode.as_str(), step) {
                    ("gated", 0) => json!("first"),
                    ("gated", 1) => {
                        g.notified().await;
                        json!("second")
                    }
                    ("hang", _) => std::future::pending().await,
                    ("", 0) => echo,
                    _ => return None,
                };
                Some((Ok::<Value, String>(item), (step + 1, guard)))
            }
        })
    })
    .concurrency(2);
    let serve = tokio::spawn(w.serve(api.worker.clone()));
    let ep = api.emulator.client().serverless(&runpod::EndpointId::new(&api.endpoint_id));

    // A chunk is on /stream while the handler still waits for the gate.
    let job = ep.run(&RunRequest::new(json!({"mode": "gated"}))).await.expect("run");
    let id = job.id.0.clone();
    api.emulator
        .wait_for("the first chunk", Duration::from_secs(20), |w| {
            w.jobs.get(&id).filter(|j| !j.chunks.is_empty()).map(|_| ())
        })
        .await
        .expect("chunk");
    let s = ep.stream(&job.id).await.expect("stream");
    assert_eq!(s.status, JobStatus::InProgress);
    assert_eq!(s.stream.iter().map(|c| c.output.clone()).collect::<Vec<_>>(), vec![json!("first")]);
    gate.notify_one();
    api.emulator
        .wait_for("completion", Duration::from_secs(20), |w| {
            w.jobs.get(&id).filter(|j| j.status.is_final()).map(|_| ())
        })
        .await
        .expect("done");
    let s = ep.stream(&job.id).await.expect("stream");
    assert_eq!(
        (s.status, s.stream.iter().map(|c| c.output.clone()).collect::<Vec<_>>()),
        (JobStatus::Completed, vec![json!("second")])
    );

    // Cancel reaches the handler: its future is dropped.
    let hang = ep.run(&RunRequest::new(json!({"mode": "hang"}))).await.expect("run");
    let hid = hang.id.0.clone();
    api.emulator
        .wait_for("in progress", Duration::from_secs(20), |w| {
            w.jobs.get(&hid).filter(|j| j.status == JobStatus::InProgress).map(|_| ())
        })
        .await
        .expect("taken");
    assert_eq!(ep.cancel(&hang.id).await.expect("cancel").status, JobStatus::Cancelled);
    let mut seen = Vec::new();
    while !seen.contains(&hid) {
        seen.push(
            tokio::time::timeout(Duration::from_secs(20), dropped.recv())
                .await
                .expect("the handler is dropped")
                .expect("open"),
        );
    }

    // runsync: the result in the response.
    let r = ep.run_sync(&RunRequest::new(json!({"q": 1})), None).await.expect("runsync");
    assert_eq!(r.status, JobStatus::Completed);
    assert_eq!(r.output, Some(json!([])), "a stream without aggregate returns []");
    serve.abort();
}
