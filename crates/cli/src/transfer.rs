//! Moving a file to or from a network volume: straight over RunPod's S3 API (multipart
//! uploads that resume from a state file beside the file, downloads to a `.part` file resumed
//! with ranged reads) or through the server's files routes. Memory stays bounded whatever the
//! file's size. `volume.rs` has the commands; `staging.rs` moves a job's inputs and outputs.

use crate::UserError;
use crate::local::Api;
use anyhow::{Context, anyhow};
use futures::StreamExt;
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use podwarden_api::types::VolumeS3;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A bucket of AWS's S3 itself (an AWS job's inputs and outputs), reached with AWS's usual
/// settings: the credentials of `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or the profile
/// (`AWS_PROFILE`), else the instance's role; the region of `AWS_REGION` or the profile;
/// `AWS_ENDPOINT_URL` for another S3 (an `http://` one is taken as given: moto, a local S3).
pub(crate) fn aws_bucket(bucket: &str) -> Result<AmazonS3, UserError> {
    let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(c) = aws::Credentials::from_env().or_else(aws::Credentials::from_profile) {
        b = b.with_access_key_id(&c.access_key_id).with_secret_access_key(c.secret());
        if let Some(t) = c.token() {
            b = b.with_token(t);
        }
    }
    if let Some(r) = aws::env_region() {
        b = b.with_region(r);
    }
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL_S3").or_else(|_| std::env::var("AWS_ENDPOINT_URL"));
    if endpoint.is_ok_and(|u| u.starts_with("http://")) {
        b = b.with_allow_http(true);
    }
    b.build().map_err(|e| UserError {
        error: anyhow!("cannot reach S3 bucket {bucket}: {e}"),
        hint: Some("set AWS_REGION and AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)".into()),
    })
}

/// Parts in flight per upload (parts: `podwarden_api::part_bytes_for`; RunPod takes parts up to
/// 500 MB and needs multipart above 500 MB).
use podwarden_api::PARTS_IN_FLIGHT;

/// How `cp` reaches a volume's files: RunPod's S3 API with the key the server handed out or
/// the user's own, else through the podwarden server, which holds the key (hosted users).
pub(crate) struct Files {
    api: Api,
    volume: String,
    s3: Option<AmazonS3>,
}

impl Files {
    pub(crate) async fn of(api: &Api, volume: &str) -> Result<Files, UserError> {
        let loc: VolumeS3 = api.run(|c| c.volume_s3(volume)).await?;
        let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let key = match (&loc.access_key_id, &loc.secret_access_key) {
            (Some(k), Some(s)) => Some((k.clone(), s.clone())),
            _ => env("RUNPOD_S3_ACCESS_KEY_ID").zip(env("RUNPOD_S3_SECRET_ACCESS_KEY")),
        };
        let s3 = match key {
            Some((key, secret)) => {
                Some(podwarden_server::volume_files::s3_client(&loc, &key, &secret).map_err(
                    |e| UserError {
                        error: anyhow!("cannot set up the S3 client for {}: {e}", loc.endpoint),
                        hint: None,
                    },
                )?)
            }
            None => None,
        };
        Ok(Files { api: api.clone(), volume: volume.to_owned(), s3 })
    }

    /// Copies `local` to `key`; the bytes in the object.
    pub async fn upload(&self, local: &Path, key: &str) -> Result<u64, UserError> {
        let done = match &self.s3 {
            Some(s3) => upload(s3, local, key).await,
            None => self.upload_via_server(local, key).await,
        };
        self.report("upload", key, &done).await;
        done
    }

    /// Copies `key` to `local` (resuming a `.part` file); the object's size.
    pub async fn download(&self, key: &str, local: &Path) -> Result<u64, UserError> {
        let done = match &self.s3 {
            Some(s3) => download(s3, key, local).await,
            None => self.download_via_server(key, local).await,
        };
        self.report("download", key, &done).await;
        done
    }

    /// A small file's content.
    pub(crate) async fn read(&self, key: &str) -> Result<Vec<u8>, UserError> {
        let what = || format!("cannot read vol:{}/{key}", self.volume);
        let bytes = match &self.s3 {
            Some(s3) => {
                s3.get(&key_path(key)).await.with_context(what)?.bytes().await.with_context(what)?
            }
            None => self
                .api
                .run(|c| c.volume_file(reqwest::Method::GET, &self.volume, key, |r| r))
                .await?
                .bytes()
                .await
                .with_context(what)?,
        };
        Ok(bytes.to_vec())
    }

