//! Serverless through the `runpod` client: endpoints and templates, every job operation, stream
//! exactly-once, progress, cancel, retry, purge, timeouts, TTL, retention, scaling, idle
//! timeout, crash loops, webhooks, payload limits and auth.

use podwarden_test_utils::emulator as common;

use common::{LIMIT, assert_contract, emu, spawn_worker};
use runpod::types::endpoints::{
    CreateEndpointGpuConfig, CreateEndpointRequest, EndpointScaling, EndpointWorkers,
    UpdateEndpointRequest, WorkerStatus,
};
use runpod::types::serverless::{JobPolicy, JobStatus, RunRequest};
use runpod::types::templates::CreateTemplateRequest;
use runpod::{Client, EndpointId, ErrorKind, GpuPoolId, JobId};
use runpod_emulator::RunningEmulator;
use runpod_emulator::faults::{FaultConfig, WorkerFaults};
use serde_json::{Value, json};
use std::time::Duration;

async fn endpoint(c: &Client, name: &str, args: &str, min: i64, max: i64) -> EndpointId {
    let t = c
        .create_template(&CreateTemplateRequest {
            name: format!("{name}-tpl"),
            image: "python:3.11-slim".into(),
            args: Some(args.into()),
            serverless: Some(true),
            ..Default::default()
        })
        .await
        .expect("template");
    let mut req = CreateEndpointRequest::from_template(name, t.id);
    req.gpu = Some(CreateEndpointGpuConfig {
        pools: Some(vec![GpuPoolId::new("ADA_24")]),
        ..Default::default()
    });
    req.workers = Some(EndpointWorkers { min: Some(min), max: Some(max), idle_timeout: Some(5) });
    req.scaling = EndpointScaling::RequestCount { request_count: 1 };
    c.create_endpoint(&req).await.expect("endpoint").id
}

async fn final_status(emu: &RunningEmulator, job: &JobId) -> JobStatus {
    emu.wait_for("the job to finish", LIMIT, |w| {
        w.jobs.get(job.as_str()).filter(|j| j.status.is_final()).map(|j| j.status)
    })
    .await
    .expect("final")
}

fn run(input: Value) -> RunRequest {
    RunRequest::new(input)
}

#[tokio::test]
async fn endpoints_and_templates_crud_with_versioning() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "crud", "", 0, 0).await;
    let got = c.get_endpoint(&ep).await.expect("get");
    assert_eq!((got.workers.min, got.workers.max, got.timeout), (0, 0, 300_000));
    assert!(
        got.request_urls
            .as_ref()
            .and_then(|u| u["run"].as_str())
            .is_some_and(|u| u.ends_with(&format!("/v2/{ep}/run")))
    );
    assert_eq!(c.list_endpoints().await.expect("list").len(), 1);
    let upd = UpdateEndpointRequest {
        name: Some("renamed".into()),
        env: Some([("K".into(), "v".into())].into()),
        ..Default::default()
    };
    let u = c.update_endpoint(&ep, &upd).await.expect("update");
    assert_eq!(u.name, "renamed");
    let clear = UpdateEndpointRequest { network_volumes: Some(vec![]), ..Default::default() };
    let e = c.update_endpoint(&ep, &clear).await.expect_err("clearing volumes");
    assert_eq!(e.kind(), ErrorKind::BadRequest, "RunPod rejects `networkVolumes: []`");
    assert_eq!(
        c.list_endpoint_workers(&ep).await.expect("workers").endpoint_version,
        Some(2),
        "an env change is a new release"
    );
    let tpl = got.template_id.clone().expect("template id");
    assert_eq!(c.delete_template(&tpl).await.expect_err("in use").kind(), ErrorKind::BadRequest);
    let bad = c
        .create_template(&CreateTemplateRequest {
            name: "pod-only".into(),
            image: "x".into(),
            ..Default::default()
        })
        .await
        .expect("template");
    let e = c
        .create_endpoint(&CreateEndpointRequest::from_template("x", bad.id))
        .await
        .expect_err("pod template");
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    let mut inverted = CreateEndpointRequest::from_template("x", tpl.clone());
    inverted.workers = Some(EndpointWorkers { min: Some(3), max: Some(1), idle_timeout: None });
    assert_eq!(
        c.create_endpoint(&inverted).await.expect_err("min > max").kind(),
        ErrorKind::BadRequest
    );
    c.delete_endpoint(&ep).await.expect("delete");
    assert_eq!(c.get_endpoint(&ep).await.expect_err("gone").kind(), ErrorKind::NotFound);
    c.delete_template(&tpl).await.expect("now free");
    assert_contract(&emu);
}

