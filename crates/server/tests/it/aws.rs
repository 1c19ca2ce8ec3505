//! Jobs on AWS, end to end: a server with the operator's AWS account (moto behind the test's
//! EC2 stand, which boots each instance's user data in the emulator's sandbox) runs a job's
//! container on an EC2 instance, reads its output and exit from the instance's console, ends
//! the instance, and bills EC2's way; EC2's refusals (capacity, quotas) are handled as RunPod's
//! are. Without moto these tests say so and pass, except under CI.

use podwarden_core::{JobId, Money};
use podwarden_engine::aws_provider::{Ami, AwsSettings};
use podwarden_server::api::JobDetail;
use podwarden_test_utils::aws::{Ec2Stand, client};
use podwarden_test_utils::server as common;
use serde_json::json;

/// moto's Amazon Linux AMI (moto launches any AMI it lists).
const AMI: &str = "ami-12c6146b";

/// A server whose AWS account is the stand's, and the stand's hosts reaching it.
async fn aws_server(home: &std::path::Path, stand: &Ec2Stand) -> podwarden_server::RunningServer {
    aws_server_with(home, stand, |_| {}).await
}

async fn aws_server_with(
    home: &std::path::Path,
    stand: &Ec2Stand,
    f: impl FnOnce(&mut podwarden_server::ServerConfig),
) -> podwarden_server::RunningServer {
    let s = common::server_with(home, |c| {
        f(c);
        let mut settings = AwsSettings::new("");
        settings.ami = Ami::Id(AMI.into());
        c.aws = Some(podwarden_server::AwsConfig { client: client(&stand.url), settings });
    })
    .await;
    let port: u16 = s.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    stand.boot_hosts(&[port]).await;
    s
}

async fn post(
    http: &reqwest::Client,
    s: &podwarden_server::RunningServer,
    spec: serde_json::Value,
) -> reqwest::Response {
    http.post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&s.token)
        .json(&spec)
        .send()
        .await
        .expect("post")
}

/// Submits `spec`, which must be accepted.
async fn submit(
    http: &reqwest::Client,
    s: &podwarden_server::RunningServer,
    spec: serde_json::Value,
) -> JobDetail {
    let r = post(http, s, spec).await;
    assert_eq!(r.status().as_u16(), 201, "submitting");
    r.json().await.expect("json")
}

