//! The emulator serves RunPod's contract: request validation agrees with a JSON Schema
//! validator running the pinned official spec on thousands of generated bodies, and every
//! response of a sweep over every implemented route conforms to the spec's schemas.

use podwarden_test_utils::emulator as common;

use common::{assert_contract, emu_unmetered, pod, serverless_endpoint, spec, validator, volume};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

#[test]
fn the_schema_check_itself_can_fail() {
    let Some(spec) = spec() else { return };
    let v = validator(&spec, &json!({"$ref": "#/components/schemas/Pod"}));
    assert!(!v.is_valid(&json!({"id": "x"})), "a pod without required fields must be rejected");
    let v = validator(&spec, &json!({"$ref": "#/components/schemas/PodActionRequest"}));
    assert!(v.is_valid(&json!({"action": "stop"})));
    assert!(!v.is_valid(&json!({"action": "explode"})));
}

const POOL: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1",
    "2",
    "1.5",
    "9",
    "10",
    "20",
    "0.4",
    "0.5",
    "3600",
    "3601",
    "4096",
    "4097",
    "\"\"",
    "\"x\"",
    "\"12.4\"",
    "\"12\"",
    "\"SECURE\"",
    "\"QUEUE\"",
    "\"FOO\"",
    "\"stop\"",
    "[]",
    "[\"a\"]",
    "[\"12.4\", \"12.4\"]",
    "{}",
    "{\"x\": 1}",
    "{\"type\": \"REQUEST_COUNT\", \"requestCount\": 1}",
    "{\"size\": 10, \"path\": \"/w\"}",
];

/// Every JSON pointer into objects and arrays of `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

fn mutate(base: &Value, rng: &mut StdRng) -> Value {
    let mut v = base.clone();
    for _ in 0..rng.random_range(1..=2) {
        let mut ps = vec![String::new()];
        pointers(&v, String::new(), &mut ps);
        let p = ps[rng.random_range(0..ps.len())].clone();
        let (parent, key) = p
            .rsplit_once('/')
            .map_or((String::new(), String::new()), |(a, b)| (a.to_owned(), b.to_owned()));
        match rng.random_range(0..10) {
            // Delete a member or an element.
            0 | 1 if !p.is_empty() => match v.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            },
            // Add an unknown member to an object.
            2 => {
                if let Some(Value::Object(m)) = v.pointer_mut(&p) {
                    m.insert("bogus".into(), json!(1));
                }
            }
            // Replace a value.
            _ if !p.is_empty() => {
                let x: Value = serde_json::from_str(POOL[rng.random_range(0..POOL.len())])
                    .expect("pool is JSON");
                if let Some(slot) = v.pointer_mut(&p) {
                    *slot = x;
                }
            }
            _ => {}
        }
    }
    v
}

