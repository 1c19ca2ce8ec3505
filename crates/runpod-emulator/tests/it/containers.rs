//! Containers are as strict as RunPod's: `args` are words for the image's entrypoint (no
//! shell), a pod sees only its image's tools, its volumes and RunPod's variables, images that
//! cannot be pulled never start, stops end every process, and templates resolve at create.
//! Each rule and its source: docs/emulator.md, "Containers".

use podwarden_test_utils::emulator as common;

use common::{LIMIT, emu, emu_with};
use runpod::types::endpoints::CreateEndpointRequest;
use runpod::types::pods::{
    CreateGpuConfig, CreatePodRequest, Mounts, NetworkMount, PersistentMount, PodAction, PodStatus,
};
use runpod::types::templates::{CreateTemplateRequest, UpdateTemplateRequest};
use runpod::{GpuTypeId, NetworkVolumeId, PodId};
use runpod_emulator::RunningEmulator;
use runpod_emulator::image::ImageConfig;
use std::time::Duration;

fn pod(name: &str, image: &str, args: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: Some(image.into()),
        args: Some(args.into()),
        gpu: Some(CreateGpuConfig {
            id: GpuTypeId::new("NVIDIA RTX A4000"),
            count: None,
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    }
}

fn with_volume(mut p: CreatePodRequest) -> CreatePodRequest {
    p.mounts = Some(Mounts {
        persistent: Some(PersistentMount { size: 10, path: "/workspace".into() }),
        network: None,
    });
    p
}

/// Boots the pod (30 emulated seconds) and waits until its container has exited `runs` times.
async fn run_to_exit(emu: &RunningEmulator, id: &PodId, runs: u32) -> String {
    emu.advance(Duration::from_secs(30));
    for n in 0..runs {
        if n > 0 {
            emu.advance(Duration::from_secs(5));
        }
        emu.wait_for("the container to exit", LIMIT, |w| {
            let c = &w.pods[id.as_str()].container;
            (!c.running && c.exited_at.is_some() && c.restarts == n).then_some(())
        })
        .await
        .expect("container exits");
    }
    logs(emu, id)
}

fn logs(emu: &RunningEmulator, id: &PodId) -> String {
    emu.shared.world.lock().pods[id.as_str()].logs.text().join("\n")
}

#[tokio::test]
async fn args_are_exec_d_as_words_not_run_by_a_shell() {
    let emu = emu().await;
    let c = emu.client();
    let p = c
        .create_pod(&pod("words", "python:3.11-slim", "echo hi; exit 3 'a  b'"))
        .await
        .expect("create");
    let text = run_to_exit(&emu, &p.id, 1).await;
    assert!(text.contains("hi; exit 3 a  b"), "echo got the words, no shell ran them:\n{text}");
    assert_eq!(emu.shared.world.lock().pods[p.id.as_str()].container.last_exit_code, Some(0));

    // A shell runs only when the args start one; quotes, newlines and unicode survive.
    let p = c
        .create_pod(&pod(
            "shell",
            "python:3.11-slim",
            "sh -c 'printf \"%s|\" \"$0\" ünï; echo\nexit 3' first",
        ))
        .await
        .expect("create");
    let text = run_to_exit(&emu, &p.id, 1).await;
    assert!(text.contains("first|ünï|"), "{text}");
    assert_eq!(emu.shared.world.lock().pods[p.id.as_str()].container.last_exit_code, Some(3));

    let p =
        c.create_pod(&pod("unbalanced", "python:3.11-slim", "sh -c 'oops")).await.expect("create");
    let text = run_to_exit_or_never(&emu, &p.id).await;
    assert!(text.contains("cannot parse the container's args"), "{text}");
}

/// Boots the pod; its container never starts.
async fn run_to_exit_or_never(emu: &RunningEmulator, id: &PodId) -> String {
    emu.advance(Duration::from_secs(30));
    emu.advance(Duration::from_secs(30));
    assert!(!emu.shared.world.lock().pods[id.as_str()].container.running);
    logs(emu, id)
}

#[tokio::test]
async fn an_entrypoint_gets_the_args_and_cmd_runs_without_them() {
    let mut cfg = common::config();
    cfg.images.insert(
        "acme/entry:1".into(),
        ImageConfig {
            entrypoint: vec!["echo".into(), "entry:".into()],
            cmd: vec!["default-cmd".into()],
            tools: vec!["echo".into()],
            ..ImageConfig::default()
        },
    );
    let emu = emu_with(cfg).await;
    let c = emu.client();
    let p =
        c.create_pod(&pod("args", "acme/entry:1", "train --lr '0.1 0.2'")).await.expect("create");
    assert!(run_to_exit(&emu, &p.id, 1).await.contains("entry: train --lr 0.1 0.2"));
    let p = c.create_pod(&pod("cmd", "acme/entry:1", "")).await.expect("create");
    assert!(run_to_exit(&emu, &p.id, 1).await.contains("entry: default-cmd"));
}

#[tokio::test]
async fn a_pod_sees_only_its_images_tools_its_volumes_and_runpods_variables() {
    let emu = emu().await;
    let c = emu.client();
    let state = emu.shared.world.lock().state_dir.clone();
    let me = std::process::id();
    let script = format!(
        "for t in curl wget python3 cargo; do command -v $t >/dev/null && echo has-$t || echo no-$t; done; \
         cat /proc/{me}/environ >/dev/null 2>&1 && echo read-parent-environ || echo no-parent-environ; \
         ls {state} >/dev/null 2>&1 && echo sees-state-dir || echo no-state-dir; \
         ls /proc | grep -c '^[0-9]' | sed 's/^/pids=/'; \
         env | cut -d= -f1 | sort | tr '\\n' ' '; echo",
        state = state.display()
    );
    let p = c
        .create_pod(&pod(
            "probe",
            "python:3.11-slim",
            &format!("sh -c {}", shell_words::quote(&script)),
        ))
        .await
        .expect("create");
    let text = run_to_exit(&emu, &p.id, 1).await;
    for want in
        ["no-curl", "no-wget", "has-python3", "no-cargo", "no-parent-environ", "no-state-dir"]
    {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    // PID 1 (sh) and the few commands of the pipeline: nothing of the host.
    let pids: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("pids="))
        .and_then(|n| n.trim().parse().ok())
        .expect("pid count");
    assert!(pids < 8, "the pod sees only its own processes: {pids}\n{text}");
    let vars = text.lines().find(|l| l.contains("RUNPOD_POD_ID")).expect("env line");
    for leaked in ["CARGO", "RUST", "RUNPOD_REST_URL", "RUNPOD_API_BASE_URL", "RUNPOD_WORKSPACE"] {
        assert!(
            !vars.split(' ').any(|v| v.starts_with(leaked)),
            "{leaked} leaked into the pod: {vars}"
        );
    }
    for var in ["RUNPOD_POD_ID", "RUNPOD_API_KEY", "RUNPOD_DC_ID", "PATH", "HOME"] {
        assert!(vars.split(' ').any(|v| v == var), "{var} missing: {vars}");
    }
}

#[tokio::test]
async fn the_container_disk_is_wiped_on_restart_and_the_pod_volume_is_kept() {
    let emu = emu().await;
    let c = emu.client();
    let script = "test -f /root/mark && echo disk-kept; touch /root/mark; test -f /workspace/mark && echo volume-kept; touch /workspace/mark";
    let p = c
        .create_pod(&with_volume(pod("disks", "python:3.11-slim", &format!("sh -c '{script}'"))))
        .await
        .expect("create");
    let text = run_to_exit(&emu, &p.id, 2).await;
    assert!(text.contains("volume-kept"), "{text}");
    assert!(!text.contains("disk-kept"), "{text}");
    let dir = emu.shared.world.lock().state_dir.join("pods").join(p.id.as_str());
    assert!(dir.join("volume/mark").exists());
    c.delete_pod(&p.id).await.expect("terminate");
    emu.wait_for("the pod volume to be destroyed", LIMIT, |_| (!dir.exists()).then_some(()))
        .await
        .expect("destroyed");
}

#[tokio::test]
async fn a_network_volume_is_one_directory_for_everything_that_mounts_it() {
    let emu = emu().await;
    let c = emu.client();
    let vol = common::volume(&c).await;
    let on = |name: &str, args: &str, vol: &NetworkVolumeId| {
        let mut p = pod(name, "python:3.11-slim", args);
        p.mounts = Some(Mounts {
            persistent: None,
            network: Some(vec![NetworkMount { volume_id: vol.clone(), path: "/data".into() }]),
        });
        p
    };
    let a =
        c.create_pod(&on("writer", "sh -c 'echo shared > /data/note'", &vol.id)).await.expect("a");
    run_to_exit(&emu, &a.id, 1).await;
    let b = c.create_pod(&on("reader", "cat /data/note", &vol.id)).await.expect("b");
    assert!(run_to_exit(&emu, &b.id, 1).await.contains("shared"));
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_never_starts_and_says_why() {
    let mut cfg = common::config();
    cfg.images.insert(
        "acme/private:1".into(),
        ImageConfig {
            cmd: vec!["sleep".into(), "1".into()],
            tools: vec!["sleep".into()],
            private: true,
            ..ImageConfig::default()
        },
    );
    let emu = emu_with(cfg).await;
    let c = emu.client();
    for (image, why) in [
        ("ghcr.io/nobody/nothing:1", "manifest unknown"),
        ("acme/private:1", "authentication required"),
    ] {
        let p = c.create_pod(&pod("nope", image, "")).await.expect("create is accepted");
        emu.advance(Duration::from_secs(30));
        emu.advance(Duration::from_secs(60));
        let now = c.get_pod(&p.id).await.expect("get");
        assert_eq!(now.status, PodStatus::Running, "RunPod reports RUNNING while the pull fails");
        assert!(now.runtime.is_none(), "runtime stays null until the container runs");
        let text = logs(&emu, &p.id);
        assert!(text.matches(why).count() >= 2, "retried, with the reason:\n{text}");
        assert_eq!(emu.shared.runner.live(), 0);
    }
}

#[tokio::test]
async fn a_private_image_pulls_only_with_a_registry_credential_of_the_pods_account() {
    let mut cfg = common::config();
    cfg.images.insert(
        "acme/private:1".into(),
        ImageConfig {
            cmd: vec!["sleep".into(), "1000".into()],
            tools: vec!["sleep".into()],
            private: true,
            ..ImageConfig::default()
        },
    );
    cfg.accounts =
        vec![runpod_emulator::config::AccountSeed::new("rpa_SOMEONEELSE0000000000000000000000")];
    let emu = emu_with(cfg).await;
    let (c, other) = (
        emu.client(),
        emu.client_for(runpod::ApiKey::new("rpa_SOMEONEELSE0000000000000000000000")),
    );
    let http = reqwest::Client::new();
    let registry = |key: String| {
        let http = http.clone();
        let url = format!("{}/v2/registries", emu.base_url());
        async move {
            let r: serde_json::Value = http
                .post(url)
                .bearer_auth(key)
                .json(&serde_json::json!({"name": "acme", "username": "u", "password": "p"}))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            r["id"].as_str().expect("id").to_owned()
        }
    };
    let theirs = registry("rpa_SOMEONEELSE0000000000000000000000".into()).await;
    let mine = registry(emu.api_key().expose().to_owned()).await;
    assert!(other.list_pods().await.expect("list").is_empty());

    let mut borrowed = pod("borrowed", "acme/private:1", "");
    borrowed.registry = Some(theirs.clone());
    let b = c.create_pod(&borrowed).await.expect("create is accepted");
    let mut own = pod("own", "acme/private:1", "");
    own.registry = Some(mine);
    let o = c.create_pod(&own).await.expect("create");
    emu.advance(Duration::from_secs(30));
    emu.advance(Duration::from_secs(30));
    assert!(
        c.get_pod(&b.id).await.expect("get").runtime.is_none(),
        "another account's credential does not pull"
    );
    assert!(logs(&emu, &b.id).contains("does not exist in this account"), "{}", logs(&emu, &b.id));
    emu.wait_for("the own-credential pod to run", LIMIT, |w| {
        w.pods.get(o.id.as_str()).filter(|p| p.container.up).map(|_| ())
    })
    .await
    .expect("own credential pulls");
}

/// Pids of host processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

/// Host processes start outside anything the emulator observes, so this polls `/proc` (every
/// 20 ms, failing after `LIMIT`).
async fn until_processes(marker: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while processes_with(marker).len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} processes with {marker} never appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stop_terminate_and_exit_end_processes_that_ignore_sigterm() {
    let emu = emu().await;
    let c = emu.client();
    // The main process and a detached grandchild in its own session both ignore SIGTERM.
    let stubborn = |marker: &str| {
        format!(
            "sh -c 'trap \"\" TERM; setsid sh -c \"trap \\\"\\\" TERM; sleep {marker}\" & trap \"\" TERM; sleep {marker}'"
        )
    };
    let p =
        c.create_pod(&pod("stop", "python:3.11-slim", &stubborn("4242.1"))).await.expect("create");
    emu.advance(Duration::from_secs(30));
    until_processes("4242.1", 2).await;
    c.pod_action(&p.id, PodAction::Stop).await.expect("stop");
    emu.wait_for("the container to die", LIMIT, |_| (emu.shared.runner.live() == 0).then_some(()))
        .await
        .expect("dead");
    assert_eq!(processes_with("4242.1"), Vec::<u32>::new(), "nothing survives a stop");

    c.delete_pod(&p.id).await.expect("terminate");

    // The emulator's own exit.
    let emu = runpod_emulator::start(common::config(), runpod_emulator::Options::default())
        .await
        .expect("emulator");
    let c = emu.client();
    c.create_pod(&pod("exit", "python:3.11-slim", &stubborn("4242.2"))).await.expect("create");
    emu.advance(Duration::from_secs(30));
    until_processes("4242.2", 2).await;
    emu.shutdown().await;
    assert_eq!(processes_with("4242.2"), Vec::<u32>::new(), "nothing survives the emulator");
}

#[tokio::test]
async fn templates_resolve_once_at_create() {
    let emu = emu().await;
    let c = emu.client();
    let t = c
        .create_template(&CreateTemplateRequest {
            name: "w-tpl".into(),
            image: "python:3.11-slim".into(),
            args: Some("python3 v1.py".into()),
            serverless: Some(true),
            ..CreateTemplateRequest::default()
        })
        .await
        .expect("template");
    let ep = c
        .create_endpoint(&CreateEndpointRequest::from_template("w", t.id.clone()))
        .await
        .expect("endpoint");
    c.update_template(
        &t.id,
        &UpdateTemplateRequest {
            image: Some("python:3.12-slim".into()),
            args: Some("python3 v2.py".into()),
            ..Default::default()
        },
    )
    .await
    .expect("edit template");
    let now = c.get_endpoint(&ep.id).await.expect("endpoint");
    assert_eq!(
        (now.image.as_deref(), now.args.as_deref()),
        (Some("python:3.11-slim"), Some("python3 v1.py")),
        "a template edit does not reach the endpoint"
    );
}

#[tokio::test]
async fn a_python_image_has_python_and_pip_by_their_short_names_too() {
    let emu = emu().await;
    let c = emu.client();
    let p = c
        .create_pod(&pod(
            "py",
            "python:3.11-slim",
            "python -c 'import sys; print(\"py\", sys.version_info[0])'",
        ))
        .await
        .expect("pod");
    let out = run_to_exit(&emu, &p.id, 1).await;
    assert!(out.contains("py 3"), "{out}");
    assert!(!out.contains("this host has none"), "{out}");
}

/// An account secret reaches a container through `{{ RUNPOD_SECRET_<name> }}` at boot; no answer
/// ever carries its value; another account can neither see it nor use it; a name RunPod refuses
/// is 422 and a taken one 409 (RunPod's docs, `api-reference-v2/account/create-a-secret`).
#[tokio::test]
async fn secrets_reach_containers_at_boot_and_no_answer_shows_them() {
    use runpod::types::secrets::{CreateSecretRequest, reference};
    const OTHER: &str = "rpa_SOMEONEELSE0000000000000000000000";
    let mut cfg = common::config();
    cfg.accounts = vec![runpod_emulator::config::AccountSeed::new(OTHER)];
    let emu = emu_with(cfg).await;
    let (c, other) = (emu.client(), emu.client_for(runpod::ApiKey::new(OTHER)));
    let secret = |name: &str| CreateSecretRequest {
        name: name.into(),
        value: "s3cr3t-value".into(),
        description: None,
    };
    let made = c.create_secret(&secret("tok")).await.expect("create");
    for taken in ["tok", "TOK"] {
        assert_eq!(
            c.create_secret(&secret(taken)).await.expect_err("taken").kind(),
            runpod::ErrorKind::Conflict,
            "{taken}"
        );
    }
    for bad in ["RunPod_tok", "1tok", "to k"] {
        assert_eq!(
            c.create_secret(&secret(bad)).await.expect_err(bad).kind(),
            runpod::ErrorKind::Validation,
            "{bad}"
        );
    }

    let mut p = pod("uses", "python:3.11-slim", "sh -c 'echo \"[$PW]\"'");
    p.env = Some([("PW".to_owned(), reference("tok"))].into());
    let p = c.create_pod(&p).await.expect("create");
    let text = run_to_exit(&emu, &p.id, 1).await;
    assert!(text.contains("[s3cr3t-value]"), "substituted at boot:\n{text}");
    let http = reqwest::Client::new();
    let base = emu.base_url();
    let read = |path: String, key: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}{path}"))
                .bearer_auth(key)
                .send()
                .await
                .expect("send")
                .text()
                .await
                .expect("text")
        }
    };
    let key = emu.api_key().expose().to_owned();
    for path in [format!("/v2/pods/{}", p.id), "/v2/pods".into(), "/v2/account/secrets".into()] {
        let body = read(path.clone(), key.clone()).await;
        assert!(!body.contains("s3cr3t-value"), "{path} shows the value: {body}");
    }
    assert!(read("/v2/pods".into(), key.clone()).await.contains("RUNPOD_SECRET_tok"));

    assert!(other.list_secrets().await.expect("list").is_empty(), "accounts are separate");
    assert_eq!(
        other.delete_secret(&made.id).await.expect_err("not theirs").kind(),
        runpod::ErrorKind::NotFound
    );
    let mut borrowed = pod("borrows", "python:3.11-slim", "sh -c 'echo \"[$PW]\"'");
    borrowed.env = Some([("PW".to_owned(), reference("tok"))].into());
    let b = other.create_pod(&borrowed).await.expect("create is accepted");
    let text = run_to_exit_or_never(&emu, &b.id).await;
    assert!(text.contains("does not exist in this account"), "{text}");
    assert!(!text.contains("s3cr3t-value"), "{text}");

    c.delete_secret(&made.id).await.expect("delete");
    assert!(c.list_secrets().await.expect("list").is_empty());
}

