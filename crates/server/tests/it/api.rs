//! The server end to end with its embedded emulator: a job runs as a real local process, its
//! wrapped command reports the exit status through the callback, the reconciler tears the pod
//! down and settles the job; costs, GPUs and errors through the API.
//!
//! Over 600 lines: the API's behaviour one route at a time, against a live server.

use podwarden_core::events::EventKind;
use podwarden_core::state::{AttemptState, JobState};
use podwarden_server::api::ErrorCode;
use podwarden_server::api::{CostReport, ErrorBody, GpuRow, JobDetail};

use common::{follow, server};
use podwarden_test_utils::server as common;

#[tokio::test]
async fn a_job_runs_to_completion_through_the_api() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    assert!(s.simulated);
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "hello", "image": "python:3.11-slim", "command": "echo hello from the pod; exit 0", "gpu": {"min_vram_gb": 16}, "limits": {"budget_usd": 1.0}});
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let created: JobDetail = r.json().await.expect("json");
    let (done, events) = follow(&http, &s, &created.job.id).await;
    let log: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(done.job.state, JobState::Succeeded, "{log:#?}");
    assert_eq!(done.job.exit_code, Some(0));
    assert!(log.iter().any(|m| m.starts_with("pod ") && m.contains("created")), "{log:#?}");
    assert!(
        done.attempts
            .iter()
            .all(|a| a.state == AttemptState::Terminated || a.state == AttemptState::Abandoned),
        "{:?}",
        done.attempts
    );
    let cost: CostReport =
        common::get_json(&http, &format!("{}/api/v1/cost", s.url), &s.token).await;
    assert!(cost.simulated && cost.total_usd > 0.0 && cost.by_job.len() == 1, "{cost:?}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_failing_command_fails_the_job_and_stop_cancels_a_running_one() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let post = |cmd: &str| {
        http.post(format!("{}/api/v1/jobs", s.url))
            .bearer_auth(&s.token)
            .json(&serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": cmd, "gpu": {"min_vram_gb": 16}}))
    };
    let failing: JobDetail = post("exit 7").send().await.expect("post").json().await.expect("json");
    let (done, _) = follow(&http, &s, &failing.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("failed", Some(7)));
    let long: JobDetail = post("sleep 600").send().await.expect("post").json().await.expect("json");
    let r = http
        .post(format!("{}/api/v1/jobs/{}/stop", s.url, long.job.id))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("stop");
    assert_eq!(r.status().as_u16(), 202);
    let (done, _) = follow(&http, &s, &long.job.id).await;
    assert_eq!(done.job.state, JobState::Cancelled);
    s.shutdown().await;
}

