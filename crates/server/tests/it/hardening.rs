//! What an adversarial user or a broken disk does to the server: oversized fields, amounts that
//! would overflow the ledger, a database locked by someone else or damaged, and the database's
//! file mode.

use podwarden_server::api::ErrorCode;
use podwarden_test_utils::server as common;

use common::server;
use podwarden_server::api::ErrorBody;

fn job(extra: serde_json::Value) -> serde_json::Value {
    let mut j = serde_json::json!({"name": "x", "image": "python:3.11-slim", "command": "true", "gpu": {"min_vram_gb": 16}});
    if let (Some(o), Some(e)) = (j.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    j
}

#[tokio::test]
async fn oversized_fields_and_amounts_are_refused_by_name_and_nothing_overflows() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| {
        http.post(format!("{}/api/v1/jobs", s.url)).bearer_auth(&s.token).json(&body).send()
    };
    let huge = "x".repeat(1_000_000);
    let cases = [
        (job(serde_json::json!({"limits": {"budget_usd": 1e13}})), "limits.budget_usd"),
        (job(serde_json::json!({"command": format!("echo {huge}")})), "command"),
        (job(serde_json::json!({"image": huge})), "image"),
        (job(serde_json::json!({"env": {"BIG": huge}})), "env.BIG"),
        (job(serde_json::json!({"data_centers": [huge]})), "data_centers[0]"),
        (job(serde_json::json!({"name": huge})), "name"),
        (
            job(serde_json::json!({"gpu": {"min_vram_gb": 16, "max_price_per_hour": 1e300}})),
            "gpu.max_price_per_hour",
        ),
    ];
    // A wrong type: serde names the value it got, cut short.
    let r = post(job(serde_json::json!({"disk_gb": huge}))).await.expect("post");
    assert_eq!(r.status().as_u16(), 422);
    assert!(r.text().await.expect("body").len() < 1000);
    for (body, field) in cases {
        let r = post(body).await.expect("post");
        assert_eq!(r.status().as_u16(), 422, "{field}");
        let e: ErrorBody = r.json().await.expect("json");
        assert!(e.message.contains(&format!("`{field}`")), "{field}: {}", e.message);
        assert!(
            e.message.len() < 500,
            "the error does not echo the field back: {} bytes",
            e.message.len()
        );
    }
    // The largest amounts allowed, twice: the sums stay exact and nothing answers 500.
    for _ in 0..2 {
        let r = post(job(
            serde_json::json!({"command": "sleep 300", "limits": {"budget_usd": 1_000_000.0}}),
        ))
        .await
        .expect("post");
        assert_eq!(r.status().as_u16(), 201);
    }
    let r = http
        .get(format!("{}/api/v1/settings/runpod-key", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status().as_u16(), 200);
    // A volume size that would overflow the audit's byte count: refused, not a dropped connection.
    let r = http
        .post(format!("{}/api/v1/volumes", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "v", "size_gb": 9_223_372_036_854_775_806i64, "data_center": "US-TX-3"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status().as_u16(), 422);
    let cap = http
        .patch(format!("{}/api/v1/users/{}", s.url, podwarden_server::users::ADMIN_ID))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"spend_cap_usd": 1e13}))
        .send()
        .await
        .expect("cap");
    assert_eq!(cap.status().as_u16(), 422);
    s.shutdown().await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_the_data_directory_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("home");
    let db = home.path().join("podwarden.db");
    // An existing, world-readable file is made private too.
    std::fs::write(&db, b"").expect("touch");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // SQLite on either run: the file's mode is the point.
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let s = common::server_with(home.path(), |c| c.database = None).await;
    for f in ["podwarden.db", "podwarden.db-wal"] {
        let mode = std::fs::metadata(home.path().join(f)).expect(f).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}: {mode:o}");
    }
    let mode = std::fs::metadata(home.path()).expect("home").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data directory: {mode:o}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_damaged_database_says_so_at_start() {
    let home = tempfile::tempdir().expect("home");
    std::fs::write(home.path().join("podwarden.db"), vec![0x5a; 8192]).expect("garbage");
    let mut cfg = podwarden_server::ServerConfig::new(
        home.path().to_path_buf(),
        "127.0.0.1:0".parse().expect("addr"),
    );
    cfg.tick = std::time::Duration::from_millis(100);
    let e = podwarden_server::start(cfg).await.expect_err("refused");
    let text = format!("{e:#}");
    assert!(text.contains("not a readable SQLite database") && text.contains("backup"), "{text}");
    assert!(!text.contains("port"), "{text}");
}

