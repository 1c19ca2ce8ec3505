//! Queries as the spec states them: catalog filters and their 400/422 rules, billing windows
//! aligned to buckets, `lastN` versus `startTime`/`endTime`, and endpoint releases.

use podwarden_test_utils::emulator as common;

use common::*;
use serde_json::Value;
use std::time::Duration;

async fn get(emu: &Emu, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", emu.base_url()))
        .bearer_auth(emu.api_key().expose())
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json"))
}

#[tokio::test]
async fn catalog_filters_follow_the_spec_rules() {
    let mut cfg = config();
    let g = cfg.gpus.iter_mut().find(|g| g.id == "NVIDIA GeForce RTX 4090").expect("4090");
    g.stock.insert("US-TX-3".into(), runpod_emulator::config::Stock { secure: 3, community: 0 });
    g.stock.insert("EU-RO-1".into(), runpod_emulator::config::Stock { secure: 2, community: 5 });
    let emu = emu_with(cfg).await;
    for (path, status) in [
        ("/v2/catalog/gpus?product=POD", 400),
        ("/v2/catalog/gpus?count=2", 400),
        ("/v2/catalog/gpus?cloud=SECURE", 400),
        ("/v2/catalog/gpus?include=AVAILABILITY", 400),
        ("/v2/catalog/gpus?include=AVAILABILITY,AVAILABILITY&product=POD", 422),
        ("/v2/catalog/gpus?include=PRICES&product=POD", 422),
        ("/v2/catalog/gpus?include=AVAILABILITY&product=SPOT", 422),
        ("/v2/catalog/gpus?include=AVAILABILITY&product=POD&countryCodes=usa", 422),
        ("/v2/catalog/gpus?include=AVAILABILITY&product=POD&cudaVersions=12", 422),
        (
            "/v2/catalog/gpus?include=AVAILABILITY&product=POD&cudaVersions=12.4&minCudaVersion=12",
            400,
        ),
        ("/v2/catalog/datacenters?regions=MARS", 422),
        ("/v2/catalog/datacenters?compliance=GDPR,NOPE", 422),
        ("/v2/catalog/datacenters?globalNetwork=maybe", 422),
    ] {
        let (got, body) = get(&emu, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["detail"].is_string(), "{path}: a problem document: {body}");
    }

    // Countries scope availability and the data center list; a GPU with no stock there goes.
    let (_, us) =
        get(&emu, "/v2/catalog/gpus?include=AVAILABILITY&product=POD&countryCodes=US").await;
    let (_, ro) =
        get(&emu, "/v2/catalog/gpus?include=AVAILABILITY&product=POD&countryCodes=RO").await;
    let dcs = |v: &Value| -> std::collections::BTreeSet<String> {
        v["gpus"]
            .as_array()
            .expect("gpus")
            .iter()
            .flat_map(|g| g["dataCenters"].as_array().cloned().unwrap_or_default())
            .map(|d| d["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(dcs(&us).into_iter().collect::<Vec<_>>(), vec!["US-TX-3".to_owned()]);
    assert_eq!(dcs(&ro).into_iter().collect::<Vec<_>>(), vec!["EU-RO-1".to_owned()]);
    // A pod's GPUs come from one data center on one cloud (SECURE unless asked): 4 secure
    // GPUs are free in all (3 + 2) but in no single data center; 4 community ones are.
    let at = |q: &str| {
        format!(
            "/v2/catalog/gpus/NVIDIA%20GeForce%20RTX%204090?include=AVAILABILITY&product=POD&{q}"
        )
    };
    assert_ne!(get(&emu, &at("count=3")).await.1["availability"], "NONE");
    assert_eq!(get(&emu, &at("count=4")).await.1["availability"], "NONE");
    assert_ne!(get(&emu, &at("count=4&cloud=COMMUNITY")).await.1["availability"], "NONE");
    assert_eq!(
        get(&emu, &at("count=9&cloud=COMMUNITY")).await.1["availability"],
        "NONE",
        "beyond maxCount"
    );
    // cudaVersions narrows the returned versions.
    let (_, cuda) = get(&emu, "/v2/catalog/gpus/NVIDIA%20GeForce%20RTX%204090?include=AVAILABILITY&product=POD&cudaVersions=12.4").await;
    let versions: Vec<&str> = cuda["cudaVersions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert!(versions.iter().all(|v| *v == "12.4"), "{versions:?}");

    // Data center filters: OR within regions, AND within compliance and volume types.
    let ids = |v: &Value| {
        v["dataCenters"]
            .as_array()
            .expect("dcs")
            .iter()
            .map(|d| d["id"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&get(&emu, "/v2/catalog/datacenters?regions=EUROPE,ASIA").await.1),
        vec!["EU-RO-1"]
    );
    assert_eq!(
        ids(&get(&emu, "/v2/catalog/datacenters?regions=EUROPE,NORTH_AMERICA").await.1).len(),
        2
    );
    assert_eq!(
        ids(&get(&emu, "/v2/catalog/datacenters?compliance=GDPR,ISO_IEC_27001").await.1),
        vec!["EU-RO-1"]
    );
    assert!(ids(&get(&emu, "/v2/catalog/datacenters?compliance=GDPR,HIPAA").await.1).is_empty());
    assert_eq!(
        ids(&get(&emu, "/v2/catalog/datacenters?networkVolumeTypes=STANDARD,HIGH_PERFORMANCE")
            .await
            .1),
        vec!["EU-RO-1"]
    );
    assert_eq!(
        ids(&get(&emu, "/v2/catalog/datacenters?globalNetwork=true").await.1),
        vec!["US-TX-3"]
    );
    assert_contract(&emu);
}

#[tokio::test]
async fn billing_windows_snap_to_buckets_and_last_n_excludes_explicit_times() {
    let emu = emu().await;
    let c = emu.client();
    let p = c.create_pod(&pod("billed")).await.expect("pod");
    // 2026-01-01T00:00 → 02:30: three hourly buckets, one day.
    emu.advance(Duration::from_secs(9000));

    let (_, hourly) = get(&emu, "/v2/billing/pods?bucketSize=hour&startTime=2026-01-01T00:20:00Z&endTime=2026-01-01T02:10:00Z").await;
    assert_eq!(
        hourly["metadata"]["query"]["startTime"], "2026-01-01T00:00:00.000Z",
        "start snaps down"
    );
    assert_eq!(hourly["metadata"]["query"]["endTime"], "2026-01-01T03:00:00.000Z", "end snaps up");
    let starts: Vec<&str> = hourly["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["startTime"].as_str())
        .collect();
    assert_eq!(
        starts,
        vec!["2026-01-01T00:00:00.000Z", "2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z"]
    );
    assert!(
        hourly["records"].as_array().expect("records").iter().all(|r| r["podId"] == p.id.as_str())
    );

    let (_, last2) = get(&emu, "/v2/billing/pods?bucketSize=hour&lastN=2").await;
    assert_eq!(
        last2["metadata"]["query"]["startTime"], "2026-01-01T01:00:00.000Z",
        "the last two buckets end with the current one"
    );
    assert_eq!(last2["metadata"]["query"]["endTime"], "2026-01-01T03:00:00.000Z");
    assert_eq!(last2["records"].as_array().expect("records").len(), 2);

    let (_, month) = get(&emu, "/v2/billing?bucketSize=month&lastN=1").await;
    assert_eq!(month["metadata"]["query"]["startTime"], "2026-01-01T00:00:00.000Z");
    assert_eq!(
        month["metadata"]["query"]["endTime"], "2026-02-01T00:00:00.000Z",
        "calendar months"
    );
    let total = month["metadata"]["totals"]["totalAmount"].as_f64().expect("total");
    let pods = month["metadata"]["totals"]["podGpuAmount"].as_f64().expect("gpu")
        + month["metadata"]["totals"]["podDiskAmount"].as_f64().expect("disk");
    assert!(total > 0.0 && (total - pods).abs() < 1e-9, "{month}");

    let (status, body) =
        get(&emu, "/v2/billing/pods?lastN=2&endTime=2026-01-01T02:00:00.000Z").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap_or_default().contains("mutually exclusive"), "{body}");
    assert_contract(&emu);
}

#[tokio::test]
async fn an_endpoint_update_that_changes_its_configuration_is_a_new_release() {
    let emu = emu().await;
    let c = emu.client();
    let (_, ep) = serverless_endpoint(&c, "rel").await;
    let http = reqwest::Client::new();
    let r = http
        .patch(format!("{}/v2/serverless/{ep}", emu.base_url()))
        .bearer_auth(emu.api_key().expose())
        .json(&serde_json::json!({"env": {"MODEL": "v2"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status().as_u16(), 200);
    let (_, rel) = get(&emu, &format!("/v2/serverless/{ep}/releases")).await;
    let releases = rel["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 2, "{rel}");
    assert_eq!(releases[0]["version"], 2, "newest first");
    assert!(
        releases[0]["diff"]
            .as_array()
            .expect("diff")
            .iter()
            .any(|d| d["field"] == "env" && d["new"]["MODEL"] == "v2"),
        "{rel}"
    );
    assert_eq!(rel["endpointVersion"], 2);
    assert_contract(&emu);
}
