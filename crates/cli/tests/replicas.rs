//! Replicas: three `podwarden serve` processes share one Postgres and one standalone emulator
//! with ten accounts (the operator's, and nine users' own keys). While 30 jobs across the ten
//! accounts run, replicas are SIGKILLed 50 times — a random one, or on purpose the replica
//! holding an account's lease — and restarted. At the end: every job succeeded, no pod of ours
//! is left, no pod was made twice, no job ever had two running pods, and the ledger equals the
//! emulator's bill.
//!
//! Needs the machine's Postgres (`PODWARDEN_TEST_POSTGRES`); in CI a missing one fails it.

mod common;

use common::fleet::{
    assert_costs_agree, check_invariants, duplicate_pods, our_live_pods, settle_all,
};
use common::{Reaped, free_port};
use podwarden_api::types::JobState;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use runpod_emulator::config::AccountSeed;
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator, start};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const ADMIN_TOKEN: &str = "pw_replicas-test-admin-token-0123456789";
const USERS: usize = 9;

struct Replica {
    /// Killed when dropped, also when the test fails part-way.
    child: Reaped,
    url: String,
    home: tempfile::TempDir,
    port: u16,
}

/// Starts a replica on `home` and `port`; returns once it listens.
fn start_replica(home: tempfile::TempDir, port: u16, db: &str, emu: &RunningEmulator) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(["serve", "--provider", "runpod", "--port", &port.to_string()])
        .env("PODWARDEN_HOME", home.path())
        .env("PODWARDEN_DATABASE_URL", db)
        .env("RUNPOD_API_KEY", emu.api_key().expose())
        .env("RUNPOD_REST_URL", emu.base_url())
        .env("RUNPOD_ENDPOINT_BASE_URL", emu.endpoint_base_url())
        .env("PODWARDEN_TICK_MS", "100")
        .env("PODWARDEN_INTENT_GRACE_MS", "1500")
        // What every replica must share.
        .env("PODWARDEN_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("PODWARDEN_SECRET_KEY", "replicas-test-secret-0123456789abcdefghij")
        .env("PODWARDEN_TOKEN_SECRET", "replicas-test-token-secret-0123456789")
        // Pods of a standalone emulator cannot call back; exits come from their logs.
        .env("PODWARDEN_PUBLIC_URL", "none")
        .env_remove("PODWARDEN_CRASH_AT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("replica starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("first line");
    assert!(first.starts_with("podwarden server on http://"), "unexpected: {first:?}");
    let url = first.split_whitespace().nth(3).expect("url").to_owned();
    Replica { child: Reaped(child), url, home, port }
}

fn user_key(i: usize) -> String {
    format!("rpa_REPLICAS_TEST_USER_{i:02}_KEY_0123456789")
}

async fn emulator() -> RunningEmulator {
    let mut c = EmulatorConfig::default();
    c.pods.provisioning_secs = 0.2;
    c.pods.starting_secs = 0.2;
    c.tick_ms = 50;
    // Three replicas tick every 100 ms instead of 2 s: RunPod's budgets compressed alike.
    c.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::scaled(20);
    c.accounts = (0..USERS).map(|i| AccountSeed::new(user_key(i))).collect();
    start(c, Options::default()).await.expect("emulator")
}

/// Submits on the first replica that answers; `None` when none does.
async fn submit(
    http: &reqwest::Client,
    replicas: &[Replica],
    token: &str,
    name: &str,
    cmd: &str,
) -> Option<String> {
    let spec = serde_json::json!({"name": name, "image": "python:3.11-slim", "command": cmd,
        "gpu": {"min_vram_gb": 16}, "retry": {"attempts": 5, "backoff": "1s"}});
    for r in replicas {
        let sent =
            http.post(format!("{}/api/v1/jobs", r.url)).bearer_auth(token).json(&spec).send().await;
        if let Ok(resp) = sent
            && let Ok(v) = resp.json::<serde_json::Value>().await
            && let Some(id) = v["id"].as_str()
        {
            return Some(id.to_owned());
        }
    }
    None
}

fn kill(r: &mut Replica) {
    let _ = r.child.kill(); // SIGKILL
    let _ = r.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_killed_fifty_times_leave_no_pod_no_lost_job_and_the_bill_agrees() {
    let Some(db) = podwarden_store::testing::fresh_postgres().await else { return };
    let emu = emulator().await;
    let http = reqwest::Client::new();
    let mut replicas: Vec<Replica> = (0..3)
        .map(|_| start_replica(tempfile::tempdir().expect("home"), free_port(), &db, &emu))
        .collect();

    // Nine users, each on their own RunPod account; the admin's jobs are the operator's.
    let mut tokens = vec![ADMIN_TOKEN.to_owned()];
    for i in 0..USERS {
        let u = http
            .post(format!("{}/api/v1/users", replicas[i % 3].url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"name": format!("user{i}")}))
            .send()
            .await
            .expect("user");
        assert_eq!(u.status().as_u16(), 201);
        let u: serde_json::Value = u.json().await.expect("json");
        let token = u["token"].as_str().expect("token").to_owned();
        let saved = http
            .post(format!("{}/api/v1/settings/runpod-key", replicas[(i + 1) % 3].url))
            .bearer_auth(&token)
            .json(&serde_json::json!({"api_key": user_key(i)}))
            .send()
            .await
            .expect("key");
        assert!(saved.status().is_success(), "user {i}'s key: {}", saved.status());
        tokens.push(token);
    }

    let store = podwarden_store::Store::open_postgres(&db).await.expect("db");
    let install = store.install_id().await.expect("install");
    let mut rng = StdRng::seed_from_u64(15);
    let mut jobs = Vec::new();
    let mut holders_killed = 0;
    for kill_no in 0..50 {
        // Three jobs every five kills, one per account in turn: 30 jobs on 10 accounts.
        if kill_no % 5 == 0 {
            for k in 0..3 {
                let n = jobs.len();
                let token = &tokens[n % tokens.len()];
                let cmd = format!("sleep {}; exit 0", 1 + (n + k) % 3);
                if let Some(j) = submit(&http, &replicas, token, &format!("job-{n}"), &cmd).await {
                    jobs.push(j);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..500))).await;
        // Every other kill takes out the replica holding some account's lease, on purpose.
        let holder = if kill_no % 2 == 0 {
            let leases = store.leases().await.expect("leases");
            let pids: Vec<String> = leases
                .iter()
                .filter(|l| l.expires_at > 0)
                .filter_map(|l| l.holder.split('-').rev().nth(1).map(str::to_owned))
                .collect();
            replicas.iter().position(|r| pids.contains(&r.child.id().to_string()))
        } else {
            None
        };
        holders_killed += usize::from(holder.is_some());
        let victim = holder.unwrap_or_else(|| rng.random_range(0..replicas.len()));
        let mut dead = replicas.remove(victim);
        kill(&mut dead);
        replicas.insert(victim, start_replica(dead.home, dead.port, &db, &emu));
    }
    assert_eq!(jobs.len(), 30, "every submission landed on some replica");

    settle_all(&emu, &store, &install, &jobs).await;
    let mut accounts = std::collections::BTreeSet::new();
    for j in &jobs {
        let row =
            store.job_get(j.parse().expect("a job id")).await.expect("db").expect("no job lost");
        assert_eq!(row.state, JobState::Succeeded, "job {j}: {:?}", row.reason);
        accounts.insert(row.account);
    }
    assert_eq!(accounts.len(), 10, "the jobs ran on ten accounts: {accounts:?}");
    check_invariants(&emu, &store, &install).await.expect("invariants");
    assert_eq!(our_live_pods(&emu, &install), 0, "pods left behind");
    assert_eq!(duplicate_pods(&emu, &install), Vec::<String>::new(), "pods made twice");
    assert_costs_agree(&emu, &store).await;
    assert!(holders_killed >= 15, "leaseholders were killed on purpose: {holders_killed}");
    for mut r in replicas {
        kill(&mut r);
    }
}