#[tokio::test]
async fn run_status_and_health_with_queue_and_execution_times() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "echo", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let job = sls.run(&run(json!({"x": 1}))).await.expect("run");
    assert_eq!(job.status, JobStatus::InQueue);
    assert!(job.id.as_str().ends_with("-u1"));
    assert_eq!(sls.health().await.expect("health").jobs.in_queue, 1);
    emu.advance(Duration::from_secs(2));
    let _w = spawn_worker(&emu, ep.as_str(), "w-echo");
    assert_eq!(final_status(&emu, &job.id).await, JobStatus::Completed);
    let st = sls.status(&job.id).await.expect("status");
    assert_eq!(st.output, Some(json!({"echo": {"x": 1}})));
    assert_eq!((st.delay_time, st.execution_time), (Some(2000), Some(0)));
    assert_eq!(st.worker_id.as_ref().map(|w| w.as_str()), Some("w-echo"));
    let h = sls.health().await.expect("health");
    assert_eq!((h.jobs.completed, h.jobs.in_queue, h.jobs.in_progress), (1, 0, 0));
    assert_eq!(
        sls.status(&JobId::new("nope")).await.expect_err("unknown").kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn stream_delivers_each_chunk_exactly_once() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "stream", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let job = sls
        .run(&run(json!({"mode": "stream", "chunks": ["a", "b", {"c": 3}]})))
        .await
        .expect("run");
    // `?wait=0`: what there is now, at once (a queued job has nothing).
    let before = sls.stream_waiting(&job.id, Duration::ZERO).await.expect("stream");
    assert_eq!((before.status, before.stream.len()), (JobStatus::InQueue, 0));
    let _w = spawn_worker(&emu, ep.as_str(), "w-stream");
    assert_eq!(final_status(&emu, &job.id).await, JobStatus::Completed);
    let first = sls.stream(&job.id).await.expect("stream");
    assert_eq!(
        first.stream.iter().map(|c| c.output.clone()).collect::<Vec<_>>(),
        vec![json!("a"), json!("b"), json!({"c": 3})]
    );
    assert_eq!(first.status, JobStatus::Completed);
    let again = sls.stream(&job.id).await.expect("stream");
    assert!(again.stream.is_empty(), "chunks are delivered once");
    assert_eq!(
        sls.status(&job.id).await.expect("status").output,
        Some(json!(["a", "b", {"c": 3}])),
        "the aggregate"
    );
}

#[tokio::test]
async fn progress_shows_on_status_and_cancel_reaches_the_worker() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "progress", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let job = sls.run(&run(json!({"mode": "progress"}))).await.expect("run");
    let _w = spawn_worker(&emu, ep.as_str(), "w-progress");
    emu.wait_for("progress", LIMIT, |w| w.jobs[job.id.as_str()].progress.clone())
        .await
        .expect("progress");
    let st = sls.status(&job.id).await.expect("status");
    assert_eq!((st.status, st.output), (JobStatus::InProgress, Some(json!({"percent": 50}))));
    let cancelled = sls.cancel(&job.id).await.expect("cancel");
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    emu.wait_for("the worker to pick up the stop", LIMIT, |w| {
        w.workers["w-progress"].to_stop.is_empty().then_some(())
    })
    .await
    .expect("stop taken");
    assert!(emu.shared.world.lock().workers["w-progress"].in_flight.is_empty());
    assert_eq!(sls.cancel(&job.id).await.expect("idempotent").status, JobStatus::Cancelled);
    assert_eq!(sls.stream(&job.id).await.expect("stream").status, JobStatus::Cancelled);
}

