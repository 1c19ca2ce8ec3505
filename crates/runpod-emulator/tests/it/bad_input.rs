//! Malformed requests get RunPod's kind of answer (4xx with a problem+json body), never a 5xx,
//! a panic or a hang. Random bodies, broken JSON, wrong types and odd paths at every route.

use podwarden_test_utils::emulator as common;

use common::{LIMIT, emu_unmetered, spawn_worker};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

fn garbage(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..9) {
        0 => Vec::new(),
        1 => (0..rng.random_range(1..200)).map(|_| rng.random::<u8>()).collect(),
        2 => b"{\"name\": ".to_vec(),
        3 => "[".repeat(5000).into_bytes(),
        4 => br#"{"input": 1e999999}"#.to_vec(),
        5 => {
            json!({"name": "x".repeat(100_000), "image": 5, "gpu": [1, 2]}).to_string().into_bytes()
        }
        6 => br#"{"action": {"$gt": ""}, "name": "'; DROP TABLE pods; --"}"#.to_vec(),
        7 => "\u{feff}{\"input\": \"\u{0}\"}".as_bytes().to_vec(),
        _ => json!([null, true, {"a": []}]).to_string().into_bytes(),
    }
}

#[tokio::test]
async fn random_bodies_at_every_route_get_4xx_problems_never_5xx_or_hangs() {
    let emu = emu_unmetered().await;
    let c = emu.client();
    let (t, ep) = common::serverless_endpoint(&c, "f").await;
    let _w = spawn_worker(&emu, ep.as_str(), "w-fuzz");
    let e = ep.as_str();
    let routes: Vec<(&str, String)> = vec![
        ("POST", "/v2/pods".into()),
        ("PATCH", "/v2/pods/abc".into()),
        ("POST", "/v2/pods/abc/action".into()),
        ("GET", "/v2/pods/abc/logs?tail=-5&since=yesterday".into()),
        ("POST", "/v2/serverless".into()),
        ("PATCH", format!("/v2/serverless/{e}")),
        ("POST", "/v2/templates".into()),
        ("PATCH", format!("/v2/templates/{t}")),
        ("POST", "/v2/network-volumes".into()),
        ("PATCH", "/v2/network-volumes/zzz".into()),
        ("GET", "/v2/catalog/gpus?count=abc&include=EVERYTHING".into()),
        ("GET", "/v2/billing/pods?startTime=never&lastN=0".into()),
        ("POST", format!("/v2/{e}/run")),
        ("POST", format!("/v2/{e}/runsync?wait=5")),
        ("GET", format!("/v2/{e}/status/%00%ff")),
        ("POST", format!("/v2/{e}/cancel/..%2f..%2fetc")),
        ("POST", format!("/v2/{e}/job-done/w-fuzz/nojob?isStream=maybe")),
        ("POST", format!("/v2/{e}/job-stream/w-fuzz/nojob")),
        ("POST", "/graphql".into()),
        ("PUT", "/_emulator/faults".into()),
        ("POST", "/_emulator/clock/advance".into()),
        ("PUT", "/_emulator/stock".into()),
    ];
    let http = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(7);
    let mut seen = std::collections::BTreeMap::new();
    for (method, path) in &routes {
        for _ in 0..12 {
            let body = garbage(&mut rng);
            let ct = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
                [rng.random_range(0..3)];
            let req = http
                .request(method.parse().expect("method"), format!("{}{path}", emu.base_url()))
                .header("Authorization", format!("Bearer {}", emu.api_key().expose()))
                .header("Content-Type", ct)
                .body(body.clone());
            let resp = tokio::time::timeout(LIMIT, req.send())
                .await
                .expect("no hang")
                .expect("a response");
            let status = resp.status().as_u16();
            let ctype = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let text = resp.text().await.unwrap_or_default();
            assert!(
                status < 500,
                "{method} {path} with {:?} -> {status} {text}",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            );
            if status >= 400 {
                assert!(
                    ctype.starts_with("application/problem+json"),
                    "{method} {path} -> {status} as {ctype}: {text}"
                );
                let p: serde_json::Value =
                    serde_json::from_str(&text).expect("problem body is JSON");
                assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{text}");
                assert_eq!(p["status"].as_u64(), Some(u64::from(status)));
            }
            *seen.entry(status).or_insert(0) += 1;
        }
    }
    assert!(seen.keys().any(|s| *s == 400) && seen.keys().any(|s| *s == 422), "{seen:?}");
    // The emulator is still healthy afterwards.
    c.list_pods().await.expect("still serving");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems_too() {
    let emu = emu_unmetered().await;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", emu.api_key().expose());
    for (m, p, want) in [
        ("GET", "/v1/pods", 410),
        ("POST", "/v1/pods", 410),
        ("GET", "/v2/pods?includeClusterPods=null", 422),
        ("GET", "/v2/pods?includeClusterPods=1", 422),
        ("GET", "/v2/pods?includeClusterPods=true", 200),
        ("GET", "/v2/pods?cursor=nonsense", 422),
        ("GET", "/v2/pods?limit=0", 422),
        ("GET", "/v2/network-volumes?limit=1001", 422),
        ("GET", "/v2/serverless?limit=1000", 200),
        ("GET", "/", 404),
        ("DELETE", "/v2/catalog/gpus", 405),
        ("PUT", "/v2/pods/x/action", 405),
    ] {
        let r = http
            .request(m.parse().expect("m"), format!("{}{p}", emu.base_url()))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), want, "{m} {p}");
        if want >= 400 {
            assert_eq!(
                r.headers().get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
        }
    }
}