/// A job's stored logs.
async fn logs(http: &reqwest::Client, s: &podwarden_server::RunningServer, job: &str) -> String {
    http.get(format!("{}/api/v1/jobs/{job}/logs", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("logs")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn a_job_runs_on_an_ec2_instance_and_is_billed_the_ec2_way() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server(home.path(), &stand).await;
    let http = reqwest::Client::new();
    let r = post(
        &http,
        &s,
        json!({
            "name": "on-ec2", "provider": "aws", "image": "python:3.11-slim",
            "command": "echo \"hello from ec2 $((6*7))\"",
            "gpu": {"types": ["g4dn.xlarge"]},
            "limits": {"budget_usd": 1},
        }),
    )
    .await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    let job: JobDetail = r.json().await.expect("json");
    assert_eq!(job.job.backend, "aws");
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("succeeded", Some(0)), "{events:?}");

    // The attempt is an EC2 instance of the type asked for, in a zone of the region.
    let a = &done.attempts[0];
    assert_eq!((a.cloud.as_str(), a.gpu_type.as_str()), ("aws", "g4dn.xlarge"));
    let id = a.pod_id.clone().expect("an instance id");
    let install: String =
        common::get_json::<serde_json::Value>(&http, &format!("{}/api/v1/status", s.url), &s.token)
            .await["install"]
            .as_str()
            .expect("install")
            .to_owned();
    let mine =
        stand.direct().instances_tagged("podwarden:install", &install).await.expect("listed");
    assert_eq!(mine.len(), 1, "one instance for one attempt: {mine:?}");
    let i = &mine[0];
    assert_eq!(i.id, id);
    assert_eq!(i.tag("Name"), Some(a.pod_name.as_str()), "found by name after a crash");
    assert_eq!(i.tag("podwarden:job"), Some(job.job.id.as_str()));
    assert!(i.is_ending(), "the instance is terminated once the job ended: {:?}", i.state);

    // Its output and exit came from its console; its ceiling was the host's own shutdown.
    let logs = logs(&http, &s, &job.job.id).await;
    assert!(logs.contains("hello from ec2 42"), "{logs}");
    let booted = stand.booted(&id).expect("the stand booted it");
    assert!(
        booted.shutdowns.first().is_some_and(|s| s.starts_with("-h +1440 ")),
        "the 24 h ceiling, scheduled at boot: {:?}",
        booted.shutdowns
    );

    // Well under a minute of g4dn.xlarge at $0.526/h: EC2 bills the minute (each ledger row
    // rounds to the micro-dollar).
    let store = common::server_store(home.path()).await;
    let id = job.job.id.parse::<JobId>().expect("id");
    let row = store.job_get(id).await.expect("job").expect("row");
    let att = &store.attempts_for_job(id).await.expect("attempts")[0];
    assert_eq!(att.billed_until, Some(att.created_at + 60_000), "billed to the minute");
    let minute = Money(526_000).per_hour_for_millis(60_000);
    assert!(
        (row.spent.0 - minute.0).abs() <= 1,
        "{} for a minute of $0.526/h: {events:?}",
        row.spent
    );
    // No per-instance bill to wait for: a check now settles it at the ledger's figure.
    let r: serde_json::Value = http
        .post(format!("{}/api/v1/cost/reconcile", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("reconcile")
        .json()
        .await
        .expect("json");
    assert_eq!((r["checked_now"].as_i64(), r["mismatches"].as_i64()), (Some(1), Some(0)), "{r}");
    let cost: serde_json::Value =
        common::get_json(&http, &format!("{}/api/v1/cost", s.url), &s.token).await;
    assert_eq!(cost["awaiting_bills"], 0, "{cost}");
    assert_eq!(cost["by_provider"][0][0], "aws", "cost says whose bill it is: {cost}");
    s.shutdown().await;
}

/// A server the instances cannot call (behind NAT, say) still learns each exit: from the
/// instance's console, which it reads over EC2's API.
#[tokio::test]
async fn behind_nat_the_exit_is_read_from_the_instances_console() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    // The instances are told to report to a port nothing listens on.
    let s =
        aws_server_with(home.path(), &stand, |c| c.public_url = Some("http://127.0.0.1:9".into()))
            .await;
    let http = reqwest::Client::new();
    let r = post(
        &http,
        &s,
        json!({
            "name": "nat", "provider": "aws", "image": "python:3.11-slim",
            "command": "echo 'from behind nat'; sleep 1; exit 7",
            "gpu": {"types": ["g4dn.xlarge"]}, "limits": {"budget_usd": 1},
        }),
    )
    .await;
    let job: JobDetail = r.json().await.expect("json");
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("failed", Some(7)), "{events:?}");
    assert!(
        events.iter().any(|e| e.message.contains("exited with code 7 (read from the pod's logs)")),
        "{events:?}"
    );
    s.shutdown().await;
}

/// Data on AWS moves through S3: the instance fetches the job's s3:// inputs before the
/// command and uploads its outputs after it, before the exit is reported (its disk goes with
/// it); a missing input fails the job without running the command, naming the input.
#[tokio::test]
async fn inputs_come_from_s3_and_outputs_go_there_before_the_job_ends() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server(home.path(), &stand).await;
    stand.create_bucket("pw-data").await;
    stand.s3_put("pw-data", "datasets/houses.csv", b"price\n1\n2\n3\n".to_vec()).await;
    let http = reqwest::Client::new();
    let spec = |name: &str, input: &str| {
        json!({
            "name": name, "provider": "aws", "image": "python:3.11-slim",
            "command": "mkdir -p /workspace/out && wc -l < /workspace/in/houses.csv > /workspace/out/count.txt",
            "gpu": {"types": ["g4dn.xlarge"]}, "limits": {"budget_usd": 1},
            "inputs": [{"source": input, "path": "in/houses.csv"}],
            "outputs": [{"path": "out/count.txt", "to": "s3://pw-data/runs/r1/"}],
        })
    };
    let job: JobDetail =
        submit(&http, &s, spec("s3-data", "s3://pw-data/datasets/houses.csv")).await;
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("succeeded", Some(0)), "{events:?}");
    let count =
        stand.s3_get("pw-data", "runs/r1/count.txt").await.expect("the output was uploaded");
    assert_eq!(String::from_utf8_lossy(&count).trim(), "4");

    let job: JobDetail =
        submit(&http, &s, spec("s3-missing", "s3://pw-data/datasets/nope.csv")).await;
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("failed", Some(1)), "{events:?}");
    let logs = logs(&http, &s, &job.job.id).await;
    assert!(logs.contains("could not fetch input in/houses.csv"), "{logs}");
    s.shutdown().await;
}

