//! Pods through the `runpod` client: lifecycle, logs, billing, capacity, credit, scoped keys,
//! preemption and boot hangs, on a manual clock.

use podwarden_test_utils::emulator as common;

use common::{LIMIT, assert_contract, emu, emu_with};
use futures::StreamExt;
use runpod::types::billing::BillingQuery;
use runpod::types::catalog::{AvailabilityLevel, GpuCatalogQuery};
use runpod::types::logs::LogsQuery;
use runpod::types::network_volumes::{CreateNetworkVolumeRequest, UpdateNetworkVolumeRequest};
use runpod::types::pods::{
    CreateGpuConfig, CreatePodRequest, Mounts, NetworkMount, PodAction, PodStatus, UpdatePodRequest,
};
use runpod::types::problem::{
    INSUFFICIENT_BALANCE_DETAIL, NO_CAPACITY_DETAIL, NOT_ENOUGH_FREE_GPUS_DETAIL,
    VOLUME_SECURE_ONLY_DETAIL,
};
use runpod::types::templates::CreateTemplateRequest;
use runpod::{ApiKey, Client, ErrorKind, GpuTypeId, NetworkVolumeId, PodId};
use runpod_emulator::faults::{FaultConfig, PodFaults};
use std::time::Duration;

const RTX4090: &str = "NVIDIA GeForce RTX 4090";

