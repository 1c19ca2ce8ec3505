//! The bot's calls on podwarden beyond the typed client's: each person's network volume (where
//! their datasets and cloud models live, as on RunPod: the training pod mounts it at
//! /workspace, the predict workers at /runpod-volume) and their predict endpoint.

use anyhow::{Context, anyhow};
use podwarden_api::Client;
use podwarden_api::types::ErrorCode;
use podwarden_api::types::{NewVolume, VolumeState, VolumeView};

/// Each person's volume and endpoint, by name (names are per user in podwarden).
pub(crate) const VOLUME: &str = "bot-data";
pub(crate) const ENDPOINT: &str = "bot-predict";

/// The person's volume, if they have one.
pub(crate) async fn volume(c: &Client) -> anyhow::Result<Option<VolumeView>> {
    Ok(c.volumes().await?.into_iter().find(|v| v.name == VOLUME))
}

/// The person's volume, made in `data_center` if missing, once it is ready.
pub(crate) async fn ensure_volume(
    c: &Client,
    data_center: &str,
    shutdown: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<VolumeView> {
    if volume(c).await?.is_none() {
        let v = NewVolume { name: VOLUME.into(), size_gb: 10, data_center: data_center.into() };
        match c.create_volume(&v).await {
            Ok(_) => {}
            // Made meanwhile (another of their runs): use it.
            Err(e) if e.code() == Some(ErrorCode::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // RunPod makes a volume in seconds.
    for _ in 0..120 {
        match volume(c).await? {
            Some(v) if v.state == VolumeState::Ready => return Ok(v),
            Some(_) => {}
            None => return Err(anyhow!("the volume {VOLUME} disappeared while being made")),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Err(anyhow!("the bot is shutting down")),
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
    Err(anyhow!("the volume {VOLUME} was not ready within two minutes"))
}

/// Writes a file on the person's volume.
pub(crate) async fn put(c: &Client, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
    c.volume_file(reqwest::Method::PUT, VOLUME, key, |r| r.body(bytes))
        .await
        .with_context(|| format!("cannot upload {key} to your volume"))?;
    Ok(())
}

/// Reads a file from the person's volume.
pub(crate) async fn get(c: &Client, key: &str) -> anyhow::Result<Vec<u8>> {
    let r = c.volume_file(reqwest::Method::GET, VOLUME, key, |r| r).await?;
    Ok(r.bytes().await.with_context(|| format!("cannot read {key} from your volume"))?.to_vec())
}

/// How long the person's predict worker stays after a prediction (the next one is then warm).
const IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Deploys (or keeps) the person's predict endpoint: scale-to-zero workers running `image`'s
/// tabular worker over their volume, each job's `user` set by podwarden to the caller.
pub(crate) async fn ensure_endpoint(c: &Client, image: &str) -> anyhow::Result<()> {
    let spec = podwarden_api::tabular::predict_endpoint(ENDPOINT, image, VOLUME, IDLE);
    c.deploy_endpoint(&spec).await.context("cannot deploy your predict endpoint")?;
    Ok(())
}