/// A container's root is root only in a user namespace of its own and holds no capability but
/// `CAP_NET_BIND_SERVICE` (Docker's default set has it: a pod's sshd listens on 22, in the
/// container's own network), whatever user the emulator runs as (root in CI):
/// `open_by_handle_at` on a volume mount and every other capability-gated way out of the
/// sandbox are closed (issue 25, "shocker").
#[tokio::test]
async fn a_containers_root_holds_no_capability_and_is_nobody_on_the_host() {
    let emu = emu().await;
    let c = emu.client();
    let script = "s = open('/proc/self/status').read().splitlines(); \
                  print('|'.join(l for l in s if l.startswith(('CapEff', 'CapBnd', 'CapPrm')))); \
                  print('map', open('/proc/self/uid_map').read().split()); \
                  import os; print('uid', os.getuid())";
    let p = c
        .create_pod(&with_volume(pod(
            "caps",
            "python:3.11-slim",
            &format!("python3 -c {}", shell_words::quote(script)),
        )))
        .await
        .expect("create");
    let text = run_to_exit(&emu, &p.id, 1).await;
    for cap in ["CapEff", "CapBnd", "CapPrm"] {
        // Bit 10 alone: CAP_NET_BIND_SERVICE.
        assert!(
            text.contains(&format!("{cap}:\t0000000000000400")),
            "{cap} is not NET_BIND_SERVICE alone:\n{text}"
        );
    }
    assert!(text.contains("uid 0"), "root inside, as RunPod's containers are:\n{text}");
    assert!(
        !text.contains("'4294967295'"),
        "the container has the host's whole uid range (no user namespace of its own):\n{text}"
    );
}