    /// A file's size, if it is there.
    pub(crate) async fn size_of(&self, key: &str) -> Option<u64> {
        match &self.s3 {
            Some(s3) => s3.head(&key_path(key)).await.ok().map(|m| m.size),
            None => self.size_of_or_why(key).await.ok(),
        }
    }

    /// Writes a small file.
    pub(crate) async fn write_small(&self, key: &str, bytes: Vec<u8>) -> Result<(), UserError> {
        match &self.s3 {
            Some(s3) => {
                s3.put(&key_path(key), bytes.into())
                    .await
                    .with_context(|| format!("writing {key}"))?;
            }
            None => {
                self.api
                    .run(|c| {
                        c.volume_file(reqwest::Method::PUT, &self.volume, key, |r| r.body(bytes))
                    })
                    .await?;
            }
        }
        Ok(())
    }

    /// Streams `local` through the server (which splits it into parts).
    async fn upload_via_server(&self, local: &Path, key: &str) -> Result<u64, UserError> {
        let read_err = |e: std::io::Error| UserError {
            error: anyhow!("cannot read {}: {e}", local.display()),
            hint: None,
        };
        let f = tokio::fs::File::open(local).await.map_err(read_err)?;
        let size = f.metadata().await.map_err(read_err)?.len();
        let progress = bar(size, "upload");
        let p = progress.clone();
        let stream =
            tokio_util::io::ReaderStream::with_capacity(f, 1024 * 1024).inspect(move |c| {
                if let Ok(c) = c {
                    p.inc(c.len() as u64);
                }
            });
        let body = reqwest::Body::wrap_stream(stream);
        self.api
            .run(|c| {
                c.volume_file(reqwest::Method::PUT, &self.volume, key, |r| {
                    r.header(reqwest::header::CONTENT_LENGTH, size).body(body)
                })
            })
            .await
            .map_err(|e| UserError {
                error: anyhow!("uploading {key}: {:#}", e.error),
                hint: e.hint,
            })?;
        progress.finish_and_clear();
        Ok(size)
    }

    /// Streams `key` from the server into `local`, resuming a `.part` file a previous run left.
    async fn download_via_server(&self, key: &str, local: &Path) -> Result<u64, UserError> {
        let part = part_path(local);
        let have = tokio::fs::metadata(&part).await.map(|m| m.len()).unwrap_or(0);
        let total = self.size_of_or_why(key).await?;
        // A partial file longer than the object is stale: start over.
        let start = if have <= total { have } else { 0 };
        let progress = bar(total, "download");
        progress.set_position(start);
        let mut out = open_part(&part, start).await?;
        if start < total {
            let r = self
                .api
                .run(|c| {
                    c.volume_file(reqwest::Method::GET, &self.volume, key, |r| {
                        if start > 0 {
                            r.header(reqwest::header::RANGE, format!("bytes={start}-"))
                        } else {
                            r
                        }
                    })
                })
                .await?;
            pump(r.bytes_stream(), &mut out, &progress, key, &part).await?;
        }
        finish_part(out, &part, local).await?;
        progress.finish_and_clear();
        Ok(total)
    }

    /// A file's size through the server, or why not (HEAD answers carry no error body).
    async fn size_of_or_why(&self, key: &str) -> Result<u64, UserError> {
        match self.api.run(|c| c.volume_file(reqwest::Method::HEAD, &self.volume, key, |r| r)).await
        {
            // The header itself: reqwest's content_length() is the (empty) body's for a HEAD.
            Ok(r) => r
                .headers()
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .ok_or_else(|| UserError {
                    error: anyhow!("the server sent no size for {key}"),
                    hint: None,
                }),
            Err(_) => {
                // The same request as a GET says what was wrong (not found, no key, bad path).
                let e = self
                    .api
                    .run(|c| {
                        c.volume_file(reqwest::Method::GET, &self.volume, key, |r| {
                            r.header(reqwest::header::RANGE, "bytes=0-")
                        })
                    })
                    .await
                    .err();
                Err(e.unwrap_or_else(|| UserError {
                    error: anyhow!("cannot read {key}"),
                    hint: None,
                }))
            }
        }
    }