/// A container that never runs the command (its image cannot be pulled) ends the job with
/// Docker's status and its words on the console, not as an instance that vanished and is
/// launched again.
#[tokio::test]
async fn a_container_that_cannot_start_fails_the_job_with_dockers_reason() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server(home.path(), &stand).await;
    let http = reqwest::Client::new();
    let job: JobDetail = submit(&http, &s, json!({
        "name": "no-image", "provider": "aws", "image": "acme/does-not-exist:1", "command": "true",
        "gpu": {"types": ["g4dn.xlarge"]}, "limits": {"budget_usd": 1},
    })).await;
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("failed", Some(125)), "{events:?}");
    assert_eq!(done.attempts.len(), 1, "not relaunched: {events:?}");
    let logs = logs(&http, &s, &job.job.id).await;
    assert!(logs.contains("manifest unknown"), "{logs}");
    s.shutdown().await;
}

/// `InsufficientInstanceCapacity` in one zone: the same type in the next zone, one attempt.
/// A quota refusal on every launch: the job fails saying which quota and where to raise it.
#[tokio::test]
async fn no_capacity_tries_the_next_zone_and_a_quota_says_how_to_raise_it() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server(home.path(), &stand).await;
    let http = reqwest::Client::new();
    stand.fail("RunInstances", "InsufficientInstanceCapacity", 500, 1);
    let spec = |name: &str| {
        json!({
            "name": name, "provider": "aws", "image": "python:3.11-slim", "command": "true",
            "gpu": {"types": ["g4dn.xlarge"]}, "limits": {"budget_usd": 1},
        })
    };
    let job: JobDetail = submit(&http, &s, spec("capacity")).await;
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!(done.job.state.as_str(), "succeeded", "{events:?}");
    assert_eq!(done.attempts.len(), 1, "zones are tried within one attempt: {events:?}");
    let launches = stand.calls().iter().filter(|c| *c == "RunInstances").count();
    assert_eq!(launches, 2, "the refused zone, then the next");

    stand.fail("RunInstances", "VcpuLimitExceeded", 400, 100);
    let job: JobDetail = submit(&http, &s, spec("quota")).await;
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!(done.job.state.as_str(), "failed", "{events:?}");
    let reason = done.job.reason.unwrap_or_default();
    assert!(reason.contains("VcpuLimitExceeded") && reason.contains("Service Quotas"), "{reason}");
    s.shutdown().await;
}

/// `gpus` lists both providers side by side, cheapest first, each row saying whose it is.
#[tokio::test]
async fn gpus_lists_both_providers_cheapest_first() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server(home.path(), &stand).await;
    let http = reqwest::Client::new();
    let rows: Vec<podwarden_server::api::GpuRow> =
        common::get_json(&http, &format!("{}/api/v1/gpus?min_vram_gb=16", s.url), &s.token).await;
    let g4 = rows.iter().find(|r| r.gpu_type == "g4dn.xlarge").expect("g4dn.xlarge offered");
    assert_eq!((g4.provider.as_str(), g4.price_per_hour_usd), ("aws", 0.526));
    assert!(g4.data_centers.iter().all(|z| z.starts_with("us-east-1")), "{:?}", g4.data_centers);
    assert!(rows.iter().any(|r| r.provider == "runpod"), "{rows:?}");
    assert!(rows.windows(2).all(|w| w[0].price_per_hour_usd <= w[1].price_per_hour_usd));
    // A 4-GPU instance is no 1-GPU offer.
    assert!(!rows.iter().any(|r| r.gpu_type == "g4dn.12xlarge"), "{rows:?}");
    let aws_only: Vec<podwarden_server::api::GpuRow> =
        common::get_json(&http, &format!("{}/api/v1/gpus?provider=aws&count=4", s.url), &s.token)
            .await;
    assert!(!aws_only.is_empty() && aws_only.iter().all(|r| r.provider == "aws"), "{aws_only:?}");
    assert!(aws_only.iter().any(|r| r.gpu_type == "g4dn.12xlarge"), "{aws_only:?}");
    s.shutdown().await;
}