#[tokio::test]
async fn runsync_returns_results_and_results_expire_on_schedule() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "sync", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let _w = spawn_worker(&emu, ep.as_str(), "w-sync");
    let done = sls.run_sync(&run(json!({"y": 2})), None).await.expect("runsync");
    assert_eq!(done.status, JobStatus::Completed);
    assert!(done.id.as_str().starts_with("sync-") && done.id.as_str().ends_with("-u1"));
    assert_eq!(done.output, Some(json!({"echo": {"y": 2}})));
    let queued = sls.run(&run(json!({"y": 3}))).await.expect("run");
    assert_eq!(final_status(&emu, &queued.id).await, JobStatus::Completed);
    // Retention: 1 min after /runsync, 30 min after /run.
    emu.advance(Duration::from_secs(61));
    assert_eq!(sls.status(&done.id).await.expect_err("expired").kind(), ErrorKind::NotFound);
    assert_eq!(sls.status(&queued.id).await.expect("kept").status, JobStatus::Completed);
    emu.advance(Duration::from_secs(30 * 60));
    assert_eq!(sls.status(&queued.id).await.expect_err("expired").kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn runsync_gives_up_waiting_with_the_current_state() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "slow", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let _w = spawn_worker(&emu, ep.as_str(), "w-slow");
    let st = sls
        .run_sync(&run(json!({"mode": "hang"})), Some(Duration::from_millis(1000)))
        .await
        .expect("runsync");
    assert_eq!(st.status, JobStatus::InProgress);
    sls.cancel(&st.id).await.expect("cancel");
}

#[tokio::test]
async fn failed_jobs_retry_and_purge_empties_the_queue() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "fail", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let w = spawn_worker(&emu, ep.as_str(), "w-fail");
    let job = sls.run(&run(json!({"mode": "fail"}))).await.expect("run");
    assert_eq!(final_status(&emu, &job.id).await, JobStatus::Failed);
    assert_eq!(
        sls.status(&job.id).await.expect("status").error,
        Some(json!("handler failed on purpose"))
    );
    let again = sls.retry(&job.id).await.expect("retry");
    assert_eq!(again.status, JobStatus::InQueue);
    assert_eq!(final_status(&emu, &job.id).await, JobStatus::Failed);
    assert_eq!(sls.status(&job.id).await.expect("status").retries, Some(1));
    let ok = sls.run(&run(json!({}))).await.expect("run");
    assert_eq!(final_status(&emu, &ok.id).await, JobStatus::Completed);
    assert_eq!(
        sls.retry(&ok.id).await.expect_err("completed jobs are final").kind(),
        ErrorKind::BadRequest
    );
    w.abort();
    let _ = w.await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(sls.run(&run(json!({"i": i}))).await.expect("run").id);
    }
    let purged = sls.purge_queue().await.expect("purge");
    assert_eq!((purged.removed, purged.status.as_str()), (3, "completed"));
    assert_eq!(sls.status(&ids[0]).await.expect_err("purged").kind(), ErrorKind::NotFound);
    assert_eq!(sls.health().await.expect("health").jobs.retried, 1);
}

