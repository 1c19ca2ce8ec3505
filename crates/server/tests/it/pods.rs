//! Pod jobs as they run on RunPod: the exit reaches the control plane even when the pod's
//! callback cannot, a job's logs outlive its pod, and a job's reason is its cause.

use podwarden_core::events::EventKind;
use podwarden_core::state::JobState;
use podwarden_test_utils::server as common;

use common::{follow, server_with};

#[tokio::test]
async fn with_a_callback_url_that_refuses_connections_the_exit_is_read_from_the_pods_logs() {
    let home = tempfile::tempdir().expect("home");
    // Pods are told to report to a port nothing listens on (a server behind NAT, say).
    let s = server_with(home.path(), |c| c.public_url = Some("http://127.0.0.1:9".into())).await;
    let http = reqwest::Client::new();
    let job: podwarden_server::api::JobDetail = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({
            "name": "no-callback", "image": "python:3.11-slim",
            "command": "echo 'hello from the pod'; echo \"quotes 'and' $((6*7))\"; exit 7",
            "gpu": {"min_vram_gb": 16},
        }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let (done, events) = follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("failed", Some(7)), "{events:?}");
    assert!(
        events.iter().any(|e| e.message.contains("exited with code 7 (read from the pod's logs)")),
        "{events:?}"
    );
    // The reason is the cause, not how the job settled.
    let reason = done.job.reason.clone().unwrap_or_default();
    assert!(reason.contains("exited with code 7"), "{reason}");
    let ps: Vec<podwarden_server::api::JobSummary> =
        common::get_json(&http, &format!("{}/api/v1/jobs", s.url), &s.token).await;
    assert!(
        ps[0].reason.as_deref().is_some_and(|r| r.contains("exited with code 7")),
        "{:?}",
        ps[0].reason
    );

    // The pod is gone; its output is not.
    let logs = http
        .get(format!("{}/api/v1/jobs/{}/logs", s.url, job.job.id))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("logs");
    assert_eq!(logs.status().as_u16(), 200);
    let text = logs.text().await.expect("body");
    assert!(text.contains("hello from the pod") && text.contains("quotes 'and' 42"), "{text}");
    s.shutdown().await;
}

/// RunPod keeps retrying a pull that cannot succeed while the pod bills: the pod's log line
/// ends the job at once, with the reason, instead of the boot timeout (an hour here), and no
/// other pod of the same image is started.
#[tokio::test]
async fn an_image_that_cannot_be_pulled_ends_the_job_at_once_with_the_reason() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |_| {}).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({
        "name": "no-image", "image": "acme/does-not-exist:1", "command": "true",
        "gpu": {"min_vram_gb": 16},
        "limits": {"boot_timeout": "1h"},
        "retry": {"attempts": 2},
    });
    let job = common::submit(&http, &s.url, &s.token, &spec).await;
    let (done, events) = follow(&http, &s, &job.job.id).await;
    assert_eq!(done.job.state, JobState::Failed, "{events:?}");
    let reason = done.job.reason.clone().unwrap_or_default();
    assert!(reason.contains("cannot be pulled") && reason.contains("manifest unknown"), "{reason}");
    assert_eq!(done.attempts.len(), 1, "given up, not retried with the same image: {events:?}");
    // While it booted, the job said what its pod's host was doing, not "choosing a GPU".
    assert!(
        events.iter().any(|e| e.kind == EventKind::Boot
            && e.message.starts_with("pulling image acme/does-not-exist:1")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.kind == EventKind::Attempt
            && e.message.contains(" created: ")
            && (e.message.contains(", EU-") || e.message.contains(", US-"))),
        "the pod's data center is named: {events:?}"
    );
    s.shutdown().await;
}

