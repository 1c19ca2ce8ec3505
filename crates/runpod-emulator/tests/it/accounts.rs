//! One emulator, several accounts: each key sees only its own account's pods, endpoints,
//! templates, volumes, balance and bills, and another account's resource is a 404.

use podwarden_test_utils::emulator as common;

use common::*;
use runpod::types::billing::BillingQuery;
use runpod::types::endpoints::{CreateEndpointGpuConfig, CreateEndpointRequest};
use runpod::types::network_volumes::CreateNetworkVolumeRequest;
use runpod::types::pods::{CreateGpuConfig, CreatePodRequest, PodAction};
use runpod::types::templates::CreateTemplateRequest;
use runpod::{ApiKey, ErrorKind, GpuPoolId, GpuTypeId};
use runpod_emulator::config::AccountSeed;

const OTHER: &str = "rpa_OTHERACCOUNTKEY000000000000000000";

fn pod(name: &str) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: Some("runpod/pytorch:test".into()),
        args: Some("sleep 1000".into()),
        disk: Some(10),
        gpu: Some(CreateGpuConfig {
            id: GpuTypeId::new("NVIDIA GeForce RTX 4090"),
            count: Some(1),
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    }
}

async fn two_accounts() -> Emu {
    let mut cfg = config();
    let mut other = AccountSeed::new(OTHER);
    other.balance = 7.0;
    cfg.accounts = vec![other];
    emu_with(cfg).await
}

#[tokio::test]
async fn another_accounts_resources_are_invisible_and_untouchable() {
    let emu = two_accounts().await;
    let (main, other) = (emu.client(), emu.client_for(ApiKey::new(OTHER)));
    let p = main.create_pod(&pod("mine")).await.expect("main creates a pod");
    let tpl = main
        .create_template(&CreateTemplateRequest {
            name: "t".into(),
            image: "runpod/pytorch:test".into(),
            ..Default::default()
        })
        .await
        .expect("template");
    let vol = main
        .create_network_volume(&CreateNetworkVolumeRequest {
            name: "data".into(),
            size: 10,
            data_center: "US-TX-3".into(),
            kind: None,
        })
        .await
        .expect("volume");

    // The other account sees none of it.
    assert!(other.list_pods().await.expect("list").is_empty());
    assert!(other.list_templates().await.expect("list").is_empty());
    assert!(other.list_network_volumes().await.expect("list").is_empty());
    assert_eq!(other.get_pod(&p.id).await.expect_err("foreign pod").kind(), ErrorKind::NotFound);
    assert_eq!(
        other.get_template(&tpl.id).await.expect_err("foreign template").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.get_network_volume(&vol.id).await.expect_err("foreign volume").kind(),
        ErrorKind::NotFound
    );
    // ...and cannot stop, terminate or use it.
    assert_eq!(
        other.pod_action(&p.id, PodAction::Stop).await.expect_err("foreign stop").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.delete_pod(&p.id).await.expect_err("foreign terminate").kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        other.delete_template(&tpl.id).await.expect_err("foreign delete").kind(),
        ErrorKind::NotFound
    );
    let mut from_tpl = pod("borrowed");
    from_tpl.template_id = Some(tpl.id.clone());
    assert_eq!(
        other.create_pod(&from_tpl).await.expect_err("foreign template").kind(),
        ErrorKind::NotFound
    );
    // The same template name is free in another account.
    other
        .create_template(&CreateTemplateRequest {
            name: "t".into(),
            image: "runpod/pytorch:test".into(),
            ..Default::default()
        })
        .await
        .expect("names are per account");

    let q = other.create_pod(&pod("theirs")).await.expect("other creates a pod");
    let ids = |v: Vec<runpod::types::pods::Pod>| v.into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(main.list_pods().await.expect("list")), vec![p.id.clone()]);
    assert_eq!(ids(other.list_pods().await.expect("list")), vec![q.id.clone()]);
    assert_eq!(
        main.get_pod(&p.id).await.expect("still there").id,
        p.id,
        "the refused calls changed nothing"
    );
}