#[tokio::test]
async fn execution_timeout_fails_the_job_and_ttl_deletes_it() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "timeouts", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let _w = spawn_worker(&emu, ep.as_str(), "w-timeout");
    let mut req = run(json!({"mode": "hang"}));
    req.policy = Some(JobPolicy { execution_timeout: Some(5_000), ..Default::default() });
    let job = sls.run(&req).await.expect("run");
    emu.wait_for("the worker to take it", LIMIT, |w| {
        (w.jobs[job.id.as_str()].status == JobStatus::InProgress).then_some(())
    })
    .await
    .expect("taken");
    emu.advance(Duration::from_secs(4));
    assert_eq!(sls.status(&job.id).await.expect("status").status, JobStatus::InProgress);
    emu.advance(Duration::from_secs(1));
    let st = sls.status(&job.id).await.expect("status");
    assert_eq!(st.status, JobStatus::Failed);
    assert!(
        st.error
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|e| e.contains("execution timeout of 5 s")),
        "{st:?}"
    );

    let mut short = run(json!({}));
    short.policy = Some(JobPolicy { ttl: Some(10_000), ..Default::default() });
    let ep2 = endpoint(&c, "no-workers", "", 0, 0).await;
    let j = c.serverless(&ep2).run(&short).await.expect("run");
    emu.advance(Duration::from_secs(10));
    assert_eq!(
        c.serverless(&ep2).status(&j.id).await.expect_err("ttl").kind(),
        ErrorKind::NotFound
    );
    let mut bad = run(json!({}));
    bad.policy = Some(JobPolicy { execution_timeout: Some(10), ..Default::default() });
    assert_eq!(sls.run(&bad).await.expect_err("below 5 s").kind(), ErrorKind::BadRequest);
}

/// A worker that polls once, then sleeps: inline (`python3 -c`), since a worker sees no file
/// of the test's.
fn poll_once_script() -> String {
    let script = "import os, urllib.request as u\n\
         url = os.environ['RUNPOD_WEBHOOK_GET_JOB'].replace('$ID', os.environ['RUNPOD_POD_ID']) + '&job_in_progress=0'\n\
         u.urlopen(u.Request(url, headers={'Authorization': os.environ['RUNPOD_AI_API_KEY']})).read()\n\
         import time; time.sleep(1000)\n";
    format!("python3 -c {}", shell_words::quote(script))
}

#[tokio::test]
async fn workers_scale_on_demand_within_bounds_and_idle_out() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "scale", &poll_once_script(), 0, 2).await;
    let sls = c.serverless(&ep);
    assert!(
        c.list_endpoint_workers(&ep).await.expect("workers").workers.is_empty(),
        "min 0: scale to zero"
    );
    for i in 0..3 {
        sls.run(&run(json!({"i": i}))).await.expect("run");
    }
    let ws = c.list_endpoint_workers(&ep).await.expect("workers");
    assert_eq!(ws.summary.total, 2, "capped at workers.max");
    sls.purge_queue().await.expect("purge");
    // Each worker polls once (no job left: it goes IDLE) and then idles.
    emu.wait_for("both workers idle", LIMIT, |w| {
        (w.workers.values().filter(|x| x.status == WorkerStatus::Idle).count() == 2).then_some(())
    })
    .await
    .expect("idle");
    emu.advance(Duration::from_secs(4));
    assert_eq!(c.list_endpoint_workers(&ep).await.expect("workers").summary.idle, 2);
    emu.advance(Duration::from_secs(1));
    emu.wait_for("idle workers to stop", LIMIT, |w| w.workers.is_empty().then_some(()))
        .await
        .expect("scaled to zero");
    emu.wait_for("their processes to die", LIMIT, |_| {
        (emu.shared.runner.live() == 0).then_some(())
    })
    .await
    .expect("killed");
    // With workers.min = 1 one worker stays warm.
    c.update_endpoint(
        &ep,
        &UpdateEndpointRequest {
            workers: Some(EndpointWorkers { min: Some(1), max: Some(2), idle_timeout: Some(5) }),
            ..Default::default()
        },
    )
    .await
    .expect("min 1");
    emu.wait_for("the warm worker", LIMIT, |w| {
        (w.workers.values().filter(|x| x.status == WorkerStatus::Idle).count() == 1).then_some(())
    })
    .await
    .expect("warm");
    emu.advance(Duration::from_secs(60));
    assert_eq!(c.list_endpoint_workers(&ep).await.expect("workers").summary.total, 1);
    assert_contract(&emu);
}

