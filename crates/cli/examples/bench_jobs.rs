//! Engine and API at 10,000 active jobs, for BENCHMARKS.md.
//!
//! `cargo run --release -p podwarden --example bench_jobs` — 10,000 running jobs with their pods.
//! The emulator runs in a child process (this binary, re-executed), so the CPU time and RSS
//! measured here are the control plane's alone: engine, store, SQLite, HTTP client and JSON
//! decoding of the provider's list. Ticks run on a manual clock advancing by the server's default
//! period (2 s), with the pods' last billing spread over the last minute, so each tick also does
//! its steady-state share of billing writes. Then `GET /api/v1/jobs` (what `podwarden ps` calls)
//! through a real server and, with `target/release/podwarden` built, the `podwarden ps` binary.

use podwarden_core::AttemptId;
use podwarden_core::spec::JobSpec;
use podwarden_engine::{
    Clock, Engine, PodInfo, PodRequest, Provider, ProviderError, RunPodProvider,
};
use podwarden_store::Store;
use runpod_emulator::config::{GpuOffer, Stock};
use runpod_emulator::{EmulatorConfig, Options, start};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

/// Counts provider list calls.
struct Counting {
    inner: RunPodProvider,
    lists: Arc<AtomicU64>,
}

/// Endpoints are listed every tick as the server does (none exist here).
impl podwarden_engine::Serverless for Counting {
    async fn list_endpoints(&self) -> Result<Vec<podwarden_engine::EndpointInfo>, ProviderError> {
        podwarden_engine::Serverless::list_endpoints(&self.inner).await
    }
}

impl Provider for Counting {
    async fn offers(&self) -> Result<Vec<podwarden_core::gpu::GpuOffer>, ProviderError> {
        self.inner.offers().await
    }
    async fn list_pods(&self) -> Result<Vec<PodInfo>, ProviderError> {
        self.lists.fetch_add(1, Ordering::Relaxed);
        self.inner.list_pods().await
    }
    async fn create_pod(&self, req: &PodRequest) -> Result<PodInfo, ProviderError> {
        self.inner.create_pod(req).await
    }
    async fn terminate_pod(&self, id: &str) -> Result<(), ProviderError> {
        self.inner.terminate_pod(id).await
    }
}

/// CPU time of this process (all threads), in seconds.
fn cpu_secs() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn emulator_config() -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default();
    cfg.account.balance = 1e12;
    cfg.account.spend_limit = 1e12;
    // Throughput is measured, not request budgets.
    cfg.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::unlimited();
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
    cfg
}

