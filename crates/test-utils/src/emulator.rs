//! Shared test harness: an emulator on a manual clock with every exchange recorded, a check of
//! those exchanges against RunPod's pinned OpenAPI spec, and an in-process test worker.

use runpod::client::worker::{WorkerClient, WorkerConfig};
use runpod::types::worker::JobResultBody;
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator, start};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Real-time guard on event-driven waits: a failing test fails instead of hanging.
pub const LIMIT: Duration = Duration::from_secs(30);

pub const START: &str = "2026-01-01T00:00:00Z";

/// Manual clock, quick polls, short boot phases (10 s provisioning, 20 s starting).
pub fn config() -> EmulatorConfig {
    let mut c =
        EmulatorConfig { manual_clock_start: Some(START.into()), ..EmulatorConfig::default() };
    c.pods.provisioning_secs = 10.0;
    c.pods.starting_secs = 20.0;
    c.pods.restart_delay_secs = 5.0;
    c.pods.stop_grace_ms = 200;
    c.serverless.take_hold_ms = 100;
    c.serverless.runsync_wait_ms = 5_000;
    c.serverless.worker_boot_secs = 0.0;
    c.serverless.webhook_retry_ms = 20;
    c
}

/// A test emulator that, when the test ends without a panic, checks every response it served
/// against RunPod's spec: no test can see a non-conforming response and pass.
#[derive(Debug)]
pub struct Emu(pub RunningEmulator);

impl std::ops::Deref for Emu {
    type Target = RunningEmulator;
    fn deref(&self) -> &RunningEmulator {
        &self.0
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_contract(&self.0);
        }
    }
}

pub async fn emu_with(cfg: EmulatorConfig) -> Emu {
    Emu(start(cfg, Options { record: true, ..Options::default() }).await.expect("emulator starts"))
}

pub async fn emu() -> Emu {
    emu_with(config()).await
}

/// An emulator without request budgets, for tests that fire hundreds of requests at it to check
/// something else (validation, conformance); `ratelimit.rs` has the budgets' own tests.
pub async fn emu_unmetered() -> Emu {
    emu_with(EmulatorConfig {
        rate_limits: runpod_emulator::ratelimit::RateLimitConfig::unlimited(),
        ..config()
    })
    .await
}

/// The pinned spec, or `None` (with a note) when it is absent outside CI.
pub fn spec() -> Option<Value> {
    let path = std::env::var("PODWARDEN_RUNPOD_SPEC").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/runpod/openapi-rest-v2.json")
    });
    match std::fs::read(&path) {
        Ok(b) => Some(serde_json::from_slice(&b).expect("the pinned spec is JSON")),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("RunPod's spec is required in CI but {} is unreadable: {e}", path.display())
        }
        Err(_) => {
            eprintln!(
                "note: {} not found; skipping spec checks (set PODWARDEN_RUNPOD_SPEC)",
                path.display()
            );
            None
        }
    }
}

/// A JSON Schema validator for `schema`, with the spec's components in reach of `$ref`.
pub fn validator(spec: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Value::Object(m) = &mut root {
        m.insert("components".into(), spec["components"].clone());
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .expect("spec schema compiles")
}

fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(r.trim_start_matches('#')).unwrap_or(v),
        None => v,
    }
}

/// Validates every recorded REST v2 exchange against the spec's response schemas, and every
/// error response (all surfaces) against `ErrorResponse`. Returns how many were checked.
pub fn assert_contract(emu: &RunningEmulator) -> usize {
    let Some(spec) = spec() else { return 0 };
    let mut cache: HashMap<String, jsonschema::Validator> = HashMap::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    let problem = validator(&spec, &json!({"$ref": "#/components/schemas/ErrorResponse"}));
    for x in emu.recorded() {
        if x.content_type.starts_with("text/event-stream") || x.body.is_empty() {
            continue;
        }
        let body: Value = match serde_json::from_slice(&x.body) {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!(
                    "{} {} -> {}: body is not JSON ({e})",
                    x.method, x.route, x.status
                ));
                continue;
            }
        };
        if x.status >= 400 {
            if !x.content_type.starts_with("application/problem+json") {
                failures.push(format!(
                    "{} {} -> {}: error content type {:?}",
                    x.method, x.route, x.status, x.content_type
                ));
            }
            for e in problem.iter_errors(&body) {
                failures.push(format!(
                    "{} {} -> {}: {} at {}",
                    x.method,
                    x.route,
                    x.status,
                    e,
                    e.instance_path()
                ));
            }
            checked += 1;
            continue;
        }
        let Some(op) = spec["paths"].get(&x.route).and_then(|p| p.get(x.method.to_lowercase()))
        else {
            continue;
        };
        let responses = &op["responses"];
        let resp = responses.get(x.status.to_string()).or_else(|| responses.get("default"));
        let Some(resp) = resp.map(|r| resolve(&spec, r)) else {
            failures
                .push(format!("{} {} -> {}: status not in the spec", x.method, x.route, x.status));
            continue;
        };
        let Some(schema) = resp.pointer("/content/application~1json/schema") else { continue };
        let key = format!("{} {} {}", x.method, x.route, x.status);
        let v = cache.entry(key).or_insert_with(|| validator(&spec, schema));
        for e in v.iter_errors(&body) {
            failures.push(format!(
                "{} {} -> {}: {} at {}",
                x.method,
                x.route,
                x.status,
                e,
                e.instance_path()
            ));
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "responses that break RunPod's spec:\n{}", failures.join("\n"));
    checked
}

