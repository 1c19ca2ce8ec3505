//! Multi-node jobs (`nodes = N`): N pods of one offer in one data center on the account's
//! global network, launched all or none, each told its rank and rank 0's private address; the
//! job runs once all have booted, succeeds once every node exited 0, fails (and tears every
//! node down) at the first node that exits non-zero, and is launched again whole when a node is
//! lost. Costs cover every node.

use podwarden_core::JobId;
use podwarden_core::Money;
use podwarden_core::spec::JobSpec;
use podwarden_core::state::{AttemptState, JobState};
use podwarden_engine::{Engine, RunPodProvider};
use runpod::types::pods::PodStatus;
use runpod_emulator::RunningEmulator;
use runpod_emulator::config::Stock;
use runpod_emulator::faults::PodFaults;
use runpod_emulator::world::pods::PodRecord;
use std::time::Duration;

fn spec(extra: &str) -> JobSpec {
    JobSpec::from_toml(
        "job.toml",
        &format!(
            "name = \"ddp\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 3600\"\nnodes = 3\n{extra}[gpu]\nmin_vram_gb = 16\n[retry]\nattempts = 3\nbackoff = \"10s\"\n"
        ),
    )
    .expect("spec")
}

async fn state(e: &Engine<RunPodProvider>, job: JobId) -> JobState {
    e.store().job_get(job).await.expect("get").expect("job").phase().expect("phase").state
}

/// The emulator's pods not terminated, by node rank (created in one emulated instant).
fn live_pods(emu: &RunningEmulator) -> Vec<PodRecord> {
    let w = emu.shared.world.lock();
    let mut pods: Vec<_> =
        w.pods.values().filter(|p| p.status != PodStatus::Terminated).cloned().collect();
    pods.sort_by_key(|p| p.env.get("PODWARDEN_NODE_RANK").cloned());
    pods
}

/// Ticks, 5 emulated seconds apart, until the job is in `want` (at most 60 ticks).
async fn until(emu: &RunningEmulator, e: &Engine<RunPodProvider>, job: JobId, want: JobState) {
    for _ in 0..60 {
        e.tick().await.expect("tick");
        if state(e, job).await == want {
            return;
        }
        emu.advance(Duration::from_secs(5));
    }
    panic!("job never reached {want}: {:?}", state(e, job).await);
}

async fn setup(faults: PodFaults) -> (RunningEmulator, Engine<RunPodProvider>) {
    podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        c.pods.stop_grace_ms = 0;
        c.faults.pods = faults;
    })
    .await
}

/// The emulator with room for one RTX A4000 (in US-TX-3, Secure) and the usual rest.
async fn one_a4000() -> (RunningEmulator, Engine<RunPodProvider>) {
    podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        let a4000 = c.gpus.iter_mut().find(|g| g.id == "NVIDIA RTX A4000").expect("A4000");
        a4000.stock = [("US-TX-3".to_owned(), Stock { secure: 1, community: 0 })].into();
    })
    .await
}

/// Each node's pod: its rank, the node count, rank 0's private name and port; one data center;
/// global networking. Rank 0 is told no address (its wrapper uses its own name).
fn assert_nodes_told(pods: &[PodRecord]) {
    assert_eq!(pods.len(), 3, "{pods:?}");
    let master = format!("{}.runpod.internal", pods[0].id);
    for (rank, p) in pods.iter().enumerate() {
        assert!(p.global_networking, "node {rank} is on the global network");
        assert_eq!(p.data_center, pods[0].data_center, "one data center");
        assert_eq!(p.gpu, pods[0].gpu, "one GPU type and count");
        assert_eq!(p.env["PODWARDEN_NODE_RANK"], rank.to_string());
        assert_eq!(p.env["PODWARDEN_NUM_NODES"], "3");
        assert_eq!(p.env["PODWARDEN_MASTER_PORT"], "29500");
        assert_eq!(p.env.get("PODWARDEN_MASTER_ADDR"), (rank > 0).then_some(&master));
    }
}

