//! Teams on Postgres, for BENCHMARKS.md (issue 15), measured in one run:
//!
//! - **A. The 10,000-job tick, SQLite and Postgres.** 10,000 running jobs with their pods, one
//!   engine on each backend, ticks on a manual clock advancing by the default period (2 s). On
//!   SQLite a tick is what one server does; on Postgres it is a replica's round: take (renew)
//!   the lease, tick fenced by it (every state write checks the lease in its transaction, and
//!   the triggers announce each written row). Ratio Postgres ÷ SQLite. Also timed: the full
//!   reload of the live set a replica does when it takes an account over.
//! - **B. Takeover.** Two `podwarden serve` replicas (the release binary beside this example) on
//!   one Postgres and an emulator; the replica holding the operator's account is SIGKILLed; the
//!   time until the survivor holds it, in tick periods, ten times.
//! - **C. 1,000 accounts.** 1,000 users on their own emulator accounts (RunPod's default request
//!   budgets, strict 429s), 10 running jobs each, one SQLite store, 1,000 engines; each round
//!   runs every account's pass 32 at a time, as the server's driver does, every 2 s for 70 s (past
//!   the first one-minute budget window). The time a round takes against its 2 s, and the 429s.
//!
//! `cargo build --release -p podwarden --bin podwarden --example bench_replicas &&
//!  ./target/release/examples/bench_replicas` (needs the Postgres of `PODWARDEN_TEST_POSTGRES`,
//! default the machine's).

use futures::StreamExt;
use podwarden_core::{Account, AttemptId};
use podwarden_engine::{Clock, Engine, RunPodProvider};
use podwarden_store::Store;
use podwarden_test_utils::bench::running;
use runpod_emulator::config::{AccountSeed, GpuOffer, Stock};
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator, start};
use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

const PERIOD_MS: i64 = 2_000;

/// The full reload of 10,000 jobs' live set on Postgres (A), ms.
static RELOAD_MS: AtomicI64 = AtomicI64::new(0);

fn cpu_secs() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn gpu() -> GpuOffer {
    GpuOffer {
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
    }
}

fn emulator_config(accounts: usize) -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default();
    cfg.account.balance = 1e12;
    cfg.account.spend_limit = 1e12;
    cfg.pods.provisioning_secs = 0.0;
    cfg.pods.starting_secs = 0.0;
    cfg.tick_ms = 1000;
    cfg.gpus = vec![gpu()];
    cfg.accounts = (0..accounts)
        .map(|i| {
            let mut a = AccountSeed::new(user_key(i));
            (a.balance, a.spend_limit) = (1e12, 1e12);
            a
        })
        .collect();
    cfg
}

fn user_key(i: usize) -> String {
    format!("rpa_BENCH_USER_{i:04}_0123456789ABCDEF")
}

