//! A 429 on job-take: the worker waits what the server's `Retry-After` asks (5 s without one)
//! and takes the job afterwards. Its own test binary (it captures the process's log).

use podwarden_worker::{Job, LocalApi, Worker};
use runpod::types::serverless::{JobStatus, RunRequest};
use runpod_emulator::faults::{FaultConfig, HttpFault};
use serde_json::json;
use std::time::Duration;

use podwarden_test_utils::log as common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_take_429s_are_waited_out_as_the_server_asks_then_the_job_runs() {
    let mut log = common::capture_log(tracing::Level::WARN);

    let api = LocalApi::start("127.0.0.1:0".parse().expect("addr")).await.expect("local api");
    let fault: HttpFault =
        serde_json::from_value(json!({"route": "GET /v2/{endpoint_id}/job-take/{worker_id}", "status": 429, "times": 2, "retry_after": 0}))
            .expect("fault");
    api.emulator.set_faults(FaultConfig { http: vec![fault], ..FaultConfig::default() });
    let serve = tokio::spawn(
        Worker::new(|job: Job| async move { Ok::<_, String>(json!({"echo": job.input})) })
            .serve(api.worker.clone()),
    );
    let ep = api.emulator.client().serverless(&runpod::EndpointId::new(&api.endpoint_id));
    let job = ep.run(&RunRequest::new(json!({"n": 1}))).await.expect("run");

    // Two 429s, each waited out for the 0 s the server asked (not the 5 s default).
    for _ in 0..2 {
        let line = common::next_line_with(&mut log, "rate limited").await;
        assert!(line.contains("waiting 0 s"), "{line}");
    }
    let id = job.id.0.clone();
    api.emulator
        .wait_for("the job to complete", Duration::from_secs(30), |w| {
            w.jobs.get(&id).filter(|j| j.status.is_final()).map(|_| ())
        })
        .await
        .expect("completes");
    let done = ep.status(&job.id).await.expect("status");
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.output, Some(json!({"echo": {"n": 1}})));
    serve.abort();
}