/// A container has a network of its own: on its loopback it reaches the emulator (as a RunPod
/// pod reaches RunPod's API) and the ports the operator allows, and nothing else of the host's
/// (here a service on the host's loopback, as Postgres often is), nor sees the host's sockets.
#[tokio::test]
async fn a_container_reaches_the_emulator_and_allowed_ports_only() {
    let host_service = std::net::TcpListener::bind("127.0.0.1:0").expect("a host service");
    let allowed = std::net::TcpListener::bind("127.0.0.1:0").expect("an allowed one");
    let (secret_port, allowed_port) = (
        host_service.local_addr().expect("addr").port(),
        allowed.local_addr().expect("addr").port(),
    );
    let mut cfg = common::config();
    cfg.allow_host_ports = vec![allowed_port];
    let emu = emu_with(cfg).await;
    let c = emu.client();
    let emu_port = emu.base_url().rsplit(':').next().expect("port").to_owned();
    let script = format!(
        "import socket\n\
         def reach(p):\n\
         \x20   s = socket.socket()\n\
         \x20   s.settimeout(3)\n\
         \x20   try:\n\
         \x20       s.connect(('127.0.0.1', p)); return 'open'\n\
         \x20   except OSError as e:\n\
         \x20       return 'closed'\n\
         print('emulator', reach({emu_port}), 'allowed', reach({allowed_port}), 'host', reach({secret_port}))\n\
         print('sockets', len(open('/proc/net/tcp').read().splitlines()) - 1)\n"
    );
    let p = c
        .create_pod(&pod(
            "net",
            "python:3.11-slim",
            &format!("python3 -c {}", shell_words::quote(&script)),
        ))
        .await
        .expect("create");
    let text = run_to_exit(&emu, &p.id, 1).await;
    assert!(
        text.contains("emulator open allowed open host closed"),
        "the emulator and the allowed port only:\n{text}"
    );
    drop((host_service, allowed));
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

/// A pod's `N/tcp` ports are published as RunPod maps them: a port of this machine stands for
/// each (in `runtime.ports`, and `RUNPOD_TCP_PORT_<N>` inside), relaying to the container's
/// own loopback. The container can write where the relay's sockets are, so it could put a
/// link there to a socket of the host's: the emulator never follows one.
#[tokio::test]
async fn published_tcp_ports_reach_the_container_and_never_a_host_socket() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = tempfile::tempdir().expect("tmp");
    let host_sock = host.path().join("host.sock");
    let host_service = std::os::unix::net::UnixListener::bind(&host_sock).expect("host socket");
    host_service.set_nonblocking(true).expect("nonblocking");
    let emu = emu().await;
    let c = emu.client();
    let script = format!(
        "import os, socket, time, http.server\n\
         link = '/run/podwarden-ports/9000.sock'\n\
         while not os.path.exists(link): time.sleep(0.01)\n\
         os.remove(link); os.symlink({host:?}, link)\n\
         stuck = '/run/podwarden-ports/7000.sock'\n\
         while not os.path.exists(stuck): time.sleep(0.01)\n\
         os.remove(stuck); never = socket.socket(socket.AF_UNIX); never.bind(stuck); never.listen(0)\n\
         s = http.server.HTTPServer(('127.0.0.1', 8000), http.server.SimpleHTTPRequestHandler)\n\
         print('serving, public', os.environ.get('RUNPOD_TCP_PORT_8000'), flush=True)\n\
         s.serve_forever()\n",
        host = host_sock.display().to_string()
    );
    let mut req =
        pod("ports", "python:3.11-slim", &format!("python3 -c {}", shell_words::quote(&script)));
    req.ports =
        Some(vec!["8000/tcp".into(), "9000/tcp".into(), "7000/tcp".into(), "8888/http".into()]);
    let p = c.create_pod(&req).await.expect("create");
    emu.advance(Duration::from_secs(30));
    let text = until_logged(&emu, &p.id, "serving").await;
    let pod = c.get_pod(&p.id).await.expect("pod");
    let ports = pod.runtime.expect("running").ports;
    let public = |private: u16| {
        ports.iter().find(|x| x.private == private).and_then(|x| x.public).expect("mapped")
    };
    assert_eq!(ports.len(), 3, "tcp ports only (http ones go through RunPod's proxy): {ports:?}");
    assert!(ports.iter().all(|x| x.kind == "tcp" && x.ip.as_deref() == Some("127.0.0.1")));
    assert!(text.contains(&format!("serving, public {}", public(8000))), "{text}");
    assert!(pod.ssh.direct.is_none(), "no 22/tcp, no direct ssh");

    // (Async I/O: the relay runs on this test's runtime.)
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", public(8000))).await.expect("connect");
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.expect("request");
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");

    // The link is refused: the connection closes and the host's socket never sees it.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", public(9000))).await.expect("connect");
    let mut nothing = Vec::new();
    let _ = s.read_to_end(&mut nothing).await;
    assert!(nothing.is_empty());
    assert!(
        matches!(host_service.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the relay followed the container's link to a host socket"
    );

    // A socket that never accepts (its backlog full) is a refusal, never a wait that would
    // hold the emulator's threads (and the control plane sharing them).
    // (The first may be queued in the backlog, and so waits as a real client would: each is
    // given a moment, then dropped.)
    for _ in 0..6 {
        let mut s =
            tokio::net::TcpStream::connect(("127.0.0.1", public(7000))).await.expect("connect");
        let mut nothing = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(200), s.read_to_end(&mut nothing)).await;
    }
    c.get_pod(&p.id).await.expect("the emulator still answers");
}