#[tokio::test]
async fn three_nodes_start_together_and_the_first_failing_node_ends_the_job() {
    let (emu, e) = setup(PodFaults::default()).await;
    let sub = e.submit(spec(""), "local").await.expect("submit");
    let job = sub.job;
    e.tick().await.expect("launch");
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(attempts.iter().map(|a| a.node).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(attempts.iter().all(|a| a.state == AttemptState::Created), "{attempts:?}");
    assert_nodes_told(&live_pods(&emu));
    assert_eq!(state(&e, job).await, JobState::Provisioning);
    until(&emu, &e, job, JobState::Running).await;

    // Two nodes done: the job runs on (its third node still works).
    e.report_exit(job, &sub.token, 0, Some(1), None).await.expect("node 1");
    e.report_exit(job, &sub.token, 0, Some(0), None).await.expect("node 0");
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Running);
    assert_eq!(e.store().job_get(job).await.expect("get").expect("job").exit_code, None);
    // The third fails: the job fails, and every node goes.
    e.report_exit(job, &sub.token, 3, Some(2), None).await.expect("node 2");
    for _ in 0..20 {
        if state(&e, job).await.is_final() {
            break;
        }
        e.tick().await.expect("tick");
        emu.advance(Duration::from_secs(1));
    }
    let j = e.store().job_get(job).await.expect("get").expect("job");
    assert_eq!(state(&e, job).await, JobState::Failed, "{:?}", j.reason);
    assert!(j.reason.as_deref().is_some_and(|r| r.contains("code 3")), "{:?}", j.reason);
    assert!(live_pods(&emu).is_empty(), "no node left billing: {:?}", live_pods(&emu));
    let events = e.store().events_since(job, 0, 1000).await.expect("events");
    assert!(
        events.iter().any(|ev| ev.message.contains("node 2: the command exited with code 3")),
        "the failing node is named: {events:?}"
    );

    // Every node was paid for; the job's spend is their sum, and RunPod's bill agrees.
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert!(attempts.iter().all(|a| a.cost > Money(0)), "{attempts:?}");
    let spent = e.store().job_get(job).await.expect("get").expect("job").spent;
    assert_eq!(spent, attempts.iter().map(|a| a.cost).sum::<Money>());
    let billed = podwarden_test_utils::engine::pods_billed(&emu);
    assert!((spent.usd() - billed).abs() < 0.01, "ours {spent} vs RunPod's bill {billed} $");
}

#[tokio::test]
async fn a_lost_node_relaunches_every_node_and_success_needs_all_of_them() {
    // The first pod created (node 0) loses its host a minute after it boots.
    let faults =
        PodFaults { boot_hang: false, preempt_after_secs: Some(60.0), preempt_pods: Some(1) };
    let (emu, e) = setup(faults).await;
    let sub = e.submit(spec(""), "local").await.expect("submit");
    let job = sub.job;
    until(&emu, &e, job, JobState::Running).await;
    let first: Vec<String> = live_pods(&emu).into_iter().map(|p| p.id).collect();
    emu.advance(Duration::from_secs(60));
    e.tick().await.expect("the loss is seen");
    assert_eq!(state(&e, job).await, JobState::Recovering);
    // The two nodes left go before the job is launched again, all three together.
    until(&emu, &e, job, JobState::Running).await;
    let pods = live_pods(&emu);
    assert!(pods.iter().all(|p| !first.contains(&p.id)), "none of the first launch is left");
    assert_nodes_told(&pods);
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(attempts.len(), 6, "{attempts:?}");
    assert!(attempts[..3].iter().all(|a| a.state == AttemptState::Terminated), "{attempts:?}");

    // The first launch's nodes, still reporting as they go, are not taken for the second's.
    for a in &attempts[..3] {
        e.report_exit(job, &sub.token, 0, Some(a.node), Some(Some(a.id))).await.expect("stale");
    }
    e.tick().await.expect("tick");
    assert_eq!(state(&e, job).await, JobState::Running, "no node of this launch has exited");
    for a in &attempts[3..] {
        assert_eq!(state(&e, job).await, JobState::Running, "before node {}'s exit", a.node);
        e.report_exit(job, &sub.token, 0, Some(a.node), Some(Some(a.id))).await.expect("exit");
        e.tick().await.expect("tick");
    }
    until(&emu, &e, job, JobState::Succeeded).await;
    assert!(live_pods(&emu).is_empty());
}

