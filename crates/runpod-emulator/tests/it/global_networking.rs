//! Global networking as RunPod documents it (docs/emulator.md, "Global networking"): an
//! account's NVIDIA GPU pods that ask for it share a private network, each with an address of
//! `10.65.0.0/16` and a name, `<podId>.runpod.internal`, that the others resolve; pods of other
//! accounts and pods without it do not reach them, and CPU pods cannot have it.

use podwarden_test_utils::emulator as common;

use common::{LIMIT, config, emu, emu_with};
use runpod::types::pods::{
    CreateCpuConfig, CreateGpuConfig, CreatePodRequest, Pod, PodAction, UpdatePodRequest,
};
use runpod::{ApiKey, ErrorKind, GpuTypeId, PodId};
use runpod_emulator::RunningEmulator;
use runpod_emulator::config::AccountSeed;
use runpod_emulator::world::pods::GLOBAL_NETWORKING_GPU_ONLY;
use std::time::Duration;

const OTHER: &str = "rpa_GLOBALNETWORKOTHERACCOUNT00000000";

/// The port PyTorch's rendezvous uses (podwarden's multi-node jobs).
const PORT: u16 = 29500;

/// A GPU pod on `python:3.11-slim` running `python3 -c <script>`, with global networking.
fn networked(name: &str, script: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: Some("python:3.11-slim".into()),
        args: Some(format!("python3 -c {}", shell_words::quote(script))),
        gpu: Some(CreateGpuConfig {
            id: GpuTypeId::new("NVIDIA RTX A4000"),
            count: None,
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        global_networking: Some(true),
        ..CreatePodRequest::default()
    }
}

fn cpu(name: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: Some("python:3.11-slim".into()),
        cpu: Some(CreateCpuConfig { id: "cpu5c".into(), vcpu_count: 2 }),
        ..CreatePodRequest::default()
    }
}

/// Listens on [`PORT`] of every address and prints each line it receives, after printing what
/// its own `internalDns` resolves to.
const SERVER: &str = "import os, socket\n\
print('self', socket.gethostbyname(os.environ['RUNPOD_POD_ID'] + '.runpod.internal'), flush=True)\n\
s = socket.socket()\n\
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
s.bind(('0.0.0.0', 29500))\n\
s.listen()\n\
print('listening', flush=True)\n\
while True:\n\
\x20   c, peer = s.accept()\n\
\x20   print('received', c.makefile().readline().strip(), 'from', peer[0], flush=True)\n\
\x20   c.close()\n";

/// Tries each `(label, host, port)` once and prints how it went.
fn prober(targets: &[(&str, String, u16)]) -> String {
    let mut script = String::from(
        "import socket\n\
         def reach(label, host, port):\n\
         \x20   try:\n\
         \x20       socket.create_connection((host, port), timeout=10).sendall(b'intruder\\n')\n\
         \x20       print(label, 'connected', flush=True)\n\
         \x20   except OSError as e:\n\
         \x20       print(label, 'failed:', e, flush=True)\n",
    );
    for (label, host, port) in targets {
        script.push_str(&format!("reach({label:?}, {host:?}, {port})\n"));
    }
    script.push_str("print('probed', flush=True)\n");
    script
}

fn logs(emu: &RunningEmulator, id: &PodId) -> String {
    emu.shared.world.lock().pods[id.as_str()].logs.text().join("\n")
}

/// The container's output is written outside anything the emulator's world observes, so this
/// polls its log (every 20 ms, failing after `LIMIT`).
async fn until_logged(emu: &RunningEmulator, id: &PodId, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let text = logs(emu, id);
        if text.contains(needle) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "never logged {needle:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ip(p: &Pod) -> String {
    p.global_networking.ip.clone().expect("a global-networking address")
}

/// The pod as REST v2 sends it, not as the client types it (absent and null differ).
async fn raw_pod(emu: &RunningEmulator, id: &PodId) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}/v2/pods/{id}", emu.base_url()))
        .bearer_auth(emu.shared.key.expose())
        .send()
        .await
        .expect("GET /v2/pods/{id}")
        .json()
        .await
        .expect("json")
}