/// Makes a running pod named `name` on the account of `key`; returns its id.
fn seed_pod(emu: &RunningEmulator, key: &str, name: &str) -> anyhow::Result<String> {
    let account = emu.shared.account_of(key).ok_or_else(|| anyhow::anyhow!("no account"))?;
    let account = account.to_owned();
    let req = runpod::types::pods::CreatePodRequest {
        name: name.to_owned(),
        image: Some("img".into()),
        gpu: Some(runpod::types::pods::CreateGpuConfig {
            id: "NVIDIA RTX A4000".into(),
            count: Some(1),
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..Default::default()
    };
    let pod = emu
        .shared
        .with_world(|w, at| w.pod_create(&account, req, at))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pod.id.0)
}

fn client(emu: &RunningEmulator, key: &str) -> anyhow::Result<runpod::Client> {
    Ok(runpod::Client::builder()
        .api_key(runpod::ApiKey::new(key))
        .rest_url(emu.base_url())
        .endpoint_base_url(emu.endpoint_base_url())
        .build()?)
}

async fn engine_on(
    store: Store,
    client: runpod::Client,
    account: &Account,
    clock: Clock,
) -> anyhow::Result<Engine<RunPodProvider>> {
    let mut options = podwarden_engine::EngineOptions::new(clock, b"bench".to_vec());
    options.account = account.clone();
    Ok(Engine::new(store, RunPodProvider::new(client), options).await?)
}

/// A: ticks of 10,000 running jobs on `store`; `replica` runs each as a Postgres replica's
/// round. Returns (wall ms, CPU ms) per tick.
async fn ten_thousand(
    emu: &RunningEmulator,
    store: Store,
    pods: &[(AttemptId, String, String)],
    replica: bool,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let (now, spec) = (now_ms(), podwarden_test_utils::bench::spec());
    let t = Instant::now();
    for (i, (att, name, pod)) in pods.iter().enumerate() {
        let (j, a) =
            running(&spec, &Account::Hosted, *att, name, Some(pod.clone()), now, i, pods.len());
        store.job_insert(&j).await?;
        store.attempt_insert(&a).await?;
    }
    eprintln!("seeded {} jobs on {:?} in {:.1?}", pods.len(), store.backend(), t.elapsed());
    let clock_ms = Arc::new(AtomicI64::new(now));
    let c = clock_ms.clone();
    let clock = Clock::from_fn(move || c.load(Ordering::Relaxed));
    let engine =
        engine_on(store.clone(), client(emu, emu.api_key().expose())?, &Account::Hosted, clock)
            .await?;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    if replica {
        let t = Instant::now();
        store.refresh_live().await?;
        eprintln!("full reload of the live set: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
        RELOAD_MS.store(t.elapsed().as_millis() as i64, Ordering::Relaxed);
    }
    for _ in 0..15 {
        let now = clock_ms.fetch_add(PERIOD_MS, Ordering::Relaxed) + PERIOD_MS;
        let (t, c) = (Instant::now(), cpu_secs());
        let report = if replica {
            // A replica holding the account alone: no other replica wrote a row, so its
            // round's reload is empty (a takeover's full reload is measured in B).
            store.reload_rows(&[], &[]).await?;
            let epoch = store
                .lease_acquire(&Account::Hosted, "bench", now, PERIOD_MS * 3 / 2)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no lease"))?;
            let fence =
                podwarden_store::Fence { account: Account::Hosted, holder: "bench".into(), epoch };
            podwarden_store::fenced(fence, engine.tick()).await?
        } else {
            engine.tick().await?
        };
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        cpu.push((cpu_secs() - c) * 1e3);
        anyhow::ensure!(report.errors().is_empty(), "tick errors: {:?}", report.errors());
        anyhow::ensure!(report.action_count() == 0, "a steady state needs no action");
    }
    Ok((wall, cpu))
}

async fn part_a(pg_url: &str) -> anyhow::Result<()> {
    let n = podwarden_test_utils::bench_size(10_000, 20);
    let mut cfg = emulator_config(0);
    cfg.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::unlimited();
    let emu = start(cfg, Options::default()).await?;
    let home = tempfile::tempdir()?;
    let lite = Store::open_sqlite(&home.path().join("podwarden.db")).await?;
    let pg = Store::open_postgres(pg_url).await?;
    // One install on both, so the same pods are each one's own.
    let install = lite.install_id().await?;
    pg.install_id_or(Some(&install)).await?;
    let mut pods = Vec::with_capacity(n);
    for _ in 0..n {
        let att = AttemptId::new();
        let name = podwarden_core::ids::pod_name(&install, att);
        let id = seed_pod(&emu, emu.api_key().expose(), &name)?;
        pods.push((att, name, id));
    }
    let (lw, lc) = ten_thousand(&emu, lite, &pods, false).await?;
    let (pw, pc) = ten_thousand(&emu, pg, &pods, true).await?;
    println!("| measure | SQLite | Postgres | Postgres ÷ SQLite | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| reconcile tick, {n} running jobs: wall, median (max) | {:.0} ms ({:.0}) | {:.0} ms ({:.0}) | {:.2}× | < 2× |",
        median(lw.clone()),
        max(&lw),
        median(pw.clone()),
        max(&pw),
        median(pw.clone()) / median(lw.clone())
    );
    println!(
        "| same: CPU of this process (engine, store, emulator), median | {:.0} ms | {:.0} ms | {:.2}× | — |",
        median(lc.clone()),
        median(pc.clone()),
        median(pc) / median(lc)
    );
    println!(
        "| a takeover's full reload of the live set ({n} jobs and attempts) | — | {} ms | — | — |",
        RELOAD_MS.load(Ordering::Relaxed)
    );
    emu.shutdown().await;
    Ok(())
}

struct Replica {
    child: std::process::Child,
    home: tempfile::TempDir,
}

fn start_replica(
    bin: &std::path::Path,
    home: tempfile::TempDir,
    db: &str,
    emu: &RunningEmulator,
    tick_ms: i64,
) -> anyhow::Result<Replica> {
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--provider", "runpod", "--port", "0"])
        .env("PODWARDEN_HOME", home.path())
        .env("PODWARDEN_DATABASE_URL", db)
        .env("RUNPOD_API_KEY", emu.api_key().expose())
        .env("RUNPOD_REST_URL", emu.base_url())
        .env("RUNPOD_ENDPOINT_BASE_URL", emu.endpoint_base_url())
        .env("PODWARDEN_TICK_MS", tick_ms.to_string())
        .env("PODWARDEN_ADMIN_TOKEN", "pw_bench-admin-token-0123456789")
        .env("PODWARDEN_SECRET_KEY", "bench-secret-0123456789abcdefghijklmnop")
        .env("PODWARDEN_TOKEN_SECRET", "bench-token-secret-0123456789")
        .env("PODWARDEN_PUBLIC_URL", "none")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut first = String::new();
    BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("stdout"))?)
        .read_line(&mut first)?;
    anyhow::ensure!(first.starts_with("podwarden server on"), "replica said {first:?}");
    Ok(Replica { child, home })
}