#[tokio::test]
async fn crash_looping_workers_show_unhealthy_and_restart_with_backoff() {
    let emu = emu().await;
    emu.set_faults(FaultConfig {
        workers: WorkerFaults { crash_on_start: true, ..WorkerFaults::default() },
        ..FaultConfig::default()
    });
    let c = emu.client();
    let ep = endpoint(&c, "crashy", "python3 -c 'print(1)'", 0, 1).await;
    let sls = c.serverless(&ep);
    let job = sls.run(&run(json!({}))).await.expect("run");
    emu.wait_for("a crash", LIMIT, |w| w.workers.values().find(|x| x.crash_count == 1).map(|_| ()))
        .await
        .expect("crash 1");
    let h = sls.health().await.expect("health");
    assert_eq!((h.workers.unhealthy, h.jobs.in_queue), (1, 1));
    assert_eq!(
        emu.shared.world.lock().queue_reason(ep.as_str()).as_deref(),
        Some("workers are crash-looping")
    );
    emu.advance(Duration::from_secs(1));
    emu.wait_for("a second crash", LIMIT, |w| {
        w.workers.values().find(|x| x.crash_count == 2).map(|_| ())
    })
    .await
    .expect("crash 2");
    emu.advance(Duration::from_secs(1));
    assert!(
        emu.shared.world.lock().workers.values().all(|x| x.crash_count == 2),
        "backoff doubled to 2 s"
    );
    let logs = emu
        .shared
        .world
        .lock()
        .workers
        .values()
        .next()
        .map(|w| w.logs.text().join("\n"))
        .unwrap_or_default();
    assert!(
        logs.contains("emulator fault: worker crashed on start")
            && logs.contains("restarting in 2s"),
        "{logs}"
    );
    assert_eq!(sls.status(&job.id).await.expect("status").status, JobStatus::InQueue);
}

#[tokio::test]
async fn webhooks_receive_the_final_status() {
    use axum::{Json, Router, routing::post};
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "hooks", "", 0, 0).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let app = Router::new().route(
        "/hook",
        post(move |Json(v): Json<Value>| async move {
            tx.send(v).ok();
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await.ok() });
    let _w = spawn_worker(&emu, ep.as_str(), "w-hook");
    let mut req = run(json!({"z": 1}));
    req.webhook = Some(format!("http://{addr}/hook"));
    let job = c.serverless(&ep).run(&req).await.expect("run");
    let got = tokio::time::timeout(LIMIT, rx.recv()).await.expect("in time").expect("delivered");
    assert_eq!(
        (got["id"].as_str(), got["status"].as_str()),
        (Some(job.id.as_str()), Some("COMPLETED"))
    );
    assert_eq!(got["output"], json!({"echo": {"z": 1}}));
}

#[tokio::test]
async fn payload_limits_and_serverless_auth() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "limits", "", 0, 0).await;
    let big = "x".repeat(10 * 1024 * 1024 + 1);
    let e = c.serverless(&ep).run(&run(json!({"blob": big}))).await.expect_err("over 10 MB");
    assert_eq!(e.kind(), ErrorKind::PayloadTooLarge);
    let http = reqwest::Client::new();
    let url = format!("{}/run", c.serverless(&ep).id().as_str());
    let url = format!("{}/v2/{url}", emu.base_url());
    let body = json!({"input": {"blob": big}}).to_string();
    let r = http
        .post(&url)
        .header("Authorization", emu.api_key().expose())
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 413);
    // The serverless API takes the raw key and Bearer; nothing else.
    let small = json!({"input": {}}).to_string();
    for (auth, want) in [
        (Some(emu.api_key().expose().to_owned()), 200),
        (Some(format!("Bearer {}", emu.api_key().expose())), 200),
        (Some("Bearer wrong".to_owned()), 401),
        (None, 401),
    ] {
        let mut r = http.post(&url).body(small.clone());
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        assert_eq!(r.send().await.expect("send").status().as_u16(), want);
    }
    // Worker routes: RunPod's own local server leaves a literal `$RUNPOD_POD_ID&...` segment.
    let take = format!("{}/v2/{ep}/job-take/$RUNPOD_POD_ID&job_in_progress=0", emu.base_url());
    let r =
        http.get(&take).header("Authorization", emu.api_key().expose()).send().await.expect("send");
    assert!(matches!(r.status().as_u16(), 200 | 204), "{}", r.status());
    let other = endpoint(&c, "other", "", 0, 0).await;
    let key = emu.shared.world.lock().endpoints[other.as_str()].worker_key.clone();
    let r = http
        .get(format!("{}/v2/{ep}/job-take/w1?x=1", emu.base_url()))
        .header("Authorization", key)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401, "a worker key only works for its own endpoint");
    assert_contract(&emu);
}

