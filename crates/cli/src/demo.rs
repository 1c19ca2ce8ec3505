//! `podwarden demo`: the whole RunPod flow, offline. Starts an emulator in-process, picks the
//! cheapest GPU that fits, runs a "training" pod and follows its logs, terminates it and shows
//! the billed cost, then deploys a serverless endpoint whose worker is a local process and runs
//! a streaming job through RunPod's job API. Everything it creates is removed before it exits.

use crate::UserError;
use anyhow::{Context, anyhow};
use futures::StreamExt;
use runpod::types::billing::BillingQuery;
use runpod::types::catalog::{GpuCatalogQuery, GpuType};
use runpod::types::endpoints::{CreateEndpointGpuConfig, CreateEndpointRequest, EndpointWorkers};
use runpod::types::logs::LogsQuery;
use runpod::types::pods::{CreateGpuConfig, CreatePodRequest, PodStatus};
use runpod::types::serverless::{JobStatus, RunRequest};
use runpod::types::templates::CreateTemplateRequest;
use runpod::{Client, GpuPoolId};
use runpod_emulator::{EmulatorConfig, Options, start};
use serde_json::json;
use std::time::Duration;

/// Options of `podwarden demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Minimum GPU memory for the training pod, GB.
    #[arg(long, default_value_t = 24)]
    min_vram_gb: i64,
}

const TRAIN: &str = r#"echo "loading dataset"; for e in 1 2 3 4 5; do echo "epoch $e/5 loss=$(awk "BEGIN{print 1/$e}")"; sleep 0.1; done; echo "training done""#;

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

async fn within<T>(
    what: &str,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .map_err(|_| anyhow!("timed out after 60 s waiting for {what}"))?
}

pub async fn run(a: Args) -> Result<(), UserError> {
    let mut cfg = EmulatorConfig::default();
    cfg.pods.provisioning_secs = 0.3;
    cfg.pods.starting_secs = 0.3;
    cfg.serverless.worker_boot_secs = 0.0;
    cfg.tick_ms = 50;
    crate::emulator::own_images(&mut cfg);
    let emu = start(cfg, Options::default()).await?;
    let client = emu.client();
    out!(
        "podwarden demo: a pod and a serverless job on a local RunPod emulator at {}",
        emu.base_url()
    );
    out!("(simulated: no account, no GPU, no money; the same calls work against api.runpod.io)\n");
    let result = drive(&client, a.min_vram_gb).await;
    // Whatever happened, leave nothing behind.
    for p in client.list_pods().await.unwrap_or_default() {
        let _ = client.delete_pod(&p.id).await;
    }
    for e in client.list_endpoints().await.unwrap_or_default() {
        let _ = client.delete_endpoint(&e.id).await;
    }
    emu.shutdown().await;
    result.map_err(|e| UserError {
        error: e,
        hint: Some("rerun with PODWARDEN_LOG=debug to see every API call".into()),
    })
}

async fn drive(client: &Client, min_vram: i64) -> anyhow::Result<()> {
    let gpu = cheapest_gpu(client, min_vram).await?;
    training_pod(client, &gpu).await?;
    serverless_echo(client).await?;
    let left = (client.list_pods().await?.len(), client.list_endpoints().await?.len());
    out!("\ndone: {} pods and {} endpoints left behind.", left.0, left.1);
    Ok(())
}

/// 1. The cheapest GPU that fits and has stock.
async fn cheapest_gpu(client: &Client, min_vram: i64) -> anyhow::Result<GpuType> {
    let gpus = client
        .list_gpu_types(&GpuCatalogQuery::pod_availability())
        .await
        .context("reading the GPU catalog")?;
    let mut fits: Vec<_> = gpus
        .iter()
        .filter(|g| {
            g.memory >= min_vram
                && g.availability
                    .is_some_and(|a| a != runpod::types::catalog::AvailabilityLevel::None)
        })
        .collect();
    fits.sort_by(|x, y| {
        x.price.community.min(x.price.secure).total_cmp(&y.price.community.min(y.price.secure))
    });
    let gpu =
        fits.first().ok_or_else(|| anyhow!("no GPU with at least {min_vram} GB is in stock"))?;
    out!(
        "1. cheapest GPU with >= {min_vram} GB in stock: {} ({} GB) at ${:.2}/h community, ${:.2}/h secure",
        gpu.id,
        gpu.memory,
        gpu.price.community,
        gpu.price.secure
    );
    Ok((*gpu).clone())
}