/// The child: an emulator holding one pod per name read from stdin (one per line, ended by an
/// empty line); prints `URL KEY` when ready and exits when stdin closes.
async fn emulator_child() -> anyhow::Result<()> {
    let emu = start(emulator_config(), Options::default()).await?;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let name = line?;
        if name.is_empty() {
            break;
        }
        let req = runpod::types::pods::CreatePodRequest {
            name,
            image: Some("img".into()),
            gpu: Some(runpod::types::pods::CreateGpuConfig {
                id: "NVIDIA RTX A4000".into(),
                count: Some(1),
                allowed_cuda_versions: None,
                min_cuda_version: None,
            }),
            ..Default::default()
        };
        emu.shared
            .with_world(|w, at| {
                let acct = w.main_account.clone();
                w.pod_create(&acct, req, at)
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    println!("{} {}", emu.base_url(), emu.api_key().expose());
    std::io::stdout().flush()?;
    // Serve until the parent closes our stdin.
    tokio::task::spawn_blocking(|| std::io::stdin().lock().lines().count()).await?;
    emu.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = podwarden_test_utils::bench_size(10_000, 20);
    if std::env::var("BENCH_ROLE").as_deref() == Ok("emulator") {
        return emulator_child().await;
    }
    let home = tempfile::tempdir()?;
    let store = Store::open_sqlite(&home.path().join("podwarden.db")).await?;
    let install = store.install_id().await?;
    let attempts: Vec<AttemptId> = (0..n).map(|_| AttemptId::new()).collect();
    let names: Vec<String> =
        attempts.iter().map(|a| podwarden_core::ids::pod_name(&install, *a)).collect();

    let mut child = std::process::Command::new(std::env::current_exe()?)
        .env("BENCH_ROLE", "emulator")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut to_child = child.stdin.take().ok_or_else(|| anyhow::anyhow!("child stdin"))?;
    for n in &names {
        writeln!(to_child, "{n}")?;
    }
    writeln!(to_child)?;
    let mut ready = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("child stdout"))?)
        .read_line(&mut ready)?;
    let (url, key) = ready
        .trim()
        .split_once(' ')
        .ok_or_else(|| anyhow::anyhow!("emulator child said {ready:?}"))?;
    let client = runpod::Client::builder()
        .api_key(runpod::ApiKey::new(key))
        .rest_url(url)
        .endpoint_base_url(format!("{url}/v2"))
        .build()?;
    let pod_ids: std::collections::HashMap<String, String> =
        client.list_pods_brief().await?.into_iter().map(|p| (p.name, p.id.0)).collect();
    anyhow::ensure!(pod_ids.len() == n, "the emulator holds {} pods", pod_ids.len());

    let spec = podwarden_test_utils::bench::spec();
    let now = chrono_now();
    seed(&store, &spec, &attempts, &names, &pod_ids, now).await?;
    let clock_ms = Arc::new(AtomicI64::new(now));
    let c = clock_ms.clone();
    let lists = Arc::new(AtomicU64::new(0));
    let options = podwarden_engine::EngineOptions::new(
        Clock::from_fn(move || c.load(Ordering::Relaxed)),
        b"bench".to_vec(),
    );
    let engine = Engine::new(
        store.clone(),
        Counting { inner: RunPodProvider::new(client.clone()), lists: lists.clone() },
        options,
    )
    .await?;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let ledger_before = store.cost_rows().await?.len();
    for _ in 0..15 {
        clock_ms.fetch_add(2_000, Ordering::Relaxed);
        let before_lists = lists.load(Ordering::Relaxed);
        let (t, c) = (Instant::now(), cpu_secs());
        let report = engine.tick().await?;
        wall.push(t.elapsed().as_secs_f64() * 1000.0);
        cpu.push((cpu_secs() - c) * 1000.0);
        anyhow::ensure!(report.errors().is_empty(), "tick errors: {:?}", report.errors());
        anyhow::ensure!(
            report.action_count() == 0,
            "a steady state needs no action: {:?}",
            report.pods.actions.first()
        );
        anyhow::ensure!(
            lists.load(Ordering::Relaxed) - before_lists == 1,
            "one list call per tick"
        );
    }
    let rss = rss_mb();
    let billed = store.cost_rows().await?.len() - ledger_before;
    let breakdown;
    {
        let cloud = RunPodProvider::new(client.clone());
        let (t, c) = (Instant::now(), cpu_secs());
        let pods = cloud.list_pods().await?;
        breakdown = format!(
            "| of which the provider list ({} pods, 4.8 MB of JSON): wall / CPU here | {:.0} ms / {:.0} ms | — |",
            pods.len(),
            t.elapsed().as_secs_f64() * 1e3,
            (cpu_secs() - c) * 1e3
        );
        let live = store.live();
        anyhow::ensure!(live.jobs().len() == n && live.attempts().len() == n);
    }

    // The API `podwarden ps` calls, through a real server on the same database.
    drop(engine);
    let mut scfg =
        podwarden_server::ServerConfig::new(home.path().to_path_buf(), "127.0.0.1:0".parse()?);
    scfg.client = Some(client.clone());
    scfg.tick = std::time::Duration::from_secs(3600);
    let srv = podwarden_server::start(scfg).await?;
    let api = measure_api(&srv.url, &srv.token, n).await?;
    let (ps, ps_all) = measure_cli(&srv.url, &srv.token)?;
    println!("| measure | result | target |");
    println!("|---|---|---|");
    println!("| reconcile tick, {n} running jobs (SQLite): provider list calls | 1 per tick | 1 |");
    println!(
        "| same: CPU time of the control plane's process (engine, SQLite, HTTP, decoding the list; {:.0} billing writes per tick) | median {:.0} ms, max {:.0} ms | < 100 ms |",
        billed as f64 / 15.0,
        median(cpu.clone()),
        cpu.iter().copied().fold(0.0, f64::max)
    );
    println!("| same: wall time | median {:.0} ms | — |", median(wall));
    println!("{breakdown}");
    println!(
        "| RSS of the control plane holding {n} active jobs (engine, store, live set) | {rss:.0} MB | < 200 MB |"
    );
    println!("| `GET /api/v1/jobs?limit=10000` with {n} jobs | median {:.0} ms | — |", median(api));
    if !ps.is_empty() {
        println!(
            "| `podwarden ps --json` binary (50 most recent of {n} active jobs), end to end | median {:.0} ms | < 50 ms |",
            median(ps)
        );
        println!(
            "| `podwarden ps --json --all` (all {n}), end to end | median {:.0} ms | — |",
            median(ps_all)
        );
    }
    srv.shutdown().await;
    drop(to_child);
    child.wait()?;
    Ok(())
}