#[tokio::test]
async fn request_validation_agrees_with_the_pinned_spec() {
    let Some(spec) = spec() else { return };
    let emu = emu_unmetered().await;
    let c = emu.client();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", emu.api_key().expose());
    // Resources the update routes act on.
    let (tpl, ep) = serverless_endpoint(&c, "ep").await;
    let pod_tpl = c
        .create_template(&runpod::types::templates::CreateTemplateRequest {
            name: "pod-base".into(),
            image: "i".into(),
            ..Default::default()
        })
        .await
        .expect("pod template");
    let pod_id = c.create_pod(&pod("p")).await.expect("pod").id.0;
    let vol = volume(&c).await;

    let cases: Vec<(&str, String, &str, Value)> = vec![
        (
            "POST",
            "/v2/pods".into(),
            "CreatePodRequest",
            json!({"name": "p", "image": "i", "cloud": "SECURE", "disk": 10, "env": {"A": "b"}, "ports": ["8888/http"], "dataCenterIds": ["US-TX-3"], "startSsh": false, "registry": null,
            "gpu": {"id": "NVIDIA RTX A4000", "count": 1, "allowedCudaVersions": ["12.4"]}, "mounts": {"persistent": {"size": 20, "path": "/workspace"}}}),
        ),
        (
            "POST",
            "/v2/pods".into(),
            "CreatePodRequest",
            json!({"name": "c", "templateId": pod_tpl.id.as_str(), "cpu": {"id": "cpu5c", "vcpuCount": 2}, "mounts": {"network": [{"volumeId": vol.id.as_str(), "path": "/v"}]}}),
        ),
        (
            "PATCH",
            format!("/v2/pods/{pod_id}"),
            "UpdatePodRequest",
            json!({"name": "n", "env": {"A": "b"}, "locked": false, "disk": 20, "ports": ["22/tcp"]}),
        ),
        (
            "POST",
            format!("/v2/pods/{pod_id}/action"),
            "PodActionRequest",
            json!({"action": "restart"}),
        ),
        (
            "POST",
            "/v2/serverless".into(),
            "CreateEndpointRequest",
            json!({"name": "e", "type": "QUEUE", "templateId": tpl.as_str(), "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4},
            "gpu": {"pools": ["ADA_24"], "count": 1, "excludedTypes": ["NVIDIA L4"]}, "workers": {"min": 0, "max": 2, "idleTimeout": 5}, "flashboot": "OFF", "timeout": 60000, "env": {"K": "v"}}),
        ),
        (
            "POST",
            "/v2/serverless".into(),
            "CreateEndpointRequest",
            json!({"name": "e", "type": "LOAD_BALANCER", "image": "i", "scaling": {"type": "REQUEST_COUNT", "requestCount": 2}, "cpu": [{"id": "cpu5c", "vcpuCount": 4}]}),
        ),
        (
            "PATCH",
            format!("/v2/serverless/{ep}"),
            "UpdateEndpointRequest",
            json!({"name": "e2", "workers": {"max": 3}, "scaling": {"type": "REQUEST_COUNT", "requestCount": 2}, "gpu": {"pools": ["ADA_24"], "minCudaVersion": ""}}),
        ),
        (
            "POST",
            "/v2/templates".into(),
            "CreateTemplateRequest",
            json!({"name": "t", "image": "i", "category": "NVIDIA", "disk": 10, "mounts": {"persistent": {"size": 10, "path": "/w"}}, "allowedCudaVersions": ["12.4"], "serverless": false, "env": {"A": "1"}}),
        ),
        (
            "PATCH",
            format!("/v2/templates/{tpl}"),
            "UpdateTemplateRequest",
            json!({"name": "t2", "image": "i2", "startSsh": true, "category": "AMD"}),
        ),
        (
            "POST",
            "/v2/network-volumes".into(),
            "CreateNetworkVolumeRequest",
            json!({"name": "v", "size": 10, "dataCenter": "US-TX-3", "type": "STANDARD"}),
        ),
        (
            "PATCH",
            format!("/v2/network-volumes/{}", vol.id),
            "UpdateNetworkVolumeRequest",
            json!({"name": "v2", "size": 4000}),
        ),
    ];
    let seed =
        std::env::var("PODWARDEN_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261122);
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut disagreements, mut total, mut invalid) = (Vec::new(), 0, 0);
    for (method, path, schema, base) in &cases {
        let v = validator(&spec, &json!({"$ref": format!("#/components/schemas/{schema}")}));
        assert!(
            v.is_valid(base),
            "the base body for {schema} must be valid: {:?}",
            v.iter_errors(base).map(|e| e.to_string()).collect::<Vec<_>>()
        );
        for i in 0..250 {
            let body = if i == 0 { base.clone() } else { mutate(base, &mut rng) };
            let spec_ok = v.is_valid(&body);
            let req = http
                .request(method.parse().expect("method"), format!("{}{path}", emu.base_url()))
                .header("Authorization", &auth)
                .json(&body);
            let resp = req.send().await.expect("send");
            let status = resp.status().as_u16();
            total += 1;
            invalid += usize::from(!spec_ok);
            if spec_ok == (status == 422) || status >= 500 {
                let text = resp.text().await.unwrap_or_default();
                disagreements.push(format!("{method} {schema} spec_valid={spec_ok} emulator={status} {text}\n    body: {body}"));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {total} bodies judged differently from the spec:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(
        invalid > total / 3,
        "the generator must produce plenty of invalid bodies ({invalid}/{total})"
    );
}

/// Every REST route podwarden's emulator implements, hit at least once, conforms.
#[tokio::test]
async fn a_sweep_of_every_implemented_route_conforms_to_the_spec() {
    let emu = emu_unmetered().await;
    let c = emu.client();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", emu.api_key().expose());
    let (tpl, ep) = serverless_endpoint(&c, "sweep").await;
    let pid = c.create_pod(&pod("p")).await.expect("pod").id.0;
    let vol = volume(&c).await;
    emu.advance(std::time::Duration::from_secs(60));
    let gets = [
        "/v2/pods".to_owned(),
        format!("/v2/pods/{pid}"),
        "/v2/serverless".into(),
        format!("/v2/serverless/{ep}"),
        format!("/v2/serverless/{ep}/workers"),
        "/v2/templates".into(),
        format!("/v2/templates/{tpl}"),
        "/v2/network-volumes".into(),
        format!("/v2/network-volumes/{}", vol.id),
        "/v2/catalog/gpus".into(),
        "/v2/catalog/gpus?include=AVAILABILITY&product=POD".into(),
        "/v2/catalog/gpus/NVIDIA%20RTX%20A4000?include=AVAILABILITY&product=POD".into(),
        "/v2/catalog/datacenters".into(),
        "/v2/catalog/datacenters?include=GPU_AVAILABILITY".into(),
        "/v2/catalog/datacenters/US-TX-3".into(),
        "/v2/billing/pods?bucketSize=hour".into(),
        format!("/v2/billing/pods?podId={pid}&bucketSize=day&lastN=5"),
        "/v2/billing/serverless".into(),
        "/v2/billing?bucketSize=hour".into(),
        "/v2/billing?lastN=3&bucketSize=month".into(),
        "/v2/billing/endpoints".into(),
        "/v2/billing/network-volumes?bucketSize=hour".into(),
        format!("/v2/billing/network-volumes?networkVolumeId={}", vol.id),
        "/v2/billing/clusters".into(),
        "/v2/clusters".into(),
        "/v2/registries".into(),
        format!("/v2/serverless/{ep}/releases"),
        "/v2/catalog/gpus?include=AVAILABILITY&product=POD&cloud=COMMUNITY&count=2&countryCodes=US&minCudaVersion=12".into(),
        "/v2/catalog/datacenters?regions=EUROPE,NORTH_AMERICA&globalNetwork=true".into(),
        // errors
        "/v2/catalog/gpus?product=POD".into(),
        "/v2/catalog/gpus?include=AVAILABILITY&product=POD&cudaVersions=12".into(),
        "/v2/catalog/datacenters?regions=MARS".into(),
        "/v2/billing?lastN=2&startTime=2026-01-01T00:00:00Z".into(),
        "/v2/clusters/nope".into(),
        "/v2/pods/doesnotexist".into(),
        "/v2/catalog/gpus/nope".into(),
        "/v2/billing/pods?bucketSize=fortnight".into(),
        "/v2/nothing/here/at/all".into(),
    ];
    for g in &gets {
        http.get(format!("{}{g}", emu.base_url()))
            .header("Authorization", &auth)
            .send()
            .await
            .expect("send");
    }
    http.get(format!("{}/v2/pods", emu.base_url())).send().await.expect("unauthenticated");
    http.put(format!("{}/v2/pods", emu.base_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("405");
    http.post(format!("{}/v2/pods/{pid}/action", emu.base_url()))
        .header("Authorization", &auth)
        .json(&json!({"action": "stop"}))
        .send()
        .await
        .expect("stop");
    http.patch(format!("{}/v2/serverless/{ep}", emu.base_url()))
        .header("Authorization", &auth)
        .json(&json!({"env": {"RELEASE": "2"}}))
        .send()
        .await
        .expect("new release");
    http.get(format!("{}/v2/serverless/{ep}/releases", emu.base_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("releases");
    let reg: Value = http
        .post(format!("{}/v2/registries", emu.base_url()))
        .header("Authorization", &auth)
        .json(&json!({"name": "ghcr", "username": "me", "password": "secret"}))
        .send()
        .await
        .expect("registry")
        .json()
        .await
        .expect("json");
    http.get(format!("{}/v2/registries/{}", emu.base_url(), reg["id"].as_str().unwrap_or("x")))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("get");
    http.delete(format!("{}/v2/registries/{}", emu.base_url(), reg["id"].as_str().unwrap_or("x")))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    http.delete(format!("{}/v2/pods/{pid}", emu.base_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    http.delete(format!("{}/v2/serverless/{ep}", emu.base_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    http.delete(format!("{}/v2/templates/{tpl}", emu.base_url()))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    http.delete(format!("{}/v2/network-volumes/{}", emu.base_url(), vol.id))
        .header("Authorization", &auth)
        .send()
        .await
        .expect("delete");
    let checked = assert_contract(&emu);
    if spec().is_some() {
        assert!(checked >= 25, "checked {checked}");
        let seen: std::collections::BTreeSet<String> =
            emu.recorded().iter().map(|x| format!("{} {}", x.method, x.route)).collect();
        for must in [
            "GET /v2/catalog/gpus/{id}",
            "GET /v2/billing/pods",
            "DELETE /v2/network-volumes/{id}",
            "POST /v2/pods/{id}/action",
            "GET /v2/serverless/{id}/workers",
            "GET /v2/serverless/{id}/releases",
            "GET /v2/billing",
            "GET /v2/billing/network-volumes",
            "POST /v2/registries",
            "DELETE /v2/registries/{id}",
            "GET /v2/clusters",
        ] {
            assert!(seen.contains(must), "{must} not exercised: {seen:?}");
        }
    }
}
