//! Engine and API at 10,000 active jobs, for BENCHMARKS.md.
//!
//! `cargo run --release -p podwarden --example bench_jobs` — 10,000 running jobs with their pods
//! in an in-process emulator; measures one reconcile tick (wall and CPU time, provider list
//! calls), the process RSS, and `GET /api/v1/jobs` (what `podwarden ps` calls) through a real
//! server. With `target/release/podwarden` built, also times the `podwarden ps --json` binary.

use core_domain::spec::JobSpec;
use core_domain::{AttemptId, JobId};
use engine::{Clock, Cloud, CloudError, Engine, PodInfo, PodRequest, RunPodCloud};
use runpod_emulator::config::{GpuOffer, Stock};
use runpod_emulator::{EmulatorConfig, Options, start};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use store::{AttemptRow, JobRow, Store};

const N: usize = 10_000;

/// Counts provider list calls.
struct Counting {
    inner: RunPodCloud,
    lists: Arc<AtomicU64>,
}

impl Cloud for Counting {
    async fn offers(&self) -> Result<Vec<core_domain::gpu::GpuOffer>, CloudError> {
        self.inner.offers().await
    }
    async fn list_pods(&self) -> Result<Vec<PodInfo>, CloudError> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_pods().await
    }
    async fn create_pod(&self, req: &PodRequest) -> Result<PodInfo, CloudError> {
        self.inner.create_pod(req).await
    }
    async fn terminate_pod(&self, id: &str) -> Result<(), CloudError> {
        self.inner.terminate_pod(id).await
    }
}

fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cfg = EmulatorConfig::default();
    cfg.account.balance = 1e12;
    cfg.account.spend_limit = 1e12;
    cfg.pods.provisioning_secs = 0.0;
    cfg.pods.starting_secs = 0.0;
    cfg.tick_ms = 1000;
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
    let home = tempfile::tempdir()?;
    let store = Store::open_sqlite(&home.path().join("podwarden.db")).await?;
    let install = store.install_id().await?;
    let spec = JobSpec::from_toml(
        "bench",
        "name = \"bench\"\nimage = \"img\"\ncommand = \"sleep 1000\"\n[gpu]\nmin_vram_gb = 16\n[limits]\nbudget_usd = 1000.0\n",
    )?;
    let now = chrono_now();
    let t = Instant::now();
    for i in 0..N {
        let job = JobId::new();
        let mut j = JobRow::new(job, &spec, "local", "h", now);
        j.state = "running".into();
        j.attempts_made = 1;
        j.started_at = Some(now);
        store.job_insert(&j).await?;
        let att = AttemptId::new();
        let name = core_domain::ids::pod_name(&install, att);
        let req = runpod::types::pods::CreatePodRequest {
            name: name.clone(),
            image: Some("img".into()),
            gpu: Some(runpod::types::pods::CreateGpuConfig {
                id: "NVIDIA RTX A4000".into(),
                count: Some(1),
                allowed_cuda_versions: None,
                min_cuda_version: None,
            }),
            ..Default::default()
        };
        let pod = emu.shared.with_world(|w, at| w.pod_create(req, at)).map_err(|e| anyhow::anyhow!("{e}"))?;
        store
            .attempt_insert(&AttemptRow {
                id: att.to_string(),
                job_id: job.to_string(),
                seq: 1,
                state: "running".into(),
                generation: 0,
                pod_name: name,
                pod_id: Some(pod.id.0),
                gpu_type: "NVIDIA RTX A4000".into(),
                gpu_count: 1,
                cloud: "secure".into(),
                data_center: Some("US-TX-3".into()),
                price_micros_per_hour: 250_000,
                created_at: now,
                booted_at: Some(now),
                ended_at: None,
                billed_until: Some(now),
                cost_micros: 0,
                reason: None,
            })
            .await?;
        if i % 2000 == 0 {
            eprintln!("seeded {i} jobs ({:.1?})", t.elapsed());
        }
    }
    let lists = Arc::new(AtomicU64::new(0));
    let engine = Engine::new(
        store.clone(),
        Counting { inner: RunPodCloud::new(emu.client()), lists: lists.clone() },
        Clock::system(),
        b"bench".to_vec(),
    )
    .await?;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let before_lists = lists.load(Ordering::Relaxed);
        let (t, c) = (Instant::now(), cpu_secs());
        let report = engine.tick().await?;
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push((cpu_secs() - c) * 1000.0);
        anyhow::ensure!(report.errors.is_empty(), "tick errors: {:?}", report.errors);
        anyhow::ensure!(report.actions.is_empty(), "a steady state needs no action: {:?}", report.actions.first());
        anyhow::ensure!(lists.load(Ordering::Relaxed) - before_lists == 1, "one list call per tick");
    }
    let rss = rss_mb();
    let breakdown;
    {
        let cloud = RunPodCloud::new(emu.client());
        let t = Instant::now();
        let pods = cloud.list_pods().await?;
        let list = t.elapsed();
        let t = Instant::now();
        let a = store.attempts_live().await?;
        let att = t.elapsed();
        let t = Instant::now();
        let j = store.jobs_live().await?;
        let jobs = t.elapsed();
        breakdown = format!(
            "| where a tick's time goes: provider list ({} pods) / live attempts read / live jobs read | {:.0} ms / {:.0} ms / {:.0} ms | — |",
            pods.len(),
            list.as_secs_f64() * 1e3,
            att.as_secs_f64() * 1e3,
            jobs.as_secs_f64() * 1e3
        );
        anyhow::ensure!(a.len() == N && j.len() == N);
    }

    // The API `podwarden ps` calls, through a real server on the same database.
    drop(engine);
    let mut scfg = server::ServerConfig::new(home.path().to_path_buf(), "127.0.0.1:0".parse()?);
    scfg.client = Some(emu.client());
    scfg.tick = std::time::Duration::from_secs(3600);
    let srv = server::start(scfg).await?;
    let http = reqwest::Client::new();
    let mut api = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let body = http.get(format!("{}/api/v1/jobs?limit=10000", srv.url)).bearer_auth(&srv.token).send().await?.bytes().await?;
        api.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(body.len() > 1_000_000);
    }
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/podwarden");
    let (mut ps, mut ps_all) = (Vec::new(), Vec::new());
    if bin.exists() {
        for (args, into) in [(&["ps", "--json"][..], &mut ps), (&["ps", "--json", "--all"][..], &mut ps_all)] {
            for _ in 0..10 {
                let t = Instant::now();
                let out = std::process::Command::new(&bin)
                    .args(args)
                    .env("PODWARDEN_URL", &srv.url)
                    .env("PODWARDEN_TOKEN", &srv.token)
                    .output()?;
                into.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(out.status.success(), "podwarden {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!("| reconcile tick, {N} running jobs (SQLite): provider list calls | 1 per tick | 1 |");
    println!(
        "| same: CPU time of the process (engine + SQLite + in-process emulator serving the list) | median {:.0} ms | < 100 ms |",
        median(cpu)
    );
    println!("| same: wall time | median {:.0} ms | — |", median(wall));
    println!("{breakdown}");
    println!("| RSS of the process holding {N} active jobs (engine, store, and the emulator with {N} pods) | {rss:.0} MB | < 200 MB |");
    println!("| `GET /api/v1/jobs?limit=10000` with {N} jobs | median {:.0} ms | — |", median(api));
    if !ps.is_empty() {
        println!(
            "| `podwarden ps --json` binary (50 most recent of {N} active jobs), end to end | median {:.0} ms | < 50 ms |",
            median(ps)
        );
        println!("| `podwarden ps --json --all` (all {N}), end to end | median {:.0} ms | — |", median(ps_all));
    }
    srv.shutdown().await;
    emu.shutdown().await;
    Ok(())
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
