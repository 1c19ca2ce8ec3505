//! Compute backends per user: a BYOK user's jobs run with their own key (their account's
//! engine), hosted jobs with the operator's, side by side on one RunPod account without either
//! engine mistaking the other's pods for orphans; keys cannot change under running jobs; the
//! operator's per-user cap on hosted spend.

use common::{follow, server_with};
use podwarden_core::events::EventKind;
use podwarden_core::state::{JobState, ServerlessJobState};
use podwarden_server::api::ErrorCode;
use podwarden_server::api::{ComputeSettings, ErrorBody, JobDetail, NewToken, UserView};
use podwarden_test_utils::server as common;

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
    ecfg.rate_limits = common::compressed_budgets();
    // The user's key belongs to their own RunPod account, as it would on RunPod.
    ecfg.accounts = vec![runpod_emulator::config::AccountSeed::new(USER_KEY)];
    // Time runs compressed and bills are read right away: they show live (the billing lag is
    // tested on the manual clock).
    ecfg.billing = runpod_emulator::config::BillingConfig::live();
    let emu =
        runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);

    let alice: NewToken = common::new_user(&http, &s.url, &s.token, "alice").await;
    let saved: ComputeSettings = http
        .post(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"api_key": USER_KEY}))
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    assert_eq!(saved.backend, "runpod");

    let post = |token: String, body: serde_json::Value| {
        http.post(api("/jobs")).bearer_auth(token).json(&body).send()
    };
    let mine: JobDetail = post(alice.token.clone(), spec("alice-job", "echo from alice", 1.0))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let hosted: JobDetail = post(s.token.clone(), spec("admin-job", "echo from admin", 1.0))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!((mine.job.backend.as_str(), hosted.job.backend.as_str()), ("runpod", "hosted"));

    // Alice follows her own job with her token.
    let (a_done, a_events) = common::follow_as(&http, &s.url, &alice.token, &mine.job.id).await;
    let (h_done, h_events) = follow(&http, &s, &hosted.job.id).await;
    assert_eq!(a_done.job.state, JobState::Succeeded, "{a_events:#?}");
    assert_eq!(h_done.job.state, JobState::Succeeded, "{h_events:#?}");

    // One pod create each, each with its own key: no orphan kill, no retry, no mixing.
    let creates: Vec<String> = emu
        .account_calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == "/v2/pods")
        .map(|c| c.key_last4)
        .collect();
    let op_last4 = &emu.api_key().expose()[emu.api_key().expose().len() - 4..];
    assert_eq!(creates.iter().filter(|k| k.as_str() == "WXYZ").count(), 1, "{creates:?}");
    assert_eq!(creates.iter().filter(|k| k.as_str() == op_last4).count(), 1, "{creates:?}");
    assert!(a_done.attempts.len() == 1 && h_done.attempts.len() == 1);
    // Her pod billed her account, the admin's pod the operator's.
    let billing = runpod::types::billing::BillingQuery {
        bucket_size: Some("hour".into()),
        ..Default::default()
    };
    let user_client = emu.client_for(runpod::ApiKey::new(USER_KEY));
    let billed_pods = |r: runpod::types::billing::ListPodBillingResponse| {
        r.records.into_iter().map(|r| r.pod_id).collect::<std::collections::BTreeSet<_>>()
    };
    let user_pods = billed_pods(user_client.pod_billing(&billing).await.expect("user's bills"));
    let op_pods = billed_pods(emu.client().pod_billing(&billing).await.expect("operator's bills"));
    assert_eq!(user_pods.len(), 1, "{user_pods:?}");
    assert!(user_pods.is_disjoint(&op_pods), "{user_pods:?} {op_pods:?}");

    // While a job runs on her key, the key can be neither replaced nor removed.
    let long: JobDetail = post(alice.token.clone(), spec("alice-long", "sleep 300", 1.0))
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    common::wait_for_state(&http, &s.url, &alice.token, &long.job.id, "running").await;
    let r = http
        .delete(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.json::<ErrorBody>().await.expect("json").code, ErrorCode::JobsRunningOnKey);
    let r = http
        .post(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"api_key": USER_KEY}))
        .send()
        .await
        .expect("save");
    assert_eq!(r.status().as_u16(), 409);
    http.post(api(&format!("/jobs/{}/stop", long.job.id)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("stop");
    let (stopped, _) = common::follow_as(&http, &s.url, &alice.token, &long.job.id).await;
    assert_eq!(stopped.job.state, JobState::Cancelled);
    let r = http
        .delete(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("delete");
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
    let bob: NewToken = common::new_user(&http, &s.url, &s.token, "bob").await;
    let cap = |token: String, body: serde_json::Value| {
        http.patch(api(&format!("/users/{}", bob.user.id))).bearer_auth(token).json(&body).send()
    };

    // Only an admin sets caps, and only to an amount.
    assert_eq!(
        cap(bob.token.clone(), serde_json::json!({"spend_cap_usd": 100.0}))
            .await
            .expect("patch")
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        cap(s.token.clone(), serde_json::json!({"spend_cap_usd": -1.0}))
            .await
            .expect("patch")
            .status()
            .as_u16(),
        422
    );
    let u: UserView = cap(s.token.clone(), serde_json::json!({"spend_cap_usd": 0.5}))
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(u.spend_cap_usd, Some(0.5));

    // A job asking for more than is left gets what is left, and says so.
    let post = |body: serde_json::Value| {
        http.post(api("/jobs")).bearer_auth(&bob.token).json(&body).send()
    };
    let first: JobDetail =
        post(spec("bob-one", "sleep 300", 2.0)).await.expect("post").json().await.expect("json");
    assert_eq!(first.job.budget_usd, Some(0.5));
    let settings: ComputeSettings =
        common::get_json(&http, &api("/settings/runpod-key"), &bob.token).await;
    assert_eq!(
        (settings.spend_cap_usd, settings.hosted_committed_usd),
        (Some(0.5), 0.5),
        "the running job reserves its budget"
    );
    // Nothing is left: the next hosted job is refused with what to do.
    let r = post(spec("bob-two", "true", 0.1)).await.expect("post");
    assert_eq!(r.status().as_u16(), 402);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::SpendCapReached);
    assert!(e.hint.unwrap_or_default().contains("own RunPod key"));
    // Stopping the first frees what it did not spend.
    http.post(api(&format!("/jobs/{}/stop", first.job.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("stop");
    let (done, events) = common::follow_as(&http, &s.url, &bob.token, &first.job.id).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Budget && e.message.contains("hosted spend cap")),
        "{events:#?}"
    );
    assert_eq!(done.job.state, JobState::Cancelled);
    let again = post(spec("bob-three", "true", 0.1)).await.expect("post");
    assert_eq!(again.status().as_u16(), 201, "the unspent reservation is free again");
    // The admin has no cap.
    let admin_job = http
        .post(api("/jobs"))
        .bearer_auth(&s.token)
        .json(&spec("admin", "true", 5.0))
        .send()
        .await
        .expect("post");
    assert_eq!(admin_job.status().as_u16(), 201);
    s.shutdown().await;
}

#[tokio::test]
async fn a_byok_users_first_serverless_job_creates_their_own_copy_of_the_published_endpoint() {
    let ecfg = runpod_emulator::EmulatorConfig {
        tick_ms: 50,
        accounts: vec![runpod_emulator::config::AccountSeed::new(USER_KEY)],
        rate_limits: common::compressed_budgets(),
        ..Default::default()
    };
    let emu =
        runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);
    let endpoint_creates = |last4: &str| {
        emu.account_calls()
            .iter()
            .filter(|c| c.method == "POST" && c.path == "/v2/serverless" && c.key_last4 == last4)
            .count()
    };

    // The operator publishes an endpoint (its workers never take jobs on their own: `sleep`).
    let ep = serde_json::json!({"name": "echo", "image": "python:3.11-slim", "command": "sleep 100000", "gpu": {"pools": ["AMPERE_24"]}, "workers": {"max": 1},
        "env": {"OPERATOR_TOKEN": "op-secret-123"}});
    let r =
        http.post(api("/endpoints")).bearer_auth(&s.token).json(&ep).send().await.expect("deploy");
    assert_eq!(r.status().as_u16(), 201);
    let published: podwarden_server::api::DeployResult = r.json().await.expect("json");
    let op_last4 = emu.api_key().expose()[emu.api_key().expose().len() - 4..].to_owned();
    assert_eq!(endpoint_creates(&op_last4), 1);

    // A hosted user sends jobs to the published endpoint itself.
    let carol: NewToken = common::new_user(&http, &s.url, &s.token, "carol").await;
    let job = serde_json::json!({"endpoint": "echo", "input": {"x": 1}});
    let r = http
        .post(api("/requests"))
        .bearer_auth(&carol.token)
        .json(&job)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 201);
    let carols: podwarden_server::api::ServerlessJobView = r.json().await.expect("json");
    assert_eq!(Some(carols.endpoint_id.clone()), published.endpoint.endpoint_id.clone());

    // Alice brings her key; her first job creates her own endpoint from the published one.
    let alice: NewToken = common::new_user(&http, &s.url, &s.token, "alice").await;
    http.post(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"api_key": USER_KEY}))
        .send()
        .await
        .expect("key");
    let before: ComputeSettings =
        common::get_json(&http, &api("/settings/runpod-key"), &alice.token).await;
    assert_eq!(before.endpoint_status, "none");
    let r = http
        .post(api("/requests"))
        .bearer_auth(&alice.token)
        .json(&job)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 201);
    let first: podwarden_server::api::ServerlessJobView = r.json().await.expect("json");
    assert_eq!(endpoint_creates("WXYZ"), 1, "her endpoint was created with her key");
    let hers: Vec<podwarden_server::api::EndpointView> =
        common::get_json(&http, &api("/endpoints"), &alice.token).await;
    assert_eq!(hers.len(), 1);
    let her_id = hers[0].endpoint_id.clone().expect("endpoint id remembered");
    assert_ne!(
        Some(her_id.clone()),
        published.endpoint.endpoint_id,
        "her own endpoint, not the operator's"
    );
    assert_eq!(hers[0].image, "python:3.11-slim", "a copy of the published spec");
    // ...but none of the operator's env reaches her account (her template is hers to read).
    let her_env = emu.shared.world.lock().endpoints[&her_id].env.clone();
    assert!(!her_env.contains_key("OPERATOR_TOKEN"), "{her_env:?}");
    let her_templates = emu
        .client_for(runpod::ApiKey::new(USER_KEY))
        .list_templates()
        .await
        .expect("her templates");
    assert!(
        her_templates.iter().all(|t| !t.env.contains_key("OPERATOR_TOKEN")),
        "{her_templates:?}"
    );
    let after: ComputeSettings =
        common::get_json(&http, &api("/settings/runpod-key"), &alice.token).await;
    assert_eq!(after.endpoint_status, "echo: ready");
    // The next job reuses it.
    let r = http
        .post(api("/requests"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"endpoint": "echo", "input": {"x": 2}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(endpoint_creates("WXYZ"), 1, "created once, remembered");

    // Her job runs on her endpoint and is followed to its result by her account's engine.
    let w = runpod::client::worker::WorkerClient::new(
        emu.worker_config(&her_id, runpod::ApiKey::new(USER_KEY.to_owned())),
    )
    .expect("worker");
    let taken = w.take(false).await.expect("take").pop().expect("a job");
    assert_eq!(taken.input, serde_json::json!({"x": 1}));
    w.post_result(
        &taken.id,
        &runpod::types::worker::JobResultBody {
            output: Some(serde_json::json!({"y": 2})),
            ..Default::default()
        },
        false,
    )
    .await
    .expect("done");
    let done = common::follow_serverless_job(&http, &s.url, &alice.token, &first.id).await;
    assert_eq!(done.state, ServerlessJobState::Succeeded);
    assert_eq!(done.output, Some(serde_json::json!({"y": 2})));

    // Her key cannot change while an endpoint of hers lives on it.
    let r = http
        .delete(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(r.json::<ErrorBody>().await.expect("json").code, ErrorCode::EndpointsOnKey);
    s.shutdown().await;
    emu.shutdown().await;
}

/// No operator key, provider RunPod: every user's work runs on their own key against their own
/// account; hosted compute is refused with what to do, and the GPU catalog is the user's.
#[tokio::test]
async fn a_byok_only_server_runs_each_users_work_on_their_own_account_and_refuses_hosted_compute() {
    let mut ecfg = runpod_emulator::EmulatorConfig::default();
    (ecfg.pods.provisioning_secs, ecfg.pods.starting_secs, ecfg.tick_ms) = (0.1, 0.1, 50);
    ecfg.rate_limits = common::compressed_budgets();
    ecfg.accounts = vec![runpod_emulator::config::AccountSeed::new(USER_KEY)];
    // Time runs compressed and bills are read right away: they show live (the billing lag is
    // tested on the manual clock).
    ecfg.billing = runpod_emulator::config::BillingConfig::live();
    let emu =
        runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    // The client only names the provider's URLs here; its (operator) key is never used.
    let s = server_with(home.path(), |c| {
        c.client = Some(emu.client());
        c.byok_only = true;
    })
    .await;
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);

    // Without a key of one's own there is nothing to compute on, and the error says why.
    let r = http
        .post(api("/jobs"))
        .bearer_auth(&s.token)
        .json(&spec("hosted", "true", 1.0))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 409);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::NoOperatorKey);
    assert!(e.hint.as_deref().unwrap_or_default().contains("API key"), "{e:?}");
    assert_eq!(
        http.get(api("/gpus")).bearer_auth(&s.token).send().await.expect("gpus").status().as_u16(),
        409
    );

    let alice: NewToken = common::new_user(&http, &s.url, &s.token, "alice").await;
    let r = http
        .post(api("/settings/runpod-key"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"api_key": USER_KEY}))
        .send()
        .await
        .expect("key");
    assert_eq!(r.status().as_u16(), 200);
    let gpus: Vec<podwarden_server::api::GpuRow> =
        common::get_json(&http, &api("/gpus"), &alice.token).await;
    assert!(!gpus.is_empty(), "the catalog comes through her key");
    let job: JobDetail = http
        .post(api("/jobs"))
        .bearer_auth(&alice.token)
        .json(&spec("mine", "echo mine", 1.0))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(job.job.backend, "runpod");
    let (done, events) = common::follow_as(&http, &s.url, &alice.token, &job.job.id).await;
    assert_eq!(done.job.state, JobState::Succeeded, "{events:#?}");

    // Every call reached RunPod with her key: none with an operator's.
    let keys: std::collections::BTreeSet<String> =
        emu.account_calls().into_iter().map(|c| c.key_last4).collect();
    assert_eq!(keys.into_iter().collect::<Vec<_>>(), vec!["WXYZ".to_owned()]);
    let theirs = emu.client_for(runpod::ApiKey::new(USER_KEY));
    let billed = theirs
        .pod_billing(&runpod::types::billing::BillingQuery {
            bucket_size: Some("hour".into()),
            ..Default::default()
        })
        .await
        .expect("bills");
    assert_eq!(billed.records.len(), 1, "her pod billed her account");
    assert!(
        emu.client().pod_billing(&Default::default()).await.expect("bills").records.is_empty(),
        "and nothing the emulator's main account"
    );
    s.shutdown().await;
    emu.shutdown().await;
}