async fn part_b(pg_url: &str) -> anyhow::Result<()> {
    let bin = std::env::current_exe()?
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("podwarden"))
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    anyhow::ensure!(
        bin.exists(),
        "build it first: cargo build --release -p podwarden --bin podwarden"
    );
    let emu = start(emulator_config(0), Options::default()).await?;
    let store = Store::open_postgres(pg_url).await?;
    let tick_ms = 500;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        replicas.push(start_replica(&bin, tempfile::tempdir()?, pg_url, &emu, tick_ms)?);
    }
    let holder = |leases: &[podwarden_store::LeaseRow], now: i64| {
        leases
            .iter()
            .find(|l| l.account.is_hosted() && l.expires_at > now)
            .map(|l| l.holder.clone())
    };
    let mut takeovers = Vec::new();
    for _ in 0..10 {
        // Wait until someone holds the operator's account, then kill it.
        let held = loop {
            if let Some(h) = holder(&store.leases().await?, now_ms()) {
                break h;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let pid: u32 = held.split('-').rev().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        let i = replicas
            .iter()
            .position(|r| r.child.id() == pid)
            .ok_or_else(|| anyhow::anyhow!("holder {held} is none of ours"))?;
        let mut dead = replicas.remove(i);
        dead.child.kill()?;
        let killed = Instant::now();
        dead.child.wait()?;
        loop {
            match holder(&store.leases().await?, now_ms()) {
                Some(h) if h != held => break,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        takeovers.push(killed.elapsed().as_secs_f64() * 1e3 / tick_ms as f64);
        replicas.push(start_replica(&bin, dead.home, pg_url, &emu, tick_ms)?);
    }
    println!(
        "| takeover of a killed replica's account by the survivor, 10 kills (tick {tick_ms} ms) | median {:.2} ticks, max {:.2} | < 3 ticks |",
        median(takeovers.clone()),
        max(&takeovers)
    );
    for mut r in replicas {
        let _ = r.child.kill();
        let _ = r.child.wait();
    }
    emu.shutdown().await;
    Ok(())
}

async fn part_c() -> anyhow::Result<()> {
    let accounts = podwarden_test_utils::bench_size(1_000, 3);
    let jobs = podwarden_test_utils::bench_size(10, 2);
    let round_count = podwarden_test_utils::bench_size(35, 2);
    // RunPod's published request budgets per account, as the emulator enforces them.
    let emu = start(emulator_config(accounts), Options::default()).await?;
    let home = tempfile::tempdir()?;
    let store = Store::open_sqlite(&home.path().join("podwarden.db")).await?;
    let install = store.install_id().await?;
    let (now, spec) = (now_ms(), podwarden_test_utils::bench::spec());
    let t = Instant::now();
    let mut engines = Vec::with_capacity(accounts);
    for u in 0..accounts {
        let account = Account::Byok(format!("user{u:04}"));
        for k in 0..jobs {
            let att = AttemptId::new();
            let name = podwarden_core::ids::pod_name(&install, att);
            let pod = seed_pod(&emu, &user_key(u), &name)?;
            let (i, n) = (u * jobs + k, accounts * jobs);
            let (j, a) = running(&spec, &account, att, &name, Some(pod), now, i, n);
            store.job_insert(&j).await?;
            store.attempt_insert(&a).await?;
        }
        let c = client(&emu, &user_key(u))?;
        engines.push(engine_on(store.clone(), c, &account, Clock::system()).await?);
    }
    eprintln!("seeded {accounts} accounts × {jobs} jobs in {:.1?}", t.elapsed());
    let (mut rounds, mut rate_limited) = (Vec::new(), 0usize);
    let start_at = Instant::now();
    for r in 0..round_count {
        let t = Instant::now();
        let reports: Vec<_> = futures::stream::iter(engines.iter().map(|e| e.tick()))
            .buffer_unordered(32)
            .collect()
            .await;
        rounds.push(t.elapsed().as_secs_f64() * 1e3);
        for rep in reports {
            let rep = rep?;
            anyhow::ensure!(rep.errors().is_empty(), "pass errors: {:?}", rep.errors());
            rate_limited += usize::from(rep.retry_after().is_some());
        }
        // The next round at the next period.
        let next = Duration::from_millis(PERIOD_MS as u64 * (r as u64 + 1));
        tokio::time::sleep(next.saturating_sub(start_at.elapsed())).await;
    }
    let refused = emu.shared.limiter.lock().refused;
    // The first round is the cold one: each engine's first pass reads the GPU offers and parses
    // its jobs' specs.
    let warm = rounds[1..].to_vec();
    println!(
        "| one round of {accounts} accounts × {jobs} running jobs (each its own RunPod account and budget; 32 passes at once), {round_count} rounds over {:.0} s | median {:.0} ms, max {:.0} ms per round (the first, cold: {:.0} ms) | within the {PERIOD_MS} ms period |",
        start_at.elapsed().as_secs_f64(),
        median(warm.clone()),
        max(&warm),
        rounds[0]
    );
    println!(
        "| same: 429s the emulator answered / passes that had to wait | {refused} / {rate_limited} | 0 |"
    );
    emu.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = podwarden_store::testing::postgres_url();
    let fresh = || async {
        podwarden_store::testing::fresh_postgres()
            .await
            .ok_or_else(|| anyhow::anyhow!("no Postgres at {base}"))
    };
    // BENCH_ONLY=a, b or c runs one part.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "a" {
        part_a(&fresh().await?).await?;
    }
    if only.is_empty() || only == "b" {
        part_b(&fresh().await?).await?;
    }
    if only.is_empty() || only == "c" {
        part_c().await?;
    }
    Ok(())
}
