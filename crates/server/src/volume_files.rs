//! `/api/v1/volumes/{name}/files/{*path}`: a volume's files through the server, for users the
//! server gives no S3 key.
//!
//! RunPod's S3 keys are per account and one key opens every volume on it, so a hosted user
//! (computing on the operator's account) never gets the operator's key (`volumes::volume_s3`).
//! Their `podwarden cp` moves the bytes through here instead: the server checks the volume is
//! the caller's, talks to RunPod's S3 API with the operator's key, and writes the audit log
//! itself (it sees the bytes, so the entry is not the client's word).
//!
//! Invariants: memory per transfer is bounded by `MAX_SERVER_PART × (PARTS_IN_FLIGHT + 1)` (parts
//! are 8 MiB, larger only for files past ~80 GB) whatever the file's size (the body is streamed
//! into a multipart upload, the download streamed out); an upload that fails or outgrows the volume
//! is aborted, so no half-written object appears; paths are checked like job inputs (relative, no
//! `..`). Downloads honour `Range: bytes=N-`, so an interrupted one resumes.

use crate::api::{ErrorBody, ErrorCode, VolumeS3};
use crate::routes::{ApiError, C, R, S};
use crate::volumes::{audit, own};
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};

// Upload part size (RunPod takes parts up to 500 MB) and parts in flight: the client streams
// in the same parts.
pub use podwarden_api::{PART_BYTES, PARTS_IN_FLIGHT};

/// An S3 client for a volume (bucket = volume id, region = data center), as RunPod's S3 API
/// wants it: path-style requests, SigV4 with `UNSIGNED-PAYLOAD` (the body is not hashed before
/// sending; TLS protects it on RunPod, and the AWS CLI RunPod documents signs the same way).
pub fn s3_client(loc: &VolumeS3, key: &str, secret: &str) -> Result<AmazonS3, object_store::Error> {
    AmazonS3Builder::new()
        .with_endpoint(&loc.endpoint)
        .with_region(&loc.region)
        .with_bucket_name(&loc.bucket)
        .with_access_key_id(key)
        .with_secret_access_key(secret)
        .with_allow_http(loc.endpoint.starts_with("http://"))
        .with_virtual_hosted_style_request(false)
        .with_unsigned_payload(true)
        .build()
}

/// An S3 client with the operator's key, the checked path, and the volume's size in bytes (the
/// most an upload may hold), for the caller's volume; a refusal (another user's volume, a bad
/// path, no S3 here) is audited as `op` before it is answered.
async fn open(
    s: &crate::AppState,
    user: &str,
    name: &str,
    path: &str,
    op: &str,
) -> R<(AmazonS3, ObjPath, u64)> {
    let opened = open_unaudited(s, user, name, path).await;
    if let Err(e) = &opened {
        let shown: String = path.chars().take(1024).collect();
        let why = format!("refused: {}", e.message());
        audit(s, user, op, name, Some(&shown), None, &why).await;
    }
    opened
}

async fn open_unaudited(
    s: &crate::AppState,
    user: &str,
    name: &str,
    path: &str,
) -> R<(AmazonS3, ObjPath, u64)> {
    podwarden_core::spec::check_volume_path(path).map_err(|m| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadPath,
            m,
            Some("e.g. data/train.csv"),
        )
    })?;
    let row = own(s, user, name).await?;
    let loc = crate::volumes::location(s, &row, name)?;
    let key = (row.account.is_hosted()).then(|| s.s3.operator_key.clone()).flatten().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NoS3Key,
            format!("the server has no S3 key for the account volume {name:?} is on"),
            Some("on your own RunPod account, use your own S3 key: export RUNPOD_S3_ACCESS_KEY_ID and RUNPOD_S3_SECRET_ACCESS_KEY (RunPod console → Settings → S3 API Keys)"),
        )
    })?;
    let client = s3_client(&loc, &key.0, &key.1).map_err(|e| {
        tracing::error!(error = %e, "cannot set up the S3 client");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "cannot reach the volume's S3 API (see the server log)",
            None,
        )
    })?;
    let bytes = (row.size_gb.max(0) as u64).saturating_mul(1_000_000_000);
    // The name as given (`ObjPath::from` would percent-encode `é` or `%` into the object's name,
    // and a file a pod wrote as `été.txt` could never be read back).
    let at = ObjPath::parse(path).map_err(|e| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::BadPath, e.to_string(), None)
    })?;
    Ok((client, at, bytes))
}

