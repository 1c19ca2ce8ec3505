//! `--serve-api PORT`: the handler behind RunPod's own serverless job API on localhost, with
//! real queue semantics — the emulator's queue (jobs run when submitted, `/stream` hands chunks
//! out as they come, `/cancel` reaches the handler through `job-stop`, `/runsync` waits) and
//! this process's runtime taking jobs from it over the same worker protocol as on RunPod.
//! Unlike the Python runtime's `--rp_serve_api` (a FastAPI shim that runs each request inline),
//! what a client sees here is what it will see on RunPod.

use crate::Worker;
use runpod::client::worker::WorkerConfig;
use runpod::types::endpoints::{CreateEndpointGpuConfig, CreateEndpointRequest, EndpointWorkers};
use runpod::types::templates::CreateTemplateRequest;
use runpod_emulator::{EmulatorConfig, Options, RunningEmulator};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// A local job API: the emulator with one endpoint, and the worker config that serves it.
#[derive(Debug)]
pub struct LocalApi {
    pub emulator: RunningEmulator,
    /// The endpoint's id: the job API is at `{base}/v2/{endpoint_id}/run` etc.
    pub endpoint_id: String,
    pub worker: WorkerConfig,
}

impl LocalApi {
    /// Starts the API on `addr` (port 0: any free port).
    pub async fn start(addr: SocketAddr) -> Result<Self, String> {
        let mut cfg = EmulatorConfig::default();
        cfg.serverless.worker_boot_secs = 0.0;
        let emulator = runpod_emulator::start(cfg, Options { addr, record: false })
            .await
            .map_err(|e| e.to_string())?;
        let c = emulator.client();
        let tpl = c
            .create_template(&CreateTemplateRequest {
                name: "local-handler".into(),
                image: "local".into(),
                serverless: Some(true),
                ..CreateTemplateRequest::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut req = CreateEndpointRequest::from_template("local", tpl.id);
        // This process is the only worker: the emulator starts none of its own.
        req.workers = Some(EndpointWorkers { min: Some(0), max: Some(0), idle_timeout: None });
        req.gpu = Some(CreateEndpointGpuConfig {
            pools: Some(vec!["ADA_24".into()]),
            ..CreateEndpointGpuConfig::default()
        });
        let ep = c.create_endpoint(&req).await.map_err(|e| e.to_string())?;
        let (b, id) = (emulator.base_url(), ep.id.0.clone());
        let worker = WorkerConfig {
            get_job_url: format!("{b}/v2/{id}/job-take/$ID"),
            post_output_url: format!("{b}/v2/{id}/job-done/$RUNPOD_POD_ID/$ID"),
            post_stream_url: format!("{b}/v2/{id}/job-stream/$RUNPOD_POD_ID/$ID"),
            ping_url: Some(format!("{b}/v2/{id}/ping/$RUNPOD_POD_ID")),
            worker_id: "local-serve-api".into(),
            endpoint_id: Some(id.clone()),
            api_key: emulator.api_key().clone(),
            ping_interval: Duration::from_secs(10),
        };
        Ok(Self { emulator, endpoint_id: id, worker })
    }
}

/// Serves until SIGTERM/SIGINT, then drains.
pub async fn serve_api(w: Worker, port: u16) -> ExitCode {
    let api = match LocalApi::start(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot serve the local API on port {port}: {e}");
            return ExitCode::from(1);
        }
    };
    let base = format!("{}/v2/{}", api.emulator.base_url(), api.endpoint_id);
    eprintln!("serving RunPod's serverless job API for this handler at {base}");
    eprintln!(
        "  routes: /run /runsync /status/{{id}} /stream/{{id}} /cancel/{{id}} /health (RunPod's semantics)"
    );
    eprintln!("  local key (send as Authorization): {}", api.emulator.api_key().expose());
    eprintln!(
        "  RunPod's SDKs: RUNPOD_ENDPOINT_BASE_URL={}/v2, endpoint id {}",
        api.emulator.base_url(),
        api.endpoint_id
    );
    eprintln!(
        "  e.g. curl -s -H 'Authorization: {}' -d '{{\"input\": {{}}}}' {base}/runsync",
        api.emulator.api_key().expose()
    );
    let code = crate::runtime::production(w, api.worker.clone()).await;
    api.emulator.shutdown().await;
    code
}
