//! A job's `[[inputs]]` and `[[outputs]]`: local files staged onto the job's network volume
//! before it is submitted (skipped when the volume already holds the same bytes) and its
//! outputs brought back after it ends, through `transfer`. An AWS job's `s3://` inputs and
//! outputs are the instance's to move; nothing is staged for them here.

use crate::UserError;
use crate::local::Api;
use crate::transfer::Files;
use anyhow::{Context, anyhow};
use podwarden_api::types::VolumeView;
use std::path::Path;
use tokio::io::AsyncReadExt;

/// The volume of a job spec: `network_volume` names one of the user's volumes or is its
/// RunPod id.
async fn job_volume(api: &Api, spec: &podwarden_core::spec::JobSpec) -> Result<String, UserError> {
    let v = spec.network_volume.clone().unwrap_or_default();
    let mine: Vec<VolumeView> = api.run(|c| c.volumes()).await?;
    mine.into_iter().find(|m| m.name == v || m.volume_id.as_deref() == Some(v.as_str())).map(|m| m.name).ok_or_else(|| UserError {
        error: anyhow!("network_volume {v:?} is not one of your volumes, so podwarden cannot put inputs on it or fetch outputs from it"),
        hint: Some("`podwarden volume create NAME --data-center DC`, then network_volume = \"NAME\"".into()),
    })
}

/// Where an input's fingerprint lives on the volume (any S3 keeps it; no metadata needed).
fn fingerprint_key(path: &str) -> String {
    format!(".podwarden/inputs/{path}.sha256")
}

async fn sha256_of(path: &Path) -> Result<(String, u64), UserError> {
    use sha2::Digest;
    let mut f = tokio::fs::File::open(path).await.map_err(|e| UserError {
        error: anyhow!("cannot read input {}: {e}", path.display()),
        hint: None,
    })?;
    let (mut h, mut buf, mut n) = (sha2::Sha256::new(), vec![0u8; 1024 * 1024], 0u64);
    loop {
        let k = f.read(&mut buf).await.with_context(|| format!("reading {}", path.display()))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finalize().iter().map(|b| format!("{b:02x}")).collect(), n))
}

/// Puts a job's local `[[inputs]]` on its volume before it is submitted, skipping a file whose
/// content is already there (by SHA-256). URL inputs are fetched by the pod itself.
pub async fn stage_inputs(
    api: &Api,
    spec: &podwarden_core::spec::JobSpec,
    spec_dir: &Path,
) -> Result<(), UserError> {
    let local: Vec<_> =
        spec.inputs.iter().filter(|i| !i.is_url() && !i.source.starts_with("s3://")).collect();
    if local.is_empty() {
        return Ok(());
    }
    let volume = job_volume(api, spec).await?;
    let files = Files::of(api, &volume).await?;
    for input in local {
        let src = spec_dir.join(&input.source);
        let (sha, size) = sha256_of(&src).await?;
        let want = format!("{sha} {size}\n");
        let have = files
            .read(&fingerprint_key(&input.path))
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let there = files.size_of(&input.path).await;
        if have.as_deref() == Some(want.as_str()) && there == Some(size) {
            note!("input {} unchanged on vol:{volume}; not uploaded again", input.path);
            continue;
        }
        files.upload(&src, &input.path).await?;
        files.write_small(&fingerprint_key(&input.path), want.into_bytes()).await?;
        note!("input {} → vol:{volume}/{} ({size} bytes)", src.display(), input.path);
    }
    Ok(())
}

/// Fetches a succeeded job's `[[outputs]]` that name a local directory (`to`).
pub async fn collect_outputs(
    api: &Api,
    spec: &podwarden_core::spec::JobSpec,
    spec_dir: &Path,
) -> Result<(), UserError> {
    for o in spec.outputs.iter().filter(|o| o.to.as_deref().is_some_and(|t| t.starts_with("s3://")))
    {
        note!(
            "output {} went to {} (`podwarden cp` fetches it)",
            o.path,
            o.to.as_deref().unwrap_or_default()
        );
    }
    let wanted: Vec<_> = spec
        .outputs
        .iter()
        .filter(|o| o.to.as_deref().is_some_and(|t| !t.starts_with("s3://")))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let volume = job_volume(api, spec).await?;
    let files = Files::of(api, &volume).await?;
    for o in wanted {
        let dir = spec_dir.join(o.to.as_deref().unwrap_or("."));
        tokio::fs::create_dir_all(&dir)
            .await
            .with_context(|| format!("creating {}", dir.display()))?;
        let local = dir.join(o.path.rsplit('/').next().unwrap_or("output"));
        files.download(&o.path, &local).await.map_err(|e| UserError {
            error: anyhow!(
                "the job succeeded, but its output {} could not be fetched: {:#}",
                o.path,
                e.error
            ),
            hint: Some(format!(
                "it stays on the volume: `podwarden cp vol:{volume}/{} {}`",
                o.path,
                dir.display()
            )),
        })?;
        note!("output vol:{volume}/{} → {}", o.path, local.display());
    }
    Ok(())
}
