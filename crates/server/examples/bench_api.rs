//! The server's performance targets (issue 5), measured against a real `podwarden_server::start` on its
//! embedded emulator, over HTTP on loopback, client and server in one process on this machine:
//!
//! 1. metrics ingest: concurrent pods posting batches to `POST /jobs/{id}/metrics` — points/s
//!    sustained and per-request latency (target ≥ 20 000 points/s, p99 < 20 ms);
//! 2. SSE fan-out: 1 000 subscribers on one job's `/events` stream, lag from a point's POST to
//!    its arrival at each subscriber (target < 100 ms);
//! 3. `GET /jobs` with 10 000 jobs stored: latency of the default page and of 200 (target p99
//!    < 10 ms).
//!
//! `cargo run --release -p podwarden-server --example bench_api` (results: BENCHMARKS.md).

use futures::StreamExt;
use podwarden_core::Money;
use podwarden_core::state::JobState;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        ms.len(),
        pct(&ms, 0.5),
        pct(&ms, 0.99),
        pct(&ms, 1.0)
    );
}

/// 10 000 finished jobs of the admin, written straight to the store before the server opens it.
async fn seed(home: &std::path::Path) -> anyhow::Result<()> {
    let store = podwarden_store::Store::open_sqlite(&home.join("podwarden.db")).await?;
    let spec = podwarden_core::spec::JobSpec::from_json(
        serde_json::json!({"name": "bench", "image": "i", "command": "true", "gpu": {"min_vram_gb": 16}}),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let t = Instant::now();
    for i in 0..podwarden_test_utils::bench_size(10_000, 20) as i64 {
        let mut row = podwarden_store::JobRow::new(
            podwarden_core::JobId::new(),
            &spec,
            "local",
            "x",
            1_700_000_000_000 + i,
        );
        row.state = JobState::Succeeded;
        row.outcome = Some("succeeded".into());
        row.spent = Money(1234);
        store.job_insert(&row).await?;
    }
    println!("seeded 10 000 jobs in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `GET /jobs` at 10 000 jobs: the default page and a page of 200, 1 000 times each after 100
/// warm-up requests.
async fn bench_list(
    http: &reqwest::Client,
    client: &podwarden_api::Client,
    token: &str,
) -> anyhow::Result<()> {
    for (label, q) in [("GET /jobs (default page of 50)", None), ("GET /jobs?limit=200", Some(200))]
    {
        let mut lat = Vec::new();
        for i in 0..1_100 {
            let t = Instant::now();
            let mut req = http.get(client.url(&["jobs"]));
            if let Some(limit) = q {
                req = req.query(&[("limit", limit)]);
            }
            let r = req.bearer_auth(token).send().await?;
            let body = r.bytes().await?;
            if i >= 100 {
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            assert!(body.len() > 1000);
        }
        summary(label, lat);
    }
    Ok(())
}

/// Metrics ingest: 8 clients posting batches of 100 points to one job.
async fn bench_ingest(
    http: &reqwest::Client,
    metrics_url: &str,
    token: &str,
) -> anyhow::Result<()> {
    const CLIENTS: usize = 8;
    const BATCH: usize = 100;
    let batches_per_client = podwarden_test_utils::bench_size(250, 2); // 8 × 250 × 100 = 200 000 points
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, url, token) = (http.clone(), metrics_url.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(batches_per_client);
            for b in 0..batches_per_client {
                let base = (c * batches_per_client + b) * BATCH;
                let points: Vec<serde_json::Value> = (0..BATCH)
                    .map(|i| serde_json::json!({"step": base + i, "epoch": 0.5, "loss": 1.0 / (1.0 + (base + i) as f64), "learning_rate": 0.0002, "grad_norm": 0.8, "samples_per_second": 12.0, "progress": 50.0}))
                    .collect();
                let t = Instant::now();
                let r = http.post(url.clone()).bearer_auth(&token).json(&points).send().await.expect("post");
                assert_eq!(r.status().as_u16(), 202);
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let secs = t.elapsed().as_secs_f64();
    let points = CLIENTS * batches_per_client * BATCH;
    println!(
        "metrics ingest: {points} points in {secs:.2} s = {:.0} points/s ({CLIENTS} clients, batches of {BATCH})",
        points as f64 / secs
    );
    summary("metrics ingest latency per batch request", lat);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    seed(home.path()).await?;
    let mut cfg =
        podwarden_server::ServerConfig::new(home.path().to_path_buf(), "127.0.0.1:0".parse()?);
    cfg.emulator.pods.provisioning_secs = 0.1;
    cfg.emulator.pods.starting_secs = 0.1;
    let s = podwarden_server::start(cfg).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(2000).build()?;
    // Paths come from the typed client; the requests stay raw, so JSON decoding is not timed.
    let client = podwarden_api::Client::with_http(http.clone(), &s.url, &s.token)?;
    let api = |segments: &[&str]| client.url(segments);

    bench_list(&http, &client, &s.token).await?;

    // A live job to post metrics to and follow.
    let job: serde_json::Value = http
        .post(api(&["jobs"]))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "ingest", "image": "i", "command": "sleep 3600", "gpu": {"min_vram_gb": 16}}))
        .send()
        .await?
        .json()
        .await?;
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    let secret = std::fs::read_to_string(home.path().join("secret"))?;
    let token = podwarden_engine::tokens::derive_job_token(secret.trim().as_bytes(), &id);
    let metrics_url = api(&["jobs", &id, "metrics"]);

    bench_ingest(&http, metrics_url.as_str(), &token).await?;

    // --- SSE fan-out ----------------------------------------------------------------------
    let subscribers = podwarden_test_utils::bench_size(1_000, 5);
    const POINTS: usize = 20;
    let sent: Arc<parking_lot::Mutex<std::collections::HashMap<u64, Instant>>> = Arc::default();
    let lags: Arc<parking_lot::Mutex<Vec<f64>>> = Arc::default();
    // Subscribers start after the last stored event, so they see only the points posted below.
    let last_id = {
        let evs: Vec<serde_json::Value> = http
            .get(api(&["jobs", &id, "events"]))
            .bearer_auth(&s.token)
            .send()
            .await?
            .json()
            .await?;
        let mut last = 0;
        let mut after = 0;
        let mut batch = evs;
        loop {
            if let Some(l) = batch.last().and_then(|e| e["id"].as_i64()) {
                last = l;
            }
            if batch.len() < 1000 {
                break;
            }
            after = last;
            batch = http
                .get(api(&["jobs", &id, "events"]))
                .query(&[("after", after)])
                .bearer_auth(&s.token)
                .send()
                .await?
                .json()
                .await?;
        }
        let _ = after;
        last
    };
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(subscribers);
    let mut subs = Vec::new();
    for _ in 0..subscribers {
        let (http, url, token, sent, lags, ready) = (
            http.clone(),
            api(&["jobs", &id, "events"]),
            s.token.clone(),
            sent.clone(),
            lags.clone(),
            ready_tx.clone(),
        );
        subs.push(tokio::spawn(async move {
            let r = http
                .get(url)
                .bearer_auth(token)
                .header("accept", "text/event-stream")
                .header("last-event-id", last_id.to_string())
                .send()
                .await
                .expect("sse");
            let _ = ready.send(()).await;
            let mut events = r.bytes_stream().eventsource();
            let mut seen = 0;
            while let Some(Ok(ev)) = events.next().await {
                if ev.event != "metric" {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
                if let Some(step) = v["data"]["step"].as_u64() {
                    if let Some(t) = sent.lock().get(&step) {
                        lags.lock().push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    seen += 1;
                    if seen == POINTS {
                        return;
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    for _ in 0..subscribers {
        ready_rx.recv().await;
    }
    for p in 0..POINTS as u64 {
        let step = 10_000_000 + p;
        sent.lock().insert(step, Instant::now());
        let r = http
            .post(metrics_url.clone())
            .bearer_auth(&token)
            .json(&serde_json::json!({"step": step, "loss": 0.5}))
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 202);
        tokio::time::sleep(Duration::from_millis(200)).await; // the benchmark's own pacing: one point per 200 ms
    }
    for t in subs {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    let lags = lags.lock().clone();
    println!("SSE: {subscribers} subscribers × {POINTS} points, {} deliveries", lags.len());
    summary("SSE delivery lag (POST sent → event received)", lags);
    s.shutdown().await;
    Ok(())
}

use eventsource_stream::Eventsource;
