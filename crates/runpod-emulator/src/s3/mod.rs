//! RunPod's S3-compatible API for network volumes, one endpoint per data center.
//!
//! As RunPod has it (API-NOTES §5, docs `storage/s3-api`): a data center's endpoint serves the
//! network volumes *in that data center*; bucket = volume id, key = the file's path on the
//! volume (what a pod sees under its mount path and a worker under `/runpod-volume`); requests
//! are SigV4-signed with region = the data center id, access key = the account's user id and an
//! S3 secret (`rps_…`) separate from the API key. Supported: ListBuckets, HeadBucket,
//! ListObjects(V2), Get/Head/Put/Copy/DeleteObject (PutObject under 500 MB), and multipart
//! upload (Create, UploadPart up to 500 MB, Complete, Abort, ListParts). Everything else —
//! CreateBucket, DeleteBucket, DeleteObjects, GetBucketLocation, presigned URLs — is refused,
//! as on RunPod.
//!
//! The S3 protocol (routing, XML, SigV4, chunked uploads) is `s3s`. Objects are files on the
//! volume's directory, reached only through `cap-std`: every path is resolved beneath the
//! volume's root by the kernel (`openat2` with `RESOLVE_BENEATH`, or component by component
//! without following links out), so a pod that swaps a directory for a symlink to `/` between
//! two requests (or during one) cannot make the emulator, which is not sandboxed, read or
//! write a host file (issue 25). Writes go to a temporary file beside the object and are renamed
//! into place; multipart parts wait in the emulator's own directory, which no pod sees.

use crate::Shared;
use async_trait::async_trait;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use futures::StreamExt;
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use tokio::io::AsyncWriteExt;

mod files;
use files::{check_key, hex, io_error, open_file, too_large, uuid_like, walk, write_object};

/// Largest PutObject body and UploadPart part RunPod accepts.
pub const MAX_PUT_BYTES: u64 = 500 * 1000 * 1000;

/// The S3 endpoint of one data center.
pub(crate) struct VolumeS3 {
    dc: String,
    shared: Weak<Shared>,
    /// The emulator's own directory for this endpoint (multipart parts), never a pod's.
    root: PathBuf,
    /// Multipart uploads in progress: id → (account, bucket, key).
    uploads: parking_lot::Mutex<HashMap<String, (String, String, String)>>,
    /// ETags (MD5) by (bucket, key, length, mtime): computed once per version of a file.
    etags: parking_lot::Mutex<HashMap<(String, String, u64, std::time::SystemTime), String>>,
}

impl std::fmt::Debug for VolumeS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeS3").field("dc", &self.dc).finish_non_exhaustive()
    }
}