/// An endpoint's `user_field` is the caller's id in every job's input, whatever the caller
/// sent: a worker keying storage by it serves each user only their own prefix.
#[tokio::test]
async fn the_user_field_of_a_jobs_input_is_always_the_caller() {
    let ecfg = runpod_emulator::EmulatorConfig {
        tick_ms: 50,
        rate_limits: common::compressed_budgets(),
        ..Default::default()
    };
    let emu =
        runpod_emulator::start(ecfg, runpod_emulator::Options::default()).await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    let api = |p: &str| format!("{}/api/v1{p}", s.url);
    let ep = serde_json::json!({"name": "predict", "image": "python:3.11-slim", "command": "sleep 100000", "gpu": {"pools": ["AMPERE_24"]},
        "workers": {"max": 1}, "user_field": "user"});
    assert_eq!(
        http.post(api("/endpoints"))
            .bearer_auth(&s.token)
            .json(&ep)
            .send()
            .await
            .expect("deploy")
            .status()
            .as_u16(),
        201
    );
    let mallory = common::new_user(&http, &s.url, &s.token, "mallory").await;
    let job =
        serde_json::json!({"endpoint": "predict", "input": {"user": "local", "model_id": "m"}});
    let r = http
        .post(api("/requests"))
        .bearer_auth(&mallory.token)
        .json(&job)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 201);
    let inputs: Vec<serde_json::Value> =
        emu.shared.world.lock().jobs.values().map(|j| j.input.clone()).collect();
    assert_eq!(inputs.len(), 1);
    assert_eq!(
        inputs[0]["user"],
        serde_json::json!(mallory.user.id),
        "not the admin's prefix she asked for: {inputs:?}"
    );
    assert_eq!(inputs[0]["model_id"], "m");
    s.shutdown().await;
    emu.shutdown().await;
}
