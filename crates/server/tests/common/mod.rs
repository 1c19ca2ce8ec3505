//! Helpers shared by the server's integration tests.
#![allow(dead_code)]

use server::api::{EventView, JobDetail};
use server::{ServerConfig, start};
use std::time::Duration;

/// A server on its embedded emulator with fast pods and ticks.
pub async fn server(home: &std::path::Path) -> server::RunningServer {
    server_with(home, |_| {}).await
}

/// Like `server`, with `f` changing the config first.
pub async fn server_with(
    home: &std::path::Path,
    f: impl FnOnce(&mut ServerConfig),
) -> server::RunningServer {
    let mut cfg = ServerConfig::new(home.to_path_buf(), "127.0.0.1:0".parse().expect("addr"));
    cfg.tick = Duration::from_millis(100);
    cfg.emulator.pods.provisioning_secs = 0.1;
    cfg.emulator.pods.starting_secs = 0.1;
    cfg.emulator.tick_ms = 50;
    f(&mut cfg);
    start(cfg).await.expect("server starts")
}

/// A standalone emulator as these tests run one: fast pods and ticks, budgets compressed alike.
pub async fn standalone_emulator() -> runpod_emulator::RunningEmulator {
    let mut ecfg = runpod_emulator::EmulatorConfig::default();
    ecfg.pods.provisioning_secs = 0.1;
    ecfg.pods.starting_secs = 0.1;
    ecfg.tick_ms = 50;
    ecfg.rate_limits = compressed_budgets();
    runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator")
}

/// `GET url` with `token`, the answer as `T`.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> T {
    http.get(url).bearer_auth(token).send().await.expect("get").json().await.expect("json")
}

/// `POST url` with `token` and a JSON body, the answer as `T`.
pub async fn post_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> T {
    http.post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json")
}

/// Submits a job spec (JSON) and returns it as created.
pub async fn submit(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    spec: &serde_json::Value,
) -> JobDetail {
    let r = http
        .post(format!("{url}/api/v1/jobs"))
        .bearer_auth(token)
        .json(spec)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201, "submitting {spec}");
    r.json().await.expect("json")
}

/// RunPod's request budgets compressed as these tests compress time (a 100 ms reconcile
/// period instead of 2 s), for tests that start their own emulator.
pub fn compressed_budgets() -> runpod_emulator::ratelimit::RateLimitConfig {
    runpod_emulator::ratelimit::RateLimitConfig::scaled(20)
}

/// A new user made by the admin (`token`), with their first token.
pub async fn new_user(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
) -> server::api::NewToken {
    let r = http
        .post(format!("{url}/api/v1/users"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status().as_u16(), 201, "creating user {name}");
    r.json().await.expect("json")
}

/// Follows a job's events (long-poll, no sleeping) until its state is final.
pub async fn follow(
    http: &reqwest::Client,
    s: &server::RunningServer,
    id: &str,
) -> (JobDetail, Vec<EventView>) {
    follow_as(http, &s.url, &s.token, id).await
}

/// `follow` with another user's token.
pub async fn follow_as(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
) -> (JobDetail, Vec<EventView>) {
    follow_until(http, url, token, id, |s| {
        ["succeeded", "failed", "cancelled", "budget_exceeded", "timed_out"].contains(&s)
    })
    .await
}

/// Follows a job until its state is `state`.
pub async fn wait_for_state(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
    state: &str,
) -> JobDetail {
    follow_until(http, url, token, id, |s| s == state).await.0
}

/// Follows a serverless job until its state is final.
pub async fn follow_serverless_job(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
) -> server::api::ServerlessJobView {
    let mut after = 0;
    for _ in 0..200 {
        let v: server::api::ServerlessJobView = http
            .get(format!("{url}/api/v1/requests/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if ["succeeded", "failed", "cancelled", "timed_out"].contains(&v.state.as_str()) {
            return v;
        }
        after = next_events(http, url, token, id, after).await.last().map_or(after, |e| e.id);
    }
    panic!("serverless job {id} did not settle");
}

/// The events after `after`, waiting up to 5 s for one.
async fn next_events(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
    after: i64,
) -> Vec<EventView> {
    http.get(format!("{url}/api/v1/jobs/{id}/events?after={after}&wait_ms=5000"))
        .bearer_auth(token)
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("json")
}

async fn follow_until(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
    done: impl Fn(&str) -> bool,
) -> (JobDetail, Vec<EventView>) {
    let mut after = 0;
    let mut all = Vec::new();
    for _ in 0..200 {
        let d: JobDetail = http
            .get(format!("{url}/api/v1/jobs/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if done(d.job.state.as_str()) {
            let evs: Vec<EventView> = http
                .get(format!("{url}/api/v1/jobs/{id}/events?after={after}"))
                .bearer_auth(token)
                .send()
                .await
                .expect("events")
                .json()
                .await
                .expect("json");
            all.extend(evs);
            return (d, all);
        }
        let evs = next_events(http, url, token, id, after).await;
        if let Some(last) = evs.last() {
            after = last.id;
        }
        all.extend(evs);
    }
    panic!("job {id} did not get there");
}
