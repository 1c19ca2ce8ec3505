//! Hosted spend caps hold under concurrent submits: the check and the reservation are one
//! transaction (podwarden_store::spend), for pod jobs and serverless jobs alike.

use podwarden_server::api::ErrorCode;
use podwarden_test_utils::server as common;

use common::{new_user, server};
use podwarden_server::api::{ComputeSettings, ErrorBody};

fn job(name: &str, budget: Option<f64>) -> serde_json::Value {
    let mut j = serde_json::json!({"name": name, "image": "python:3.11-slim", "command": "sleep 300", "gpu": {"min_vram_gb": 16}});
    if let Some(b) = budget {
        j["limits"] = serde_json::json!({"budget_usd": b});
    }
    j
}

async fn set_cap(
    http: &reqwest::Client,
    s: &podwarden_server::RunningServer,
    user: &str,
    usd: f64,
) {
    let r = http
        .patch(format!("{}/api/v1/users/{user}", s.url))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"spend_cap_usd": usd}))
        .send()
        .await
        .expect("cap");
    assert_eq!(r.status().as_u16(), 200);
}

async fn committed(http: &reqwest::Client, url: &str, token: &str) -> f64 {
    let c: ComputeSettings =
        common::get_json(http, &format!("{url}/api/v1/settings/runpod-key"), token).await;
    c.hosted_committed_usd
}

/// 50 concurrent $1 jobs against a $5 cap: exactly 5 get in; 20 concurrent jobs without a
/// budget ("what is left") commit no more than the cap together.
#[tokio::test]
async fn concurrent_jobs_never_commit_past_the_cap() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let bob = new_user(&http, &s.url, &s.token, "bob").await;
    set_cap(&http, &s, &bob.user.id, 5.0).await;
    let posts = (0..50).map(|i| {
        http.post(format!("{}/api/v1/jobs", s.url))
            .bearer_auth(&bob.token)
            .json(&job(&format!("j{i}"), Some(1.0)))
            .send()
    });
    let answers = futures::future::join_all(posts).await;
    let codes: Vec<u16> =
        answers.iter().map(|r| r.as_ref().expect("answer").status().as_u16()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 402).count(), 45, "{codes:?}");
    assert_eq!(committed(&http, &s.url, &bob.token).await, 5.0);

    let ann = new_user(&http, &s.url, &s.token, "ann").await;
    set_cap(&http, &s, &ann.user.id, 5.0).await;
    let posts = (0..20).map(|i| {
        http.post(format!("{}/api/v1/jobs", s.url))
            .bearer_auth(&ann.token)
            .json(&job(&format!("k{i}"), None))
            .send()
    });
    let answers = futures::future::join_all(posts).await;
    let admitted =
        answers.iter().filter(|r| r.as_ref().is_ok_and(|r| r.status().as_u16() == 201)).count();
    assert_eq!(admitted, 1, "the first takes all that is left; the others find nothing");
    assert_eq!(committed(&http, &s.url, &ann.token).await, 5.0);
    s.shutdown().await;
}

/// A serverless job reserves its estimate against the cap, also concurrently.
#[tokio::test]
async fn serverless_jobs_reserve_their_estimate_against_the_cap() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let ep = serde_json::json!({"name": "echo", "image": "python:3.11-slim", "command": "sleep 100000", "gpu": {"pools": ["AMPERE_24"]}, "workers": {"max": 1}});
    let r = http
        .post(format!("{}/api/v1/endpoints", s.url))
        .bearer_auth(&s.token)
        .json(&ep)
        .send()
        .await
        .expect("deploy");
    assert_eq!(r.status().as_u16(), 201);
    let carol = new_user(&http, &s.url, &s.token, "carol").await;
    let request = serde_json::json!({"endpoint": "echo", "input": {"x": 1}});
    // Learn the estimate with no cap, then cap at 2.5 estimates (that first one included).
    let first: podwarden_server::api::ServerlessJobView =
        common::post_json(&http, &format!("{}/api/v1/requests", s.url), &carol.token, &request)
            .await;
    let estimate = first.estimate_usd;
    assert!(estimate > 0.0);
    set_cap(&http, &s, &carol.user.id, estimate * 2.5).await;
    let posts = (0..10).map(|_| {
        http.post(format!("{}/api/v1/requests", s.url))
            .bearer_auth(&carol.token)
            .json(&request)
            .send()
    });
    let answers = futures::future::join_all(posts).await;
    let mut codes = Vec::new();
    for r in answers {
        let r = r.expect("answer");
        codes.push(r.status().as_u16());
        if r.status().as_u16() == 402 {
            let e: ErrorBody = r.json().await.expect("json");
            assert_eq!(e.code, ErrorCode::SpendCapReached);
            assert!(e.message.contains("this needs up to"), "{}", e.message);
        }
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "one more estimate fits: {codes:?}");
    assert!(committed(&http, &s.url, &carol.token).await <= estimate * 2.5 + 1e-9);
    s.shutdown().await;
}

/// Always-on workers bill with no end a cap could reserve: a capped hosted user's endpoint
/// must scale from zero.
#[tokio::test]
async fn a_capped_user_cannot_keep_workers_billing_forever() {
    let home = tempfile::tempdir().expect("home");
    let s = server(home.path()).await;
    let http = reqwest::Client::new();
    let dan = new_user(&http, &s.url, &s.token, "dan").await;
    set_cap(&http, &s, &dan.user.id, 5.0).await;
    let ep = |min: i64| serde_json::json!({"name": "always", "image": "python:3.11-slim", "command": "sleep 100000", "gpu": {"pools": ["AMPERE_24"]}, "workers": {"min": min, "max": 1}});
    let r = http
        .post(format!("{}/api/v1/endpoints", s.url))
        .bearer_auth(&dan.token)
        .json(&ep(1))
        .send()
        .await
        .expect("deploy");
    assert_eq!(r.status().as_u16(), 402);
    let e: ErrorBody = r.json().await.expect("json");
    assert!(e.hint.unwrap_or_default().contains("workers.min = 0"));
    let r = http
        .post(format!("{}/api/v1/endpoints", s.url))
        .bearer_auth(&dan.token)
        .json(&ep(0))
        .send()
        .await
        .expect("deploy");
    assert_eq!(r.status().as_u16(), 201, "scale-from-zero is fine");
    s.shutdown().await;
}
