//! `podwarden volume create|ls|rm` and `podwarden cp`: network volumes and the files on them.
//!
//! `cp` talks to RunPod's S3 API directly (object_store's S3 client: SigV4, multipart,
//! retries) when it has an S3 key: the server says where the volume is and, to an admin, which
//! key to use (`GET /api/v1/volumes/{name}/s3`); otherwise the key comes from
//! `RUNPOD_S3_ACCESS_KEY_ID` / `RUNPOD_S3_SECRET_ACCESS_KEY` (RunPod console → Settings → S3
//! API Keys). Without one (a hosted user: the operator's key opens every volume, so nobody but
//! an admin gets it) the bytes go through the server (`/api/v1/volumes/{name}/files/{path}`),
//! which holds the key. Either way memory stays bounded whatever the file's size, and
//! downloads stream to a `.part` file that a rerun resumes with ranged reads, then rename it
//! into place. Direct S3 uploads go in parts of `PART_BYTES` (a few in flight) and keep their
//! progress beside the file, so a rerun resumes an interrupted upload; an upload through the
//! server is one streamed request (the server splits it into parts) and starts over.
//!
//! The transfers themselves are `transfer.rs`; a job's inputs and outputs, `staging.rs`.

use crate::UserError;
use crate::local::Api;
use crate::transfer::Files;
use anyhow::anyhow;
use podwarden_api::types::VolumeView;
use std::path::PathBuf;

/// `podwarden volume`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a network volume on the RunPod account you compute on.
    Create {
        name: String,
        /// Size in GB (10–4096).
        #[arg(long, default_value_t = 10)]
        size_gb: i64,
        /// Data center (a network volume pins the pods that mount it there).
        #[arg(long)]
        data_center: String,
        #[arg(long)]
        json: bool,
    },
    /// List your volumes with size, data center and monthly cost.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Delete a volume and every file on it.
    Rm {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Your storage operations (create, remove, S3 access, transfers), newest first.
    Audit {
        /// Everyone's (admins).
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(c: Command) -> Result<(), UserError> {
    let api = Api::connect().await?;
    match c {
        Command::Create { name, size_gb, data_center, json } => {
            let new = podwarden_api::types::NewVolume { name, size_gb, data_center };
            let v: VolumeView = api.run(|c| c.create_volume(&new)).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                out!("{}", v.volume_id.as_deref().unwrap_or("-"));
                note!(
                    "volume {} created: {} GB in {} (${:.2}/month)",
                    v.name,
                    v.size_gb,
                    v.data_center,
                    v.monthly_usd
                );
            }
            if !v.s3_api {
                note!(
                    "warning: {} has no S3 API on RunPod: `podwarden cp`, `[[inputs]]` from local files and the dashboard's file browser cannot reach this volume (only pods can)\nhint: remove it (`podwarden volume rm {}`) and create it in a data center with the S3 API, e.g. EU-RO-1 or US-KS-2",
                    v.data_center,
                    v.name
                );
            }
        }
        Command::Ls { json } => {
            let vs: Vec<VolumeView> = api.run(|c| c.volumes()).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&vs).unwrap_or_default());
                return Ok(());
            }
            let mut t = crate::print::table(&[
                "NAME",
                "STATE",
                "VOLUME ID",
                "DATA CENTER",
                "SIZE",
                "USD/MONTH",
                "BACKEND",
            ]);
            for v in vs {
                t.add_row(vec![
                    v.name,
                    v.state.to_string(),
                    v.volume_id.unwrap_or_else(|| "-".into()),
                    v.data_center,
                    format!("{} GB", v.size_gb),
                    format!("{:.2}", v.monthly_usd),
                    v.backend,
                ]);
            }
            out!("{t}");
        }
        Command::Rm { name, json } => {
            let v: VolumeView = api.run(|c| c.remove_volume(&name)).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                note!("volume {} deleted", v.name);
            }
        }
        Command::Audit { all, limit, json } => {
            let rows: Vec<podwarden_api::types::AuditEntry> =
                api.run(|c| c.audit(all, limit)).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
                return Ok(());
            }
            let mut t =
                crate::print::table(&["WHEN", "USER", "OP", "VOLUME", "PATH", "BYTES", "RESULT"]);
            for r in rows {
                let when = chrono::DateTime::from_timestamp_millis(r.at)
                    .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M:%S").to_string());
                t.add_row(vec![
                    when,
                    r.user,
                    r.op,
                    r.volume,
                    r.path.unwrap_or_default(),
                    r.bytes.map_or_else(String::new, |b| b.to_string()),
                    r.result,
                ]);
            }
            out!("{t}");
        }
    }
    Ok(())
}

/// `podwarden cp`.
#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// A local file, `vol:NAME/path`, or `s3://BUCKET/KEY` (AWS's S3, with AWS's credentials).
    pub from: String,
    /// A local file, `vol:NAME/path` or `s3://BUCKET/KEY` (a path ending in `/` keeps the
    /// file's name).
    pub to: String,
    /// The copy as JSON: `{"from", "to", "bytes"}`.
    #[arg(long)]
    pub json: bool,
}

/// A `vol:NAME/path` operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolPath {
    pub volume: String,
    pub key: String,
}

