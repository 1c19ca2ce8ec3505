//! Crash test: the server runs as a child process against a standalone emulator; it is killed
//! at every step of the launch saga and of teardown (a failpoint aborts it), and at random
//! moments under a stream of jobs, then restarted. After each restart: every emulator pod with
//! our prefix belongs to a live attempt or gets terminated, no job ever has two running pods
//! for one node (multi-node jobs are in both: the saga's points and the stream),
//! no job is lost, every job settles, and costs agree with the emulator's billing to the cent.
//! The same stream runs on AWS (moto behind the test's EC2 stand): no instance is left running,
//! none is launched twice, and the ledger is the price table's figure for what ran.

mod common;

use common::fleet::{assert_costs_agree, check_invariants, our_live_pods, settle_all};
use common::{Reaped, free_port};
use podwarden_api::types::JobState;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use runpod_emulator::world::ledger::Kind;
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator, start};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Server {
    /// Killed when dropped, also when the test fails part-way.
    child: Reaped,
    url: String,
    token: String,
}

fn start_server(home: &Path, port: u16, emu: &RunningEmulator, crash_at: Option<&str>) -> Server {
    start_server_with(home, port, emu, crash_at, &[])
}

fn start_server_with(
    home: &Path,
    port: u16,
    emu: &RunningEmulator,
    crash_at: Option<&str>,
    env: &[(&str, &str)],
) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_podwarden"))
        .args(["serve", "--port", &port.to_string()])
        .envs(env.iter().copied())
        .env("PODWARDEN_HOME", home)
        .env("RUNPOD_API_KEY", emu.api_key().expose())
        .env("RUNPOD_REST_URL", emu.base_url())
        .env("RUNPOD_ENDPOINT_BASE_URL", emu.endpoint_base_url())
        .env("PODWARDEN_TICK_MS", "100")
        .env("PODWARDEN_INTENT_GRACE_MS", "1500")
        .env("PODWARDEN_CRASH_AT", crash_at.unwrap_or(""))
        // Real-provider mode needs the key-encryption secret.
        .env("PODWARDEN_SECRET_KEY", "crash-test-secret-0123456789abcdefghij")
        // Real-provider mode wants a public URL pods can reach; `none` (exits from the pods' logs)
        // is the honest setting for local pods of a standalone emulator.
        .env("PODWARDEN_PUBLIC_URL", "none")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut first).expect("first line");
    assert!(first.starts_with("podwarden server on http://"), "unexpected: {first:?}");
    let url = first.split_whitespace().nth(3).expect("url").to_owned();
    let token = std::fs::read_to_string(home.join("token")).expect("token").trim().to_owned();
    Server { child: Reaped(child), url, token }
}

async fn emulator() -> RunningEmulator {
    let mut c = EmulatorConfig::default();
    c.pods.provisioning_secs = 0.2;
    c.pods.starting_secs = 0.2;
    c.pods.restart_delay_secs = 0.5;
    c.tick_ms = 50;
    // The server ticks every 100 ms instead of 2 s: RunPod's budgets compressed alike.
    c.rate_limits = runpod_emulator::ratelimit::RateLimitConfig::scaled(20);
    // Time here runs 20-100x compressed and bills are read right away: they show live. The
    // billing lag is tested on the manual clock (emulator `pods::spend_shows_*`, engine
    // `a_bill_is_booked_only_once_it_settles_*`).
    c.billing = runpod_emulator::config::BillingConfig::live();
    start(c, Options::default()).await.expect("emulator")
}

/// A job on `nodes` pods (a multi-node job when more than 1).
async fn submit_nodes(
    http: &reqwest::Client,
    s: &Server,
    name: &str,
    cmd: &str,
    nodes: u32,
) -> Option<String> {
    let spec = serde_json::json!({"name": name, "image": "python:3.11-slim", "command": cmd, "gpu": {"min_vram_gb": 16}, "retry": {"attempts": 5, "backoff": "1s"}, "nodes": nodes});
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .ok()?;
    let v: serde_json::Value = r.json().await.ok()?;
    v["id"].as_str().map(str::to_owned)
}