#[tokio::test]
async fn errors_are_code_and_message_and_gpus_are_listed() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let r = http.get(format!("{}/api/v1/jobs", s.url)).send().await.expect("no token");
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "c", "gpu": {"min_vram_gb": 999}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 422);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::NoGpuFits);
    assert!(e.hint.is_some_and(|h| h.contains("podwarden gpus")));
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "c", "gpu": {"min_vram_gb": 8}, "budjet": 1}))
        .send()
        .await
        .expect("post");
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::InvalidSpec);
    let r = http
        .post(format!("{}/api/v1/jobs/job_0/exit", s.url))
        .bearer_auth("forged")
        .json(&serde_json::json!({"exit_code": 0}))
        .send()
        .await
        .expect("exit");
    assert_eq!(r.status().as_u16(), 404);
    let gpus: Vec<GpuRow> =
        common::get_json(&http, &format!("{}/api/v1/gpus?min_vram_gb=48", s.url), &s.token).await;
    assert!(!gpus.is_empty() && gpus.iter().all(|g| g.vram_gb >= 48));
    assert!(
        gpus.windows(2).all(|w| w[0].price_per_hour_usd <= w[1].price_per_hour_usd),
        "cheapest first"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn metrics_take_the_jobs_own_token_only_and_come_back_in_order() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "m", "image": "python:3.11-slim", "command": "sleep 30", "gpu": {"min_vram_gb": 16}});
    let post = |body: serde_json::Value| {
        http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(&s.token).json(&body).send()
    };
    let a: JobDetail = post(spec.clone()).await.expect("post").json().await.expect("json");
    let b: JobDetail = post(spec).await.expect("post").json().await.expect("json");
    let secret = std::fs::read_to_string(home.path().join("secret")).expect("secret");
    let token_a = podwarden_engine::tokens::derive_job_token(secret.trim().as_bytes(), &a.job.id);
    let send = |job: &str, token: &str, body: serde_json::Value| {
        http.post(format!("{}/api/v1/jobs/{job}/metrics", s.url))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let one =
        send(&a.job.id, &token_a, serde_json::json!({"step": 1, "loss": 2.5})).await.expect("one");
    assert_eq!(one.status().as_u16(), 202);
    let batch = send(
        &a.job.id,
        &token_a,
        serde_json::json!([{"step": 2, "loss": 1.5}, {"step": 3, "loss": 0.9}]),
    )
    .await
    .expect("batch");
    assert_eq!(batch.status().as_u16(), 202);
    // Job a's token is not job b's, nor is the server token a job token.
    assert_eq!(
        send(&b.job.id, &token_a, serde_json::json!({"step": 1}))
            .await
            .expect("wrong job")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        send(&a.job.id, &s.token, serde_json::json!({"step": 1}))
            .await
            .expect("server token")
            .status()
            .as_u16(),
        401
    );
    let bad =
        send(&a.job.id, &token_a, serde_json::json!([{"step": 4}, 5])).await.expect("bad point");
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.json::<ErrorBody>().await.expect("json").message.contains("point 1"));
    let points: Vec<serde_json::Value> =
        common::get_json(&http, &format!("{}/api/v1/jobs/{}/metrics", s.url, a.job.id), &s.token)
            .await;
    let steps: Vec<i64> = points.iter().filter_map(|p| p["point"]["step"].as_i64()).collect();
    assert_eq!(steps, vec![1, 2, 3], "in order, nothing from the refused requests");
    s.shutdown().await;
}

#[tokio::test]
async fn metric_fields_are_checked_and_a_diverging_loss_stops_the_job() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "diverge", "image": "python:3.11-slim", "command": "sleep 300", "gpu": {"min_vram_gb": 16},
        "early_stop": {"metric": "loss", "factor": 2.0, "patience": 2, "warmup_points": 2}});
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let job: JobDetail = r.json().await.expect("json");
    let secret = std::fs::read_to_string(home.path().join("secret")).expect("secret");
    let token = podwarden_engine::tokens::derive_job_token(secret.trim().as_bytes(), &job.job.id);
    let send = |body: serde_json::Value| {
        http.post(format!("{}/api/v1/jobs/{}/metrics", s.url, job.job.id))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    // A wrong type names the point and the field; nothing of the batch is stored.
    let bad = send(serde_json::json!([{"step": 1, "loss": 1.0}, {"step": 2, "progress": 250}]))
        .await
        .expect("bad");
    assert_eq!(bad.status().as_u16(), 422);
    let e: ErrorBody = bad.json().await.expect("json");
    assert!(e.message.contains("point 1") && e.message.contains("`progress`"), "{e:?}");
    // The seed's full point (nulls dropped), then a healthy run, then divergence.
    let full = serde_json::json!({"step": 1, "epoch": 0.1, "loss": 2.0, "eval_loss": null, "learning_rate": 0.0002, "grad_norm": 0.7,
        "samples_per_second": 11.5, "elapsed_seconds": 10, "remaining_seconds": 90, "progress": 10.0,
        "gpu_memory_allocated_gb": 7.5, "gpu_memory_reserved_gb": 8.0});
    assert_eq!(send(full).await.expect("full").status().as_u16(), 202);
    let healthy = send(serde_json::json!([{"step": 2, "loss": 1.0}, {"step": 3, "loss": 2.5}]))
        .await
        .expect("healthy");
    assert_eq!(healthy.status().as_u16(), 202);
    let still: JobDetail =
        common::get_json(&http, &format!("{}/api/v1/jobs/{}", s.url, job.job.id), &s.token).await;
    assert!(
        !matches!(still.job.state, JobState::Cancelled)
            && still.job.ending != Some(JobState::Cancelled),
        "one point above the line is not divergence: {still:?}"
    );
    let diverged = send(serde_json::json!([{"step": 4, "loss": 3.0}, {"step": 5, "loss": 7.5}]))
        .await
        .expect("diverged");
    assert_eq!(
        diverged.status().as_u16(),
        202,
        "the points are stored even when they stop the job"
    );
    let (done, events) = follow(&http, &s, &job.job.id).await;
    assert_eq!(done.job.state, JobState::Cancelled, "{events:#?}");
    let why = events
        .iter()
        .find(|e| e.kind == EventKind::EarlyStop)
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        why.contains("early stop: loss 3.0000") && why.contains("best (1.0000)"),
        "{events:#?}"
    );
    let points: Vec<serde_json::Value> =
        common::get_json(&http, &format!("{}/api/v1/jobs/{}/metrics", s.url, job.job.id), &s.token)
            .await;
    assert_eq!(points.len(), 5);
    assert!(
        points[0]["point"].get("eval_loss").is_none()
            && points[0]["point"]["gpu_memory_reserved_gb"] == 8.0
    );
    s.shutdown().await;
}

