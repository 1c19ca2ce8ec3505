//! Compute backends per user: a BYOK user's jobs run with their own key (their account's
//! engine), hosted jobs with the operator's, side by side on one RunPod account without either
//! engine mistaking the other's pods for orphans; keys cannot change under running jobs; the
//! operator's per-user cap on hosted spend.

mod common;
use common::{follow, server_with};
use server::api::{ComputeSettings, ErrorBody, JobDetail, NewToken, UserView};

const USER_KEY: &str = "rpa_USERSOWNKEY0000000000000000000000000000WXYZ";

fn spec(name: &str, command: &str, budget: f64) -> serde_json::Value {
    serde_json::json!({"name": name, "image": "python:3.11-slim", "command": command, "gpu": {"min_vram_gb": 16}, "limits": {"budget_usd": budget}})
}

#[tokio::test]
async fn byok_jobs_run_on_the_users_key_and_hosted_jobs_on_the_operators() {
    let mut ecfg = runpod_emulator::EmulatorConfig::default();
    ecfg.pods.provisioning_secs = 0.1;
    ecfg.pods.starting_secs = 0.1;
    ecfg.tick_ms = 50;
    // The user's key is a second key of the same account: the hardest case for orphan checks.
    ecfg.extra_api_keys = vec![USER_KEY.into()];
    let emu = runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);

    let alice: NewToken = http.post(api("/users")).bearer_auth(&s.token).json(&serde_json::json!({"name": "alice"})).send().await.expect("user").json().await.expect("json");
    let saved: ComputeSettings = http.post(api("/settings/runpod-key")).bearer_auth(&alice.token).json(&serde_json::json!({"api_key": USER_KEY})).send().await.expect("key").json().await.expect("json");
    assert_eq!(saved.backend, "runpod");

    let post = |token: String, body: serde_json::Value| http.post(api("/jobs")).bearer_auth(token).json(&body).send();
    let mine: JobDetail = post(alice.token.clone(), spec("alice-job", "echo from alice", 1.0)).await.expect("post").json().await.expect("json");
    let hosted: JobDetail = post(s.token.clone(), spec("admin-job", "echo from admin", 1.0)).await.expect("post").json().await.expect("json");
    assert_eq!((mine.job.backend.as_str(), hosted.job.backend.as_str()), ("runpod", "hosted"));

    // Alice follows her own job with her token.
    let (a_done, a_events) = common::follow_as(&http, &s.url, &alice.token, &mine.job.id).await;
    let (h_done, h_events) = follow(&http, &s, &hosted.job.id).await;
    assert_eq!(a_done.job.state, "succeeded", "{a_events:#?}");
    assert_eq!(h_done.job.state, "succeeded", "{h_events:#?}");

    // One pod create each, each with its own key: no orphan kill, no retry, no mixing.
    let creates: Vec<String> = emu.account_calls().into_iter().filter(|c| c.method == "POST" && c.path == "/v2/pods").map(|c| c.key_last4).collect();
    let op_last4 = &emu.api_key().expose()[emu.api_key().expose().len() - 4..];
    assert_eq!(creates.iter().filter(|k| k.as_str() == "WXYZ").count(), 1, "{creates:?}");
    assert_eq!(creates.iter().filter(|k| k.as_str() == op_last4).count(), 1, "{creates:?}");
    assert!(a_done.attempts.len() == 1 && h_done.attempts.len() == 1);

    // While a job runs on her key, the key can be neither replaced nor removed.
    let long: JobDetail = post(alice.token.clone(), spec("alice-long", "sleep 300", 1.0)).await.expect("post").json().await.expect("json");
    common::wait_for_state(&http, &s.url, &alice.token, &long.job.id, "running").await;
    let r = http.delete(api("/settings/runpod-key")).bearer_auth(&alice.token).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.json::<ErrorBody>().await.expect("json").code, "jobs_running_on_key");
    let r = http.post(api("/settings/runpod-key")).bearer_auth(&alice.token).json(&serde_json::json!({"api_key": USER_KEY})).send().await.expect("save");
    assert_eq!(r.status().as_u16(), 409);
    http.post(api(&format!("/jobs/{}/stop", long.job.id))).bearer_auth(&alice.token).send().await.expect("stop");
    let (stopped, _) = common::follow_as(&http, &s.url, &alice.token, &long.job.id).await;
    assert_eq!(stopped.job.state, "cancelled");
    let r = http.delete(api("/settings/runpod-key")).bearer_auth(&alice.token).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<ComputeSettings>().await.expect("json").backend, "hosted");
    s.shutdown().await;
    emu.shutdown().await;
}

#[tokio::test]
async fn the_operator_caps_a_users_hosted_spend() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |_| {}).await;
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);
    let bob: NewToken = http.post(api("/users")).bearer_auth(&s.token).json(&serde_json::json!({"name": "bob"})).send().await.expect("user").json().await.expect("json");
    let cap = |token: String, body: serde_json::Value| http.patch(api(&format!("/users/{}", bob.user.id))).bearer_auth(token).json(&body).send();

    // Only an admin sets caps, and only to an amount.
    assert_eq!(cap(bob.token.clone(), serde_json::json!({"spend_cap_usd": 100.0})).await.expect("patch").status().as_u16(), 403);
    assert_eq!(cap(s.token.clone(), serde_json::json!({"spend_cap_usd": -1.0})).await.expect("patch").status().as_u16(), 422);
    let u: UserView = cap(s.token.clone(), serde_json::json!({"spend_cap_usd": 0.5})).await.expect("patch").json().await.expect("json");
    assert_eq!(u.spend_cap_usd, Some(0.5));

    // A job asking for more than is left gets what is left, and says so.
    let post = |body: serde_json::Value| http.post(api("/jobs")).bearer_auth(&bob.token).json(&body).send();
    let first: JobDetail = post(spec("bob-one", "sleep 300", 2.0)).await.expect("post").json().await.expect("json");
    assert_eq!(first.job.budget_usd, Some(0.5));
    let settings: ComputeSettings = http.get(api("/settings/runpod-key")).bearer_auth(&bob.token).send().await.expect("get").json().await.expect("json");
    assert_eq!((settings.spend_cap_usd, settings.hosted_committed_usd), (Some(0.5), 0.5), "the running job reserves its budget");
    // Nothing is left: the next hosted job is refused with what to do.
    let r = post(spec("bob-two", "true", 0.1)).await.expect("post");
    assert_eq!(r.status().as_u16(), 402);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, "spend_cap_reached");
    assert!(e.hint.unwrap_or_default().contains("own RunPod key"));
    // Stopping the first frees what it did not spend.
    http.post(api(&format!("/jobs/{}/stop", first.job.id))).bearer_auth(&bob.token).send().await.expect("stop");
    let (done, events) = common::follow_as(&http, &s.url, &bob.token, &first.job.id).await;
    assert!(events.iter().any(|e| e.kind == "budget" && e.message.contains("hosted spend cap")), "{events:#?}");
    assert_eq!(done.job.state, "cancelled");
    let again = post(spec("bob-three", "true", 0.1)).await.expect("post");
    assert_eq!(again.status().as_u16(), 201, "the unspent reservation is free again");
    // The admin has no cap.
    let admin_job = http.post(api("/jobs")).bearer_auth(&s.token).json(&spec("admin", "true", 5.0)).send().await.expect("post");
    assert_eq!(admin_job.status().as_u16(), 201);
    s.shutdown().await;
}
