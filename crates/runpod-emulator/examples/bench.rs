//! Emulator and client benchmarks for BENCHMARKS.md.
//!
//! `cargo run --release -p runpod-emulator --example bench` (BENCH_SECS=N per phase, default 5).
//! Load is generated from the same process (2 cores shared with the server), so the numbers
//! are a floor for the server alone.

use runpod::client::worker::{WorkerClient, WorkerConfig};
use runpod::types::endpoints::{CreateEndpointRequest, EndpointWorkers};
use runpod::types::pods::{CreateGpuConfig, CreatePodRequest};
use runpod::types::serverless::RunRequest;
use runpod::types::templates::CreateTemplateRequest;
use runpod::types::worker::JobResultBody;
use runpod_emulator::config::{GpuOffer, Stock};
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator, start};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn secs() -> Duration {
    if podwarden_test_utils::bench_smoke() {
        return Duration::from_millis(200);
    }
    Duration::from_secs(std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5))
}

async fn endpoint(emu: &RunningEmulator, name: &str) -> anyhow::Result<runpod::EndpointId> {
    let c = emu.client();
    let t = c
        .create_template(&CreateTemplateRequest {
            name: name.into(),
            image: "i".into(),
            serverless: Some(true),
            ..Default::default()
        })
        .await?;
    let mut req = CreateEndpointRequest::from_template(name, t.id);
    req.workers = Some(EndpointWorkers { min: Some(0), max: Some(0), idle_timeout: Some(60) });
    Ok(c.create_endpoint(&req).await?.id)
}