#[tokio::test]
async fn a_data_center_with_room_for_fewer_nodes_gets_none_of_them() {
    // The cheapest offer fits one pod, not three.
    let (emu, e) = one_a4000().await;
    let s = spec("cloud = \"secure\"\n");
    let sub = e.submit(s, "local").await.expect("submit");
    let job = sub.job;
    until(&emu, &e, job, JobState::Running).await;
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    let (lost, placed): (Vec<_>, Vec<_>) =
        attempts.iter().partition(|a| a.gpu_type == "NVIDIA RTX A4000");
    assert_eq!(lost.len(), 3, "{attempts:?}");
    assert!(lost.iter().all(|a| !a.state.holds_pod() || a.state == AttemptState::Terminating));
    assert!(lost[0].pod_id.is_some(), "node 0 was placed, then terminated");
    let pods = live_pods(&emu);
    assert_nodes_told(&pods);
    assert!(pods.iter().all(|p| p.gpu.as_ref().is_some_and(|g| g.0 != "NVIDIA RTX A4000")));
    assert_eq!(placed.len(), 3, "{attempts:?}");
}

/// Each node: rank 0 listens on `PODWARDEN_MASTER_PORT` and prints whom it met; the others
/// connect to `PODWARDEN_MASTER_ADDR` (rank 0's private name, resolved in the pod) and say
/// their rank — torchrun's rendezvous, in miniature.
const MEET_PY: &str = r#"import os, socket, time
rank, n = int(os.environ["PODWARDEN_NODE_RANK"]), int(os.environ["PODWARDEN_NUM_NODES"])
addr, port = os.environ["PODWARDEN_MASTER_ADDR"], int(os.environ["PODWARDEN_MASTER_PORT"])
if rank == 0:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen()
    met = []
    while len(met) < n - 1:
        c, _ = s.accept()
        met.append(c.recv(64).decode())
        c.close()
    print("rank 0 at", addr, "met", sorted(met), flush=True)
else:
    for _ in range(600):
        try:
            c = socket.create_connection((addr, port), timeout=2)
            break
        except OSError as e:
            err = e
            time.sleep(0.1)
    else:
        raise SystemExit(f"rank {rank} never reached {addr}:{port}: {err}")
    c.sendall(f"rank {rank}".encode())
    c.close()
    print("rank", rank, "reached", addr, flush=True)
"#;

