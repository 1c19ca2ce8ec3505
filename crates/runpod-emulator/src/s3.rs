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
//! The S3 protocol (routing, XML, SigV4, chunked uploads) is `s3s`; object storage on a
//! directory is `s3s-fs`. Each account gets its own `s3s-fs` root per data center holding one
//! symlink per volume (`<root>/<volume id>` → the volume's directory), so an account can name
//! only its own volumes, and `s3s-fs`'s bookkeeping files stay out of the volumes pods see.

use crate::Shared;
use async_trait::async_trait;
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

/// Largest PutObject body and UploadPart part RunPod accepts.
pub const MAX_PUT_BYTES: u64 = 500 * 1000 * 1000;

/// The S3 endpoint of one data center.
pub(crate) struct VolumeS3 {
    dc: String,
    shared: Weak<Shared>,
    root: PathBuf,
    roots: parking_lot::Mutex<HashMap<String, Arc<s3s_fs::FileSystem>>>,
    /// ETags (MD5) by (path, length, mtime): `s3s-fs` hashes the whole file on every GET,
    /// which made every ranged read of a big file as slow as reading all of it.
    etags: parking_lot::Mutex<HashMap<(PathBuf, u64, std::time::SystemTime), String>>,
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
            roots: parking_lot::Mutex::new(HashMap::new()),
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

    /// The account's volumes in this data center: id → directory.
    fn volumes(&self, account: &str) -> S3Result<Vec<(String, PathBuf)>> {
        let s = self.shared()?;
        let w = s.world.lock();
        Ok(w.volumes
            .values()
            .filter(|v| v.account == account && v.volume.data_center.0 == self.dc)
            .map(|v| (v.volume.id.0.clone(), w.volume_dir(&v.volume.id.0)))
            .collect())
    }

    /// For a request on `bucket` (and `key`, for object operations): the account's `s3s-fs`
    /// root, with one symlink per volume it has here now, and the host path of the object (or
    /// of the volume, without a key). One look at the world per request. Refuses a bucket that
    /// is not the account's volume in this data center, and keys that would leave the volume:
    /// absolute or `..` keys, and any path through a symbolic link (a pod may have made one
    /// pointing at the host's files; the emulator, unlike the pod, is not sandboxed).
    fn open<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: Option<&str>,
    ) -> S3Result<(Arc<s3s_fs::FileSystem>, PathBuf)> {
        if let Some(k) = key {
            if k.starts_with('/') || k.split('/').any(|p| p == ".." || p == ".") {
                return Err(s3_error!(
                    InvalidArgument,
                    "the key may not start with `/` or contain `.` or `..` segments"
                ));
            }
        }
        let account = self.account(req)?;
        let volumes = self.volumes(&account)?;
        let Some(dir) = volumes.iter().find(|(id, _)| id == bucket).map(|(_, d)| d.clone()) else {
            return Err(s3_error!(
                NoSuchBucket,
                "no network volume {bucket} of this account in {}",
                self.dc
            ));
        };
        let mut path = dir;
        for part in key.unwrap_or_default().split('/').filter(|p| !p.is_empty()) {
            path.push(part);
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(s3_error!(
                    AccessDenied,
                    "{}: symbolic links on a volume are not followed over S3",
                    key.unwrap_or_default()
                ));
            }
        }
        Ok((self.root_for(&account, &volumes)?, path))
    }

    /// The account's `s3s-fs` root, its symlinks matching `volumes`.
    fn root_for(
        &self,
        account: &str,
        volumes: &[(String, PathBuf)],
    ) -> S3Result<Arc<s3s_fs::FileSystem>> {
        let root = self.root.join(account);
        std::fs::create_dir_all(&root)
            .map_err(|e| s3_error!(InternalError, "cannot create the S3 root: {e}"))?;
        for (id, dir) in volumes {
            let link = root.join(id);
            if std::fs::symlink_metadata(&link).is_err() {
                std::fs::create_dir_all(dir).ok();
                #[cfg(unix)]
                std::os::unix::fs::symlink(dir, &link)
                    .map_err(|e| s3_error!(InternalError, "cannot link volume {id}: {e}"))?;
            }
        }
        // Deleted volumes' links go (s3s-fs's own files start with `.`).
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && !volumes.iter().any(|(id, _)| *id == name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let mut roots = self.roots.lock();
        if let Some(fs) = roots.get(account) {
            return Ok(fs.clone());
        }
        let fs = Arc::new(
            s3s_fs::FileSystem::new(&root)
                .map_err(|e| s3_error!(InternalError, "cannot open the S3 root: {e:?}"))?,
        );
        roots.insert(account.to_owned(), fs.clone());
        Ok(fs)
    }
}

