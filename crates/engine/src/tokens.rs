//! Job tokens: the bearer a pod's wrapper and the user's code present on callbacks (exit,
//! metrics). Derived from the install's secret, never stored; the database keeps their hash.

use podwarden_store::JobRow;
use sha2::{Digest, Sha256};

/// HMAC-SHA256 of `job` under the install's token secret: the job's bearer token. Derived,
/// not stored, so a relaunch after a crash can hand it to a new pod while the database holds
/// only its hash.
pub fn derive_job_token(secret: &[u8], job: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(job.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 hex of a token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// How long a job's token still works after the job settled: a last metric flush or exit
/// callback racing the teardown lands; after that the token is dead.
pub const TOKEN_GRACE_MS: i64 = 5 * 60 * 1000;

fn token_matches(j: &JobRow, token: &str) -> bool {
    constant_eq(&j.token_hash, &hash_token(token))
}

/// The token is the job's, and the job is live or settled less than `TOKEN_GRACE_MS` ago.
pub(crate) fn token_valid(j: &JobRow, token: &str, now_ms: i64) -> bool {
    let settled = j.phase().is_ok_and(|p| p.state.is_final());
    token_matches(j, token) && (!settled || now_ms - j.updated_at <= TOKEN_GRACE_MS)
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