/// With AWS as the server's default, a spec that names no provider runs on AWS under AWS's
/// rules (the review found such a spec skipping them).
#[tokio::test]
async fn the_default_provider_brings_its_rules() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server_with(home.path(), &stand, |c| {
        c.default_provider = podwarden_core::ProviderKind::Aws;
    })
    .await;
    let http = reqwest::Client::new();
    let spec = json!({"name": "x", "image": "python:3.11-slim", "command": "true",
        "gpu": {"types": ["g4dn.xlarge"]}, "registry_auth": "cred-1"});
    let r = post(&http, &s, spec).await;
    assert_eq!(r.status().as_u16(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("registry_auth")), "{body}");
    let job = submit(
        &http,
        &s,
        json!({"name": "x", "image": "python:3.11-slim", "command": "true",
        "gpu": {"types": ["g4dn.xlarge"]}, "limits": {"budget_usd": 1}}),
    )
    .await;
    assert_eq!(job.job.backend, "aws");
    s.shutdown().await;
}

/// A server without AWS refuses an AWS job with how to turn it on; what AWS jobs cannot use is
/// refused before anything is created.
#[tokio::test]
async fn an_aws_job_without_aws_or_with_runpods_features_is_refused_with_the_fix() {
    let home = tempfile::tempdir().expect("home");
    let s = common::server(home.path()).await;
    let http = reqwest::Client::new();
    let r = post(&http, &s, json!({"name": "x", "provider": "aws", "image": "python:3.11-slim", "command": "true", "gpu": {"min_vram_gb": 16}})).await;
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "no_provider", "{body}");
    assert!(body["hint"].as_str().is_some_and(|h| h.contains("PODWARDEN_AWS=on")), "{body}");
    let r = post(
        &http,
        &s,
        json!({
            "name": "x", "provider": "aws", "image": "python:3.11-slim", "command": "true",
            "gpu": {"min_vram_gb": 16}, "network_volume": "data",
        }),
    )
    .await;
    assert_eq!(r.status().as_u16(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("AWS jobs cannot use it")),
        "{body}"
    );
    // AWS keys mean nothing here either (the dashboard shows no AWS card).
    let r = http
        .get(format!("{}/api/v1/settings/aws-key", s.url))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 409);
    s.shutdown().await;
}