/// A server that stored its pod's exit line and died before acting on it: the stream resumes
/// after that line, so its successor must find the exit among the stored lines (the crash test
/// once had a job running on with its pod idle, its exit stored and never read).
#[tokio::test]
async fn an_exit_line_stored_by_a_server_that_died_is_acted_on_by_the_next() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    let on_emu = |c: &mut podwarden_server::ServerConfig| {
        c.client = Some(emu.client());
        c.public_url = Some("http://127.0.0.1:9".into());
    };
    let s = server_with(home.path(), on_emu).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({
        "name": "stored-exit", "image": "python:3.11-slim",
        "command": "echo started; sleep 100000", "gpu": {"min_vram_gb": 16},
    });
    let job = common::submit(&http, &s.url, &s.token, &spec).await;
    let id = job.job.id.clone();
    common::wait_for_state(&http, &s.url, &s.token, &id, "running").await;
    let store = common::server_store(home.path()).await;
    let attempt = stored_line(&store, &id, "started").await;
    // What the dead server had stored last: the exit line, at a resume point past anything the
    // pod will ever print (this pod never prints one itself).
    let exit = format!("podwarden-exit: job={id} code=5");
    let line = ("2099-01-01T00:00:00Z/999999999999".to_owned(), "container".to_owned(), exit);
    store.job_logs_append(id.parse().expect("a job id"), attempt, &[line]).await.expect("append");
    s.shutdown().await;

    let s = server_with(home.path(), on_emu).await;
    // A liveness bound, not a timing claim: without the fix the job runs forever.
    let (done, events) =
        tokio::time::timeout(std::time::Duration::from_secs(120), follow(&http, &s, &id))
            .await
            .expect("the stored exit ended the job");
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("failed", Some(5)), "{events:?}");
    s.shutdown().await;
    assert!(
        emu.shared
            .world
            .lock()
            .pods
            .values()
            .all(|p| p.status == runpod::types::pods::PodStatus::Terminated),
        "the pod was torn down"
    );
}

/// The attempt whose pod printed `line`, once the server's log follower has stored it (bounded:
/// 10 s).
async fn stored_line(
    store: &podwarden_store::Store,
    job: &str,
    line: &str,
) -> podwarden_core::AttemptId {
    for _ in 0..500 {
        let logs = store.job_logs(job.parse().expect("a job id"), 10).await.expect("logs");
        if let Some(a) = logs.into_iter().find(|l| l.line == line).and_then(|l| l.attempt_id) {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the pod's line {line:?} was never stored");
}

/// A pod gone at the provider before the engine's next pass (torn down at the end of its job,
/// or removed by hand) still has its lines: the logs answer with the kept ones, not with the
/// provider's 404 as a 502 (`bench_exit` once read a job's logs in that window).
#[tokio::test]
async fn the_logs_of_a_pod_gone_before_the_next_pass_are_its_kept_lines() {
    let emu = common::standalone_emulator().await;
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({
        "name": "gone-pod", "image": "python:3.11-slim",
        "command": "echo started; sleep 100000", "gpu": {"min_vram_gb": 16},
    });
    let job = common::submit(&http, &s.url, &s.token, &spec).await;
    let id = job.job.id.clone();
    common::wait_for_state(&http, &s.url, &s.token, &id, "running").await;
    stored_line(&common::server_store(home.path()).await, &id, "started").await;
    let detail: podwarden_server::api::JobDetail =
        common::get_json(&http, &format!("{}/api/v1/jobs/{id}", s.url), &s.token).await;
    let pod = detail.attempts[0].pod_id.clone().expect("a pod");
    emu.client().delete_pod(&runpod::PodId::new(&pod)).await.expect("the pod is deleted");
    let logs = http
        .get(format!("{}/api/v1/jobs/{id}/logs", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("logs");
    assert_eq!(logs.status().as_u16(), 200);
    let text = logs.text().await.expect("body");
    assert!(text.contains("started"), "{text}");
    s.shutdown().await;
}

/// An image without a shell (one built `FROM scratch` around one program): the container never
/// starts and RunPod restarts it on and on while the pod bills. The host's line ends the job at
/// once, saying what the image lacks.
#[tokio::test]
async fn an_image_whose_container_cannot_start_ends_the_job_at_once_with_the_reason() {
    let home = tempfile::tempdir().expect("home");
    let s = server_with(home.path(), |c| {
        let image = runpod_emulator::image::ImageConfig {
            cmd: vec!["python3".into()],
            tools: vec!["python3".into()],
            ..Default::default()
        };
        c.emulator.images.insert("acme/no-shell:1".into(), image);
    })
    .await;
    let http = reqwest::Client::new();
    let spec = serde_json::json!({
        "name": "no-shell", "image": "acme/no-shell:1",
        "command": "python3 -c 'print(1)'", "gpu": {"min_vram_gb": 16},
        "limits": {"boot_timeout": "1h"},
        "retry": {"attempts": 2},
    });
    let job = common::submit(&http, &s.url, &s.token, &spec).await;
    // A liveness bound, not a timing claim: without the fix it waits out the hour.
    let (done, events) =
        tokio::time::timeout(std::time::Duration::from_secs(120), follow(&http, &s, &job.job.id))
            .await
            .expect("the job ended before its boot timeout");
    assert_eq!(done.job.state, JobState::Failed, "{events:?}");
    let reason = done.job.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("container cannot start")
            && reason.contains("executable file not found")
            && reason.contains("`sh`"),
        "{reason}"
    );
    assert_eq!(done.attempts.len(), 1, "given up, not retried with the same image: {events:?}");
    s.shutdown().await;
}