#[tokio::test]
async fn the_nodes_meet_at_rank_0s_private_address() {
    let (emu, e) = setup(PodFaults::default()).await;
    let mut s = JobSpec::with_args(
        "meet",
        "python:3.11-slim",
        vec!["python3".into(), "-c".into(), MEET_PY.into()],
    );
    s.nodes = 3;
    s.gpu.min_vram_gb = Some(16);
    let job = e.submit(s, "local").await.expect("submit").job;
    until(&emu, &e, job, JobState::Running).await;
    let pods = live_pods(&emu);
    let master = format!("{}.runpod.internal", pods[0].id);
    // The containers run on the host's real time: poll their logs (bounded).
    let deadline = tokio::time::Instant::now() + podwarden_test_utils::emulator::LIMIT;
    loop {
        let logs: Vec<Vec<String>> = pods.iter().map(|p| p.logs.text()).collect();
        let said = |rank: usize, what: &str| logs[rank].iter().any(|l| l.contains(what));
        if said(0, &format!("rank 0 at {master} met ['rank 1', 'rank 2']"))
            && said(1, &format!("rank 1 reached {master}"))
            && said(2, &format!("rank 2 reached {master}"))
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the nodes never met: {logs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Global networking is in some data centers only (the catalog's `globalNetwork`): a multi-node
/// job is placed among them, never tried elsewhere, and waits, saying so, when none has its GPU.
#[tokio::test]
async fn nodes_are_placed_only_where_the_data_center_has_global_networking() {
    let (emu, e) = setup(PodFaults::default()).await;
    // The RTX 3090 is stocked in EU-RO-1 only, which has no global networking.
    let preferred = "[gpu]\ntypes = [\"NVIDIA GeForce RTX 3090\", \"NVIDIA RTX A5000\"]\n";
    let s = JobSpec::from_toml(
        "job.toml",
        &format!("name = \"ddp\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 3600\"\nnodes = 2\n{preferred}"),
    )
    .expect("spec");
    let job = e.submit(s, "local").await.expect("submit").job;
    until(&emu, &e, job, JobState::Running).await;
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert!(attempts.iter().all(|a| a.gpu_type == "NVIDIA RTX A5000"), "{attempts:?}");
    assert!(attempts.iter().all(|a| a.data_center.as_deref() == Some("US-TX-3")), "{attempts:?}");

    // Only the 3090 allowed: nothing is created, and the job says why.
    let only =
        "[gpu]\ntypes = [\"NVIDIA GeForce RTX 3090\"]\n[retry]\nallow_other_gpu_types = false\n";
    let s = JobSpec::from_toml(
        "job.toml",
        &format!("name = \"ddp\"\nimage = \"python:3.11-slim\"\ncommand = \"sleep 3600\"\nnodes = 2\n{only}"),
    )
    .expect("spec");
    let job = e.submit(s, "local").await.expect("submit").job;
    e.tick().await.expect("tick");
    assert!(e.store().attempts_for_job(job).await.expect("attempts").is_empty());
    let j = e.store().job_get(job).await.expect("get").expect("job");
    assert!(j.reason.as_deref().is_some_and(|r| r.contains("global networking")), "{:?}", j.reason);
}

/// The account's spend limit is checked for every node together: a limit with room for one
/// pod but not three starts none (no pods made and ended over and over), and the job says why.
#[tokio::test]
async fn the_spend_limit_is_checked_for_all_nodes_at_once() {
    let (emu, e) = setup(PodFaults::default()).await;
    // An RTX A4000 is $0.17/h (Community) or $0.25/h: one fits under $0.40/h, three do not.
    emu.shared.with_world(|w, _| w.main_account_mut().spend_limit = 0.40);
    let mut s = spec("");
    s.gpu.types = vec!["NVIDIA RTX A4000".into()];
    s.retry.allow_other_gpu_types = false;
    let job = e.submit(s, "local").await.expect("submit").job;
    e.tick().await.expect("tick");
    let j = e.store().job_get(job).await.expect("get").expect("job");
    let attempts = e.store().attempts_for_job(job).await.expect("attempts");
    assert!(attempts.is_empty(), "{attempts:?} {:?}", j.reason);
    assert!(live_pods(&emu).is_empty());
    assert!(j.reason.as_deref().is_some_and(|r| r.contains("spend limit")), "{:?}", j.reason);
}

/// A data center with room for fewer than all nodes is followed by the same offer in the next
/// data center with global networking, not by a dearer offer.
#[tokio::test]
async fn the_same_offer_is_tried_in_the_next_data_center_before_the_next_offer() {
    let (emu, e) = podwarden_test_utils::engine::setup(|c| {
        c.pods.provisioning_secs = 10.0;
        c.pods.starting_secs = 20.0;
        c.data_centers.push(runpod_emulator::config::DataCenterConfig {
            global_network: true,
            ..runpod_emulator::config::DataCenterConfig::new("US-KS-2", "Kansas 2", "NORTH_AMERICA")
        });
        let a4000 = c.gpus.iter_mut().find(|g| g.id == "NVIDIA RTX A4000").expect("A4000");
        a4000.stock = [
            ("US-TX-3".to_owned(), Stock { secure: 1, community: 0 }),
            ("US-KS-2".to_owned(), Stock { secure: 3, community: 0 }),
        ]
        .into();
    })
    .await;
    let job = e.submit(spec("cloud = \"secure\"\n"), "local").await.expect("submit").job;
    until(&emu, &e, job, JobState::Running).await;
    let pods = live_pods(&emu);
    assert_nodes_told(&pods);
    assert!(
        pods.iter().all(|p| p.data_center == "US-KS-2"
            && p.gpu.as_ref().is_some_and(|g| g.0 == "NVIDIA RTX A4000")),
        "{pods:?}"
    );
}

/// A group that keeps half-placing (room for one node of two) pays for the node it makes each
/// time: those launches count, so the job runs out of retries instead of queueing forever.
#[tokio::test]
async fn a_group_that_keeps_half_placing_runs_out_of_retries() {
    let (emu, e) = one_a4000().await;
    let mut s = spec("cloud = \"secure\"\n");
    s.nodes = 2;
    s.gpu.types = vec!["NVIDIA RTX A4000".into()];
    s.retry.allow_other_gpu_types = false;
    let job = e.submit(s, "local").await.expect("submit").job;
    for _ in 0..40 {
        e.tick().await.expect("tick");
        if state(&e, job).await.is_final() {
            break;
        }
        emu.advance(Duration::from_secs(30));
    }
    let j = e.store().job_get(job).await.expect("get").expect("job");
    assert_eq!(j.state, JobState::Failed, "{:?}", j.reason);
    assert_eq!(j.attempts_made, 3, "each half-placed launch counted");
    let made = e.store().attempts_for_job(job).await.expect("attempts");
    assert_eq!(made.iter().filter(|a| a.pod_id.is_some()).count(), 3, "{made:?}");
    assert!(live_pods(&emu).is_empty());
}