#[tokio::test]
async fn balances_and_bills_are_per_account() {
    let emu = two_accounts().await;
    let (main, other) = (emu.client(), emu.client_for(ApiKey::new(OTHER)));
    let before = main.myself().await.expect("main account");
    let theirs = other.myself().await.expect("other account");
    assert_ne!(before.id, theirs.id, "two accounts, two user ids");
    assert_eq!(theirs.client_balance, 7.0);

    let q = other.create_pod(&pod("theirs")).await.expect("other creates a pod");
    emu.advance(std::time::Duration::from_secs(3600));
    let after = main.myself().await.expect("main account");
    let theirs = other.myself().await.expect("other account");
    assert_eq!(
        after.client_balance, before.client_balance,
        "the main account pays nothing for another account's pod"
    );
    assert!(theirs.client_balance < 7.0 && theirs.current_spend_per_hr > 0.0, "{theirs:?}");
    assert_eq!(after.current_spend_per_hr, 0.0);

    let q_bill = BillingQuery { bucket_size: Some("hour".into()), ..Default::default() };
    let mine = main.pod_billing(&q_bill).await.expect("main bills");
    assert!(mine.records.is_empty(), "{:?}", mine.records);
    let bills = other.pod_billing(&q_bill).await.expect("other bills");
    assert!(
        bills.records.iter().all(|r| r.pod_id == q.id.as_str()) && !bills.records.is_empty(),
        "{:?}",
        bills.records
    );

    // An endpoint of one account cannot be driven with another's key.
    let t = other
        .create_template(&CreateTemplateRequest {
            name: "ep-tpl".into(),
            image: "python:3.11-slim".into(),
            serverless: Some(true),
            ..Default::default()
        })
        .await
        .expect("template");
    let mut req = CreateEndpointRequest::from_template("ep", t.id);
    req.gpu = Some(CreateEndpointGpuConfig {
        pools: Some(vec![GpuPoolId::new("ADA_24")]),
        ..Default::default()
    });
    let ep = other.create_endpoint(&req).await.expect("endpoint");
    assert!(main.list_endpoints().await.expect("list").is_empty());
    assert_eq!(
        main.get_endpoint(&ep.id).await.expect_err("foreign endpoint").kind(),
        ErrorKind::NotFound
    );
    let health = main.serverless(&ep.id).health().await.expect_err("foreign endpoint's job API");
    assert_eq!(health.kind(), ErrorKind::NotFound);
    other.serverless(&ep.id).health().await.expect("own endpoint");
}

#[tokio::test]
async fn each_account_has_its_own_request_budget_with_runpods_headers() {
    let mut cfg = config();
    cfg.accounts = vec![AccountSeed::new(OTHER)];
    cfg.rate_limits.rest =
        vec![runpod_emulator::ratelimit::Window { name: "hour".into(), quota: 3, secs: 3600 }];
    let emu = emu_with(cfg).await;
    let http = reqwest::Client::new();
    let get =
        |key: &'static str| http.get(format!("{}/v2/pods", emu.base_url())).bearer_auth(key).send();
    let main_key: &'static str = Box::leak(emu.api_key().expose().to_owned().into_boxed_str());
    for left in [2, 1, 0] {
        let r = get(main_key).await.expect("request");
        assert_eq!(r.status().as_u16(), 200);
        let state = r.headers()["RateLimit"].to_str().expect("ascii").to_owned();
        assert!(state.starts_with(&format!("\"hour\";r={left};t=")), "{state}");
        assert_eq!(r.headers()["RateLimit-Policy"], "\"hour\";q=3;w=3600");
    }
    let r = get(main_key).await.expect("request");
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["Retry-After"].to_str().expect("ascii").parse().expect("seconds");
    assert!((3000..=3600).contains(&wait), "{wait}");
    let body: serde_json::Value = r.json().await.expect("problem");
    assert_eq!(body["detail"], "rate limit exceeded for the hour window");
    // The typed client reports it as rate limiting (the wait is beyond its retry patience).
    assert_eq!(emu.client().list_pods().await.expect_err("spent").kind(), ErrorKind::RateLimited);
    // Another account's budget is untouched.
    assert_eq!(get(OTHER).await.expect("request").status().as_u16(), 200);
}