/// Another process holding the write lock: the request answers 503 (retry) within the busy
/// timeout instead of hanging, and nothing is half-written.
#[tokio::test]
async fn a_locked_database_answers_busy_not_internal() {
    use sqlx::Connection;
    let home = tempfile::tempdir().expect("home");
    // SQLite on either run: another process locks the file.
    let s = common::server_with(home.path(), |c| c.database = None).await;
    let http = reqwest::Client::new();
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(home.path().join("podwarden.db"));
    let mut other = sqlx::SqliteConnection::connect_with(&opts).await.expect("connect");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut other).await.expect("lock");
    let submit = || {
        http.post(format!("{}/api/v1/jobs", s.url))
            .bearer_auth(&s.token)
            .json(&job(serde_json::json!({})))
            .send()
    };
    let r = submit().await.expect("post");
    assert_eq!(r.status().as_u16(), 503);
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::DatabaseBusy);
    sqlx::query("ROLLBACK").execute(&mut other).await.expect("unlock");
    let r = submit().await.expect("post");
    assert_eq!(r.status().as_u16(), 201, "works again once the lock is gone");
    s.shutdown().await;
}

/// A response carrying a token (shown once) is never cached; nor is any other API answer.
#[tokio::test]
async fn api_answers_are_not_cached() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/users", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"name": "zoe"}))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let r = http.get(format!("{}/api/v1/jobs", s.url)).send().await.expect("unauthorized");
    assert_eq!(
        r.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "errors too"
    );
    s.shutdown().await;
}

/// One address cannot take every connection: past its cap its new connections are closed,
/// while another address is served; idle and slow-header connections are closed after the
/// header timeout; a stalled body is cut off.
#[tokio::test]
async fn connection_floods_and_slow_clients_are_bounded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| {
        c.limits.max_per_ip = 5;
        c.limits.header_timeout = std::time::Duration::from_millis(500);
        c.limits.body_idle = std::time::Duration::from_millis(500);
    })
    .await;
    let addr: std::net::SocketAddr = s.url.trim_start_matches("http://").parse().expect("addr");
    let from = |ip: &str| {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(format!("{ip}:0").parse().expect("bind addr")).expect("bind");
        sock.connect(addr)
    };
    // An "attacker" at 127.0.0.2 holds 5 idle connections; the 6th is closed at once.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(from("127.0.0.2").await.expect("connect"));
    }
    let mut sixth = from("127.0.0.2").await.expect("the kernel accepts");
    sixth.write_all(b"GET /api/v1/status HTTP/1.1\r\nhost: x\r\n\r\n").await.ok();
    let mut buf = [0u8; 64];
    let n = sixth.read(&mut buf).await.unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer: {:?}", String::from_utf8_lossy(&buf[..n]));
    // The admin, elsewhere, is answered.
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{}/api/v1/status", s.url))
            .bearer_auth(&s.token)
            .send()
            .await
            .expect("admin")
            .status()
            .as_u16(),
        200
    );
    // The held idle connections are closed by the server after the header timeout (the read
    // returns when the server hangs up).
    for mut c in held {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), c.read(&mut buf))
            .await
            .expect("closed by the server")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
    // Half a request head, then nothing: closed too.
    let mut slow = from("127.0.0.3").await.expect("connect");
    slow.write_all(b"GET /api/v1/status HTTP/1.1\r\nhost: x\r\n").await.expect("partial head");
    let got =
        tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut Vec::new()))
            .await
            .expect("closed by the server");
    assert!(got.is_ok());
    // A body that stops: the request ends with an error instead of holding on.
    let mut stall = from("127.0.0.3").await.expect("connect");
    let head = format!(
        "POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"name\"",
        s.token
    );
    stall.write_all(head.as_bytes()).await.expect("head");
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stall.read_to_end(&mut answer))
        .await
        .expect("answered and closed")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{answer}");
    s.shutdown().await;
}

/// RunPod's 429 reaches the user as a 429 with RunPod's Retry-After, not a 502.
#[tokio::test]
async fn a_spent_provider_budget_is_a_429_with_retry_after() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| c.client = Some(emu.client())).await;
    emu.set_faults(runpod_emulator::faults::FaultConfig {
        http: vec![runpod_emulator::faults::HttpFault {
            route: "GET /v2/catalog/gpus".into(),
            status: Some(429),
            probability: 1.0,
            times: None,
            retry_after: Some(1),
            latency_ms: 0,
            lose_response: false,
        }],
        ..Default::default()
    });
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&job(serde_json::json!({})))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    let e: ErrorBody = r.json().await.expect("json");
    assert_eq!(e.code, ErrorCode::ProviderRateLimited);
    s.shutdown().await;
}