#[tokio::test]
async fn refresh_worker_recycles_the_worker() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "refresh", "", 0, 0).await;
    let _w = spawn_worker(&emu, ep.as_str(), "w-refresh");
    let job = c.serverless(&ep).run(&run(json!({"mode": "refresh"}))).await.expect("run");
    assert_eq!(final_status(&emu, &job.id).await, JobStatus::Completed);
    assert!(
        !emu.shared.world.lock().workers.contains_key("w-refresh")
            || emu.shared.world.lock().workers["w-refresh"].stopping
    );
}

#[tokio::test]
async fn a_stop_lost_in_a_race_is_redelivered_when_the_heartbeat_still_reports_the_job() {
    let emu = emu().await;
    let c = emu.client();
    let ep = endpoint(&c, "race", "", 0, 0).await;
    let sls = c.serverless(&ep);
    let job = sls.run(&run(json!({}))).await.expect("run");
    // A worker takes the job by hand, then the job is cancelled.
    emu.shared.with_world(|w, now| w.job_take(ep.as_str(), "w-race", 1, now)).expect("take");
    sls.cancel(&job.id).await.expect("cancel");
    let first =
        emu.shared.with_world(|w, now| w.job_stop_list(ep.as_str(), "w-race", now)).expect("stops");
    assert_eq!(first, vec![job.id.0.clone()]);
    // The runtime dropped it (its task did not exist yet) and still reports the job running.
    emu.shared
        .with_world(|w, now| {
            w.worker_ping(ep.as_str(), "w-race", std::slice::from_ref(&job.id.0), now)
        })
        .expect("ping");
    let again =
        emu.shared.with_world(|w, now| w.job_stop_list(ep.as_str(), "w-race", now)).expect("stops");
    assert_eq!(again, vec![job.id.0.clone()], "redelivered");
    emu.shared.with_world(|w, now| w.worker_ping(ep.as_str(), "w-race", &[], now)).expect("ping");
    assert!(
        emu.shared
            .with_world(|w, now| w.job_stop_list(ep.as_str(), "w-race", now))
            .expect("stops")
            .is_empty()
    );
}

/// A worker bills "from when a worker starts until it fully stops" (`serverless/pricing.mdx`):
/// its boot and its idle time count, not only the jobs it runs.
#[tokio::test]
async fn a_worker_bills_from_its_start_until_it_fully_stops() {
    use runpod_emulator::world::ledger::Kind;
    let mut cfg = common::config();
    cfg.serverless.worker_boot_secs = 10.0;
    let emu = common::emu_with(cfg).await;
    let c = emu.client();
    let ep = endpoint(&c, "billed", &poll_once_script(), 0, 1).await;
    let sls = c.serverless(&ep);
    sls.run(&run(json!({}))).await.expect("run");
    sls.purge_queue().await.expect("purge: the worker will find nothing");
    let price = emu.shared.world.lock().workers.values().next().expect("a worker").price_per_hr;
    emu.advance(Duration::from_secs(10));
    emu.wait_for("the booted worker to poll and idle", LIMIT, |w| {
        w.workers.values().any(|x| x.status == WorkerStatus::Idle).then_some(())
    })
    .await
    .expect("idle");
    emu.advance(Duration::from_secs(5));
    emu.wait_for("the idle worker to stop", LIMIT, |w| w.workers.is_empty().then_some(()))
        .await
        .expect("stopped");
    let billed = emu.shared.world.lock().ledger.total_for(Kind::Serverless, ep.as_str());
    let expected = price * 15.0 / 3600.0;
    assert!(
        (billed - expected).abs() < 1e-9,
        "10 s of boot + 5 s idle at ${price}/h is ${expected}, billed ${billed}"
    );
}