#[tokio::test]
async fn the_generated_finetune_callback_posts_points_the_server_accepts() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "ft", "image": "python:3.11-slim", "gpu": {"min_vram_gb": 16},
        "env": {"HF_TOKEN": "hf_test"},
        "finetune": {"model": "gpt2", "dataset_url": "https://data.example/d.jsonl", "push_to_hub": "me/gpt2-lora", "hf_token_env": "HF_TOKEN"}});
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let job: JobDetail = r.json().await.expect("json");
    let secret = std::fs::read_to_string(home.path().join("secret")).expect("secret");
    let token = podwarden_engine::tokens::derive_job_token(secret.trim().as_bytes(), &job.job.id);
    // The generated program's own callback code, run by python3 against this server.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("pw_train.py"), podwarden_core::finetune::train_py())
        .expect("write");
    let code = "import pw_train as t\n\
        ok = [t.post_metrics(t.metrics_point(s, 40, 2.0 * s, {'loss': l, 'epoch': s / 40, 'learning_rate': 1e-4})) for s, l in [(10, 2.5), (20, float('inf'))]]\n\
        print(ok)";
    let url = format!("{}/api/v1/jobs/{}/metrics", s.url, job.job.id);
    let out = tokio::process::Command::new("python3")
        .current_dir(dir.path())
        .env("PODWARDEN_METRICS_URL", &url)
        .env("PODWARDEN_JOB_TOKEN", &token)
        .args(["-c", code])
        .output()
        .await
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[True, True]");
    let points: Vec<serde_json::Value> =
        http.get(&url).bearer_auth(&s.token).send().await.expect("get").json().await.expect("json");
    let losses: Vec<&serde_json::Value> = points.iter().map(|p| &p["point"]["loss"]).collect();
    assert_eq!(losses, [&serde_json::json!(2.5), &serde_json::json!("Infinity")]);
    assert_eq!(points[1]["point"]["progress"], 50.0);
    s.shutdown().await;
}