fn s3_error(path: &str, e: object_store::Error) -> ApiError {
    match e {
        // A full volume (the emulator says EntityTooLarge; what RunPod says is not documented,
        // and the upload route refuses before it writes past the free space anyway).
        e if e.to_string().contains("EntityTooLarge") => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::VolumeFull,
            format!("{path} does not fit: the volume is full"),
            Some(
                "remove files from it, or make a larger volume (`podwarden volume create --size-gb`)",
            ),
        ),
        object_store::Error::NotFound { .. } => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{path} is not on the volume"),
            None,
        ),
        e => {
            tracing::warn!(error = %e, path, "volume S3 request failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::S3Error,
                format!("RunPod's S3 API failed on {path}"),
                Some("try again; see the server log"),
            )
        }
    }
}

/// `Range: bytes=N-` (the one form `cp` sends to resume).
fn range_start(headers: &HeaderMap) -> R<Option<u64>> {
    let Some(v) = headers.get(header::RANGE) else { return Ok(None) };
    v.to_str()
        .ok()
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BadRange,
                "only `Range: bytes=N-` is supported",
                None,
            )
        })
}

/// Reads a file on the volume (streamed; `Range: bytes=N-` resumes).
#[utoipa::path(get, path = "/api/v1/volumes/{name}/files/{path}", tag = "volumes", params(("name" = String, Path, description = "volume name"), ("path" = String, Path, description = "path on the volume: relative, no `.` or `..` segments, no quotes, `$`, backslashes or control characters", pattern = r"^([^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.[^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.\.[^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]+)(/([^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.[^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.\.[^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]+))*$")), responses((status = 200, description = "the file", content_type = "application/octet-stream"), (status = 206, description = "from the requested offset", content_type = "application/octet-stream"), (status = 404, description = "no such volume or file", body = ErrorBody), (status = 409, description = "the server has no S3 key for the volume's account", body = ErrorBody), (status = 416, description = "the range starts past the end (`Content-Range: bytes */N`) or is not `bytes=N-`", body = ErrorBody), (status = 422, description = "bad path", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn get_file(
    State(s): S,
    Extension(c): C,
    Path((name, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> R<Response> {
    let (store, at, _) = open(&s, &c.0.id, &name, &path, "download").await?;
    let start = range_start(&headers)?;
    let size = match store.head(&at).await {
        Ok(m) => m.size,
        Err(e) => {
            let err = s3_error(&path, e);
            audit(&s, &c.0.id, "download", &name, Some(&path), Some(0), err.message()).await;
            return Err(err);
        }
    };
    let from = match start {
        Some(n) if n >= size && size > 0 => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::BadRange,
                format!("{path} has {size} bytes"),
                None,
            )
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}"))
                    .unwrap_or(HeaderValue::from_static("bytes */0")),
            );
            return Ok(r);
        }
        Some(n) => n.min(size),
        None => 0,
    };
    let opts =
        GetOptions { range: (from > 0).then_some(GetRange::Offset(from)), ..GetOptions::default() };
    let stream = match store.get_opts(&at, opts).await {
        Ok(g) => g.into_stream(),
        Err(e) => {
            let err = s3_error(&path, e);
            audit(&s, &c.0.id, "download", &name, Some(&path), Some(0), err.message()).await;
            return Err(err);
        }
    };
    audit(&s, &c.0.id, "download", &name, Some(&path), Some((size - from) as i64), "ok").await;
    let mut r = Body::from_stream(stream.map_err(std::io::Error::other)).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size - from));
    if start.is_some() && size > 0 {
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
        let range = format!("bytes {from}-{}/{size}", size - 1);
        r.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&range).unwrap_or(HeaderValue::from_static("bytes */0")),
        );
    }
    Ok(r)
}

/// A file's size (`Content-Length`), without its bytes.
#[utoipa::path(head, path = "/api/v1/volumes/{name}/files/{path}", tag = "volumes", params(("name" = String, Path, description = "volume name"), ("path" = String, Path, description = "path on the volume: relative, no `.` or `..` segments, no quotes, `$`, backslashes or control characters", pattern = r"^([^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.[^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.\.[^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]+)(/([^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.[^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.\.[^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]+))*$")), responses((status = 200, description = "there; its size in Content-Length"), (status = 404, description = "no such volume or file", body = ErrorBody), (status = 409, description = "the server has no S3 key for the volume's account", body = ErrorBody), (status = 422, description = "bad path", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn head_file(
    State(s): S,
    Extension(c): C,
    Path((name, path)): Path<(String, String)>,
) -> R<Response> {
    let (store, at, _) = open(&s, &c.0.id, &name, &path, "head").await?;
    let meta = match store.head(&at).await {
        Ok(m) => m,
        Err(e) => {
            let err = s3_error(&path, e);
            audit(&s, &c.0.id, "head", &name, Some(&path), None, err.message()).await;
            return Err(err);
        }
    };
    audit(&s, &c.0.id, "head", &name, Some(&path), None, "ok").await;
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
    r.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(r)
}