/// A user's own AWS key pair: refused when AWS refuses it, kept sealed when it passes (only its
/// id's last 4 characters are ever shown), and then the account their AWS jobs run on.
#[tokio::test]
async fn a_users_own_aws_key_is_checked_sealed_and_runs_their_aws_jobs() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    let s = aws_server(home.path(), &stand).await;
    let http = reqwest::Client::new();
    let new = common::new_user(&http, &s.url, &s.token, "ada").await;
    let (ada, ada_id) = (new.token, new.user.id);
    let put = |body: serde_json::Value| {
        http.post(format!("{}/api/v1/settings/aws-key", s.url)).bearer_auth(&ada).json(&body).send()
    };
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY";
    let r = put(json!({"access_key_id": "ASIATEMPORARY0001", "secret_access_key": secret}))
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 422, "temporary keys expire: refused");
    stand.fail("GetCallerIdentity", "InvalidClientTokenId", 403, 1);
    let r = put(json!({"access_key_id": "AKIAADAOWNKEY0001", "secret_access_key": secret}))
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 400, "AWS refused it");
    let r = put(json!({"access_key_id": "AKIAADAOWNKEY0001", "secret_access_key": secret}))
        .await
        .expect("put");
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.expect("body");
    assert!(
        text.contains("\"0001\"") && !text.contains(secret) && !text.contains("AKIAADAOWNKEY"),
        "{text}"
    );

    let r = http
        .post(format!("{}/api/v1/jobs", s.url))
        .bearer_auth(&ada)
        .json(&json!({
            "name": "own-ec2", "provider": "aws", "image": "python:3.11-slim", "command": "echo mine",
            "gpu": {"types": ["g4dn.xlarge"]}, "limits": {"budget_usd": 1},
        }))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let job: JobDetail = r.json().await.expect("json");
    assert_eq!(job.job.backend, "aws (own key)");
    let (done, events) = common::follow_as(&http, &s.url, &ada, &job.job.id).await;
    assert_eq!(done.job.state.as_str(), "succeeded", "{events:?}");
    // A RunPod job of hers still runs on the operator's RunPod account: keys are per provider.
    let settings: serde_json::Value =
        common::get_json(&http, &format!("{}/api/v1/settings/runpod-key", s.url), &ada).await;
    assert_eq!(settings["backend"], "hosted", "{settings}");
    let store = common::server_store(home.path()).await;
    let row = store.provider_key_get(&ada_id, "aws").await.expect("get").expect("the key");
    assert!(!row.ciphertext.contains(secret), "sealed at rest");
    s.shutdown().await;
}

/// `providers = ["runpod", "aws"]`: with no GPU in stock on RunPod the job waits there, then
/// moves to AWS (which has an instance type for it) and runs there; nothing was made on RunPod.
#[tokio::test]
async fn a_job_waiting_on_runpod_moves_to_aws_when_its_spec_allows_both() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    // RunPod lists its GPUs, and none is free.
    let emu = common::standalone_emulator().await;
    emu.shared.with_world(|w, _| {
        for free in w.catalog.free.values_mut() {
            *free = runpod_emulator::config::Stock { secure: 0, community: 0 };
        }
    });
    let s = aws_server_with(home.path(), &stand, |c| c.client = Some(emu.client())).await;
    let http = reqwest::Client::new();
    // An estimate prices the cloud the job would start on: the first listed with an account.
    let estimate = |providers: serde_json::Value| {
        http.post(format!("{}/api/v1/estimate", s.url))
            .bearer_auth(&s.token)
            .json(&json!({"name": "e", "providers": providers, "image": "python:3.11-slim", "command": "true", "gpu": {"min_vram_gb": 16}}))
            .send()
    };
    let priced: serde_json::Value =
        estimate(json!(["aws", "runpod"])).await.expect("estimate").json().await.expect("json");
    assert!(priced["gpu_type"].as_str().is_some_and(|g| g.contains('.')), "an EC2 type: {priced}");
    let r = post(
        &http,
        &s,
        json!({
            "name": "either", "providers": ["runpod", "aws"], "image": "python:3.11-slim",
            "command": "echo ran-here", "gpu": {"min_vram_gb": 16}, "limits": {"budget_usd": 1},
        }),
    )
    .await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    let job: JobDetail = r.json().await.expect("json");
    assert_eq!(job.job.backend, "hosted", "it starts on the first it lists (RunPod)");
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("succeeded", Some(0)), "{events:?}");
    assert_eq!(done.job.backend, "aws");
    let said: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    let waited = said.iter().position(|m| m.starts_with("queued:") && m.contains("stock"));
    let moved = said.iter().position(|m| m.starts_with("moved to AWS: RunPod had nothing"));
    assert!(waited.is_some() && moved > waited, "it waited on RunPod, then moved: {said:?}");
    assert!(
        done.attempts.iter().all(|a| a.cloud == "aws"),
        "nothing made on RunPod: {:?}",
        done.attempts
    );
    assert!(logs(&http, &s, &job.job.id).await.contains("ran-here"));
    s.shutdown().await;
}

