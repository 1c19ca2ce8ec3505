//! The volume's files as S3 objects: keys checked as paths beneath the volume, reads and
//! writes through `cap-std` only, uploads written beside their object and renamed into place.

use cap_std::fs::Dir;
use futures::StreamExt;
use s3s::{S3Result, s3_error};
use tokio::io::AsyncWriteExt;

use super::MAX_PUT_BYTES;

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A key as a path beneath the volume: relative, no `.`, `..` or empty segments.
pub(super) fn check_key(key: &str) -> S3Result<()> {
    if key.is_empty()
        || key.starts_with('/')
        || key.split('/').any(|p| p == ".." || p == ".")
        || key.trim_end_matches('/').contains("//")
    {
        return Err(s3_error!(
            InvalidArgument,
            "the key may not be empty, start with `/` or contain `.`, `..` or empty segments"
        ));
    }
    Ok(())
}

/// An io error as S3 says it: a missing file is no such key; a path the kernel would not
/// resolve beneath the volume (a link out of it, a file where a directory is meant, one
/// replaced meanwhile) is refused as the client's; only the machine's own trouble is a 500
/// (which clients retry).
pub(super) fn io_error(e: std::io::Error) -> s3s::S3Error {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound | K::NotADirectory => s3_error!(NoSuchKey),
        K::StorageFull | K::OutOfMemory | K::Interrupted | K::TimedOut | K::QuotaExceeded => {
            s3_error!(InternalError, "{e}")
        }
        _ => s3_error!(
            AccessDenied,
            "not a file on this volume ({e}); links out of it are not followed"
        ),
    }
}

/// Opens `key` on the volume for reading: a regular file, reached beneath the volume only.
pub(super) fn open_file(dir: &Dir, key: &str) -> S3Result<(std::fs::File, std::fs::Metadata)> {
    check_key(key)?;
    let f = dir.open(key).map_err(io_error)?.into_std();
    let meta = f.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(s3_error!(NoSuchKey));
    }
    Ok((f, meta))
}

/// Writes `body` to `key` on the volume: into a temporary file beside it, renamed into place
/// once whole (parent directories made beneath the volume). Returns the bytes' MD5 and count.
pub(super) async fn write_object(
    dir: &Dir,
    key: &str,
    capacity: u64,
    body: impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>>,
) -> S3Result<(String, u64)> {
    use md5::Digest;
    check_key(key)?;
    // A network volume has a fixed size: what is on it (but the object being replaced) and
    // this object must fit.
    let room = {
        let (d, k) = (dir.try_clone().map_err(io_error)?, key.to_owned());
        let used = tokio::task::spawn_blocking(move || {
            walk(&d, "")
                .map(|all| all.iter().filter(|(x, ..)| *x != k).map(|(_, n, _)| n).sum::<u64>())
        })
        .await
        .map_err(|e| s3_error!(InternalError, "{e}"))??;
        capacity.saturating_sub(used)
    };
    let full = || {
        s3_error!(
            EntityTooLarge,
            "the network volume is full: {room} of its {capacity} bytes are free (a volume's size is fixed; make a larger one)"
        )
    };
    let (parent, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if name.is_empty() {
        return Err(s3_error!(InvalidArgument, "a key naming a directory holds no object here"));
    }
    if let Some(p) = parent {
        dir.create_dir_all(p).map_err(io_error)?;
    }
    let tmp = match parent {
        Some(p) => format!("{p}/.pw-upload-{}", uuid_like()),
        None => format!(".pw-upload-{}", uuid_like()),
    };
    let opts = {
        use cap_std::fs::OpenOptionsExt;
        let mut o = cap_std::fs::OpenOptions::new();
        // The owner's alone, as the volume's directory is.
        o.write(true).create_new(true).mode(0o600);
        o
    };
    let file = dir.open_with(&tmp, &opts).map_err(io_error)?.into_std();
    let mut out = tokio::fs::File::from_std(file);
    let (mut h, mut n) = (md5::Md5::new(), 0u64);
    let mut body = std::pin::pin!(body);
    let written: Result<(), s3s::S3Error> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
            h.update(&chunk);
            n += chunk.len() as u64;
            if n > room {
                return Err(full());
            }
            out.write_all(&chunk).await.map_err(io_error)?;
        }
        out.flush().await.map_err(io_error)?;
        Ok(())
    }
    .await;
    drop(out);
    if let Err(e) = written.and_then(|()| dir.rename(&tmp, dir, key).map_err(io_error)) {
        let _ = dir.remove_file(&tmp);
        return Err(e);
    }
    Ok((hex(&h.finalize()), n))
}

/// A fresh name for a temporary file (not secret; `create_new` refuses a clash).
pub(super) fn uuid_like() -> String {
    use rand::RngExt;
    let n: u128 = rand::rng().random();
    format!("{n:032x}")
}

/// Every object beneath `prefix`'s directory, sorted, as (key, size, modified). Links are not
/// objects (they are not followed), nor are unfinished uploads.
pub(super) fn walk(dir: &Dir, prefix: &str) -> S3Result<Vec<(String, u64, std::time::SystemTime)>> {
    let start = prefix.rsplit_once('/').map_or("", |(d, _)| d);
    let mut out = Vec::new();
    let mut queue = vec![start.to_owned()];
    while let Some(at) = queue.pop() {
        let entries = if at.is_empty() { dir.entries() } else { dir.read_dir(&at) };
        let Ok(entries) = entries else { continue };
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else { continue };
            let key = if at.is_empty() { name.clone() } else { format!("{at}/{name}") };
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                queue.push(key);
            } else if t.is_file() && !name.contains(".pw-upload-") && key.starts_with(prefix) {
                if let Ok(m) = e.metadata() {
                    out.push((
                        key,
                        m.len(),
                        m.modified()
                            .map_or(std::time::UNIX_EPOCH, cap_std::time::SystemTime::into_std),
                    ));
                }
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

pub(super) fn too_large(len: Option<i64>) -> S3Result<()> {
    match len {
        Some(n) if n as u64 >= MAX_PUT_BYTES => Err(s3_error!(
            EntityTooLarge,
            "RunPod's S3 API takes at most 500 MB per PutObject or part ({n} bytes); use a multipart upload"
        )),
        _ => Ok(()),
    }
}