/// Writes a file on the volume from the request body (streamed in parts; replaces one there).
#[utoipa::path(put, path = "/api/v1/volumes/{name}/files/{path}", tag = "volumes", params(("name" = String, Path, description = "volume name"), ("path" = String, Path, description = "path on the volume: relative, no `.` or `..` segments, no quotes, `$`, backslashes or control characters", pattern = r"^([^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.[^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.\.[^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]+)(/([^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.[^./\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c][^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]*|\.\.[^/\x00-\x1f\x7f-\x9f\x22\x27\x60\x24\x5c]+))*$")), request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 201, description = "`{path, bytes}`", body = Object), (status = 404, description = "no such volume", body = ErrorBody), (status = 409, description = "the server has no S3 key for the volume's account", body = ErrorBody), (status = 413, description = "larger than the volume", body = ErrorBody), (status = 422, description = "bad path", body = ErrorBody), (status = 401, description = "missing or invalid token", body = ErrorBody)))]
pub(crate) async fn put_file(
    State(s): S,
    Extension(c): C,
    Path((name, path)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> R<Response> {
    let (store, at, limit) = open(&s, &c.0.id, &name, &path, "upload").await?;
    let length = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let result = match free_bytes(&store, &at, limit).await {
        Ok(free) => write(&store, &at, body, free, length).await,
        Err(e) => Err(e),
    };
    let (bytes, outcome) = match &result {
        Ok(n) => (*n as i64, "ok".to_owned()),
        Err(e) => (0, e.message().to_owned()),
    };
    audit(&s, &c.0.id, "upload", &name, Some(&path), Some(bytes), &outcome).await;
    let n = result?;
    Ok((StatusCode::CREATED, axum::Json(serde_json::json!({"path": path, "bytes": n})))
        .into_response())
}

/// What an upload to `at` may hold on a volume of `capacity` bytes: the room left, plus the
/// file it replaces. RunPod's volumes are fixed-size, so a write past that would fail in S3
/// (or fill the volume a pod writes to); it is refused up front instead. A listing per upload
/// is the price: volumes hold files, not millions of objects, and S3 sizes nothing cheaper.
async fn free_bytes(store: &impl ObjectStore, at: &ObjPath, capacity: u64) -> R<u64> {
    let path = at.to_string();
    let mut listing = store.list(None);
    let (mut used, mut replaced) = (0u64, 0u64);
    while let Some(meta) = listing.try_next().await.map_err(|e| s3_error(&path, e))? {
        used = used.saturating_add(meta.size);
        if meta.location == *at {
            replaced = meta.size;
        }
    }
    Ok(capacity.saturating_sub(used).saturating_add(replaced))
}

/// The largest upload part the server buffers: 32 MiB, so one transfer holds at most 160 MiB
/// and a file through the server is at most 320 GB.
const MAX_SERVER_PART: usize = 32 * 1024 * 1024;

/// Streams `body` to `at`: one PUT when it fits in a part, else a multipart upload with at
/// most `PARTS_IN_FLIGHT` parts buffered; aborted on any error or past `limit` bytes. Parts are
/// 8 MiB, larger for a body (its `length`, else the limit) that would need more than S3's
/// 10,000 parts.
async fn write(
    store: &impl ObjectStore,
    at: &ObjPath,
    body: Body,
    limit: u64,
    length: Option<u64>,
) -> R<u64> {
    // Parts grow past ~80 GB (S3 takes 10,000), up to a cap that bounds this transfer's memory
    // (`PARTS_IN_FLIGHT` + 1 parts); a larger file goes with `podwarden cp` and an S3 key.
    let limit = limit.min(MAX_SERVER_PART as u64 * 10_000);
    let part =
        podwarden_api::part_bytes_for(length.unwrap_or(limit).min(limit)).min(MAX_SERVER_PART);
    let path = at.to_string();
    let too_big = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!(
                "{path} does not fit: the volume has {limit} bytes free (or the server passes on no more)"
            ),
            Some(
                "make a larger volume (`podwarden volume create --size-gb`); past 320 GB, upload with `podwarden cp` and an S3 key",
            ),
        )
    };
    let body_err = |e: axum::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadBody,
            format!("the upload of {path} broke off: {e}"),
            None,
        )
    };
    let mut stream = body.into_data_stream();
    let mut first: Vec<u8> = Vec::new();
    let mut total = 0u64;
    // The first part decides: a small file is one PUT.
    while first.len() < part {
        match stream.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(body_err)?;
                total += chunk.len() as u64;
                if total > limit {
                    return Err(too_big());
                }
                first.extend_from_slice(&chunk);
            }
            None => {
                store.put(at, first.into()).await.map_err(|e| s3_error(&path, e))?;
                return Ok(total);
            }
        }
    }
    let upload = store.put_multipart(at).await.map_err(|e| s3_error(&path, e))?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, part);
    w.write(&first);
    drop(first);
    loop {
        let next = match stream.next().await {
            None => break,
            Some(Err(e)) => Err(body_err(e)),
            Some(Ok(chunk)) => {
                total += chunk.len() as u64;
                if total > limit {
                    Err(too_big())
                } else {
                    w.wait_for_capacity(PARTS_IN_FLIGHT)
                        .await
                        .map(|()| chunk)
                        .map_err(|e| s3_error(&path, e))
                }
            }
        };
        match next {
            Ok(chunk) => w.write(&chunk),
            Err(e) => {
                let _ = w.abort().await;
                return Err(e);
            }
        }
    }
    w.finish().await.map_err(|e| s3_error(&path, e))?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn body(chunks: usize, chunk: usize) -> Body {
        let c = bytes::Bytes::from(vec![7u8; chunk]);
        Body::from_stream(futures::stream::iter(
            std::iter::repeat_n(c, chunks).map(Ok::<_, std::io::Error>),
        ))
    }

    #[tokio::test]
    async fn small_bodies_are_one_put_large_ones_go_in_parts() {
        let store = InMemory::new();
        let at = ObjPath::from("a/small.bin");
        assert_eq!(write(&store, &at, body(3, 1000), 1 << 40, None).await.ok(), Some(3000));
        assert_eq!(store.head(&at).await.map(|m| m.size).ok(), Some(3000));
        let big = ObjPath::from("a/big.bin");
        // Three parts and a short last one.
        let n = 3 * PART_BYTES + 1024 * 1024;
        assert_eq!(
            write(&store, &big, body(n / (1024 * 1024), 1024 * 1024), 1 << 40, Some(n as u64))
                .await
                .ok(),
            Some(n as u64)
        );
        let got = store.get(&big).await.expect("get").bytes().await.expect("bytes");
        assert!(got.len() == n && got.iter().all(|b| *b == 7));
    }

    #[tokio::test]
    async fn an_upload_may_fill_the_free_space_and_replace_a_file_but_no_more() {
        let store = InMemory::new();
        let put = |p: &str, n: usize| {
            let store = &store;
            let p = ObjPath::from(p);
            async move { store.put(&p, vec![1u8; n].into()).await.expect("put") }
        };
        put("a.bin", 600).await;
        put("dir/b.bin", 300).await;
        // 1000 bytes in all, 900 used: 100 free for a new file, 400 for one replacing b.bin.
        assert_eq!(free_bytes(&store, &ObjPath::from("new.bin"), 1000).await.ok(), Some(100));
        assert_eq!(free_bytes(&store, &ObjPath::from("dir/b.bin"), 1000).await.ok(), Some(400));
        // Overfull (a pod wrote past it): nothing free, never a wrap-around.
        assert_eq!(free_bytes(&store, &ObjPath::from("new.bin"), 800).await.ok(), Some(0));
        let at = ObjPath::from("new.bin");
        let e = write(&store, &at, body(1, 101), 100, Some(101)).await.expect_err("too large");
        assert!(e.message().contains("100 bytes free"), "{}", e.message());
        assert!(matches!(store.head(&at).await, Err(object_store::Error::NotFound { .. })));
        assert_eq!(write(&store, &at, body(1, 100), 100, Some(100)).await.ok(), Some(100));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_refused_and_leaves_nothing() {
        let store = InMemory::new();
        for (name, chunks) in [("early.bin", 10usize), ("late.bin", 40)] {
            let at = ObjPath::from(name);
            // 1 MiB chunks against a 2.5-part limit: refused before or after the multipart starts.
            let limit = if chunks == 10 { 5 * 1024 * 1024 } else { (PART_BYTES * 5 / 2) as u64 };
            let e = write(&store, &at, body(chunks, 1024 * 1024), limit, None)
                .await
                .expect_err("too large");
            assert!(e.message().contains("does not fit"), "{}", e.message());
            assert!(
                matches!(store.head(&at).await, Err(object_store::Error::NotFound { .. })),
                "no object at {name}"
            );
        }
    }
}