/// 2. A training pod: create, follow logs until the command finishes, terminate, bill.
async fn training_pod(client: &Client, gpu: &GpuType) -> anyhow::Result<()> {
    let req = CreatePodRequest {
        name: "pw-demo-train".into(),
        image: Some("runpod/pytorch:2.4.0-py3.11-cuda12.4.1-devel-ubuntu22.04".into()),
        // RunPod execs `args` as words: a script needs an explicit shell.
        args: Some(format!("bash -c {}", sh_quote(TRAIN))),
        gpu: Some(CreateGpuConfig {
            id: gpu.id.clone(),
            count: Some(1),
            allowed_cuda_versions: None,
            min_cuda_version: None,
        }),
        ..CreatePodRequest::default()
    };
    let pod = client.create_pod(&req).await.context("creating the training pod")?;
    out!(
        "2. pod {} created ({}, {} in {})",
        pod.id,
        pod.status,
        gpu.id,
        pod.data_center_id.as_ref().map_or("?", |d| d.as_str())
    );
    let logs = client
        .pod_logs(&pod.id, &LogsQuery { source: Some("container".into()), ..LogsQuery::default() })
        .await?;
    within("the training logs", async {
        let mut logs = Box::pin(logs);
        while let Some(line) = logs.next().await {
            let line = line?;
            out!("   | {}", line.event.line);
            if line.event.line == "training done" {
                return Ok(());
            }
        }
        Err(anyhow!("the log stream ended before the command finished"))
    })
    .await?;
    let running = client.get_pod(&pod.id).await?;
    out!(
        "   command finished; the pod is still {} and billing ${:.4}/h: RunPod restarts finished containers, so stop it",
        running.status,
        running.cost
    );
    client.delete_pod(&pod.id).await.context("terminating the pod")?;
    let gone = client.get_pod(&pod.id).await;
    if !matches!(gone, Err(ref e) if e.kind() == runpod::ErrorKind::NotFound) {
        return Err(anyhow!("pod {} still exists after terminate", pod.id));
    }
    let bill = client
        .pod_billing(&BillingQuery {
            pod_id: Some(pod.id.0.clone()),
            bucket_size: Some("hour".into()),
            ..BillingQuery::default()
        })
        .await?;
    out!(
        "   terminated (the API now answers 404); billed ${:.6} (simulated)",
        bill.metadata.totals.total_amount
    );
    if running.status != PodStatus::Running {
        return Err(anyhow!(
            "expected the pod to be RUNNING after its command, got {}",
            running.status
        ));
    }
    Ok(())
}

/// 3. Serverless: template + endpoint whose worker is a local process, then a streaming job.
async fn serverless_echo(client: &Client) -> anyhow::Result<()> {
    let tpl = client
        .create_template(&CreateTemplateRequest {
            name: "pw-demo-echo".into(),
            image: "podwarden/echo-worker:demo".into(),
            // The image's CMD (`podwarden-echo-worker`) is the worker.
            args: None,
            serverless: Some(true),
            ..CreateTemplateRequest::default()
        })
        .await?;
    let mut ep_req = CreateEndpointRequest::from_template("pw-demo-echo", tpl.id.clone());
    ep_req.gpu = Some(CreateEndpointGpuConfig {
        pools: Some(vec![GpuPoolId::new("AMPERE_16")]),
        ..CreateEndpointGpuConfig::default()
    });
    ep_req.workers = Some(EndpointWorkers { min: Some(0), max: Some(1), idle_timeout: Some(5) });
    let ep = client.create_endpoint(&ep_req).await?;
    out!("3. endpoint {} deployed (workers 0..1, scale from zero)", ep.id);
    let sls = client.serverless(&ep.id);
    let job = sls.run(&RunRequest::new(json!({"text": "hello from a podwarden worker"}))).await?;
    out!("   /run -> job {} {}", job.id, job.status);
    let done = within("the serverless job", async {
        let mut chunks = Vec::new();
        loop {
            let s = sls.stream(&job.id).await?;
            chunks.extend(s.stream.into_iter().map(|c| c.output));
            if s.status.is_final() {
                let st = sls.status(&job.id).await?;
                return Ok((chunks, st));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await?;
    let (chunks, st) = done;
    out!(
        "   /stream chunks: {}",
        chunks.iter().map(|c| c.as_str().unwrap_or("?")).collect::<Vec<_>>().join(" ")
    );
    out!(
        "   /status -> {} after {} ms in queue, {} ms running: {}",
        st.status,
        st.delay_time.unwrap_or(0),
        st.execution_time.unwrap_or(0),
        st.output.clone().unwrap_or_default()
    );
    if st.status != JobStatus::Completed {
        return Err(anyhow!("the job ended {}: {}", st.status, st.error.unwrap_or_default()));
    }
    client.delete_endpoint(&ep.id).await?;
    client.delete_template(&tpl.id).await?;
    Ok(())
}