/// A job preempted on RunPod's last free GPU of its kind, with `providers = ["runpod", "aws"]`:
/// with nothing left on RunPod it waits, moves to AWS once its pod there is ended, and
/// finishes there; the RunPod pod's bill is still read from RunPod (the account that made it).
#[tokio::test]
async fn a_job_preempted_on_runpod_with_nothing_left_there_finishes_on_aws() {
    let Some(stand) = Ec2Stand::start().await else { return };
    let home = tempfile::tempdir().expect("home");
    // The first pod is preempted two seconds after it starts (this emulator's clock is real
    // time); its GPU goes to whoever reclaimed it.
    let emu = common::standalone_emulator_with(|c| {
        c.faults.pods = runpod_emulator::faults::PodFaults {
            boot_hang: false,
            preempt_after_secs: Some(2.0),
            preempt_pods: Some(1),
        };
    })
    .await;
    // One free GPU on RunPod that fits: an A4000 in US-TX-3 (Secure Cloud).
    emu.shared.with_world(|w, _| {
        for ((gpu, dc), free) in w.catalog.free.iter_mut() {
            let one = gpu == "NVIDIA RTX A4000" && dc == "US-TX-3";
            *free = runpod_emulator::config::Stock { secure: i64::from(one), community: 0 };
        }
    });
    let s = aws_server_with(home.path(), &stand, |c| {
        c.client = Some(emu.client());
        // Bills are checked when asked, below (the automatic checks wait for them to settle).
        c.billing_settle = std::time::Duration::from_secs(3600);
    })
    .await;
    let http = reqwest::Client::new();
    // On RunPod (`RUNPOD_POD_ID` set) it would outlive the test: only its preemption ends it.
    let job = submit(
        &http,
        &s,
        json!({
            "name": "either", "providers": ["runpod", "aws"], "image": "python:3.11-slim",
            "command": "if [ -n \"$RUNPOD_POD_ID\" ]; then sleep 100000; fi; echo ran-on-aws",
            "gpu": {"min_vram_gb": 16}, "limits": {"budget_usd": 1}, "retry": {"backoff": "1s"},
        }),
    )
    .await;
    let (done, events) = common::follow(&http, &s, &job.job.id).await;
    assert_eq!((done.job.state.as_str(), done.job.exit_code), ("succeeded", Some(0)), "{events:?}");
    assert_eq!(done.job.backend, "aws");
    let said: Vec<&str> = events.iter().map(|e| e.message.as_str()).collect();
    let preempted = said.iter().position(|m| m.contains("preempted"));
    let moved = said.iter().position(|m| m.starts_with("moved to AWS: RunPod had nothing"));
    assert!(preempted.is_some() && moved > preempted, "preempted, then moved: {said:?}");
    let pods: Vec<_> = done.attempts.iter().filter(|a| a.pod_id.is_some()).collect();
    let clouds: Vec<&str> = pods.iter().map(|a| a.cloud.as_str()).collect();
    assert_eq!(clouds, ["secure", "aws"], "{:?}", done.attempts);
    assert!(logs(&http, &s, &job.job.id).await.contains("ran-on-aws"));

    // Each pod's bill is read from the cloud that made it: the RunPod pod's from RunPod.
    let runpod_pod = pods[0].pod_id.clone().expect("the RunPod pod");
    let bill_reads =
        || emu.account_calls().iter().filter(|c| c.path.starts_with("/v2/billing/pods")).count();
    let read_before = bill_reads();
    let r: podwarden_server::api::Reconciliation =
        common::post_json(&http, &format!("{}/api/v1/cost/reconcile", s.url), &s.token, &json!({}))
            .await;
    assert_eq!(r.checked_now, 2, "{r:?}");
    assert!(bill_reads() > read_before, "RunPod was asked for its pod's bill");
    let bill: f64 = emu
        .shared
        .world
        .lock()
        .ledger
        .total_for(runpod_emulator::world::ledger::Kind::Pod, &runpod_pod);
    let check = r.checks.iter().find(|c| c.pod_id == runpod_pod).expect("the RunPod pod's check");
    assert!(bill > 0.0 && (check.theirs_usd - bill).abs() < 1e-6, "{check:?} vs {bill}");
    s.shutdown().await;
}
