//! SSH on a shared operator account: each job's pod gets its own user's keys and nobody
//! else's (never the account's, `startSsh` is not set), the connection info is its owner's
//! alone, and what the API cannot serve it refuses with the reason.

use podwarden_test_utils::server as common;

const KEY_A: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA alice@laptop";
const KEY_B: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB bob@laptop";

fn dev(name: &str, key: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name, "image": "runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04",
        "ssh": {"public_keys": [key]}, "gpu": {"min_vram_gb": 16},
    })
}

#[tokio::test]
async fn each_pod_gets_its_own_users_keys_and_the_connection_is_its_owners_alone() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    let alice = common::new_user(&http, &s.url, &s.token, "alice").await.token;
    let bob = common::new_user(&http, &s.url, &s.token, "bob").await.token;
    let a = common::submit(&http, &s.url, &alice, &dev("dev-a", KEY_A)).await;
    let b = common::submit(&http, &s.url, &bob, &dev("dev-b", KEY_B)).await;
    assert_eq!(a.job.kind, "dev");
    let ca = common::client(&http, &s.url, &alice);
    for job in [&a, &b] {
        let token = if job.job.id == a.job.id { &alice } else { &bob };
        common::wait_for_state(&http, &s.url, token, &job.job.id, "running").await;
    }
    // Each pod's PUBLIC_KEY is its own user's key alone, and no pod asked for the account's.
    let pods = emu.shared.world.lock().pods.clone();
    let env_of = |name: &str| {
        let p = pods.values().find(|p| p.env.get("PUBLIC_KEY").is_some_and(|k| k.contains(name)));
        p.map(|p| (p.env.get("PUBLIC_KEY").cloned(), p.start_ssh, p.ports.clone()))
    };
    let (key_a, start_ssh_a, ports_a) = env_of("alice").expect("alice's pod");
    assert_eq!(key_a.as_deref(), Some(KEY_A));
    assert!(!start_ssh_a, "startSsh would add the account's keys");
    assert_eq!(ports_a, vec!["22/tcp".to_owned()]);
    assert_eq!(env_of("bob").and_then(|e| e.0).as_deref(), Some(KEY_B));

    // Booted is not yet mapped everywhere (RunPod reports RUNNING before `runtime.ports`): the
    // connection is given once the container is up.
    emu.wait_for("the containers up", podwarden_test_utils::emulator::LIMIT, |w| {
        w.pods.values().all(|p| p.container.up).then_some(())
    })
    .await
    .expect("up");
    let info = ca.job_ssh(&a.job.id, 0).await.expect("ssh info");
    assert_eq!((info.user.as_str(), info.host.as_str(), info.node), ("root", "127.0.0.1", 0));
    assert_eq!(info.command, format!("ssh -p {} root@127.0.0.1", info.port));
    // Bob cannot see Alice's job, so not how to reach its pod either.
    let cb = common::client(&http, &s.url, &bob);
    let e = cb.job_ssh(&a.job.id, 0).await.expect_err("not bob's");
    assert_eq!(e.code(), Some(podwarden_api::types::ErrorCode::NotFound));
    let e = ca.job_ssh(&a.job.id, 3).await.expect_err("one pod");
    assert_eq!(e.code(), Some(podwarden_api::types::ErrorCode::InvalidQuery));
    s.shutdown().await;
}

#[tokio::test]
async fn what_the_api_cannot_serve_it_refuses_with_the_reason() {
    let home = tempfile::tempdir().expect("home");
    let s = common::server(home.path()).await;
    let http = reqwest::Client::new();
    let post = |spec: serde_json::Value| {
        let (http, url, token) = (http.clone(), s.url.clone(), s.token.clone());
        async move {
            let r = http
                .post(format!("{url}/api/v1/jobs"))
                .bearer_auth(token)
                .json(&spec)
                .send()
                .await
                .expect("post");
            (r.status().as_u16(), r.json::<serde_json::Value>().await.expect("json"))
        }
    };
    // `true` is the CLI's shorthand: the server cannot read anyone's ~/.ssh.
    let mut spec = dev("dev", KEY_A);
    spec["ssh"] = serde_json::json!(true);
    let (status, body) = post(spec).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("ssh.public_keys"), "{body}");
    let (status, body) = post(dev("dev", "-----BEGIN OPENSSH PRIVATE KEY-----")).await;
    assert_eq!(status, 422, "{body}");
    // A job without ssh has no connection to give.
    let plain = common::submit(
        &http,
        &s.url,
        &s.token,
        &serde_json::json!({"name": "plain", "image": "python:3.11-slim", "command": "sleep 600", "gpu": {"min_vram_gb": 16}}),
    )
    .await;
    let e = common::client(&http, &s.url, &s.token)
        .job_ssh(&plain.job.id, 0)
        .await
        .expect_err("no ssh");
    assert_eq!(e.code(), Some(podwarden_api::types::ErrorCode::NoPod));
    assert!(e.to_string().contains("without `ssh`"), "{e}");
    s.shutdown().await;
}