/// Parses `vol:NAME/path`; `None` for a local path.
pub fn parse_vol(s: &str) -> Result<Option<VolPath>, String> {
    let Some(rest) = s.strip_prefix("vol:") else { return Ok(None) };
    let (volume, key) = rest.split_once('/').unwrap_or((rest, ""));
    if volume.is_empty() {
        return Err(format!("{s:?}: name the volume, as vol:NAME/path"));
    }
    if key.split('/').any(|p| p == "..") {
        return Err(format!("{s:?}: `..` is not allowed in a volume path"));
    }
    Ok(Some(VolPath { volume: volume.to_owned(), key: key.to_owned() }))
}

/// What `cp` did: a note, or with `--json` an object on stdout.
fn copied(json: bool, from: &str, to: &str, bytes: u64) {
    if json {
        out!("{}", serde_json::json!({"from": from, "to": to, "bytes": bytes}));
    } else {
        note!("{from} → {to} ({bytes} bytes)");
    }
}

/// `s3://BUCKET/KEY` as (bucket, key); `None` for anything else.
fn parse_s3(s: &str) -> Option<(String, String)> {
    let rest = s.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Some((bucket.to_owned(), key.to_owned()))
}

/// `cp` with one side on AWS's S3 (an AWS job's inputs and outputs).
async fn cp_s3(a: &CpArgs) -> Result<(), UserError> {
    let bad = |e: &str| UserError {
        error: anyhow!("{e}"),
        hint: Some(
            "`podwarden cp LOCAL s3://BUCKET/KEY` or `podwarden cp s3://BUCKET/KEY LOCAL`".into(),
        ),
    };
    match (parse_s3(&a.from), parse_s3(&a.to)) {
        (Some((bucket, key)), None) => {
            if key.is_empty() || key.ends_with('/') {
                return Err(bad("name the object to copy: s3://BUCKET/KEY"));
            }
            let mut local = PathBuf::from(&a.to);
            if a.to.ends_with('/') || local.is_dir() {
                local = local.join(key.rsplit('/').next().unwrap_or("file"));
            }
            let n = crate::transfer::download(&crate::transfer::aws_bucket(&bucket)?, &key, &local)
                .await?;
            copied(a.json, &a.from, &local.display().to_string(), n);
        }
        (None, Some((bucket, key))) => {
            let local = PathBuf::from(&a.from);
            let key = if key.is_empty() || key.ends_with('/') {
                format!(
                    "{key}{}",
                    local.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
                )
            } else {
                key
            };
            let n = crate::transfer::upload(&crate::transfer::aws_bucket(&bucket)?, &local, &key)
                .await?;
            copied(a.json, &local.display().to_string(), &format!("s3://{bucket}/{key}"), n);
        }
        _ => {
            return Err(bad(
                "copy between two buckets is not supported; copy through a local file",
            ));
        }
    }
    Ok(())
}

pub async fn cp(a: CpArgs) -> Result<(), UserError> {
    if a.from.starts_with("s3://") || a.to.starts_with("s3://") {
        return cp_s3(&a).await;
    }
    let bad = |e: String| UserError {
        error: anyhow!(e),
        hint: Some(
            "`podwarden cp LOCAL vol:NAME/path` or `podwarden cp vol:NAME/path LOCAL`".into(),
        ),
    };
    let (from, to) = (parse_vol(&a.from).map_err(bad)?, parse_vol(&a.to).map_err(bad)?);
    let api = Api::connect().await?;
    match (from, to) {
        (None, Some(dst)) => {
            let local = PathBuf::from(&a.from);
            let key = if dst.key.is_empty() || dst.key.ends_with('/') {
                format!(
                    "{}{}",
                    dst.key,
                    local.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
                )
            } else {
                dst.key.clone()
            };
            let n = Files::of(&api, &dst.volume).await?.upload(&local, &key).await?;
            let to = format!("vol:{}/{key}", dst.volume);
            copied(a.json, &local.display().to_string(), &to, n);
        }
        (Some(src), None) => {
            let mut local = PathBuf::from(&a.to);
            if a.to.ends_with('/') || local.is_dir() {
                local = local.join(src.key.rsplit('/').next().unwrap_or("file"));
            }
            let n = Files::of(&api, &src.volume).await?.download(&src.key, &local).await?;
            let from = format!("vol:{}/{}", src.volume, src.key);
            copied(a.json, &from, &local.display().to_string(), n);
        }
        (Some(_), Some(_)) => {
            return Err(bad(
                "copy between two volumes is not supported; copy through a local file".into(),
            ));
        }
        (None, None) => return Err(bad("one side must be a volume (vol:NAME/path)".into())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_operands_parse_and_refuse_dot_dot() {
        assert_eq!(parse_vol("data.csv"), Ok(None));
        assert_eq!(
            parse_vol("vol:ds/a/b.csv"),
            Ok(Some(VolPath { volume: "ds".into(), key: "a/b.csv".into() }))
        );
        assert_eq!(
            parse_vol("vol:ds"),
            Ok(Some(VolPath { volume: "ds".into(), key: String::new() }))
        );
        assert!(parse_vol("vol:/x").is_err());
        assert!(parse_vol("vol:ds/../x").is_err());
    }
}
