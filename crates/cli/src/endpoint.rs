//! `podwarden endpoint deploy|ls|rm`: serverless endpoints from a spec, owned and reconciled by
//! the server like pods.

use crate::UserError;
use crate::local::Api;
use anyhow::anyhow;
use podwarden_api::types::EndpointState;
use podwarden_api::types::{DeployResult, EndpointView};
use podwarden_core::endpoint::EndpointSpec;
use std::path::PathBuf;

/// `podwarden endpoint`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create the endpoint (and its template) from a spec, or update it in place when the spec
    /// changed; the same spec twice changes nothing.
    Deploy {
        /// The endpoint spec (TOML), e.g. examples/endpoints/predict.toml.
        spec: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List your endpoints.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Delete an endpoint and its template.
    Rm {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(c: Command) -> Result<(), UserError> {
    match c {
        Command::Deploy { spec, json } => deploy(&spec, json).await,
        Command::Ls { json } => ls(json).await,
        Command::Rm { name, json } => rm(&name, json).await,
    }
}

/// Reads and validates an endpoint spec file.
pub fn read_spec(path: &std::path::Path) -> Result<EndpointSpec, UserError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| UserError {
        error: anyhow!("cannot read {file}: {e}"),
        hint: Some(
            "pass the path of an endpoint spec, e.g. examples/endpoints/predict.toml".into(),
        ),
    })?;
    EndpointSpec::from_toml(&file, &text).map_err(|e| UserError {
        error: anyhow!("invalid endpoint spec: {e}"),
        hint: e.hint.clone(),
    })
}

async fn deploy(path: &std::path::Path, json: bool) -> Result<(), UserError> {
    let spec = read_spec(path)?;
    let api = Api::connect().await?;
    let d: DeployResult = api.run(|c| c.deploy_endpoint(&spec)).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
    } else {
        let e = &d.endpoint;
        out!("{}", e.endpoint_id.as_deref().unwrap_or("-"));
        note!("endpoint {} {} ({}; {})", e.name, d.change, e.resource_name, e.state);
    }
    Ok(())
}

async fn ls(json: bool) -> Result<(), UserError> {
    let api = Api::connect().await?;
    let eps: Vec<EndpointView> = api.run(|c| c.endpoints()).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&eps).unwrap_or_default());
        return Ok(());
    }
    let mut t = crate::print::table(&[
        "NAME",
        "STATE",
        "ENDPOINT ID",
        "IMAGE",
        "GPU POOLS",
        "WORKERS",
        "TIMEOUT",
        "REASON",
    ]);
    for e in eps {
        t.add_row(vec![
            e.name,
            e.state.to_string(),
            e.endpoint_id.unwrap_or_else(|| "-".into()),
            e.image,
            e.gpu_pools.join(","),
            format!("{}–{}", e.workers_min, e.workers_max),
            format!("{} s", e.execution_timeout_secs),
            e.reason.unwrap_or_default(),
        ]);
    }
    out!("{t}");
    Ok(())
}

async fn rm(name: &str, json: bool) -> Result<(), UserError> {
    let api = Api::connect().await?;
    let e: EndpointView = api.run(|c| c.remove_endpoint(name)).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
    } else if e.state == EndpointState::Deleted {
        note!("endpoint {name} deleted (endpoint and template gone at the provider)");
    } else {
        note!("endpoint {name} is being deleted; the server retries until the provider confirms");
    }
    Ok(())
}
