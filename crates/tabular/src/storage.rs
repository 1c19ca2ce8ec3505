//! Object storage keyed by user (object_store: a local directory now; S3-compatible network
//! volumes are the same API). Keys are `<area>/<user>/…` with `area` one of `datasets`,
//! `models`, `predictions`; a caller touches only its own user's keys.

use crate::{Result, TabularError};
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

const AREAS: [&str; 3] = ["datasets", "models", "predictions"];

/// Where `user`'s dataset `file` lives.
pub fn dataset_key(user: &str, file: &str) -> String {
    format!("datasets/{user}/{file}")
}

/// Where `user`'s predictions `file` goes.
pub fn prediction_key(user: &str, file: &str) -> String {
    format!("predictions/{user}/{file}")
}

/// A store and the rule of who may touch which key.
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<dyn ObjectStore>,
}

impl Storage {
    /// A local directory (created if missing).
    pub fn local(root: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(root)
            .map_err(|e| TabularError::BadSpec(format!("cannot create {}: {e}", root.display())))?;
        Ok(Self { inner: Arc::new(LocalFileSystem::new_with_prefix(root)?) })
    }

    /// Any object_store backend.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner }
    }

    /// Checks that `user` may use `key`: `<area>/<user>/<rest>` with no `..` or empty parts.
    pub fn check(user: &str, key: &str) -> Result<ObjPath> {
        let forbidden = || TabularError::Forbidden { key: key.to_owned(), user: user.to_owned() };
        let parts: Vec<&str> = key.split('/').collect();
        let ok_user = !user.is_empty() && !user.contains('/') && user != "." && user != "..";
        if !ok_user || parts.len() < 3 || !AREAS.contains(&parts[0]) || parts[1] != user {
            return Err(forbidden());
        }
        if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
            return Err(forbidden());
        }
        ObjPath::parse(key).map_err(|_| forbidden())
    }

    /// Reads `key` as `user`.
    pub async fn get(&self, user: &str, key: &str) -> Result<Bytes> {
        let path = Self::check(user, key)?;
        match self.inner.get(&path).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => {
                Err(TabularError::NotFound(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `key` as `user`.
    pub async fn put(&self, user: &str, key: &str, bytes: Vec<u8>) -> Result<()> {
        let path = Self::check(user, key)?;
        self.inner.put(&path, PutPayload::from(bytes)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn users_touch_only_their_own_prefix() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = Storage::local(dir.path()).expect("store");
        s.put("alice", "datasets/alice/a.csv", b"x\n1\n".to_vec()).await.expect("own prefix");
        assert_eq!(&s.get("alice", "datasets/alice/a.csv").await.expect("read")[..], b"x\n1\n");
        for (user, key) in [
            ("bob", "datasets/alice/a.csv"),
            ("alice", "datasets/alice/../bob/x.csv"),
            ("alice", "secrets/alice/x"),
            ("alice", "datasets/alice"),
            ("alice", "/datasets/alice/x"),
            ("", "datasets//x"),
        ] {
            let e = s.put(user, key, b"no".to_vec()).await.expect_err(key);
            assert!(matches!(e, TabularError::Forbidden { .. }), "{user} {key}: {e}");
        }
        assert!(matches!(
            s.get("bob", "datasets/alice/a.csv").await,
            Err(TabularError::Forbidden { .. })
        ));
        assert!(matches!(
            s.get("alice", "datasets/alice/none.csv").await,
            Err(TabularError::NotFound(_))
        ));
        assert!(!dir.path().join("datasets/bob").exists(), "nothing escaped");
    }
}