/// A RunPod image started as is (no `args`) runs its start script: with `PUBLIC_KEY` set and
/// `22/tcp` published, its sshd lets that key in as root, and `ssh.direct` says where — the
/// pod's own machine (its hostname), through OpenSSH's client.
#[tokio::test]
async fn a_runpod_image_with_public_key_runs_sshd_reachable_through_ssh_direct() {
    let emu = emu().await;
    let c = emu.client();
    let keys = tempfile::tempdir().expect("tmp");
    let key = keys.path().join("id");
    podwarden_test_utils::ssh_keygen(&key);
    let public = std::fs::read_to_string(keys.path().join("id.pub")).expect("pub");
    let mut req = pod("sshd", "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04", "");
    req.args = None;
    req.env = Some([("PUBLIC_KEY".to_owned(), public.trim().to_owned())].into());
    req.ports = Some(vec!["22/tcp".into()]);
    let p = c.create_pod(&req).await.expect("create");
    emu.advance(Duration::from_secs(30));
    until_logged(&emu, &p.id, "Pod is ready to use").await;
    let direct = c.get_pod(&p.id).await.expect("pod").ssh.direct.expect("ssh.direct");
    assert_eq!((direct.host.as_str(), direct.username.as_str()), ("127.0.0.1", "root"));
    let port = direct.port.to_string();
    let known = keys.path().join("known_hosts");
    let out = tokio::process::Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .arg("-i")
        .arg(&key)
        .args(["-p", &port, "root@127.0.0.1", "hostname; id -u"])
        .output()
        .await
        .expect("ssh (Debian: openssh-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{}", logs(&emu, &p.id));
    assert_eq!(text, format!("{}\n0\n", p.id), "the pod's own hostname, as root");
}