#[tokio::test]
async fn every_route_as_the_wrong_user_finds_nothing_and_no_token_is_401() {
    use podwarden_server::api::{NewToken, ServerlessJobView};
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", s.url);
    // The admin makes alice and bob; each gets a token shown once.
    let mk = |name: &str| {
        http.post(url("/api/v1/users"))
            .bearer_auth(&s.token)
            .json(&serde_json::json!({"name": name}))
            .send()
    };
    let alice: NewToken = mk("alice").await.expect("alice").json().await.expect("json");
    let bob: NewToken = mk("bob").await.expect("bob").json().await.expect("json");
    assert_eq!(mk("alice").await.expect("again").status().as_u16(), 409);
    // Only the admin manages users.
    let r = http
        .post(url("/api/v1/users"))
        .bearer_auth(&bob.token)
        .json(&serde_json::json!({"name": "eve"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 403);
    // Alice owns a job, an endpoint and a serverless job.
    let job: JobDetail = http
        .post(url("/api/v1/jobs"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"name": "a", "image": "python:3.11-slim", "command": "sleep 60", "gpu": {"min_vram_gb": 16}}))
        .send()
        .await
        .expect("job")
        .json()
        .await
        .expect("json");
    let ep = http
        .post(url("/api/v1/endpoints"))
        .bearer_auth(&alice.token)
        .json(
            &serde_json::json!({"name": "ep", "image": "python:3.11-slim", "command": "sleep 60"}),
        )
        .send()
        .await
        .expect("endpoint");
    assert_eq!(ep.status().as_u16(), 201);
    let req: ServerlessJobView = http
        .post(url("/api/v1/requests"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"endpoint": "ep", "input": {}}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let (j, r) = (job.job.id.clone(), req.id.clone());
    // Bob sees none of it, on every route that names it, and cannot touch it.
    let foreign: Vec<(&str, String)> = vec![
        ("GET", format!("/api/v1/jobs/{j}")),
        ("POST", format!("/api/v1/jobs/{j}/stop")),
        ("GET", format!("/api/v1/jobs/{j}/events")),
        ("GET", format!("/api/v1/jobs/{j}/logs")),
        ("GET", format!("/api/v1/jobs/{j}/metrics")),
        ("GET", "/api/v1/endpoints/ep".into()),
        ("DELETE", "/api/v1/endpoints/ep".into()),
        ("GET", format!("/api/v1/requests/{r}")),
        ("POST", format!("/api/v1/requests/{r}/stop")),
        ("GET", format!("/api/v1/requests/{r}/events")),
    ];
    for (method, path) in &foreign {
        let b = http
            .request(method.parse().expect("method"), url(path))
            .bearer_auth(&bob.token)
            .json(&serde_json::json!({}));
        let resp = b.send().await.expect("send");
        assert_eq!(resp.status().as_u16(), 404, "{method} {path} as bob");
        let body: ErrorBody = resp.json().await.expect("error body");
        assert_eq!(body.code, ErrorCode::NotFound, "{method} {path}");
    }
    // Bob's lists are empty; alice's are not.
    for (path, key) in [
        ("/api/v1/jobs", None),
        ("/api/v1/endpoints", None),
        ("/api/v1/requests", None),
        ("/api/v1/cost", Some("by_job")),
    ] {
        let get = |t: &str| http.get(url(path)).bearer_auth(t.to_owned()).send();
        let b: serde_json::Value = get(&bob.token).await.expect("bob").json().await.expect("json");
        let a: serde_json::Value =
            get(&alice.token).await.expect("alice").json().await.expect("json");
        let (b, a) = match key {
            Some(k) => (b[k].clone(), a[k].clone()),
            None => (b, a),
        };
        assert_eq!(b.as_array().map(Vec::len), Some(0), "{path} as bob: {b}");
        if key.is_none() {
            assert_eq!(a.as_array().map(Vec::len), Some(1), "{path} as alice: {a}");
        }
    }
    // Bob's endpoint of the same name is his own.
    let bobs = http
        .post(url("/api/v1/endpoints"))
        .bearer_auth(&bob.token)
        .json(&serde_json::json!({"name": "ep", "image": "python:3.11-slim"}))
        .send()
        .await
        .expect("bob ep");
    assert_eq!(bobs.status().as_u16(), 201);
    // No token, a wrong token, a revoked token: 401 with no detail.
    for t in [None, Some("pw_wrong")] {
        let mut b = http.get(url("/api/v1/jobs"));
        if let Some(t) = t {
            b = b.bearer_auth(t);
        }
        let resp = b.send().await.expect("send");
        assert_eq!(resp.status().as_u16(), 401);
        assert_eq!(
            resp.json::<ErrorBody>().await.expect("json").message,
            "missing or invalid token"
        );
    }
    let del = http
        .delete(url(&format!("/api/v1/tokens/{}", alice.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status().as_u16(), 404, "bob cannot revoke alice's token");
    let del = http
        .delete(url(&format!("/api/v1/tokens/{}", alice.id)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status().as_u16(), 204);
    assert_eq!(
        http.get(url("/api/v1/jobs"))
            .bearer_auth(&alice.token)
            .send()
            .await
            .expect("get")
            .status()
            .as_u16(),
        401
    );
    s.shutdown().await;
}

#[tokio::test]
async fn bad_bodies_and_a_burst_of_bad_tokens_get_clear_errors() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let jobs = format!("{}/api/v1/jobs", s.url);
    let raw = |body: String| {
        http.post(&jobs)
            .bearer_auth(&s.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Malformed JSON: 400 with where.
    let r = raw("{\"name\": \"x\",\n \"image\": }".into()).await.expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::MalformedJson);
    assert!(e.message.contains("line 2 column"), "{}", e.message);
    // An unknown field: 422 with a hint.
    let r = raw(r#"{"name": "x", "image": "python:3.11-slim", "command": "c", "gpu": {"min_vram_gb": 16}, "budgett": 1}"#.into())
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 422);
    let e: ErrorBody = r.json().await.expect("json");
    assert!(e.message.contains("budgett") && e.hint.is_some(), "{e:?}");
    // Oversized: 413.
    let r = raw(format!("{{\"name\": \"{}\"}}", "x".repeat(3 * 1024 * 1024))).await.expect("send");
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.json::<ErrorBody>().await.expect("json").code, ErrorCode::PayloadTooLarge);
    // A burst of bad tokens: 401s, then 429 with Retry-After — but a valid token from that
    // same address still gets in (it is never locked out), and requests without a token (a
    // browser's first look, CORS preflights) are not counted as guesses.
    let mut statuses = Vec::new();
    for i in 0..20 {
        let r = http.get(&jobs).bearer_auth(format!("pw_guess_{i}")).send().await.expect("send");
        if r.status().as_u16() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert!(statuses[12..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(
        http.get(&jobs).bearer_auth(&s.token).send().await.expect("send").status().as_u16(),
        200,
        "the valid token is not locked out"
    );
    let others = server(tempfile::tempdir().expect("home").path()).await;
    for _ in 0..30 {
        assert_eq!(
            http.request(reqwest::Method::OPTIONS, format!("{}/api/v1/jobs", others.url))
                .send()
                .await
                .expect("preflight")
                .status()
                .as_u16(),
            401
        );
        assert_eq!(
            http.get(format!("{}/api/v1/jobs", others.url))
                .send()
                .await
                .expect("no token")
                .status()
                .as_u16(),
            401
        );
    }
    assert_eq!(
        http.get(format!("{}/api/v1/jobs", others.url))
            .bearer_auth("pw_guess")
            .send()
            .await
            .expect("guess")
            .status()
            .as_u16(),
        401,
        "no lockout from tokenless requests"
    );
    others.shutdown().await;
    s.shutdown().await;
}

#[tokio::test]
async fn events_stream_as_sse_and_resume_after_last_event_id() {
    use eventsource_stream::Eventsource;
    use futures::StreamExt;
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "sse", "image": "python:3.11-slim", "command": "sleep 60", "gpu": {"min_vram_gb": 16}});
    let job: JobDetail = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let url = format!("{}/api/v1/jobs/{}/events", s.url, job.job.id);
    let open = |last: Option<String>| {
        let mut b = http.get(&url).bearer_auth(&s.token).header("accept", "text/event-stream");
        if let Some(l) = last {
            b = b.header("last-event-id", l);
        }
        b.send()
    };
    let resp = open(None).await.expect("sse");
    assert_eq!(
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut stream = resp.bytes_stream().eventsource();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = stream.next().await.expect("an event").expect("parses");
        if ev.id.is_empty() {
            continue; // keep-alive
        }
        let data: serde_json::Value = serde_json::from_str(&ev.data).expect("json data");
        assert_eq!(data["kind"].as_str(), Some(ev.event.as_str()));
        seen.push(ev.id.parse::<i64>().expect("numeric id"));
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    drop(stream);
    // Resume after the first: the next event is the second, nothing repeated.
    let mut resumed =
        open(Some(seen[0].to_string())).await.expect("resume").bytes_stream().eventsource();
    let next = loop {
        let ev = resumed.next().await.expect("event").expect("parses");
        if !ev.id.is_empty() {
            break ev.id.parse::<i64>().expect("id");
        }
    };
    assert_eq!(next, seen[1]);
    drop(resumed);
    s.shutdown().await;
}

#[tokio::test]
async fn sql_and_html_in_free_text_are_stored_and_returned_as_they_were() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let nasty = "x'); DROP TABLE jobs; -- <script>alert(1)</script>";
    let r = http
        .post(format!("{}/api/v1/tokens", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"label": nasty}))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status().as_u16(), 201);
    let tokens: Vec<podwarden_server::api::TokenView> =
        common::get_json(&http, &format!("{}/api/v1/tokens", s.url), &s.token).await;
    assert!(tokens.iter().any(|t| t.label == nasty), "{tokens:?}");
    // A job's command and env are free text too; the jobs table is still there and intact.
    let spec = serde_json::json!({"name": "ok", "image": "python:3.11-slim", "command": format!("echo \"{nasty}\""), "env": {"X": nasty}, "gpu": {"min_vram_gb": 16}});
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("job");
    assert_eq!(r.status().as_u16(), 201);
    let d: JobDetail = r.json().await.expect("json");
    assert_eq!(d.command, format!("echo \"{nasty}\""));
    // Names are identifiers: HTML or SQL in one is refused with the rule, never stored.
    let bad = serde_json::json!({"name": nasty, "image": "python:3.11-slim", "command": "true", "gpu": {"min_vram_gb": 16}});
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&bad)
        .send()
        .await
        .expect("bad");
    assert_eq!(r.status().as_u16(), 422);
    let jobs: Vec<podwarden_server::api::JobSummary> =
        common::get_json(&http, &format!("{}/api/v1/jobs", s.url), &s.token).await;
    assert_eq!(jobs.len(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn with_logs_the_event_stream_carries_the_pods_log_lines_between_state_changes() {
    use eventsource_stream::Eventsource;
    use futures::StreamExt;
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({"name": "logs", "image": "python:3.11-slim", "command": "echo first-line; echo second-line; sleep 300", "gpu": {"min_vram_gb": 16}});
    let job: JobDetail = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let url = format!("{}/api/v1/jobs/{}/events?logs=true", s.url, job.job.id);
    let mut stream = http
        .get(&url)
        .bearer_auth(&s.token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("sse")
        .bytes_stream()
        .eventsource();
    let (mut kinds, mut lines) = (Vec::new(), Vec::new());
    while !lines.iter().any(|l: &String| l == "second-line") {
        let ev = stream.next().await.expect("an event").expect("parses");
        let data: serde_json::Value = serde_json::from_str(&ev.data).unwrap_or_default();
        if ev.event == "log" {
            // A log line sets no id: a reconnect resumes after the last stored event.
            lines.push(data["line"].as_str().unwrap_or_default().to_owned());
        } else if !ev.id.is_empty() {
            kinds.push(ev.event.clone());
        }
    }
    assert!(lines.contains(&"first-line".to_owned()), "{lines:?}");
    assert!(
        kinds.contains(&"state".to_owned()) && kinds.contains(&"attempt".to_owned()),
        "stored events too: {kinds:?}"
    );
    drop(stream);
    s.shutdown().await;
}