    /// Tells the server what moved over S3, for the storage audit log (`GET /api/v1/audit`);
    /// through the server, it saw the bytes and recorded them itself. A failure to report is a
    /// warning: the transfer itself already happened or failed.
    async fn report(&self, op: &str, key: &str, done: &Result<u64, UserError>) {
        if self.s3.is_none() {
            return;
        }
        let (bytes, result) = match done {
            Ok(n) => (*n as i64, "ok".to_owned()),
            Err(e) => (0, format!("{:#}", e.error)),
        };
        let t = podwarden_api::types::TransferReport {
            op: op.to_owned(),
            path: key.to_owned(),
            bytes,
            result,
        };
        if let Err(e) = self.api.run(|c| c.report_transfer(&self.volume, &t)).await {
            note!("warning: the transfer was not recorded in the audit log: {:#}", e.error);
        }
    }
}

/// Where a download in progress is kept: `<file>.part`.
fn part_path(local: &Path) -> PathBuf {
    local.with_extension(
        local.extension().map_or("part".to_owned(), |e| format!("{}.part", e.to_string_lossy())),
    )
}

/// The `.part` file, appended to from `start` (0: truncated).
async fn open_part(part: &Path, start: u64) -> Result<tokio::fs::File, UserError> {
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(start > 0)
        .write(true)
        .truncate(start == 0)
        .open(part)
        .await
        .map_err(|e| UserError {
            error: anyhow!("cannot write {}: {e}", part.display()),
            hint: None,
        })
}

/// Writes a download's chunks to its `.part` file as they come, advancing the progress bar.
async fn pump<E: std::error::Error + Send + Sync + 'static>(
    mut stream: impl futures::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    out: &mut tokio::fs::File,
    progress: &indicatif::ProgressBar,
    key: &str,
    part: &Path,
) -> Result<(), UserError> {
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.with_context(|| format!("reading {key}"))?;
        out.write_all(&chunk).await.with_context(|| format!("writing {}", part.display()))?;
        progress.inc(chunk.len() as u64);
    }
    Ok(())
}

/// Flushes the `.part` file and moves it into place.
async fn finish_part(mut out: tokio::fs::File, part: &Path, local: &Path) -> Result<(), UserError> {
    out.flush().await.context("flushing")?;
    drop(out);
    tokio::fs::rename(part, local)
        .await
        .with_context(|| format!("moving {} into place", part.display()))?;
    Ok(())
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let b = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b.set_message(what.to_owned());
    b
}

/// A multipart upload in progress, kept beside the local file so a rerun resumes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct UploadState {
    key: String,
    size: u64,
    /// The file's modification time (ns since the epoch): a changed file starts over.
    mtime_ns: u128,
    part_bytes: usize,
    upload_id: String,
    /// Content ids of the parts sent, in order.
    parts: Vec<String>,
}

fn state_path(local: &Path) -> PathBuf {
    let mut name = local.file_name().map(|f| f.to_os_string()).unwrap_or_default();
    name.push(".podwarden-upload");
    local.with_file_name(name)
}