/// The request's env is the container's, never the host's: the programs that start the
/// sandbox (bwrap, and nsenter for a pod on a global network) run on the host, and an
/// `LD_PRELOAD` or `LD_DEBUG` given to them would run or steer the host's dynamic loader
/// outside the sandbox (a `.so` on the pod's volume, by its host path, would run as the
/// emulator's user). `LD_DEBUG` shows it without a compiler: the host's loader would print the
/// libraries *bwrap* needs; inside, only the container's own programs' are printed.
#[tokio::test]
async fn the_requests_env_never_reaches_the_programs_that_start_the_sandbox() {
    let emu = emu().await;
    let c = emu.client();
    for global in [false, true] {
        let mut req = pod(
            "env",
            "python:3.11-slim",
            "python3 -c 'import os; print(\"in:\", os.environ[\"LD_DEBUG\"])'",
        );
        req.env = Some([("LD_DEBUG".to_owned(), "libs".to_owned())].into());
        req.global_networking = global.then_some(true);
        let p = c.create_pod(&req).await.expect("create");
        let text = run_to_exit(&emu, &p.id, 1).await;
        assert!(text.contains("in: libs"), "the container has its env (global {global}):\n{text}");
        // libselinux: bwrap's and nsenter's, not python's, dash's or socat's.
        assert!(
            !text.lines().any(|l| l.contains("/usr/bin/bwrap") || l.contains("libselinux")),
            "the host's bwrap ran with the pod's LD_DEBUG (global {global}):\n{text}"
        );
    }
}