/// Runs an in-process worker against the emulator until the returned guard is dropped.
/// The job input says what to do: `{"mode": "echo" | "stream" | "progress" | "fail" |
/// "hang" | "refresh", ...}`.
pub fn spawn_worker(
    emu: &RunningEmulator,
    endpoint: &str,
    worker_id: &str,
) -> tokio::task::JoinHandle<()> {
    let cfg = WorkerConfig {
        get_job_url: format!("{}/v2/{endpoint}/job-take/$ID?gpu=TEST", emu.base_url()),
        post_output_url: format!(
            "{}/v2/{endpoint}/job-done/$RUNPOD_POD_ID/$ID?gpu=TEST",
            emu.base_url()
        ),
        post_stream_url: format!(
            "{}/v2/{endpoint}/job-stream/$RUNPOD_POD_ID/$ID?gpu=TEST",
            emu.base_url()
        ),
        ping_url: Some(format!("{}/v2/{endpoint}/ping/$RUNPOD_POD_ID?gpu=TEST", emu.base_url())),
        worker_id: worker_id.into(),
        endpoint_id: Some(endpoint.into()),
        api_key: emu.api_key().clone(),
        ping_interval: Duration::from_secs(10),
    };
    let client = WorkerClient::new(cfg).expect("worker client");
    tokio::spawn(async move {
        loop {
            let jobs = match client.take(false).await {
                Ok(j) => j,
                Err(_) => return,
            };
            for job in jobs {
                let input = job.input.clone();
                let mode = input["mode"].as_str().unwrap_or("echo").to_owned();
                let result = match mode.as_str() {
                    "stream" => {
                        let chunks = input["chunks"].as_array().cloned().unwrap_or_default();
                        for c in &chunks {
                            client.post_stream_chunk(&job.id, c.clone()).await.ok();
                        }
                        let body = JobResultBody {
                            output: Some(Value::Array(chunks)),
                            ..Default::default()
                        };
                        client.post_result(&job.id, &body, true).await.ok();
                        continue;
                    }
                    "progress" => {
                        client.post_progress(&job.id, json!({"percent": 50})).await.ok();
                        // Wait until the test says go (a stop means: give up the job).
                        loop {
                            let stop = client.jobs_to_stop().await.unwrap_or_default();
                            if stop.contains(&job.id) {
                                break;
                            }
                        }
                        continue;
                    }
                    "hang" => {
                        loop {
                            let stop = client.jobs_to_stop().await.unwrap_or_default();
                            if stop.contains(&job.id) {
                                break;
                            }
                        }
                        continue;
                    }
                    "fail" => JobResultBody {
                        error: Some(json!("handler failed on purpose")),
                        ..Default::default()
                    },
                    "refresh" => JobResultBody {
                        output: Some(json!({"ok": true})),
                        stop_pod: Some(true),
                        ..Default::default()
                    },
                    _ => {
                        JobResultBody { output: Some(json!({"echo": input})), ..Default::default() }
                    }
                };
                client.post_result(&job.id, &result, false).await.ok();
            }
        }
    })
}

/// A small pod request on an A4000.
pub fn pod(name: &str) -> runpod::types::pods::CreatePodRequest {
    runpod::types::pods::CreatePodRequest {
        name: name.into(),
        image: Some("img".into()),
        gpu: Some(runpod::types::pods::CreateGpuConfig {
            id: "NVIDIA RTX A4000".into(),
            count: None,
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..Default::default()
    }
}

/// A serverless template and an endpoint built from it (no workers started: min 0).
pub async fn serverless_endpoint(
    c: &runpod::Client,
    name: &str,
) -> (runpod::TemplateId, runpod::EndpointId) {
    let t = c
        .create_template(&runpod::types::templates::CreateTemplateRequest {
            name: format!("{name}-tpl"),
            image: "i".into(),
            serverless: Some(true),
            ..Default::default()
        })
        .await
        .expect("template");
    let ep = c
        .create_endpoint(&runpod::types::endpoints::CreateEndpointRequest::from_template(
            name,
            t.id.clone(),
        ))
        .await
        .expect("endpoint");
    (t.id, ep.id)
}

/// A 10 GB network volume in US-TX-3.
pub async fn volume(c: &runpod::Client) -> runpod::types::network_volumes::NetworkVolume {
    c.create_network_volume(&runpod::types::network_volumes::CreateNetworkVolumeRequest {
        name: "v".into(),
        size: 10,
        data_center: "US-TX-3".into(),
        kind: None,
    })
    .await
    .expect("volume")
}