impl VolumeS3 {
    async fn etag(
        &self,
        path: &std::path::Path,
        len: u64,
        modified: std::time::SystemTime,
    ) -> S3Result<String> {
        use md5::Digest;
        use tokio::io::AsyncReadExt;
        let k = (path.to_path_buf(), len, modified);
        if let Some(e) = self.etags.lock().get(&k) {
            return Ok(e.clone());
        }
        let mut f = tokio::fs::File::open(path).await.map_err(|_| s3_error!(NoSuchKey))?;
        let (mut h, mut buf) = (md5::Md5::new(), vec![0u8; 256 * 1024]);
        loop {
            let n = f.read(&mut buf).await.map_err(|e| s3_error!(InternalError, "{e}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let e: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let mut etags = self.etags.lock();
        if etags.len() > 10_000 {
            etags.clear();
        }
        etags.insert(k, e.clone());
        Ok(e)
    }
}

fn too_large(len: Option<i64>) -> S3Result<()> {
    match len {
        Some(n) if n as u64 >= MAX_PUT_BYTES => Err(s3_error!(
            EntityTooLarge,
            "RunPod's S3 API takes at most 500 MB per PutObject or part ({n} bytes); use a multipart upload"
        )),
        _ => Ok(()),
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
            .map(|(id, _)| Bucket {
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
        let (fs, _) = self.open(&req, &req.input.bucket, None)?;
        fs.head_bucket(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let (fs, _) = self.open(&req, &req.input.bucket, None)?;
        fs.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let (fs, _) = self.open(&req, &req.input.bucket, None)?;
        fs.list_objects_v2(req).await
    }

    /// Ranged reads seek; the ETag is the file's MD5, computed once per version of the file.
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let (_, path) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        let input = req.input;
        let mut file = tokio::fs::File::open(&path).await.map_err(|_| s3_error!(NoSuchKey))?;
        let meta = file.metadata().await.map_err(|e| s3_error!(InternalError, "{e}"))?;
        if !meta.is_file() {
            return Err(s3_error!(NoSuchKey));
        }
        let (len, modified) =
            (meta.len(), meta.modified().map_err(|e| s3_error!(InternalError, "{e}"))?);
        let etag = self.etag(&path, len, modified).await?;
        let (start, end) = match &input.range {
            None => (0, len),
            Some(r) => {
                let r = r.check(len)?;
                (r.start, r.end)
            }
        };
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
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.head_object(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        too_large(req.input.content_length)?;
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.put_object(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        if let CopySource::Bucket { bucket, key, .. } = &req.input.copy_source {
            self.open(&req, bucket, Some(key))?;
        }
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.copy_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.delete_object(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.create_multipart_upload(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        too_large(req.input.content_length)?;
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.upload_part(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (fs, _) = self.open(&req, &req.input.bucket, Some(&req.input.key))?;
        fs.complete_multipart_upload(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let (fs, _) = self.open(&req, &req.input.bucket, None)?;
        fs.abort_multipart_upload(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let (fs, _) = self.open(&req, &req.input.bucket, None)?;
        fs.list_parts(req).await
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