fn kill(s: &mut Server) {
    let _ = s.child.kill();
    let _ = s.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_step_of_the_saga_and_of_teardown_nothing_leaks() {
    let emu = emulator().await;
    let http = reqwest::Client::new();
    // The points the engine's own saga tests inject in-process, here as a real abort.
    use podwarden_engine::sagas::steps::{POD_LAUNCH, POD_TEARDOWN};
    for point in POD_LAUNCH.points().into_iter().chain(POD_TEARDOWN.points()) {
        let step = point.as_str();
        let home = tempfile::tempdir().expect("home");
        let port = free_port();
        let mut s = start_server(home.path(), port, &emu, Some(step));
        // Two nodes: a crash between their creates leaves half a group to heal. The launch
        // runs beside the submit's answer, so the failpoint may end the server before that
        // answer is sent (`None`): the job is found in the database below all the same.
        let answered = submit_nodes(&http, &s, "crash", "sleep 1; exit 0", 2).await;
        // The failpoint aborts the server at `step`.
        let status = tokio::task::spawn_blocking(move || {
            let st = s.child.wait();
            (s, st)
        })
        .await
        .expect("join");
        let (_dead, st) = status;
        assert!(!st.expect("wait").success(), "{step}: the server died at its failpoint");
        let mut s = start_server(home.path(), port, &emu, None);
        let db = podwarden_store::Store::open_sqlite(&home.path().join("podwarden.db"))
            .await
            .expect("db");
        let install = db.install_id().await.expect("install");
        let job = match answered {
            Some(j) => j,
            None => {
                let mut stored = Vec::new();
                for u in db.users().await.expect("users") {
                    stored.extend(db.job_list_of(&u.id, 10).await.expect("jobs"));
                }
                assert_eq!(stored.len(), 1, "{step}: the unanswered submit stored its job");
                stored[0].id.to_string()
            }
        };
        settle_all(&emu, &db, &install, std::slice::from_ref(&job)).await;
        let row = db.job_get(job.parse().expect("a job id")).await.expect("db").expect("job");
        assert_eq!(row.state, JobState::Succeeded, "{step}: {:?}", row.reason);
        check_invariants(&emu, &db, &install).await.unwrap_or_else(|e| panic!("{step}: {e}"));
        assert_eq!(our_live_pods(&emu, &install), 0, "{step}: pods left behind");
        assert_costs_agree(&emu, &db).await;
        kill(&mut s);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_under_a_stream_of_jobs() {
    let emu = emulator().await;
    let http = reqwest::Client::new();
    let home = tempfile::tempdir().expect("home");
    let port = free_port();
    let mut rng = StdRng::seed_from_u64(42);
    let mut jobs = Vec::new();
    let mut s = start_server(home.path(), port, &emu, None);
    for round in 0..20 {
        for i in 0..3 {
            // Every third job runs on two nodes.
            if let Some(j) = submit_nodes(
                &http,
                &s,
                &format!("stream-{round}-{i}"),
                &format!("sleep {}; exit 0", 1 + (i % 2)),
                if i == 2 { 2 } else { 1 },
            )
            .await
            {
                jobs.push(j);
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
        kill(&mut s);
        s = start_server(home.path(), port, &emu, None);
    }
    let db =
        podwarden_store::Store::open_sqlite(&home.path().join("podwarden.db")).await.expect("db");
    let install = db.install_id().await.expect("install");
    assert!(jobs.len() >= 50, "most submissions landed: {}", jobs.len());
    settle_all(&emu, &db, &install, &jobs).await;
    for j in &jobs {
        let row = db.job_get(j.parse().expect("a job id")).await.expect("db").expect("no job lost");
        assert_eq!(row.state, JobState::Succeeded, "job {j}: {:?}", row.reason);
    }
    assert_eq!(our_live_pods(&emu, &install), 0, "pods left behind");
    assert_costs_agree(&emu, &db).await;
    // Reconciled with the provider's billing API, the ledger is the bill, to the micro-dollar
    // per pod (each pod's bill rounds to a micro-dollar once).
    let r: serde_json::Value = http
        .post(format!("{}/api/v1/cost/reconcile", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("reconcile")
        .json()
        .await
        .expect("json");
    let checked = r["checked_now"].as_u64().expect("checked");
    assert!(checked >= jobs.len() as u64, "every settled pod was checked: {r}");
    let ours: podwarden_core::Money =
        db.cost_rows().await.expect("rows").iter().map(|r| r.amount).sum();
    let theirs: f64 = {
        let w = emu.shared.world.lock();
        w.pods.keys().map(|id| w.ledger.total_for(Kind::Pod, id)).sum()
    };
    assert!(
        (ours.usd() - theirs).abs() <= 1e-6 * checked as f64 + 1e-9,
        "after reconciliation: {ours:?} vs the bill {theirs} $"
    );
    kill(&mut s);
}

/// The random-kill stream on AWS: the server (a child process, its AWS at the stand) is killed
/// at random moments while AWS jobs launch, run and end, and restarted. Exits reach it through
/// the instances' consoles when it was down for their callbacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_under_a_stream_of_aws_jobs() {
    use podwarden_test_utils::aws::Ec2Stand;
    let Some(stand) = Ec2Stand::start().await else { return };
    let emu = emulator().await;
    let http = reqwest::Client::new();
    let home = tempfile::tempdir().expect("home");
    let port = free_port();
    stand.boot_hosts(&[port]).await;
    let env = [
        ("PODWARDEN_AWS", "on"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", stand.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "AKIDPODWARDENTEST"),
        ("AWS_SECRET_ACCESS_KEY", "moto-accepts-any-secret"),
        ("PODWARDEN_AWS_AMI", "ami-12c6146b"),
        ("PODWARDEN_DEFAULT_PROVIDER", "aws"),
    ];
    let spec = |name: String, secs: u32| {
        serde_json::json!({"name": name, "image": "python:3.11-slim", "command": format!("sleep {secs}; exit 0"),
            "gpu": {"types": ["g4dn.xlarge", "g5.xlarge"]}, "retry": {"attempts": 5, "backoff": "1s"}})
    };
    let mut rng = StdRng::seed_from_u64(7);
    let mut jobs = Vec::new();
    let mut s = start_server_with(home.path(), port, &emu, None, &env);
    for round in 0..10 {
        for i in 0..3 {
            let r = http
                .post(format!("{}/api/v1/jobs", s.url))
                .bearer_auth(&s.token)
                .json(&spec(format!("aws-{round}-{i}"), 1 + (i % 2)))
                .send()
                .await;
            if let Ok(r) = r {
                if let Some(id) = r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                {
                    jobs.push(id);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..1500))).await;
        kill(&mut s);
        s = start_server_with(home.path(), port, &emu, None, &env);
    }
    let db =
        podwarden_store::Store::open_sqlite(&home.path().join("podwarden.db")).await.expect("db");
    let install = db.install_id().await.expect("install");
    assert!(jobs.len() >= 25, "most submissions landed: {}", jobs.len());
    let ids: Vec<podwarden_core::JobId> = jobs.iter().map(|j| j.parse().expect("id")).collect();
    // Three minutes: a liveness bound for restarted servers' passes, not a timing claim.
    for _ in 0..1800 {
        let mut all_final = true;
        for &j in &ids {
            let row =
                db.job_get(j).await.expect("db").unwrap_or_else(|| panic!("job {j} was lost"));
            all_final &= row.phase().expect("phase").state.is_final();
        }
        if all_final {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut expected = podwarden_core::Money::ZERO;
    let mut rows = 0;
    let ledger = db.cost_rows().await.expect("rows");
    for &j in &ids {
        let row = db.job_get(j).await.expect("db").expect("no job lost");
        let attempts = db.attempts_for_job(j).await.expect("attempts");
        let booted: Vec<_> =
            attempts.iter().filter_map(|a| a.pod_id.as_deref()).map(|i| stand.booted(i)).collect();
        assert_eq!(
            row.state,
            JobState::Succeeded,
            "job {j}: {:?}; attempts {attempts:?}; booted {booted:?}",
            row.reason
        );
        for a in attempts {
            if a.pod_id.is_none() {
                continue;
            }
            assert_eq!(a.cloud, "aws");
            let ended = a.ended_at.expect("every instance's attempt ended");
            // The price table's figure for the instance's life as podwarden saw it, EC2's
            // minute at least.
            let price = podwarden_engine::aws_provider::PriceTable::shipped("us-east-1")
                .and_then(|t| t.hourly(&a.gpu_type))
                .expect("priced");
            expected += price.per_hour_for_millis((ended - a.created_at).max(60_000));
            rows += ledger.iter().filter(|r| r.attempt_id == a.id.to_string()).count();
        }
    }
    let instances =
        stand.direct().instances_tagged("podwarden:install", &install).await.expect("listed");
    let running: Vec<_> = instances.iter().filter(|i| !i.is_ending()).map(|i| &i.id).collect();
    assert!(running.is_empty(), "instances left running: {running:?}");
    let mut names: Vec<&str> = instances.iter().filter_map(|i| i.tag("Name")).collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "an attempt's instance was launched twice");
    let ours: podwarden_core::Money = ledger.iter().map(|r| r.amount).sum();
    // Each ledger row rounds to the micro-dollar once.
    assert!(
        (ours.0 - expected.0).abs() <= rows as i64,
        "the ledger says {ours}, the price table {expected} for the instances' lifetimes"
    );
    kill(&mut s);
}