/// (a) Pod B reaches pod A on A's `internalDns` (resolved through `/etc/hosts`) on PyTorch's
/// rendezvous port, as podwarden's multi-node jobs do; A also resolves its own name (rank 0
/// is told it).
#[tokio::test]
async fn pods_of_one_account_reach_each_other_by_internal_dns() {
    let emu = emu().await;
    let c = emu.client();
    let a = c.create_pod(&networked("a", SERVER)).await.expect("create a");
    emu.advance(Duration::from_secs(30));
    let text = until_logged(&emu, &a.id, "listening").await;
    assert!(text.contains(&format!("self {}", ip(&a))), "A resolves its own name:\n{text}");

    let name = format!("{}.runpod.internal", a.id);
    let client = format!(
        "import socket\n\
         print('resolved', socket.gethostbyname({name:?}), flush=True)\n\
         c = socket.create_connection(({name:?}, {PORT}), timeout=10)\n\
         c.sendall(b'hello from b\\n')\n\
         c.close()\n\
         print('sent', flush=True)\n"
    );
    let b = c.create_pod(&networked("b", &client)).await.expect("create b");
    emu.advance(Duration::from_secs(30));
    // B's side first: a failure to resolve or connect shows in B's log (its traceback).
    until_logged(&emu, &b.id, "sent").await;
    let text = until_logged(&emu, &a.id, "received").await;
    assert!(
        text.contains(&format!("received hello from b from {}", ip(&b))),
        "A got B's line, from B's address:\n{text}\n--- B:\n{}",
        logs(&emu, &b.id)
    );
    let text = logs(&emu, &b.id);
    assert!(text.contains(&format!("resolved {}", ip(&a))), "{text}");
    assert!(!text.contains("global network"), "no setup problem was logged:\n{text}");
}

/// (b) Another account's pod and a pod of the same account without global networking do not
/// reach it; nor does a pod on the network reach this machine through it.
#[tokio::test]
async fn other_accounts_and_pods_without_it_cannot_reach_a_pod_on_the_network() {
    let mut cfg = config();
    cfg.accounts = vec![AccountSeed::new(OTHER)];
    let emu = emu_with(cfg).await;
    let (main, other) = (emu.client(), emu.client_for(ApiKey::new(OTHER)));
    // Holds 10.65.0.2 of the main account (its image never pulls, so it runs nothing): A's
    // address is then one no pod of the other account has, and a connection that reached
    // anything there could only have crossed between the accounts' networks.
    let mut filler = networked("filler", "");
    filler.image = Some("nobody/nothing:1".into());
    main.create_pod(&filler).await.expect("filler");
    let a = main.create_pod(&networked("a", SERVER)).await.expect("create a");
    assert_eq!(ip(&a), "10.65.0.3");
    emu.advance(Duration::from_secs(30));
    until_logged(&emu, &a.id, "listening").await;

    // A service of this machine's, on every address it has.
    let host_service = std::net::TcpListener::bind("0.0.0.0:0").expect("a host service");
    let host_port = host_service.local_addr().expect("addr").port();
    let host_ip = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("192.0.2.1:9").and_then(|()| u.local_addr()))
        .map_or_else(|_| "192.0.2.1".to_owned(), |a| a.ip().to_string());
    let targets = [("a", ip(&a), PORT), ("host", host_ip, host_port)];
    let x = other.create_pod(&networked("x", &prober(&targets))).await.expect("other account");
    assert_eq!(ip(&x), "10.65.0.2", "the other account's first address");
    let mut plain = networked("plain", &prober(&targets));
    plain.global_networking = None;
    let n = main.create_pod(&plain).await.expect("same account, no global networking");
    emu.advance(Duration::from_secs(30));

    let text = until_logged(&emu, &x.id, "probed").await;
    // Nothing answers for A's address on the other account's network.
    assert!(text.contains("a failed: [Errno 113] No route to host"), "{text}");
    assert!(text.contains("host failed: [Errno 101] Network is unreachable"), "{text}");
    let text = until_logged(&emu, &n.id, "probed").await;
    // No private network at all: only its loopback.
    assert!(text.contains("a failed: [Errno 101] Network is unreachable"), "{text}");
    let text = logs(&emu, &a.id);
    assert!(!text.contains("intruder"), "A was reached:\n{text}");
    drop(host_service);
}

/// (c) Global networking is for NVIDIA GPU pods only: a CPU pod asking for it is refused, at
/// create and at update.
#[tokio::test]
async fn a_cpu_pod_cannot_have_global_networking() {
    let emu = emu().await;
    let c = emu.client();
    let mut req = cpu("cpu");
    req.global_networking = Some(true);
    let e = c.create_pod(&req).await.expect_err("a CPU pod on the global network");
    assert_eq!(
        (e.kind(), e.status(), e.detail()),
        (ErrorKind::BadRequest, Some(400), Some(GLOBAL_NETWORKING_GPU_ONLY))
    );
    assert!(GLOBAL_NETWORKING_GPU_ONLY.contains("only available for NVIDIA GPU pods"));

    let p = c.create_pod(&cpu("cpu")).await.expect("a CPU pod without it");
    let e = c
        .update_pod(
            &p.id,
            &UpdatePodRequest { global_networking: Some(true), ..Default::default() },
        )
        .await
        .expect_err("PATCH it on");
    assert_eq!((e.status(), e.detail()), (Some(400), Some(GLOBAL_NETWORKING_GPU_ONLY)));
    assert!(!c.get_pod(&p.id).await.expect("pod").global_networking.enabled);
}

