//! A user's own RunPod key, checked before it is saved: it must authenticate, and the account
//! behind it must have funds (RunPod starts nothing on an account without credit).
//!
//! Owns nothing: one read of the account (`myself`). Must not log the key or RunPod's answer
//! about it.

/// What RunPod says about a key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyCheck {
    /// It authenticates and the account has credit.
    Usable,
    /// It authenticates, but the account's balance (USD) is not above zero.
    NoFunds(f64),
    /// RunPod refused it (unknown, revoked, or without the scopes needed).
    Rejected,
    /// RunPod could not be asked (network, RunPod's own error): try again.
    Unreachable,
}

/// Asks RunPod about the key `client` carries.
pub async fn check_key(client: &runpod::Client) -> KeyCheck {
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
