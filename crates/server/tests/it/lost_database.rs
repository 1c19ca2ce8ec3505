//! A lost database never leaves pods billing unnoticed: the install's identity outlives the
//! database (`install_id` beside it), so a recreated database's reconciler terminates the pods
//! the old one knew; another install's pods are reported as strays and reaped only on the
//! operator's word.

use common::{server_with, wait_for_state};
use podwarden_test_utils::server as common;

fn live_pods(emu: &runpod_emulator::RunningEmulator) -> Vec<String> {
    emu.shared
        .world
        .lock()
        .pods
        .values()
        .filter(|p| p.status != runpod::types::pods::PodStatus::Terminated)
        .map(|p| p.name.clone())
        .collect()
}

/// The server on `emu`, on SQLite on either test run: losing the database is deleting its file.
fn sqlite_on(
    emu: &runpod_emulator::RunningEmulator,
) -> impl FnOnce(&mut podwarden_server::ServerConfig) {
    let client = emu.client();
    move |c| {
        c.client = Some(client);
        c.database = None;
    }
}

/// Starts a job and leaves its pod running with the server gone (pods outlive the server).
async fn leave_a_running_pod(
    emu: &runpod_emulator::RunningEmulator,
    home: &std::path::Path,
) -> String {
    let s = server_with(home, sqlite_on(emu)).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "left", "image": "python:3.11-slim", "command": "sleep 100000", "gpu": {"min_vram_gb": 16}});
    let job = common::submit(&http, &s.url, &s.token, &spec).await;
    wait_for_state(&http, &s.url, &s.token, &job.job.id, "running").await;
    s.shutdown().await;
    std::fs::read_to_string(home.join("install_id")).expect("install_id").trim().to_owned()
}

/// Waits (bounded) for the emulator to have no live pod named with `install`'s prefix.
async fn until_gone(emu: &runpod_emulator::RunningEmulator, install: &str) {
    let prefix = format!("pw-{install}-");
    for _ in 0..500 {
        if !live_pods(emu).iter().any(|n| n.starts_with(&prefix)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("pods of {install} still live: {:?}", live_pods(emu));
}

#[tokio::test]
async fn a_recreated_database_keeps_the_install_and_reaps_what_the_old_one_knew() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    let install = leave_a_running_pod(&emu, home.path()).await;
    assert_eq!(live_pods(&emu).len(), 1);
    for f in ["podwarden.db", "podwarden.db-wal", "podwarden.db-shm"] {
        let _ = std::fs::remove_file(home.path().join(f));
    }
    let s = server_with(home.path(), sqlite_on(&emu)).await;
    assert_eq!(
        std::fs::read_to_string(home.path().join("install_id")).expect("id").trim(),
        install,
        "the identity survived"
    );
    // The pod is this install's, and no job owns it: the reconciler terminates it.
    until_gone(&emu, &install).await;
    s.shutdown().await;
}

#[tokio::test]
async fn another_installs_pods_are_strays_reaped_on_the_operators_word() {
    let emu = common::standalone_emulator().await;
    let (old, new) = (tempfile::tempdir().expect("home"), tempfile::tempdir().expect("home"));
    let other = leave_a_running_pod(&emu, old.path()).await;
    // A new install on the same account (its data directory lost, identity and all).
    let s = server_with(new.path(), sqlite_on(&emu)).await;
    let http = reqwest::Client::new();
    let strays: Vec<podwarden_server::api::StrayView> =
        common::get_json(&http, &format!("{}/api/v1/strays", s.url), &s.token).await;
    assert_eq!(strays.len(), 1, "{strays:?}");
    assert_eq!((strays[0].install.as_str(), strays[0].running), (other.as_str(), true));
    assert!(strays[0].cost_per_hour_usd > 0.0);
    assert_eq!(live_pods(&emu).len(), 1, "reported, not touched");
    let bob = common::new_user(&http, &s.url, &s.token, "bob").await;
    let r = http
        .get(format!("{}/api/v1/strays", s.url))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("strays");
    assert_eq!(r.status().as_u16(), 403, "an operator's matter");
    let own: String =
        std::fs::read_to_string(new.path().join("install_id")).expect("id").trim().to_owned();
    let r = http
        .post(format!("{}/api/v1/strays/reap", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"install": own}))
        .send()
        .await
        .expect("reap");
    assert_eq!(r.status().as_u16(), 409, "this install's own pods are the reconciler's");
    let r: serde_json::Value = common::post_json(
        &http,
        &format!("{}/api/v1/strays/reap", s.url),
        &s.token,
        &serde_json::json!({"install": other}),
    )
    .await;
    assert_eq!(r["terminated"].as_array().map(Vec::len), Some(1), "{r}");
    until_gone(&emu, &other).await;
    s.shutdown().await;
    emu.shutdown().await;
}
