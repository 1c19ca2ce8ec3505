//! A user's own RunPod key, checked before it is saved: it must authenticate, and the account
//! behind it must have funds (RunPod starts nothing on an account without credit).
//!
//! Owns nothing: one read of the account (`myself`). Must not log the key or RunPod's answer
//! about it.

pub use crate::cloud::KeyCheck;

/// Asks RunPod about the key `client` carries (`RunPodCloud::check_key`).
pub(crate) async fn check_key(client: &runpod::Client) -> KeyCheck {
    match client.myself().await {
        Ok(me) if me.client_balance <= 0.0 => KeyCheck::NoFunds(me.client_balance),
        Ok(_) => KeyCheck::Usable,
        Err(e)
            if matches!(
                e.kind(),
                runpod::ErrorKind::Unauthorized | runpod::ErrorKind::Forbidden
            ) =>
        {
            KeyCheck::Rejected
        }
        Err(e) => {
            tracing::warn!(kind = %e.kind(), "could not verify a RunPod key");
            KeyCheck::Unreachable
        }
    }
}
