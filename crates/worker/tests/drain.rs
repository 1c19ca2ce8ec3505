//! SIGTERM: the worker stops taking, the job in flight finishes and posts its result, and the
//! process's main future returns success — a rolling update loses no work. Its own test binary
//! (a signal goes to the whole process). No sleeps: every wait is for something to happen.

use podwarden_worker::{Job, LocalApi, Worker};
use runpod::types::serverless::{JobStatus, RunRequest};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

use podwarden_test_utils::log as common;

// One thread: tasks run in spawn order, so the runtime's signal listener is registered before
// its first job can start (a SIGTERM before that would end the test process).
#[tokio::test(flavor = "current_thread")]
async fn sigterm_drains_the_job_in_flight_then_returns_success() {
    let mut log = common::capture_log(tracing::Level::INFO);

    let api = LocalApi::start("127.0.0.1:0".parse().expect("addr")).await.expect("local api");
    let (gate, (started_tx, mut started)) = (Arc::new(Notify::new()), mpsc::unbounded_channel());
    let g = gate.clone();
    let worker = Worker::new(move |job: Job| {
        let (g, tx) = (g.clone(), started_tx.clone());
        async move {
            let _ = tx.send(job.id.clone());
            g.notified().await;
            Ok::<_, String>(json!({"done": job.input}))
        }
    });
    let serve = tokio::spawn(worker.serve(api.worker.clone()));
    let ep = api.emulator.client().serverless(&runpod::EndpointId::new(&api.endpoint_id));

    let first = ep.run(&RunRequest::new(json!({"n": 1}))).await.expect("run");
    assert_eq!(
        started.recv().await.as_deref(),
        Some(first.id.0.as_str()),
        "the handler is running"
    );
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raise");
    // The runtime says it is draining: from here it takes nothing more.
    common::next_line_with(&mut log, "draining").await;
    let second = ep.run(&RunRequest::new(json!({"n": 2}))).await.expect("run");
    gate.notify_one();
    let code = tokio::time::timeout(Duration::from_secs(30), serve)
        .await
        .expect("the worker exits")
        .expect("joins");
    assert_eq!(code, std::process::ExitCode::SUCCESS);

    let done = ep.status(&first.id).await.expect("status");
    assert_eq!(done.status, JobStatus::Completed, "the job in flight finished: {done:?}");
    assert_eq!(done.output, Some(json!({"done": {"n": 1}})));
    let waiting = ep.status(&second.id).await.expect("status");
    assert_eq!(
        waiting.status,
        JobStatus::InQueue,
        "nothing was taken after the signal: {waiting:?}"
    );
    assert!(started.try_recv().is_err(), "the handler never saw the second job");
}
