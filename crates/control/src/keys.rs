//! Provider keys at rest: AES-256-GCM under the server secret (`PODWARDEN_SECRET_KEY`), a fresh
//! random nonce per encryption, and the secret's id stored beside each ciphertext so a rotation
//! (`podwarden admin rotate-secret`) can re-encrypt what the old secret sealed.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use sha2::{Digest, Sha256};

/// Why a secret or a ciphertext was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "PODWARDEN_SECRET_KEY is not set; set it to a random string of at least 32 characters (e.g. `openssl rand -hex 32`)"
    )]
    Missing,
    #[error(
        "PODWARDEN_SECRET_KEY is too weak: use at least 32 characters with at least 10 different ones (e.g. `openssl rand -hex 32`)"
    )]
    Weak,
    #[error(
        "a stored key was sealed with secret {0}, which this server does not have; set PODWARDEN_OLD_SECRET_KEY and run `podwarden admin rotate-secret`"
    )]
    UnknownSecret(String),
    #[error("a stored key does not decrypt (tampered, or the wrong secret)")]
    Corrupt,
}

/// One secret: its id and the AES key derived from it.
#[derive(Clone)]
struct Secret {
    id: String,
    key: Key<Aes256Gcm>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({})", self.id)
    }
}

impl Secret {
    fn new(secret: &str) -> Result<Self, KeyError> {
        let s = secret.trim();
        if s.is_empty() {
            return Err(KeyError::Missing);
        }
        let distinct = s.chars().collect::<std::collections::HashSet<_>>().len();
        if s.len() < 32 || distinct < 10 {
            return Err(KeyError::Weak);
        }
        let key = Sha256::new_with_prefix(b"podwarden provider-key encryption v1\0")
            .chain_update(s.as_bytes())
            .finalize();
        let id = Sha256::new_with_prefix(b"podwarden secret id v1\0")
            .chain_update(s.as_bytes())
            .finalize();
        let key: [u8; 32] = key.into();
        Ok(Self { id: hex(&id[..6]), key: Key::<Aes256Gcm>::from(key) })
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    s.len().is_multiple_of(2).then_some(())?;
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A sealed value: the secret's id, the nonce and the ciphertext (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// Seals with the current secret; opens with it or the previous one.
#[derive(Debug, Clone)]
pub struct Sealer {
    current: Secret,
    old: Option<Secret>,
}

impl Sealer {
    /// From the current secret and, during a rotation, the previous one.
    pub fn new(current: &str, old: Option<&str>) -> Result<Self, KeyError> {
        Ok(Self { current: Secret::new(current)?, old: old.map(Secret::new).transpose()? })
    }

    /// The current secret's id.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// The previous secret's id, during a rotation.
    pub fn old_key_id(&self) -> Option<&str> {
        self.old.as_ref().map(|o| o.id.as_str())
    }

    /// Encrypts with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> Sealed {
        let nonce: [u8; 12] = rand::random();
        let ct = Aes256Gcm::new(&self.current.key)
            .encrypt(&Nonce::from(nonce), plaintext.as_bytes())
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a short key cannot fail"));
        Sealed { key_id: self.current.id.clone(), nonce: hex(&nonce), ciphertext: hex(&ct) }
    }

    /// Decrypts a sealed value (with whichever secret sealed it).
    pub fn open(&self, s: &Sealed) -> Result<String, KeyError> {
        let secret = [Some(&self.current), self.old.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == s.key_id)
            .ok_or_else(|| KeyError::UnknownSecret(s.key_id.clone()))?;
        let nonce: [u8; 12] =
            unhex(&s.nonce).and_then(|n| n.try_into().ok()).ok_or(KeyError::Corrupt)?;
        let ct = unhex(&s.ciphertext).ok_or(KeyError::Corrupt)?;
        let pt = Aes256Gcm::new(&secret.key)
            .decrypt(&Nonce::from(nonce), ct.as_ref())
            .map_err(|_| KeyError::Corrupt)?;
        String::from_utf8(pt).map_err(|_| KeyError::Corrupt)
    }

    /// Re-seals under the current secret when it was sealed by the old one.
    pub fn reseal(&self, s: &Sealed) -> Result<Option<Sealed>, KeyError> {
        if s.key_id == self.current.id {
            return Ok(None);
        }
        Ok(Some(self.seal(&self.open(s)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef-secret-a";
    const B: &str = "fedcba9876543210fedcba9876543210-secret-b";

    #[test]
    fn seals_with_fresh_nonces_opens_detects_tampering_and_rotates() {
        let s = Sealer::new(A, None).expect("secret");
        let (x, y) = (s.seal("rpa_KEY_1234"), s.seal("rpa_KEY_1234"));
        assert_ne!(x.nonce, y.nonce, "a fresh nonce per encryption");
        assert_ne!(x.ciphertext, y.ciphertext);
        // Not the plaintext (a random ciphertext may hold "1234" by chance; not this).
        assert!(!x.ciphertext.contains("KEY_1234"));
        assert_eq!(s.open(&x).expect("open"), "rpa_KEY_1234");
        let mut bad = x.clone();
        bad.ciphertext.replace_range(0..2, if &bad.ciphertext[0..2] == "00" { "01" } else { "00" });
        assert!(matches!(s.open(&bad), Err(KeyError::Corrupt)));
        // Rotation: the new secret opens nothing of the old until given it; reseal moves it.
        let new_only = Sealer::new(B, None).expect("b");
        assert!(matches!(new_only.open(&x), Err(KeyError::UnknownSecret(_))));
        let rotating = Sealer::new(B, Some(A)).expect("both");
        let moved = rotating.reseal(&x).expect("reseal").expect("was old");
        assert_eq!(moved.key_id, new_only.key_id());
        assert_eq!(new_only.open(&moved).expect("open"), "rpa_KEY_1234");
        assert_eq!(rotating.reseal(&moved).expect("again"), None, "already current");
    }

    #[test]
    fn missing_and_weak_secrets_are_refused() {
        assert!(matches!(Sealer::new("", None), Err(KeyError::Missing)));
        assert!(matches!(Sealer::new("short", None), Err(KeyError::Weak)));
        assert!(matches!(Sealer::new(&"a".repeat(64), None), Err(KeyError::Weak)));
    }
}