impl VolumeS3 {
    pub(crate) fn new(dc: &str, shared: Weak<Shared>, root: PathBuf) -> Self {
        Self {
            dc: dc.to_owned(),
            shared,
            root,
            uploads: parking_lot::Mutex::new(HashMap::new()),
            etags: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    fn shared(&self) -> S3Result<Arc<Shared>> {
        self.shared
            .upgrade()
            .ok_or_else(|| s3_error!(ServiceUnavailable, "the emulator is shutting down"))
    }

    /// The caller's account, after checking the request is signed for this data center.
    fn account<T>(&self, req: &S3Request<T>) -> S3Result<String> {
        // Presigned URLs (the signature in the query) do not work on RunPod's S3 API (its docs,
        // `storage/s3-api`): only a signed `Authorization` header is served.
        let query = req.uri.query().unwrap_or_default().to_ascii_lowercase();
        if query.contains("x-amz-signature=") || query.contains("x-amz-credential=") {
            return Err(s3_error!(
                AccessDenied,
                "presigned URLs are not supported: sign the request's Authorization header (SigV4)"
            ));
        }
        let Some(c) = &req.credentials else {
            return Err(s3_error!(AccessDenied, "requests must be signed (SigV4)"));
        };
        if let Some(r) = &req.region {
            if !r.as_str().eq_ignore_ascii_case(&self.dc) {
                return Err(s3_error!(
                    AuthorizationHeaderMalformed,
                    "the region must be this endpoint's data center, {}, not {}",
                    self.dc,
                    r.as_str()
                ));
            }
        }
        Ok(c.access_key.clone())
    }

    /// The account's volumes in this data center: id → directory, capacity in bytes.
    fn volumes(&self, account: &str) -> S3Result<Vec<(String, PathBuf, u64)>> {
        let s = self.shared()?;
        let per_gb = s.cfg.volume_bytes_per_gb;
        let w = s.world.lock();
        Ok(w.volumes
            .values()
            .filter(|v| v.account == account && v.volume.data_center.0 == self.dc)
            .map(|v| {
                let cap = (v.volume.size.max(0) as u64).saturating_mul(per_gb);
                (v.volume.id.0.clone(), w.volume_dir(&v.volume.id.0), cap)
            })
            .collect())
    }

    /// The volume `bucket` of the caller's account in this data center, opened as a
    /// capability: nothing beneath it can lead out of it.
    fn volume<T>(&self, req: &S3Request<T>, bucket: &str) -> S3Result<(String, Dir)> {
        self.volume_sized(req, bucket).map(|(a, d, _)| (a, d))
    }

    /// `volume`, with its capacity in bytes.
    fn volume_sized<T>(&self, req: &S3Request<T>, bucket: &str) -> S3Result<(String, Dir, u64)> {
        let account = self.account(req)?;
        let Some((dir, cap)) = self
            .volumes(&account)?
            .into_iter()
            .find(|(id, _, _)| id == bucket)
            .map(|(_, d, c)| (d, c))
        else {
            return Err(s3_error!(
                NoSuchBucket,
                "no network volume {bucket} of this account in {}",
                self.dc
            ));
        };
        crate::private_dir(&dir)
            .map_err(|e| s3_error!(InternalError, "cannot create the volume's directory: {e}"))?;
        let d = Dir::open_ambient_dir(&dir, ambient_authority())
            .map_err(|e| s3_error!(InternalError, "cannot open the volume: {e}"))?;
        Ok((account, d, cap))
    }

    /// ETag (MD5) of an open file, computed once per version of it.
    async fn etag(
        &self,
        bucket: &str,
        key: &str,
        file: &std::fs::File,
        meta: &std::fs::Metadata,
    ) -> S3Result<String> {
        let modified = meta.modified().map_err(|e| s3_error!(InternalError, "{e}"))?;
        let k = (bucket.to_owned(), key.to_owned(), meta.len(), modified);
        if let Some(e) = self.etags.lock().get(&k) {
            return Ok(e.clone());
        }
        let f = file.try_clone().map_err(|e| s3_error!(InternalError, "{e}"))?;
        let e = tokio::task::spawn_blocking(move || {
            use md5::Digest;
            use std::io::{Read, Seek};
            let mut f = f;
            f.seek(std::io::SeekFrom::Start(0))?;
            let (mut h, mut buf) = (md5::Md5::new(), vec![0u8; 256 * 1024]);
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Ok::<_, std::io::Error>(hex(&h.finalize()))
        })
        .await
        .map_err(|e| s3_error!(InternalError, "{e}"))?
        .map_err(|e| s3_error!(InternalError, "{e}"))?;
        let mut etags = self.etags.lock();
        if etags.len() > 10_000 {
            etags.clear();
        }
        etags.insert(k, e.clone());
        Ok(e)
    }

    /// The multipart upload `id` of this caller, for `bucket`/`key`; its parts' directory.
    fn upload<T>(
        &self,
        req: &S3Request<T>,
        id: &str,
        bucket: &str,
        key: &str,
    ) -> S3Result<PathBuf> {
        let account = self.account(req)?;
        let ok = self
            .uploads
            .lock()
            .get(id)
            .is_some_and(|(a, b, k)| *a == account && b == bucket && k == key);
        if !ok || id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(s3_error!(NoSuchUpload));
        }
        Ok(self.root.join(".multipart").join(id))
    }
}

#[async_trait]
impl S3 for VolumeS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let account = self.account(&req)?;
        let mut buckets: Vec<Bucket> = self
            .volumes(&account)?
            .into_iter()
            .map(|(id, _, _)| Bucket {
                creation_date: None,
                name: Some(id),
                bucket_region: Some(self.dc.clone()),
            })
            .collect();
        buckets.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(Owner { display_name: None, id: Some(account) }),
            ..Default::default()
        }))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.volume(&req, &req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let v2 = self.list_objects_v2(req.map_input(Into::into)).await?;
        Ok(v2.map_output(|v2| ListObjectsOutput {
            contents: v2.contents,
            common_prefixes: v2.common_prefixes,
            delimiter: v2.delimiter,
            encoding_type: v2.encoding_type,
            name: v2.name,
            prefix: v2.prefix,
            max_keys: v2.max_keys,
            is_truncated: v2.is_truncated,
            next_marker: v2.next_continuation_token,
            ..Default::default()
        }))
    }

    /// Sorted keys beneath the prefix; with a delimiter, what lies past it is one common prefix;
    /// at most `max-keys` (1000) a page, continued after the last key.
    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let (_, dir) = self.volume(&req, &req.input.bucket)?;
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let all = tokio::task::spawn_blocking(move || walk(&dir, &prefix))
            .await
            .map_err(|e| s3_error!(InternalError, "{e}"))??;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input.continuation_token.clone().or(input.start_after.clone());
        let max = input.max_keys.unwrap_or(1000).clamp(0, 1000) as usize;
        let (mut contents, mut prefixes) = (Vec::new(), Vec::<String>::new());
        let mut truncated = false;
        let mut last = None;
        for (key, size, modified) in all {
            if after.as_ref().is_some_and(|a| key.as_str() <= a.as_str()) {
                continue;
            }
            let shown = match input.delimiter.as_deref().filter(|d| !d.is_empty()) {
                Some(d) => key[prefix.len()..]
                    .find(d)
                    .map(|i| key[..prefix.len() + i + d.len()].to_owned()),
                None => None,
            };
            if let Some(p) = &shown {
                if prefixes.last() == Some(p) {
                    continue;
                }
            }
            if contents.len() + prefixes.len() == max {
                truncated = true;
                break;
            }
            last = Some(shown.clone().map_or_else(|| key.clone(), |p| format!("{p}\u{10ffff}")));
            match shown {
                Some(p) => prefixes.push(p),
                None => contents.push(Object {
                    key: Some(key),
                    size: Some(size as i64),
                    last_modified: Some(Timestamp::from(modified)),
                    ..Default::default()
                }),
            }
        }
        let n = (contents.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            key_count: Some(n),
            max_keys: Some(max as i32),
            contents: Some(contents),
            common_prefixes: Some(
                prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect(),
            ),
            is_truncated: Some(truncated),
            next_continuation_token: if truncated { last } else { None },
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            name: Some(input.bucket),
            prefix: input.prefix,
            ..Default::default()
        }))
    }

    /// Ranged reads seek; the ETag is the file's MD5, computed once per version of the file.
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let (_, dir) = self.volume(&req, &req.input.bucket)?;
        let input = req.input;
        let (file, meta) = open_file(&dir, &input.key)?;
        let etag = self.etag(&input.bucket, &input.key, &file, &meta).await?;
        let len = meta.len();
        let modified = meta.modified().map_err(|e| s3_error!(InternalError, "{e}"))?;
        let (start, end) = match &input.range {
            None => (0, len),
            Some(r) => {
                let r = r.check(len)?;
                (r.start, r.end)
            }
        };
        let mut file = tokio::fs::File::from_std(file);
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| s3_error!(InternalError, "{e}"))?;
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(end - start), 256 * 1024);
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some((end - start) as i64),
            content_range: input
                .range
                .as_ref()
                .map(|_| format!("bytes {start}-{}/{len}", end.saturating_sub(1))),
            last_modified: Some(Timestamp::from(modified)),
            e_tag: Some(format!("\"{etag}\"")),
            accept_ranges: Some("bytes".into()),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let (_, dir) = self.volume(&req, &req.input.bucket)?;
        let (file, meta) = open_file(&dir, &req.input.key)?;
        let etag = self.etag(&req.input.bucket, &req.input.key, &file, &meta).await?;
        let modified = meta.modified().map_err(|e| s3_error!(InternalError, "{e}"))?;
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(meta.len() as i64),
            last_modified: Some(Timestamp::from(modified)),
            e_tag: Some(format!("\"{etag}\"")),
            accept_ranges: Some("bytes".into()),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        too_large(req.input.content_length)?;
        let (_, dir, cap) = self.volume_sized(&req, &req.input.bucket)?;
        let Some(body) = req.input.body else { return Err(s3_error!(IncompleteBody)) };
        let body = body.map(|c| c.map_err(|e| std::io::Error::other(e.to_string())));
        let (md5, _) = write_object(&dir, &req.input.key, cap, body).await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(format!("\"{md5}\"")),
            ..Default::default()
        }))
    }

    /// A copy between volumes of the caller in this data center (or within one).
    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let CopySource::Bucket { bucket, key, .. } = &req.input.copy_source else {
            return Err(s3_error!(NotImplemented, "copies from access points are not supported"));
        };
        let (_, from) = self.volume(&req, bucket)?;
        let (file, _) = open_file(&from, key)?;
        let (_, to, cap) = self.volume_sized(&req, &req.input.bucket)?;
        let src = tokio_util::io::ReaderStream::with_capacity(
            tokio::fs::File::from_std(file),
            256 * 1024,
        );
        let (md5, _) = write_object(&to, &req.input.key, cap, src).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(format!("\"{md5}\"")),
                last_modified: Some(Timestamp::from(std::time::SystemTime::now())),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    /// Removes the file; a key that names nothing is deleted already (as S3 answers).
    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (_, dir) = self.volume(&req, &req.input.bucket)?;
        check_key(&req.input.key)?;
        match dir.remove_file(&req.input.key).map_err(io_error) {
            Ok(()) => {}
            Err(e) if e.code() == &s3s::S3ErrorCode::NoSuchKey => {}
            Err(e) => return Err(e),
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (account, _) = self.volume(&req, &req.input.bucket)?;
        check_key(&req.input.key)?;
        let id = uuid_like();
        std::fs::create_dir_all(self.root.join(".multipart").join(&id))
            .map_err(|e| s3_error!(InternalError, "{e}"))?;
        self.uploads
            .lock()
            .insert(id.clone(), (account, req.input.bucket.clone(), req.input.key.clone()));
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(req.input.bucket),
            key: Some(req.input.key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    /// A part waits in the emulator's own directory until the upload completes.
    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        use md5::Digest;
        too_large(req.input.content_length)?;
        let parts = self.upload(&req, &req.input.upload_id, &req.input.bucket, &req.input.key)?;
        let n = req.input.part_number;
        if !(1..=10_000).contains(&n) {
            return Err(s3_error!(InvalidArgument, "part numbers are 1 to 10000"));
        }
        let Some(body) = req.input.body else { return Err(s3_error!(IncompleteBody)) };
        let mut out = tokio::fs::File::create(parts.join(format!("{n:05}")))
            .await
            .map_err(|e| s3_error!(InternalError, "{e}"))?;
        let mut h = md5::Md5::new();
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
            h.update(&chunk);
            out.write_all(&chunk).await.map_err(|e| s3_error!(InternalError, "{e}"))?;
        }
        out.flush().await.map_err(|e| s3_error!(InternalError, "{e}"))?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(format!("\"{}\"", hex(&h.finalize()))),
            ..Default::default()
        }))
    }

    /// The listed parts, in order, become the object (written beneath the volume like a put).
    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let parts_dir =
            self.upload(&req, &req.input.upload_id, &req.input.bucket, &req.input.key)?;
        let (_, dir, cap) = self.volume_sized(&req, &req.input.bucket)?;
        let input = req.input;
        let listed: Vec<i32> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .iter()
            .map(|p| p.part_number.ok_or_else(|| s3_error!(InvalidPart, "a part without a number")))
            .collect::<S3Result<_>>()?;
        if listed.is_empty() || listed.windows(2).any(|w| w[0] >= w[1]) {
            return Err(s3_error!(InvalidPartOrder, "parts must be listed in ascending order"));
        }
        let mut files = Vec::with_capacity(listed.len());
        for n in &listed {
            let f = tokio::fs::File::open(parts_dir.join(format!("{n:05}")))
                .await
                .map_err(|_| s3_error!(InvalidPart, "part {n} was not uploaded"))?;
            files.push(tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024));
        }
        let (md5, _) =
            write_object(&dir, &input.key, cap, futures::stream::iter(files).flatten()).await?;
        self.uploads.lock().remove(&input.upload_id);
        let _ = std::fs::remove_dir_all(&parts_dir);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(format!("\"{md5}\"")),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let parts_dir =
            self.upload(&req, &req.input.upload_id, &req.input.bucket, &req.input.key)?;
        self.uploads.lock().remove(&req.input.upload_id);
        let _ = std::fs::remove_dir_all(&parts_dir);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let parts_dir =
            self.upload(&req, &req.input.upload_id, &req.input.bucket, &req.input.key)?;
        let mut parts = Vec::new();
        for e in
            std::fs::read_dir(&parts_dir).map_err(|e| s3_error!(InternalError, "{e}"))?.flatten()
        {
            let (Some(n), Ok(m)) =
                (e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()), e.metadata())
            else {
                continue;
            };
            parts.push(Part {
                part_number: Some(n),
                size: Some(m.len() as i64),
                last_modified: m.modified().ok().map(Timestamp::from),
                ..Default::default()
            });
        }
        parts.sort_by_key(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(req.input.bucket),
            key: Some(req.input.key),
            upload_id: Some(req.input.upload_id),
            parts: Some(parts),
            ..Default::default()
        }))
    }
}

/// Secrets by access key (the account's user id).
pub(crate) struct Keys(pub HashMap<String, String>);

#[async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        self.0
            .get(access_key)
            .map(|s| SecretKey::from(s.as_str()))
            .ok_or_else(|| s3_error!(InvalidAccessKeyId))
    }
}