/// Streams `local` to `key`: one request for a small file, else a multipart upload of
/// `PART_BYTES` parts (larger past ~80 GB: `part_bytes_for`), `PARTS_IN_FLIGHT` at a time, whose progress is saved beside the file
/// (`<file>.podwarden-upload`) so an interrupted upload resumes where it stopped. Returns the
/// bytes in the object.
pub async fn upload(s3: &AmazonS3, local: &Path, key: &str) -> Result<u64, UserError> {
    use futures::stream::FuturesOrdered;
    use object_store::multipart::{MultipartStore, PartId};
    let read_err = |e: std::io::Error| UserError {
        error: anyhow!("cannot read {}: {e}", local.display()),
        hint: None,
    };
    let mut f = tokio::fs::File::open(local).await.map_err(read_err)?;
    let meta = f.metadata().await.map_err(read_err)?;
    let size = meta.len();
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let path = key_path(key);
    // 8 MiB parts, larger for files over ~80 GB (S3 takes at most 10,000 parts).
    let part_bytes = podwarden_api::part_bytes_for(size);
    if size <= part_bytes as u64 {
        let mut buf = Vec::with_capacity(size as usize);
        f.read_to_end(&mut buf).await.map_err(read_err)?;
        s3.put(&path, buf.into()).await.with_context(|| format!("uploading {key}"))?;
        return Ok(size);
    }
    let state_file = state_path(local);
    let saved: Option<UploadState> =
        tokio::fs::read(&state_file).await.ok().and_then(|b| serde_json::from_slice(&b).ok());
    let mut state = match saved {
        Some(s)
            if s.key == key
                && s.size == size
                && s.mtime_ns == mtime_ns
                && s.part_bytes == part_bytes =>
        {
            note!(
                "resuming the upload of {key} after {} of {} parts",
                s.parts.len(),
                size.div_ceil(part_bytes as u64)
            );
            s
        }
        stale => {
            if let Some(old) = stale {
                let _ = s3.abort_multipart(&key_path(&old.key), &old.upload_id).await;
            }
            let upload_id = s3
                .create_multipart(&path)
                .await
                .with_context(|| format!("starting the upload of {key}"))?;
            UploadState {
                key: key.to_owned(),
                size,
                mtime_ns,
                part_bytes,
                upload_id,
                parts: Vec::new(),
            }
        }
    };
    let save = |st: &UploadState| {
        let (file, json) = (state_file.clone(), serde_json::to_vec(st).unwrap_or_default());
        async move { tokio::fs::write(&file, json).await }
    };
    save(&state).await.with_context(|| format!("writing {}", state_file.display()))?;
    // Test hook: stop (as if interrupted) once this many parts are saved.
    let stop_after: Option<usize> =
        std::env::var("PODWARDEN_CP_STOP_AFTER_PARTS").ok().and_then(|v| v.parse().ok());
    let total = size.div_ceil(part_bytes as u64) as usize;
    let progress = bar(size, "upload");
    let done_bytes = |n: usize| (n as u64 * part_bytes as u64).min(size);
    progress.set_position(done_bytes(state.parts.len()));
    f.seek(std::io::SeekFrom::Start(done_bytes(state.parts.len()))).await.map_err(read_err)?;
    let mut in_flight = FuturesOrdered::new();
    let mut next = state.parts.len();
    loop {
        while next < total && in_flight.len() < PARTS_IN_FLIGHT {
            let len = (size - next as u64 * part_bytes as u64).min(part_bytes as u64) as usize;
            let mut buf = vec![0u8; len];
            f.read_exact(&mut buf).await.map_err(read_err)?;
            let (s3, path, id, idx) = (s3.clone(), path.clone(), state.upload_id.clone(), next);
            in_flight.push_back(async move { s3.put_part(&path, &id, idx, buf.into()).await });
            next += 1;
        }
        let Some(part) = in_flight.next().await else { break };
        let part: PartId =
            part.with_context(|| format!("uploading part {} of {key}", state.parts.len() + 1))?;
        state.parts.push(part.content_id);
        save(&state).await.with_context(|| format!("writing {}", state_file.display()))?;
        progress.set_position(done_bytes(state.parts.len()));
        if stop_after.is_some_and(|n| state.parts.len() >= n) && state.parts.len() < total {
            return Err(UserError {
                error: anyhow!(
                    "stopped after {} parts (PODWARDEN_CP_STOP_AFTER_PARTS)",
                    state.parts.len()
                ),
                hint: None,
            });
        }
    }
    let parts = state.parts.iter().map(|c| PartId { content_id: c.clone() }).collect();
    s3.complete_multipart(&path, &state.upload_id, parts)
        .await
        .with_context(|| format!("completing the upload of {key}"))?;
    let _ = tokio::fs::remove_file(&state_file).await;
    progress.finish_and_clear();
    Ok(size)
}

/// Streams `key` into `local`, resuming a `.part` file a previous run left.
pub async fn download(s3: &AmazonS3, key: &str, local: &Path) -> Result<u64, UserError> {
    let part = part_path(local);
    let have = tokio::fs::metadata(&part).await.map(|m| m.len()).unwrap_or(0);
    let meta = s3.head(&key_path(key)).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => {
            UserError { error: anyhow!("{key} is not on the volume"), hint: None }
        }
        e => UserError { error: anyhow!("cannot read {key}: {e}"), hint: None },
    })?;
    let total = meta.size;
    let start = if have <= total { have } else { 0 };
    let opts = GetOptions {
        range: (start > 0).then_some(GetRange::Offset(start)),
        ..GetOptions::default()
    };
    let progress = bar(total, "download");
    progress.set_position(start);
    let mut out = open_part(&part, start).await?;
    if start < total {
        let stream = s3
            .get_opts(&key_path(key), opts)
            .await
            .with_context(|| format!("reading {key}"))?
            .into_stream();
        pump(stream, &mut out, &progress, key, &part).await?;
    }
    finish_part(out, &part, local).await?;
    progress.finish_and_clear();
    Ok(total)
}

/// A file's path on the volume as an object key, exactly as written: `ObjPath::from` would
/// percent-encode `é`, `%` or a space into the object's name (keys are checked before).
fn key_path(key: &str) -> ObjPath {
    ObjPath::parse(key).unwrap_or_else(|_| ObjPath::from(key))
}