fn worker(emu: &RunningEmulator, ep: &str, id: &str) -> anyhow::Result<WorkerClient> {
    Ok(WorkerClient::new(WorkerConfig {
        get_job_url: format!("{}/v2/{ep}/job-take/$ID?gpu=B", emu.base_url()),
        post_output_url: format!("{}/v2/{ep}/job-done/$RUNPOD_POD_ID/$ID?gpu=B", emu.base_url()),
        post_stream_url: format!("{}/v2/{ep}/job-stream/$RUNPOD_POD_ID/$ID?gpu=B", emu.base_url()),
        ping_url: None,
        worker_id: id.into(),
        endpoint_id: Some(ep.into()),
        api_key: emu.api_key().clone(),
        ping_interval: Duration::from_secs(10),
    })?)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn status_throughput(emu: &RunningEmulator) -> anyhow::Result<f64> {
    let ep = endpoint(emu, "status").await?;
    let sls = emu.client().serverless(&ep);
    let job = sls.run(&RunRequest::new(json!({"x": 1}))).await?;
    let w = worker(emu, ep.as_str(), "w0")?;
    let taken = w.take(false).await?;
    w.post_result(
        &taken[0].id,
        &JobResultBody { output: Some(json!({"ok": true})), ..Default::default() },
        false,
    )
    .await?;
    let url = format!("{}/v2/{}/status/{}", emu.base_url(), ep, job.id);
    let http = reqwest::Client::new();
    let key = emu.api_key().expose().to_owned();
    let n = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + secs();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (http, url, key, n) = (http.clone(), url.clone(), key.clone(), n.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                if let Ok(r) = http.get(&url).header("Authorization", &key).send().await {
                    if r.status().is_success() && r.bytes().await.is_ok() {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    Ok(n.load(Ordering::Relaxed) as f64 / secs().as_secs_f64())
}

async fn round_trips(emu: &RunningEmulator) -> anyhow::Result<f64> {
    let ep = endpoint(emu, "round-trips").await?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..8 {
        let w = worker(emu, ep.as_str(), &format!("w{i}"))?;
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(jobs) = w.take_batch(4, false).await else { continue };
                for j in jobs {
                    let _ = w
                        .post_result(
                            &j.id,
                            &JobResultBody { output: Some(j.input), ..Default::default() },
                            false,
                        )
                        .await;
                }
            }
        }));
    }
    let http = reqwest::Client::new();
    let (base, key) = (format!("{}/v2/{}", emu.base_url(), ep), emu.api_key().expose().to_owned());
    let n = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + secs();
    let mut clients = Vec::new();
    for _ in 0..32 {
        let (http, base, key, n) = (http.clone(), base.clone(), key.clone(), n.clone());
        clients.push(tokio::spawn(async move {
            while Instant::now() < end {
                // run → (take → done) → status
                let Ok(r) = http
                    .post(format!("{base}/run"))
                    .header("Authorization", &key)
                    .json(&json!({"input": {"n": 1}}))
                    .send()
                    .await
                else {
                    continue;
                };
                let Ok(v) = r.json::<serde_json::Value>().await else { continue };
                let id = v["id"].as_str().unwrap_or_default().to_owned();
                if let Ok(r) = http
                    .get(format!("{base}/status-sync/{id}?wait=5000"))
                    .header("Authorization", &key)
                    .send()
                    .await
                {
                    if r.json::<serde_json::Value>().await.is_ok_and(|s| s["status"] == "COMPLETED")
                    {
                        n.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for c in clients {
        c.await?;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.abort();
    }
    Ok(n.load(Ordering::Relaxed) as f64 / secs().as_secs_f64())
}

async fn ten_thousand_pods() -> anyhow::Result<(Vec<f64>, Vec<f64>, f64, usize)> {
    let mut cfg = EmulatorConfig::default();
    cfg.account.balance = 1e12;
    cfg.account.spend_limit = 1e12;
    // Throughput is measured, not request budgets.
    cfg.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::unlimited();
    cfg.gpus = vec![GpuOffer {
        id: "NVIDIA RTX A4000".into(),
        name: "A4000".into(),
        pool: Some("AMPERE_16".into()),
        manufacturer: "NVIDIA".into(),
        memory_gb: 16,
        secure_price: 0.25,
        community_price: 0.17,
        serverless_price: Some(0.58),
        max_count: 8,
        stock: [("US-TX-3".to_owned(), Stock { secure: 20_000, community: 0 })].into(),
        cuda_versions: vec!["12.4".into()],
    }];
    let emu = start(cfg, Options::default()).await?;
    let pods = podwarden_test_utils::bench_size(10_000, 50);
    // A list answers a page of at most 1,000 (RunPod's `limit` cap since late 2026).
    let page = pods.min(runpod::types::pagination::MAX_PAGE as usize);
    emu.shared.with_world(|w, now| {
        for i in 0..pods {
            let req = CreatePodRequest {
                name: format!("pw-bench-{i}"),
                image: Some("img".into()),
                gpu: Some(CreateGpuConfig {
                    id: "NVIDIA RTX A4000".into(),
                    count: Some(1),
                    allowed_cuda_versions: None,
                    min_cuda_version: None,
                }),
                ..Default::default()
            };
            let acct = w.main_account.clone();
            w.pod_create(&acct, req, now).map_err(|e| anyhow::anyhow!("seeding pod {i}: {e}"))?;
        }
        anyhow::Ok(())
    })?;
    let mut render = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let bytes = emu.shared.with_world(|w, now| {
            let page = runpod_emulator::paging::PageRequest::from_query(
                &Default::default(),
                &w.main_account,
                "pods",
                u32::MAX,
            )
            .expect("no query");
            w.pod_list_json(&w.main_account, &page, now)
        });
        render.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(bytes.len() > page * 300, "a page of {page} pods in {} bytes", bytes.len());
    }
    let t = Instant::now();
    for _ in 0..20 {
        emu.tick();
    }
    let tick_ms = t.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let http = reqwest::Client::new();
    let url = format!("{}/v2/pods", emu.base_url());
    let mut lat = Vec::new();
    let mut size = 0;
    for _ in 0..30 {
        let t = Instant::now();
        let b = http.get(&url).bearer_auth(emu.api_key().expose()).send().await?.bytes().await?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        size = b.len();
    }
    let count = serde_json::from_slice::<runpod::types::pods::ListPodsResponse>(
        &http.get(&url).bearer_auth(emu.api_key().expose()).send().await?.bytes().await?,
    )?
    .pods
    .len();
    anyhow::ensure!(count == page, "expected a page of {page} pods, got {count}");
    emu.shutdown().await;
    Ok((lat, render, tick_ms, size))
}

async fn client_overhead(emu: &RunningEmulator) -> anyhow::Result<(f64, f64, f64)> {
    let c = emu.client();
    let p = c
        .create_pod(&CreatePodRequest {
            name: "overhead".into(),
            image: Some("img".into()),
            gpu: Some(CreateGpuConfig {
                id: "NVIDIA RTX A4000".into(),
                count: Some(1),
                allowed_cuda_versions: None,
                min_cuda_version: None,
            }),
            ..Default::default()
        })
        .await?;
    let http = reqwest::Client::new();
    let url = format!("{}/v2/pods/{}", emu.base_url(), p.id);
    let key = emu.api_key().expose().to_owned();
    let (mut raw, mut raw_decode, mut client) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..6 {
        for _ in 0..500 {
            match round % 3 {
                0 => {
                    let t = Instant::now();
                    http.get(&url).bearer_auth(&key).send().await?.bytes().await?;
                    raw.push(t.elapsed().as_secs_f64() * 1e6);
                }
                1 => {
                    let t = Instant::now();
                    let b = http.get(&url).bearer_auth(&key).send().await?.bytes().await?;
                    let _: runpod::types::pods::Pod = serde_json::from_slice(&b)?;
                    raw_decode.push(t.elapsed().as_secs_f64() * 1e6);
                }
                _ => {
                    let t = Instant::now();
                    c.get_pod(&p.id).await?;
                    client.push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
    }
    let med = |v: &mut Vec<f64>| percentile(v, 0.5);
    Ok((med(&mut raw), med(&mut raw_decode), med(&mut client)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cfg = EmulatorConfig::default();
    cfg.serverless.take_hold_ms = 2_000;
    cfg.account.balance = 1e9;
    // Throughput is measured, not request budgets.
    cfg.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::unlimited();
    let emu = start(cfg, Options::default()).await?;
    let status = status_throughput(&emu).await?;
    let rt = round_trips(&emu).await?;
    let (raw, raw_decode, client) = client_overhead(&emu).await?;
    emu.shutdown().await;
    let (mut lat, mut render, tick_ms, size) = ten_thousand_pods().await?;
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!(
        "| serverless `GET /status` (32 concurrent clients, {} s) | {status:.0} req/s | ≥ 5,000 req/s |",
        secs().as_secs()
    );
    println!(
        "| job round trips `run` → `job-take` → `job-done` → `status` (32 clients, 8 workers) | {rt:.0} jobs/s | ≥ 2,000 jobs/s |"
    );
    println!(
        "| `GET /v2/pods`, first page (1,000) of 10,000 pods ({:.1} MB) | median {:.1} ms, p95 {:.1} ms, max {:.1} ms | < 50 ms |",
        size as f64 / 1e6,
        percentile(&mut lat, 0.5),
        percentile(&mut lat, 0.95),
        percentile(&mut lat, 1.0)
    );
    println!(
        "| rendering that list in-process (under the lock) | median {:.1} ms | — |",
        percentile(&mut render, 0.5)
    );
    println!("| one emulator tick with 10,000 pods | {tick_ms:.2} ms | — |");
    println!("| `GET /v2/pods/{{id}}`: raw reqwest (bytes) | median {raw:.0} µs | — |");
    println!("| same, raw reqwest + serde decode | median {raw_decode:.0} µs | — |");
    println!(
        "| same through `runpod::Client::get_pod` | median {client:.0} µs ({:+.0} µs vs raw bytes, ratio {:.2}×) | < 1 ms over raw |",
        client - raw,
        client / raw
    );
    Ok(())
}