/// Operators see what the background tasks did last: each reconciler's pass (pods, endpoints,
/// serverless jobs) and billing checks, per account, with duration, actions and errors.
#[tokio::test]
async fn the_background_tasks_report_their_last_activation() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let job =
        common::submit(&http, &s.url, &s.token, &job(serde_json::json!({"command": "true"}))).await;
    common::follow(&http, &s, &job.job.id).await;
    let tasks: Vec<podwarden_server::tasks::TaskStatus> =
        common::get_json(&http, &format!("{}/api/v1/admin/tasks", s.url), &s.token).await;
    let pods = tasks
        .iter()
        .find(|t| t.task == "pods" && t.account == "hosted")
        .expect("the hosted pod reconciler");
    assert!(pods.runs >= 2 && pods.last_started_at > 0, "{pods:?}");
    assert!(tasks.iter().any(|t| t.task == "endpoints" && t.account == "hosted"), "{tasks:?}");
    assert!(tasks.iter().any(|t| t.task == "billing"), "{tasks:?}");
    let bob = common::new_user(&http, &s.url, &s.token, "bob").await;
    let r = http
        .get(format!("{}/api/v1/admin/tasks", s.url))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("tasks");
    assert_eq!(r.status().as_u16(), 403);
    s.shutdown().await;
}

/// What podwarden learned of each offer is the operators': a job's boot is in it, an operator
/// bans or pins an offer (bad flags named), and another user can do neither.
#[tokio::test]
async fn operators_see_what_was_learned_of_offers_and_pin_or_ban_them() {
    use podwarden_server::api::LearnedOffer;
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let job =
        common::submit(&http, &s.url, &s.token, &job(serde_json::json!({"command": "true"}))).await;
    common::follow(&http, &s, &job.job.id).await;
    let url = format!("{}/api/v1/admin/offers", s.url);
    let learned: Vec<LearnedOffer> = common::get_json(&http, &url, &s.token).await;
    let booted = learned.iter().find(|o| o.boots >= 1).expect("the job's offer");
    assert!(booted.mean_boot_secs.is_some_and(|b| b >= 0.0), "{booted:?}");
    let put = |token: &str, body: serde_json::Value| {
        http.put(&url).bearer_auth(token.to_owned()).json(&body).send()
    };
    let ban = serde_json::json!({"gpu_type": booted.gpu_type, "data_center": booted.data_center, "cloud": booted.cloud, "flag": "ban"});
    let r = put(&s.token, ban.clone()).await.expect("ban");
    assert_eq!(r.status().as_u16(), 204);
    let learned: Vec<LearnedOffer> = common::get_json(&http, &url, &s.token).await;
    let again = learned
        .iter()
        .find(|o| o.gpu_type == booted.gpu_type && o.data_center == booted.data_center)
        .expect("kept");
    assert!(again.banned && again.boots == booted.boots, "{again:?}");
    let mut bad = ban.clone();
    bad["flag"] = "forbid".into();
    let r = put(&s.token, bad).await.expect("bad flag");
    assert_eq!(r.status().as_u16(), 422);
    let e: ErrorBody = r.json().await.expect("json");
    assert!(e.message.contains("forbid"), "{e:?}");
    let bob = common::new_user(&http, &s.url, &s.token, "bob").await;
    assert_eq!(put(&bob.token, ban).await.expect("bob").status().as_u16(), 403);
    let r = http.get(&url).bearer_auth(&bob.token).send().await.expect("bob reads");
    assert_eq!(r.status().as_u16(), 403);

    // Speeds: per workload and provider, each GPU's factor against the fastest seen for it.
    let store = common::server_store(home.path()).await;
    let key = |gpu: &str, image: &str| podwarden_core::learned::SpeedKey {
        owner: "ann".into(),
        job_name: "train".into(),
        image: image.into(),
        provider: "runpod".into(),
        gpu_type: gpu.into(),
        gpu_count: 1,
    };
    for _ in 0..3 {
        store.offer_speed_record(&key("A", "img:1"), 10.0, 1).await.expect("A");
        store.offer_speed_record(&key("B", "img:1"), 40.0, 1).await.expect("B");
    }
    store.offer_speed_record(&key("A", "img:2"), 5.0, 1).await.expect("other image");
    let speeds = format!("{}/api/v1/admin/speeds", s.url);
    let got: Vec<podwarden_server::api::LearnedSpeed> =
        common::get_json(&http, &speeds, &s.token).await;
    let seen: Vec<(&str, &str, f64)> =
        got.iter().map(|v| (v.image.as_str(), v.gpu_type.as_str(), v.run_factor)).collect();
    assert_eq!(seen, [("img:1", "A", 4.0), ("img:1", "B", 1.0), ("img:2", "A", 1.0)]);
    let r = http.get(&speeds).bearer_auth(&bob.token).send().await.expect("bob reads");
    assert_eq!(r.status().as_u16(), 403);
    s.shutdown().await;
}