/// Global networking exists only in the data centers the catalog marks `globalNetwork`: a pod
/// that asks for it is placed in one, and refused when it pins others.
#[tokio::test]
async fn global_networking_places_pods_only_where_the_data_center_has_it() {
    let emu = emu().await;
    let c = emu.client();
    let dcs = c.list_data_centers().await.expect("catalog").data_centers;
    let with: Vec<&str> =
        dcs.iter().filter(|d| d.global_network).map(|d| d.id.0.as_str()).collect();
    assert_eq!(with, ["US-TX-3"], "the default catalog: {dcs:?}");
    for _ in 0..3 {
        let p = c.create_pod(&networked("anywhere", "")).await.expect("placed");
        assert_eq!(p.data_center_id.as_ref().map(|d| d.0.as_str()), Some("US-TX-3"));
    }
    let mut pinned = networked("eu", "");
    pinned.data_center_ids = Some(vec!["EU-RO-1".into()]);
    let e = c.create_pod(&pinned).await.expect_err("EU-RO-1 has no global network");
    assert_eq!(e.status(), Some(400));
    assert!(e.detail().is_some_and(|d| d.contains("not available in EU-RO-1")), "{e:?}");
    pinned.global_networking = None;
    c.create_pod(&pinned).await.expect("without it, EU-RO-1 is fine");
}

/// (d) The pod says its address and name; addresses are the lowest free of the account's,
/// kept across restarts and given back at terminate; a PATCH takes effect at the next start.
#[tokio::test]
async fn the_pod_reports_its_address_and_internal_dns() {
    let mut cfg = config();
    cfg.accounts = vec![AccountSeed::new(OTHER)];
    let emu = emu_with(cfg).await;
    let (c, other) = (emu.client(), emu.client_for(ApiKey::new(OTHER)));
    // An image that never pulls: nothing runs, the API is what is tested.
    let req = |name: &str| {
        let mut r = networked(name, "");
        r.image = Some("nobody/nothing:1".into());
        r
    };
    let one = c.create_pod(&req("one")).await.expect("one");
    let raw = raw_pod(&emu, &one.id).await;
    assert_eq!(
        raw["globalNetworking"],
        serde_json::json!({
            "enabled": true,
            "ip": "10.65.0.2",
            "internalDns": format!("{}.runpod.internal", one.id),
        })
    );
    let two = c.create_pod(&req("two")).await.expect("two");
    assert_eq!(ip(&two), "10.65.0.3");
    let mut without = req("without");
    without.global_networking = None;
    let without = c.create_pod(&without).await.expect("without");
    assert_eq!(
        raw_pod(&emu, &without.id).await["globalNetworking"],
        serde_json::json!({"enabled": false})
    );
    // Addresses are per account.
    assert_eq!(ip(&other.create_pod(&req("elsewhere")).await.expect("other")), "10.65.0.2");

    // Kept across container restarts.
    emu.advance(Duration::from_secs(30));
    c.pod_action(&one.id, PodAction::Restart).await.expect("restart");
    emu.advance(Duration::from_secs(30));
    assert_eq!(ip(&c.get_pod(&one.id).await.expect("one")), "10.65.0.2");

    // Given back at terminate, and the lowest free is next.
    c.delete_pod(&one.id).await.expect("terminate");
    assert_eq!(ip(&c.create_pod(&req("three")).await.expect("three")), "10.65.0.2");

    // A PATCH takes effect at the next start ("not live", spec `UpdatePodRequest`).
    let off = UpdatePodRequest { global_networking: Some(false), ..Default::default() };
    assert_eq!(ip(&c.update_pod(&two.id, &off).await.expect("patch off")), "10.65.0.3");
    let on = UpdatePodRequest { global_networking: Some(true), ..Default::default() };
    assert!(!c.update_pod(&without.id, &on).await.expect("patch on").global_networking.enabled);
    for id in [&two.id, &without.id] {
        c.pod_action(id, PodAction::Restart).await.expect("restart");
    }
    emu.advance(Duration::from_secs(30));
    let two = c.get_pod(&two.id).await.expect("two");
    assert_eq!((two.global_networking.enabled, two.global_networking.ip), (false, None));
    assert_eq!(ip(&c.get_pod(&without.id).await.expect("without")), "10.65.0.3");
}
