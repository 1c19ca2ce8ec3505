//! Provider accounts jobs run on: the operator's (`hosted`, the server's own engine, and
//! `aws:hosted`, its AWS engine when it has one) and each bring-your-own-key user's
//! (`byok:<user id>` on RunPod, `aws:byok:<user id>` on AWS), each with its own engine over a
//! client made from the user's decrypted key. All engines share the store; each reconciles only the jobs
//! placed on its account at submit, so changing backends never moves a running job's pods.
//! The key is decrypted only here, into the client, and never logged.

use crate::Control;
use podwarden_core::Account;
use podwarden_engine::billing::BillingPolicy;
use podwarden_engine::{AnyProvider, Engine};
use std::collections::HashMap;
use std::sync::Arc;

/// One user's account: an engine over their key.
pub struct ByokAccount {
    pub engine: Engine<AnyProvider>,
}

impl std::fmt::Debug for ByokAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByokAccount").field("account", self.engine.account()).finish()
    }
}

/// The engine of one account: the server's own (hosted) or a user's.
pub enum AccountEngine<'a> {
    Hosted(&'a Engine<AnyProvider>),
    Byok(Arc<ByokAccount>),
}

impl std::fmt::Debug for AccountEngine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AccountEngine").field(self.account()).finish()
    }
}

impl std::ops::Deref for AccountEngine<'_> {
    type Target = Engine<AnyProvider>;
    fn deref(&self) -> &Self::Target {
        match self {
            Self::Hosted(e) => e,
            Self::Byok(a) => &a.engine,
        }
    }
}

/// The account a user's work on `provider` goes to: their own key's when the key they saved
/// is for that provider, else the operator's.
pub async fn user_account(
    s: &Control,
    user: &str,
    provider: podwarden_core::ProviderKind,
) -> Result<Account, podwarden_store::StoreError> {
    let own = s.engine.store().provider_key_get(user, provider.as_str()).await?.is_some();
    Ok(if own { Account::byok_on(provider, user) } else { Account::hosted_on(provider) })
}

/// The engine of `account`.
pub async fn engine_for<'a>(
    s: &'a Control,
    account: &Account,
) -> Result<AccountEngine<'a>, AccountError> {
    match account {
        Account::Hosted if s.hosted => Ok(AccountEngine::Hosted(&s.engine)),
        Account::Hosted => Err(AccountError::NoOperatorKey),
        Account::Aws { user: None } => {
            s.aws.as_ref().map(AccountEngine::Hosted).ok_or(AccountError::NoAws)
        }
        Account::Byok(_) | Account::Aws { user: Some(_) } => {
            Ok(AccountEngine::Byok(s.accounts.of(s, account).await?))
        }
    }
}

/// Engines of BYOK accounts, made on first use.
#[derive(Default)]
pub struct Accounts(tokio::sync::Mutex<HashMap<Account, Arc<ByokAccount>>>);

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Accounts")
    }
}

/// Why a user's account cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no RunPod key is saved for this user")]
    NoKey,
    #[error("this server has no operator RunPod key: every job runs on its user's own RunPod key")]
    NoOperatorKey,
    #[error("the saved RunPod key cannot be decrypted with this server's secret")]
    Sealed,
    #[error("this server has no AWS account: jobs with provider = \"aws\" cannot run here")]
    NoAws,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl Accounts {
    /// The engine of a user's own account (made from their stored key on first use): `account`
    /// is `byok:<user>` or `aws:byok:<user>`, and the stored key must be for its provider.
    pub async fn of(
        &self,
        s: &Control,
        account: &Account,
    ) -> Result<Arc<ByokAccount>, AccountError> {
        let Some(user) = account.byok_user() else { return Err(AccountError::NoKey) };
        let mut map = self.0.lock().await;
        if let Some(a) = map.get(account) {
            return Ok(a.clone());
        }
        let row = s
            .engine
            .store()
            .provider_key_get(user, account.provider().as_str())
            .await
            .map_err(|e| AccountError::Other(e.into()))?
            .ok_or(AccountError::NoKey)?;
        // The user's key on the operator's settings of that provider (its URLs, region, AMI).
        let base = match account.provider() {
            podwarden_core::ProviderKind::RunPod => s.engine.provider(),
            podwarden_core::ProviderKind::Aws => {
                s.aws.as_ref().ok_or(AccountError::NoAws)?.provider()
            }
        };
        let sealed = crate::keys::Sealed {
            key_id: row.key_id,
            nonce: row.nonce,
            ciphertext: row.ciphertext,
        };
        let key = s.sealer.open(&sealed).map_err(|_| AccountError::Sealed)?;
        let cloud = base.with_key(key).map_err(|e| AccountError::Other(e.into()))?;
        // Built like the hosted engine (same callbacks, limits, clock and event channel, so
        // followers wait on one signal whichever engine wrote the event), on the user's account.
        let mut options = s.engine.options().clone();
        options.account = account.clone();
        let engine = Engine::new(s.engine.store().clone(), cloud, options)
            .await
            .map_err(|e| AccountError::Other(e.into()))?;
        let a = Arc::new(ByokAccount { engine });
        map.insert(account.clone(), a.clone());
        Ok(a)
    }

    /// Forgets a user's engine on `provider` (after their key there changed); their engine on
    /// the other provider is kept.
    pub async fn forget(&self, user: &str, provider: podwarden_core::ProviderKind) {
        self.0.lock().await.remove(&Account::byok_on(provider, user));
    }
}

/// The most settled pods one "check now" reads per account.
pub const RECONCILE_NOW_LIMIT: i64 = 1000;

/// Checks every BYOK account's settled pods against its bill now (`POST /api/v1/cost/reconcile`).
pub async fn reconcile_all(s: &Control) -> Result<usize, podwarden_engine::EngineError> {
    let mut checked = 0;
    for account in s.engine.store().accounts_unchecked(i64::MAX, i64::MAX).await? {
        let Some(user) = account.byok_user() else { continue };
        match s.accounts.of(s, &account).await {
            Ok(a) => {
                let r =
                    a.engine.reconcile_billing(BillingPolicy::now(), RECONCILE_NOW_LIMIT).await?;
                checked += r.checked;
            }
            Err(e) => {
                tracing::warn!(user, error = %e, "cannot check this user's bill (their key is gone?)")
            }
        }
    }
    Ok(checked)
}