/// `n` running jobs, each with its attempt on one of the emulator's pods, last billed at
/// spread moments of the last minute (a steady state).
async fn seed(
    store: &Store,
    spec: &JobSpec,
    attempts: &[AttemptId],
    names: &[String],
    pod_ids: &std::collections::HashMap<String, String>,
    now: i64,
) -> anyhow::Result<()> {
    let n = attempts.len();
    let t = Instant::now();
    for (i, (att, name)) in attempts.iter().zip(names).enumerate() {
        let pod_id = pod_ids.get(name).cloned();
        let (j, a) = podwarden_test_utils::bench::running(
            spec,
            &podwarden_core::Account::Hosted,
            *att,
            name,
            pod_id,
            now,
            i,
            n,
        );
        store.job_insert(&j).await?;
        store.attempt_insert(&a).await?;
        if i % 2000 == 0 {
            eprintln!("seeded {i} jobs ({:.1?})", t.elapsed());
        }
    }
    Ok(())
}

/// `GET /api/v1/jobs?limit=10000`, 15 times: each one's wall time (ms).
async fn measure_api(url: &str, token: &str, n: usize) -> anyhow::Result<Vec<f64>> {
    let http = reqwest::Client::new();
    let mut api = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let body = http
            .get(format!("{}/api/v1/jobs?limit=10000", url))
            .bearer_auth(token)
            .send()
            .await?
            .bytes()
            .await?;
        api.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(body.len() > n * 100, "{n} jobs in {} bytes", body.len());
    }
    Ok(api)
}

/// `podwarden ps --json` and `--all`, 10 times each, end to end (ms); none without the binary.
fn measure_cli(url: &str, token: &str) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    // The release binary (or `PODWARDEN_BIN`, which the smoke run points at the debug one).
    let bin =
        std::env::var_os("PODWARDEN_BIN").map(std::path::PathBuf::from).unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/podwarden")
        });
    let (mut ps, mut ps_all) = (Vec::new(), Vec::new());
    if bin.exists() {
        for (args, into) in
            [(&["ps", "--json"][..], &mut ps), (&["ps", "--json", "--all"][..], &mut ps_all)]
        {
            for _ in 0..10 {
                let t = Instant::now();
                let out = std::process::Command::new(&bin)
                    .args(args)
                    .env("PODWARDEN_URL", url)
                    .env("PODWARDEN_TOKEN", token)
                    .output()?;
                into.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(
                    out.status.success(),
                    "podwarden {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    Ok((ps, ps_all))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
