//! Helpers shared by the server's integration tests.

use podwarden_server::api::{EventView, JobDetail};
use podwarden_server::{ServerConfig, start};
use std::time::Duration;

/// A server on its embedded emulator with fast pods and ticks.
pub async fn server(home: &std::path::Path) -> podwarden_server::RunningServer {
    server_with(home, |_| {}).await
}

/// Like `server`, with `f` changing the config first.
pub async fn server_with(
    home: &std::path::Path,
    f: impl FnOnce(&mut ServerConfig),
) -> podwarden_server::RunningServer {
    let mut cfg = ServerConfig::new(home.to_path_buf(), "127.0.0.1:0".parse().expect("addr"));
    cfg.tick = Duration::from_millis(100);
    cfg.emulator.pods.provisioning_secs = 0.1;
    cfg.emulator.pods.starting_secs = 0.1;
    cfg.emulator.tick_ms = 50;
    // PODWARDEN_TEST_DATABASE=postgres: the server on a fresh Postgres schema, the same one
    // for every server on this home (a restart finds its data, as with SQLite).
    let marker = home.join(DATABASE_MARKER);
    cfg.database = match std::fs::read_to_string(&marker) {
        Ok(url) => Some(url),
        Err(_) => {
            let url = podwarden_store::testing::server_database().await;
            if let Some(u) = &url {
                std::fs::write(&marker, u).expect("note the test database");
            }
            url
        }
    };
    f(&mut cfg);
    start(cfg).await.expect("server starts")
}

/// Where `server_with` notes the Postgres schema of a home's servers.
const DATABASE_MARKER: &str = "test-database-url";

/// The database the servers on `home` use (their Postgres schema, else the home's SQLite
/// file), opened beside them: for a test that plays a server which wrote and died.
pub async fn server_store(home: &std::path::Path) -> podwarden_store::Store {
    match std::fs::read_to_string(home.join(DATABASE_MARKER)) {
        Ok(url) => podwarden_store::Store::open_postgres(&url).await,
        Err(_) => podwarden_store::Store::open_sqlite(&home.join("podwarden.db")).await,
    }
    .expect("the servers' database")
}

/// A standalone emulator as these tests run one: fast pods and ticks, budgets compressed alike.
pub async fn standalone_emulator() -> runpod_emulator::RunningEmulator {
    standalone_emulator_with(|_| {}).await
}

/// [`standalone_emulator`], its config changed by `f` first.
pub async fn standalone_emulator_with(
    f: impl FnOnce(&mut runpod_emulator::EmulatorConfig),
) -> runpod_emulator::RunningEmulator {
    let mut ecfg = runpod_emulator::EmulatorConfig::default();
    ecfg.pods.provisioning_secs = 0.1;
    ecfg.pods.starting_secs = 0.1;
    ecfg.tick_ms = 50;
    ecfg.rate_limits = compressed_budgets();
    // Time here runs 20-100x compressed and bills are read right away: they show live. The
    // billing lag is tested on the manual clock (emulator `pods::spend_shows_*`, engine
    // `a_bill_is_booked_only_once_it_settles_*`).
    ecfg.billing = runpod_emulator::config::BillingConfig::live();
    f(&mut ecfg);
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

/// The typed API client on `http`'s connection pool.
pub fn client(http: &reqwest::Client, url: &str, token: &str) -> podwarden_api::Client {
    podwarden_api::Client::with_http(http.clone(), url, token).expect("server URL")
}

/// Submits a job spec (JSON) and returns it as created.
pub async fn submit(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    spec: &serde_json::Value,
) -> JobDetail {
    let typed: podwarden_api::types::JobSpec = serde_json::from_value(spec.clone())
        .unwrap_or_else(|e| panic!("{spec} is not a job spec: {e}"));
    client(http, url, token)
        .submit_job(&typed)
        .await
        .unwrap_or_else(|e| panic!("submitting {spec}: {e}"))
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
) -> podwarden_server::api::NewToken {
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
    s: &podwarden_server::RunningServer,
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
) -> podwarden_server::api::ServerlessJobView {
    let c = client(http, url, token);
    let mut after = 0;
    for _ in 0..200 {
        let v = c.serverless_job(id).await.expect("serverless job");
        if ["succeeded", "failed", "cancelled", "timed_out"].contains(&v.state.as_str()) {
            return v;
        }
        let evs = c.serverless_job_events(id, after, 5000).await.expect("events");
        after = evs.last().map_or(after, |e| e.id);
    }
    panic!("serverless job {id} did not settle");
}

/// Follows a job (long-polling its events, no sleeping) until `done` says its state is reached.
async fn follow_until(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
    done: impl Fn(&str) -> bool,
) -> (JobDetail, Vec<EventView>) {
    let c = client(http, url, token);
    let mut after = 0;
    let mut all = Vec::new();
    for _ in 0..200 {
        let d = c.job(id).await.expect("job");
        let wait = if done(d.job.state.as_str()) { 0 } else { 5000 };
        let evs = c.job_events(id, after, wait).await.expect("events");
        if let Some(last) = evs.last() {
            after = last.id;
        }
        all.extend(evs);
        if wait == 0 {
            return (d, all);
        }
    }
    panic!("job {id} did not get there");
}