/// A job says what it lost to pods that never booted: a host that hangs is ended at the boot
/// timeout, and the job's detail counts it, its time and its cost.
#[tokio::test]
async fn a_job_reports_the_time_and_money_lost_to_pods_that_never_booted() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| c.client = Some(emu.client())).await;
    emu.set_faults(runpod_emulator::faults::FaultConfig {
        pods: runpod_emulator::faults::PodFaults {
            boot_hang: true,
            ..runpod_emulator::faults::PodFaults::default()
        },
        ..runpod_emulator::faults::FaultConfig::default()
    });
    let http = reqwest::Client::new();
    let spec = job(serde_json::json!({
        "command": "true",
        "limits": {"boot_timeout": "1s"},
        "retry": {"attempts": 1},
    }));
    let sub = common::submit(&http, &s.url, &s.token, &spec).await;
    let (done, _) = common::follow(&http, &s, &sub.job.id).await;
    assert_eq!(done.job.state.as_str(), "failed", "{:?}", done.job.reason);
    let d: podwarden_server::api::JobDetail =
        common::get_json(&http, &format!("{}/api/v1/jobs/{}", s.url, sub.job.id), &s.token).await;
    assert_eq!(d.duds.pods, 1, "{d:?}");
    assert!(d.duds.secs >= 1.0 && d.duds.cost_usd > 0.0, "{:?}", d.duds);
    s.shutdown().await;
}

/// An image whose ENTRYPOINT ignores its arguments runs, prints, and never starts the job's
/// command: the job is given up once the server's `wrapper_start` (2 s here) has passed since
/// the container's first line, with the reason saying what to change, and its pod is gone (it
/// would have billed until the ceiling). A job on an image that prints a banner and then runs
/// its arguments is not touched by the same rule.
#[tokio::test]
async fn a_job_whose_image_ignores_its_arguments_is_given_up_with_the_reason() {
    let emu = common::standalone_emulator_with(|c| {
        c.images.insert(
            "acme/server:1".into(),
            runpod_emulator::image::ImageConfig {
                entrypoint: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo serving on :8000; exec sleep 100000".into(),
                ],
                tools: vec!["sh".into(), "sleep".into()],
                ..Default::default()
            },
        );
        // A banner, then its arguments run (`exec "$@"`), as NVIDIA's images do.
        let mut banner = runpod_emulator::image::default_images()["python:3.11-slim"].clone();
        banner.entrypoint =
            ["sh", "-c", "echo '== CUDA banner =='; exec \"$@\"", "sh"].map(String::from).into();
        c.images.insert("acme/banner:1".into(), banner);
    })
    .await;
    let home = tempfile::tempdir().expect("home");
    let s = common::server_with(home.path(), |c| {
        c.client = Some(emu.client());
        c.wrapper_start = std::time::Duration::from_secs(2);
    })
    .await;
    let http = reqwest::Client::new();
    let mut spec = job(serde_json::json!({"command": "echo trained"}));
    spec["image"] = "acme/server:1".into();
    let sub = common::submit(&http, &s.url, &s.token, &spec).await;
    let (done, events) = common::follow(&http, &s, &sub.job.id).await;
    let said: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(done.job.state.as_str(), "failed", "{said:#?}");
    let reason = done.job.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("ENTRYPOINT") && reason.contains("serving on :8000"),
        "{reason}: {said:#?}"
    );
    assert!(emu.shared.world.lock().pods.values().all(|p| p.terminated_at.is_some()));
    // An image that prints a banner and then runs its arguments, under the same 2 s: the
    // banner is no harm, it succeeds.
    let mut ok = job(serde_json::json!({"command": "sleep 3; echo trained"}));
    ok["image"] = "acme/banner:1".into();
    let sub = common::submit(&http, &s.url, &s.token, &ok).await;
    let (done, _) = common::follow(&http, &s, &sub.job.id).await;
    assert_eq!(done.job.state.as_str(), "succeeded", "{:?}", done.job.reason);
    s.shutdown().await;
}