fn pod(name: &str, gpu: &str, args: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: Some("runpod/pytorch:test".into()),
        args: Some(args.into()),
        disk: Some(10),
        gpu: Some(CreateGpuConfig {
            id: GpuTypeId::new(gpu),
            count: Some(1),
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    }
}

/// With a 10 GB pod volume at /workspace.
fn with_volume(mut p: CreatePodRequest) -> CreatePodRequest {
    p.mounts = Some(Mounts {
        persistent: Some(runpod::types::pods::PersistentMount {
            size: 10,
            path: "/workspace".into(),
        }),
        network: None,
    });
    p
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn wait_exited(emu: &runpod_emulator::RunningEmulator, id: &PodId, restarts: u32) {
    emu.wait_for("the container to exit", LIMIT, |w| {
        let c = &w.pods[id.as_str()].container;
        (!c.running && c.exited_at.is_some() && c.restarts == restarts).then_some(())
    })
    .await
    .expect("container exits");
}

#[tokio::test]
async fn pod_lifecycle_boots_runs_restarts_stops_starts_and_terminates() {
    let emu = emu().await;
    let c = emu.client();
    let p = c
        .create_pod(&pod("train", RTX4090, "sh -c 'echo hello; echo world'"))
        .await
        .expect("create");
    assert_eq!(p.status, PodStatus::Provisioning);
    assert!(p.cost > 0.69, "a provisioning pod bills: {}", p.cost);
    assert!(c.list_pods().await.expect("list").iter().any(|x| x.id == p.id));

    emu.advance(secs(10));
    assert_eq!(c.get_pod(&p.id).await.expect("get").status, PodStatus::Starting);
    emu.advance(secs(20));
    let running = c.get_pod(&p.id).await.expect("get");
    assert_eq!(running.status, PodStatus::Running);
    assert!(running.runtime.is_some() && running.started_at.is_some());

    // The command finishes, but the pod keeps RUNNING (and billing) and the container restarts.
    wait_exited(&emu, &p.id, 0).await;
    assert_eq!(c.get_pod(&p.id).await.expect("get").status, PodStatus::Running);
    emu.advance(secs(5));
    wait_exited(&emu, &p.id, 1).await;
    let text = emu.shared.world.lock().pods[p.id.as_str()].logs.text().join("\n");
    assert_eq!(text.matches("world").count(), 2, "ran twice:\n{text}");

    let stopped = c.pod_action(&p.id, PodAction::Stop).await.expect("stop").expect("pod");
    assert_eq!((stopped.status, stopped.cost), (PodStatus::Exited, 0.0));
    assert_eq!(stopped.actions, vec![PodAction::Start, PodAction::Terminate]);
    let started = c.pod_action(&p.id, PodAction::Start).await.expect("start").expect("pod");
    assert_eq!(started.status, PodStatus::Starting);
    emu.advance(secs(20));
    assert_eq!(c.get_pod(&p.id).await.expect("get").status, PodStatus::Running);

    c.delete_pod(&p.id).await.expect("terminate");
    let gone = c.get_pod(&p.id).await.expect_err("terminated pods are gone");
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert!(c.list_pods().await.expect("list").is_empty());
    assert_eq!(c.delete_pod(&p.id).await.expect_err("twice").kind(), ErrorKind::NotFound);
    let checked = assert_contract(&emu);
    // Without the pinned spec (a clone without ../shared, outside CI) nothing can be checked.
    if common::spec().is_some() {
        assert!(checked > 5, "checked {checked}");
    }
}

#[tokio::test]
async fn billing_is_per_second_from_the_price_pinned_at_create() {
    let emu = emu().await;
    let c = emu.client();
    let p = c.create_pod(&pod("bill", RTX4090, "")).await.expect("create");
    // 10 + 20 s booting, then 3570 s running: one hour of compute and disk.
    emu.advance(secs(10));
    emu.advance(secs(20));
    emu.advance(secs(3570));
    let rate = 0.69 + 10.0 * 0.10 / 730.0;
    let bill = c
        .pod_billing(&BillingQuery {
            pod_id: Some(p.id.0.clone()),
            bucket_size: Some("hour".into()),
            ..Default::default()
        })
        .await
        .expect("bill");
    assert!(
        (bill.metadata.totals.total_amount - rate).abs() < 1e-9,
        "{} vs {rate}",
        bill.metadata.totals.total_amount
    );
    assert!((bill.metadata.totals.gpu_amount - 0.69).abs() < 1e-9);
    // Stopped: compute stops billing (no pod volume here, so nothing bills).
    c.pod_action(&p.id, PodAction::Stop).await.expect("stop");
    emu.advance(secs(3600));
    let later = c
        .pod_billing(&BillingQuery { pod_id: Some(p.id.0.clone()), ..Default::default() })
        .await
        .expect("bill");
    assert!((later.metadata.totals.total_amount - rate).abs() < 1e-9);
    let me = c.myself().await.expect("balance");
    assert!((me.client_balance - (100.0 - rate)).abs() < 0.01, "{}", me.client_balance);
    assert_contract(&emu);
}

/// RunPod's billing "runs every 5 minutes": the billing routes show spend as of the last run.
#[tokio::test]
async fn spend_shows_on_the_billing_routes_only_after_a_billing_run() {
    let emu = emu().await;
    let c = emu.client();
    let p = c.create_pod(&pod("lagged", RTX4090, "")).await.expect("create");
    emu.advance(secs(60));
    let q = BillingQuery { pod_id: Some(p.id.0.clone()), ..Default::default() };
    let early = c.pod_billing(&q).await.expect("bill");
    assert!(early.records.is_empty(), "no billing run yet: {early:?}");
    let me = c.myself().await.expect("balance");
    assert!(me.client_balance < 100.0, "the balance is live: {}", me.client_balance);
    // The first run comes within the cycle plus its jitter (300 + 60 s by default).
    emu.advance(secs(400));
    c.delete_pod(&p.id).await.expect("terminate");
    let billed = emu
        .shared
        .world
        .lock()
        .ledger
        .total_for(runpod_emulator::world::ledger::Kind::Pod, p.id.as_str());
    let shown = c.pod_billing(&q).await.expect("bill").metadata.totals.total_amount;
    assert!(shown > 0.0 && shown <= billed, "as of the run: {shown} of {billed}");
    emu.advance(secs(400));
    let later = c.pod_billing(&q).await.expect("bill").metadata.totals.total_amount;
    assert!((later - billed).abs() < 1e-9, "the next run shows all of it: {later} vs {billed}");
    assert_contract(&emu);
}

#[tokio::test]
async fn no_capacity_answers_runpods_error_and_stock_returns_when_a_pod_stops() {
    let emu = emu().await;
    let c = emu.client();
    let h100 = "NVIDIA H100 80GB HBM3";
    let mut big = pod("big", h100, "");
    big.gpu.as_mut().expect("gpu").count = Some(8);
    let first = c.create_pod(&big).await.expect("all eight H100s");
    let e = c.create_pod(&pod("one-more", h100, "")).await.expect_err("none left");
    assert_eq!(e.kind(), ErrorKind::NoCapacity);
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.detail(), Some(NO_CAPACITY_DETAIL));
    assert_eq!(e.attempts(), 1, "no capacity is not retried blindly");
    let gpus = c.list_gpu_types(&GpuCatalogQuery::pod_availability()).await.expect("catalog");
    assert_eq!(
        gpus.iter().find(|g| g.id.as_str() == h100).and_then(|g| g.availability),
        Some(AvailabilityLevel::None)
    );

    c.pod_action(&first.id, PodAction::Stop).await.expect("stop");
    let second = c.create_pod(&pod("one-more", h100, "")).await.expect("stock came back");
    // The stopped pod cannot resume while its host's GPUs are taken.
    let e = c.pod_action(&first.id, PodAction::Start).await.expect_err("host busy");
    assert_eq!((e.kind(), e.detail()), (ErrorKind::NoCapacity, Some(NOT_ENOUGH_FREE_GPUS_DETAIL)));
    c.delete_pod(&second.id).await.expect("terminate");
    c.pod_action(&first.id, PodAction::Start).await.expect("resumes now");
    assert_contract(&emu);
}

#[tokio::test]
async fn unknown_gpu_and_bad_placement_are_clear_400s() {
    let emu = emu().await;
    let c = emu.client();
    let e = c.create_pod(&pod("x", "NVIDIA GeForce RTX 9999", "")).await.expect_err("unknown");
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert!(e.to_string().contains("unknown GPU type id"), "{e}");
    let mut both = pod("x", RTX4090, "");
    both.cpu = Some(runpod::types::pods::CreateCpuConfig { id: "cpu5c".into(), vcpu_count: 2 });
    assert_eq!(c.create_pod(&both).await.expect_err("gpu and cpu").kind(), ErrorKind::BadRequest);
    assert_contract(&emu);
}

#[tokio::test]
async fn creation_needs_an_hour_of_credit_and_zero_balance_stops_pods() {
    let emu = emu().await;
    let c = emu.client();
    emu.shared.with_world(|w, _| w.main_account_mut().balance = 0.5);
    let e = c.create_pod(&pod("poor", RTX4090, "")).await.expect_err("under one hour of credit");
    assert_eq!(
        (e.kind(), e.status(), e.detail()),
        (ErrorKind::InsufficientBalance, Some(402), Some(INSUFFICIENT_BALANCE_DETAIL)),
        "402, as the spec's createPod table says"
    );

    emu.shared.with_world(|w, _| w.main_account_mut().balance = 1.0);
    let p = c.create_pod(&pod("rich-for-an-hour", RTX4090, "sleep 1000")).await.expect("create");
    let vol = c
        .create_network_volume(&CreateNetworkVolumeRequest {
            name: "data".into(),
            size: 10,
            data_center: "US-TX-3".into(),
            kind: None,
        })
        .await
        .expect("volume");
    emu.shared.with_world(|w, _| w.main_account_mut().balance = 10.0);
    let mut with_vol = pod("keeps-volume", RTX4090, "");
    with_vol.mounts = Some(Mounts {
        persistent: None,
        network: Some(vec![NetworkMount { volume_id: vol.id.clone(), path: "/workspace".into() }]),
    });
    let q = c.create_pod(&with_vol).await.expect("create with volume");
    assert_eq!(
        q.data_center_id.as_ref().map(|d| d.as_str()),
        Some("US-TX-3"),
        "a network volume pins the data center"
    );
    emu.shared.with_world(|w, _| w.main_account_mut().balance = 0.01);
    emu.advance(secs(60));
    // RunPod: at $0, pods with a network volume stop; the others are terminated.
    assert_eq!(c.get_pod(&p.id).await.expect_err("terminated").kind(), ErrorKind::NotFound);
    assert_eq!(c.get_pod(&q.id).await.expect("kept").status, PodStatus::Exited);
    emu.wait_for("every process to die", LIMIT, |_| (emu.shared.runner.live() == 0).then_some(()))
        .await
        .expect("no process survives");
    assert_contract(&emu);
}

#[tokio::test]
async fn network_volumes_are_secure_cloud_only_and_a_pod_takes_at_most_50_env_vars() {
    use runpod::types::pods::Cloud;
    let emu = emu().await;
    let c = emu.client();
    let vol = c
        .create_network_volume(&CreateNetworkVolumeRequest {
            name: "data".into(),
            size: 10,
            data_center: "EU-RO-1".into(),
            kind: None,
        })
        .await
        .expect("volume");
    let mut community = pod("community-vol", RTX4090, "");
    community.cloud = Some(Cloud::Community);
    community.mounts = Some(Mounts {
        persistent: None,
        network: Some(vec![NetworkMount { volume_id: vol.id.clone(), path: "/workspace".into() }]),
    });
    let e = c.create_pod(&community).await.expect_err("Community with a network volume");
    assert_eq!(
        (e.kind(), e.detail()),
        (ErrorKind::BadRequest, Some(VOLUME_SECURE_ONLY_DETAIL)),
        "storage/network-volumes.mdx: Secure Cloud only"
    );
    community.cloud = Some(Cloud::Secure);
    let p = c.create_pod(&community).await.expect("Secure with a network volume");
    c.delete_pod(&p.id).await.expect("terminate");

    // An omitted cloud is SECURE (the spec's default), never Community: with no Secure stock
    // left the create is refused even though Community has some.
    let a4000 = "NVIDIA RTX A4000";
    emu.shared.with_world(|w, _| {
        for dc in ["US-TX-3", "EU-RO-1"] {
            w.catalog.set_stock(
                a4000,
                dc,
                runpod_emulator::config::Stock { secure: 0, community: 4 },
            );
        }
    });
    let e = c.create_pod(&pod("no-cloud", a4000, "")).await.expect_err("Secure is empty");
    assert_eq!(e.kind(), ErrorKind::NoCapacity);
    let mut explicit = pod("community", a4000, "");
    explicit.cloud = Some(Cloud::Community);
    let p = c.create_pod(&explicit).await.expect("Community has stock");
    c.delete_pod(&p.id).await.expect("terminate");

    let mut many = pod("env", RTX4090, "");
    many.env = Some((0..51).map(|i| (format!("V{i}"), "x".to_owned())).collect());
    let e = c.create_pod(&many).await.expect_err("51 variables");
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert!(e.to_string().contains("at most 50 environment variables"), "{e}");
    many.env = Some((0..50).map(|i| (format!("V{i}"), "x".to_owned())).collect());
    let p = c.create_pod(&many).await.expect("50 variables");
    c.delete_pod(&p.id).await.expect("terminate");
    assert_contract(&emu);
}

/// A CUDA constraint no host meets is a capacity error, not a fallback (spec
/// `CreateGpuConfig.allowedCudaVersions`); every emulated host runs CUDA 12.8.
#[tokio::test]
async fn a_cuda_version_no_host_has_is_no_capacity() {
    let emu = emu().await;
    let c = emu.client();
    let with = |min: Option<&str>, allowed: Option<Vec<String>>| {
        let mut p = pod("cuda", RTX4090, "");
        let g = p.gpu.as_mut().expect("gpu");
        g.min_cuda_version = min.map(str::to_owned);
        g.allowed_cuda_versions = allowed;
        p
    };
    for p in [with(Some("13.0"), None), with(None, Some(vec!["12.4".into()]))] {
        let e = c.create_pod(&p).await.expect_err("no host has it");
        assert_eq!((e.kind(), e.detail()), (ErrorKind::NoCapacity, Some(NO_CAPACITY_DETAIL)));
    }
    for p in
        [with(Some("12.4"), None), with(Some("12.8"), None), with(None, Some(vec!["12.8".into()]))]
    {
        let made = c.create_pod(&p).await.expect("a 12.8 host fits");
        c.delete_pod(&made.id).await.expect("terminate");
    }
    assert_contract(&emu);
}

#[tokio::test]
async fn a_pod_scoped_key_can_only_stop_or_terminate_its_own_pod() {
    let emu = emu().await;
    let c = emu.client();
    let a = c
        .create_pod(&with_volume(pod(
            "a",
            RTX4090,
            r#"sh -c 'printf "%s %s %s" "$RUNPOD_POD_ID" "$RUNPOD_API_KEY" "${PODWARDEN_SECRET:-none}" > /workspace/env.txt'"#,
        )))
        .await
        .expect("a");
    let b = c.create_pod(&pod("b", RTX4090, "")).await.expect("b");
    emu.advance(secs(30));
    wait_exited(&emu, &a.id, 0).await;
    let dir = emu.shared.world.lock().state_dir.join("pods").join(a.id.as_str()).join("volume");
    let env = std::fs::read_to_string(dir.join("env.txt")).expect("the pod wrote its env");
    let parts: Vec<&str> = env.split(' ').collect();
    assert_eq!(parts[0], a.id.as_str());
    assert_eq!(parts[2], "none", "the operator's environment does not leak into pods");
    let key = ApiKey::new(parts[1]);
    assert!(!emu.api_key().matches(key.expose()), "the pod key is not the account key");

    let pc = Client::builder().api_key(key).rest_url(emu.base_url()).build().expect("client");
    assert_eq!(pc.list_pods().await.expect_err("list").kind(), ErrorKind::Forbidden);
    assert_eq!(pc.get_pod(&a.id).await.expect_err("get").kind(), ErrorKind::Forbidden);
    assert_eq!(
        pc.pod_action(&b.id, PodAction::Stop).await.expect_err("other pod").kind(),
        ErrorKind::Forbidden
    );
    assert_eq!(pc.delete_pod(&b.id).await.expect_err("other pod").kind(), ErrorKind::Forbidden);
    assert_eq!(
        pc.pod_action(&a.id, PodAction::Restart).await.expect_err("restart").kind(),
        ErrorKind::Forbidden
    );
    pc.pod_action(&a.id, PodAction::Stop).await.expect("stop own pod");
    pc.delete_pod(&a.id).await.expect("terminate own pod");
    assert_eq!(
        pc.delete_pod(&a.id).await.expect_err("key dies with its pod").kind(),
        ErrorKind::Unauthorized
    );
    assert_eq!(c.get_pod(&b.id).await.expect("b untouched").status, PodStatus::Running);
    assert_contract(&emu);
}

#[tokio::test]
async fn a_pod_that_never_boots_keeps_billing_until_terminated() {
    let mut cfg = common::config();
    cfg.faults.pods = PodFaults { boot_hang: true, preempt_after_secs: None, preempt_pods: None };
    let emu = emu_with(cfg).await;
    let c = emu.client();
    let p = c.create_pod(&pod("hang", RTX4090, "echo never")).await.expect("create");
    emu.advance(secs(3600));
    let now = c.get_pod(&p.id).await.expect("get");
    assert_eq!(now.status, PodStatus::Starting);
    let billed = c
        .pod_billing(&BillingQuery { pod_id: Some(p.id.0.clone()), ..Default::default() })
        .await
        .expect("bill");
    assert!(
        billed.metadata.totals.total_amount > 0.68,
        "booting pods bill: {}",
        billed.metadata.totals.total_amount
    );
    c.delete_pod(&p.id).await.expect("terminate");
    assert_contract(&emu);
}

#[tokio::test]
async fn preempted_pods_stop_keep_their_definition_and_lose_their_gpu() {
    let emu = emu().await;
    emu.set_faults(FaultConfig {
        pods: PodFaults { boot_hang: false, preempt_after_secs: Some(60.0), preempt_pods: None },
        ..FaultConfig::default()
    });
    let c = emu.client();
    let free = || -> i64 {
        let w = emu.shared.world.lock();
        w.catalog.free.iter().filter(|((g, _), _)| g == RTX4090).map(|(_, s)| s.secure).sum()
    };
    let before = free();
    let p = c.create_pod(&pod("spot", RTX4090, "sleep 1000")).await.expect("create");
    emu.advance(secs(30));
    emu.wait_for("the container to start", LIMIT, |w| {
        w.pods[p.id.as_str()].container.running.then_some(())
    })
    .await
    .expect("running");
    emu.advance(secs(59));
    assert_eq!(c.get_pod(&p.id).await.expect("get").status, PodStatus::Running);
    emu.advance(secs(1));
    let after = c.get_pod(&p.id).await.expect("get");
    assert_eq!((after.status, after.cost), (PodStatus::Exited, 0.0));
    // Its GPU went to whoever reclaimed it, not back to the free stock (a stop returns it).
    assert_eq!(free(), before - 1, "the preempted GPU is not free again");
    emu.wait_for("the process to die", LIMIT, |_| (emu.shared.runner.live() == 0).then_some(()))
        .await
        .expect("killed");
    assert!(
        emu.shared.world.lock().pods[p.id.as_str()]
            .logs
            .text()
            .iter()
            .any(|l| l.contains("preempted"))
    );
    assert_contract(&emu);
}

#[tokio::test]
async fn logs_stream_with_tail_and_resume_by_event_id() {
    let emu = emu().await;
    let c = emu.client();
    let p = c
        .create_pod(&pod(
            "logs",
            RTX4090,
            "bash -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; done; sleep 1000'",
        ))
        .await
        .expect("create");
    emu.advance(secs(30));
    let q =
        LogsQuery { source: Some("container".into()), tail: Some(5000), ..LogsQuery::default() };
    let mut all = Vec::new();
    let mut s = Box::pin(c.pod_logs(&p.id, &q).await.expect("stream"));
    while all.len() < 10 {
        let l = tokio::time::timeout(LIMIT, s.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("line");
        all.push(l);
    }
    drop(s);
    assert_eq!(
        all.iter().map(|l| l.event.line.as_str()).collect::<Vec<_>>(),
        (1..=10).map(|i| format!("line-{i}")).collect::<Vec<_>>()
    );
    assert!(all.iter().all(|l| l.event.source == "container" && l.event.ts.starts_with("2026-01-01T00:00:30")));

    let tail =
        LogsQuery { source: Some("container".into()), tail: Some(3), ..LogsQuery::default() };
    let mut s = Box::pin(c.pod_logs(&p.id, &tail).await.expect("stream"));
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(s.next().await.expect("open").expect("line").event.line);
    }
    assert_eq!(got, ["line-8", "line-9", "line-10"]);
    drop(s);

    let resume = LogsQuery {
        source: Some("container".into()),
        last_event_id: Some(all[4].id.clone()),
        ..LogsQuery::default()
    };
    let mut s = Box::pin(c.pod_logs(&p.id, &resume).await.expect("stream"));
    assert_eq!(s.next().await.expect("open").expect("line").event.line, "line-6");
    drop(s);
    let bad = LogsQuery { tail: Some(9000), ..LogsQuery::default() };
    assert_eq!(c.pod_logs(&p.id, &bad).await.err().map(|e| e.kind()), Some(ErrorKind::Validation));
    c.delete_pod(&p.id).await.expect("terminate");
    assert_contract(&emu);
}

#[tokio::test]
async fn templates_volumes_and_updates() {
    let emu = emu().await;
    let c = emu.client();
    let t = c
        .create_template(&CreateTemplateRequest {
            name: "trainer".into(),
            image: "ghcr.io/acme/trainer:1".into(),
            args: Some("echo from-template $MODE".into()),
            env: Some([("MODE".to_owned(), "tpl".to_owned())].into()),
            ..CreateTemplateRequest::default()
        })
        .await
        .expect("template");
    let dup = c
        .create_template(&CreateTemplateRequest {
            name: "trainer".into(),
            image: "x".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(dup.expect_err("names are unique").kind(), ErrorKind::BadRequest);
    assert_eq!(c.get_template(&t.id).await.expect("get").name, "trainer");
    assert_eq!(c.list_templates().await.expect("list").len(), 1);

    let mut req = pod("from-template", RTX4090, "");
    req.image = None;
    req.args = None;
    req.template_id = Some(t.id.clone());
    req.env = Some([("EXTRA".to_owned(), "1".to_owned())].into());
    let p = c.create_pod(&req).await.expect("pod from template");
    assert_eq!(
        (p.image.as_str(), p.args.as_str()),
        ("ghcr.io/acme/trainer:1", "echo from-template $MODE")
    );
    assert_eq!(p.env.len(), 2);
    assert_eq!(p.template.as_ref(), Some(&t.id));
    emu.advance(secs(30));
    let u = c
        .update_pod(
            &p.id,
            &UpdatePodRequest {
                name: Some("renamed".into()),
                env: Some([("MODE".into(), "patched".into())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(
        (u.name.as_str(), u.env.len(), u.status),
        ("renamed", 1, PodStatus::Starting),
        "an env change resets the container"
    );

    let v = c
        .create_network_volume(&CreateNetworkVolumeRequest {
            name: "ds".into(),
            size: 20,
            data_center: "EU-RO-1".into(),
            kind: None,
        })
        .await
        .expect("vol");
    let grown = c
        .update_network_volume(&v.id, &UpdateNetworkVolumeRequest { size: Some(40), name: None })
        .await
        .expect("grow");
    assert_eq!(grown.size, 40);
    let shrink = c
        .update_network_volume(&v.id, &UpdateNetworkVolumeRequest { size: Some(30), name: None })
        .await;
    assert_eq!(shrink.expect_err("volumes only grow").kind(), ErrorKind::BadRequest);
    let mut on_vol = pod("on-vol", RTX4090, "");
    on_vol.mounts = Some(Mounts {
        persistent: None,
        network: Some(vec![NetworkMount { volume_id: v.id.clone(), path: "/data".into() }]),
    });
    let q = c.create_pod(&on_vol).await.expect("pod on volume");
    assert_eq!(
        c.delete_network_volume(&v.id).await.expect_err("attached").kind(),
        ErrorKind::BadRequest
    );
    c.delete_pod(&q.id).await.expect("terminate");
    c.delete_network_volume(&v.id).await.expect("delete");
    assert_eq!(c.get_network_volume(&v.id).await.expect_err("gone").kind(), ErrorKind::NotFound);
    assert_eq!(
        c.get_network_volume(&NetworkVolumeId::new("nope")).await.expect_err("none").kind(),
        ErrorKind::NotFound
    );
    c.delete_pod(&p.id).await.expect("terminate");
    c.delete_template(&t.id).await.expect("delete template");
    assert_contract(&emu);
}

#[tokio::test]
async fn catalog_prices_availability_and_data_centers() {
    let emu = emu().await;
    let c = emu.client();
    let plain = c.list_gpu_types(&GpuCatalogQuery::default()).await.expect("catalog");
    assert!(plain.iter().all(|g| g.availability.is_none() && g.price.secure > 0.0));
    let with = c.list_gpu_types(&GpuCatalogQuery::pod_availability()).await.expect("catalog");
    let g = with.iter().find(|g| g.id.as_str() == RTX4090).expect("4090 listed");
    assert_eq!(g.availability, Some(AvailabilityLevel::High));
    assert_eq!(g.data_centers.as_ref().map(Vec::len), Some(2));
    let one = c
        .get_gpu_type(&GpuTypeId::new(RTX4090), &GpuCatalogQuery::default())
        .await
        .expect("by id with spaces");
    assert_eq!(one.memory, 24);
    let bad = GpuCatalogQuery { include: Some("AVAILABILITY".into()), ..Default::default() };
    assert_eq!(
        c.list_gpu_types(&bad).await.expect_err("product is mandatory").kind(),
        ErrorKind::BadRequest
    );
    let dcs = c.list_data_centers().await.expect("dcs");
    assert_eq!(dcs.data_centers.len(), 2);
    assert!(
        dcs.data_centers.iter().all(|d| d.gpu_availability.as_ref().is_some_and(|g| !g.is_empty()))
    );
    assert_contract(&emu);
}

#[tokio::test]
async fn graphql_reports_balance_spend_and_gpu_types() {
    let emu = emu().await;
    let c = emu.client();
    c.create_pod(&pod("spend", RTX4090, "")).await.expect("create");
    let me = c.myself().await.expect("myself");
    assert_eq!((me.client_balance, me.spend_limit), (100.0, 80.0));
    assert!(
        (me.current_spend_per_hr - (0.69 + 10.0 * 0.1 / 730.0)).abs() < 1e-9,
        "{}",
        me.current_spend_per_hr
    );
    let q = r#"query G($id: String) { gpuTypes(input: {id: $id}) { id displayName memoryInGb securePrice lowestPrice(input: {gpuCount: 1}) { uninterruptablePrice stockStatus } } }"#;
    let resp: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/graphql?api_key={}", emu.base_url(), emu.api_key().expose()))
        .json(&serde_json::json!({"query": q, "variables": {"id": RTX4090}}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let gpus = resp["data"]["gpuTypes"].as_array().expect("a list even for one id");
    assert_eq!(gpus.len(), 1);
    assert_eq!(gpus[0]["memoryInGb"], 24);
    assert_eq!(gpus[0]["lowestPrice"]["stockStatus"], "High");
    let bad = Client::builder()
        .api_key(ApiKey::new("wrong-key-123456"))
        .rest_url(emu.base_url())
        .build()
        .expect("client");
    assert_eq!(bad.myself().await.expect_err("bad key").kind(), ErrorKind::Unauthorized);
}

/// The capacity model drives the emulator: the catalog's stock follows it (less what pods
/// hold), a create it refuses is a capacity refusal although the offer was listed, a dud
/// reports RUNNING's way never (it stays STARTING, billing), a host boots in its own time, and
/// the same seed replays the same launches.
#[tokio::test]
async fn the_capacity_model_drives_stock_and_launches_under_a_seed() {
    use runpod_emulator::capacity::{CapacityModel, OfferModel};
    let offer = |gpu: &str, fail: f64, dud: f64| OfferModel {
        gpu: gpu.into(),
        data_center: "US-TX-3".into(),
        cloud: "SECURE".into(),
        price: 0.5,
        mean_stock: 3.0,
        swing: 0.0,
        create_fail: fail,
        dud,
        boot_secs: 100.0,
        preempt_per_hour: 0.0,
    };
    let run = |seed: u64| async move {
        let mut cfg = common::config();
        cfg.capacity = Some(CapacityModel {
            seed,
            offers: vec![
                offer("NVIDIA RTX A4000", 1.0, 0.0),
                offer("NVIDIA RTX A5000", 0.0, 1.0),
                offer(RTX4090, 0.0, 0.0),
            ],
        });
        let emu = emu_with(cfg).await;
        let c = emu.client();
        let in_stock = |gpus: &[runpod::types::catalog::GpuType], id: &str| {
            gpus.iter().find(|g| g.id.0 == id).and_then(|g| g.availability)
        };
        let q =
            GpuCatalogQuery { cloud: Some("SECURE".into()), ..GpuCatalogQuery::pod_availability() };
        let before = c.list_gpu_types(&q).await.expect("catalog");
        // Listed, refused.
        // In the modelled data center.
        let tx = |name: &str, gpu: &str| {
            let mut p = pod(name, gpu, "");
            p.data_center_ids = Some(vec!["US-TX-3".into()]);
            p
        };
        let e = c.create_pod(&tx("a", "NVIDIA RTX A4000")).await.expect_err("refused");
        assert_eq!(e.status(), Some(400));
        // A dud: never RUNNING.
        let dud = c.create_pod(&tx("b", "NVIDIA RTX A5000")).await.expect("created");
        // Boots in its host's time (10 s provisioning, then its own 50-250 s).
        let ok = c.create_pod(&tx("c", RTX4090)).await.expect("created");
        emu.advance(Duration::from_secs(300));
        let d = c.get_pod(&dud.id).await.expect("dud");
        assert_eq!(d.status, PodStatus::Running, "a dud says RUNNING");
        assert!(d.runtime.is_none() && d.cost > 0.0, "with no runtime, billing: {d:?}");
        let up = c.get_pod(&ok.id).await.expect("ok");
        assert!(up.runtime.is_some(), "booted");
        // Three 4090s in the model, one held: two free.
        let after = c.list_gpu_types(&q).await.expect("catalog");
        let free =
            emu.shared.world.lock().catalog.free[&(RTX4090.to_owned(), "US-TX-3".to_owned())];
        assert_eq!(free.secure, 2);
        (in_stock(&before, RTX4090), in_stock(&after, RTX4090), up.runtime.map(|r| r.uptime))
    };
    let (a, b) = (run(5).await, run(5).await);
    assert_eq!(a, b, "the same seed replays the same day");
}
