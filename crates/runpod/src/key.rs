//! The RunPod API key, which must never be printed.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A RunPod API key. `Debug` and `Display` show at most its last four characters, so the key
/// can sit inside structs that get logged without leaking.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a common copy-paste accident) is trimmed.
    pub fn new(key: impl Into<String>) -> Self {
        let key: String = key.into();
        Self(SecretString::from(key.trim().to_owned()))
    }

    /// The key itself, for building an `Authorization` header. Never log the result.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `****` plus the last four characters, or just `****` for keys too short to hint at.
    pub fn redacted(&self) -> String {
        let k = self.expose();
        let n = k.chars().count();
        if n < 12 {
            "****".to_owned()
        } else {
            let tail: String = k.chars().skip(n - 4).collect();
            format!("****{tail}")
        }
    }

    /// Constant-time comparison, for servers that check keys.
    pub fn matches(&self, candidate: &str) -> bool {
        let a = self.expose().as_bytes();
        let b = candidate.as_bytes();
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_show_only_the_last_four() {
        let key = ApiKey::new("rpa_SECRETSECRETSECRET1234");
        assert_eq!(format!("{key}"), "****1234");
        assert_eq!(format!("{key:?}"), "ApiKey(****1234)");
        assert!(!format!("{key:?}{key}").contains("SECRET"));
    }

    #[test]
    fn short_keys_show_nothing() {
        assert_eq!(ApiKey::new("abc").redacted(), "****");
    }

    #[test]
    fn matches_is_exact() {
        let key = ApiKey::new("  k-123456789012  ");
        assert!(key.matches("k-123456789012"));
        assert!(!key.matches("k-123456789013"));
        assert!(!key.matches("k-12345678901"));
    }
}
