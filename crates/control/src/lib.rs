//! podwarden's orchestration, between the HTTP server and the engine: which provider accounts
//! exist and their engines (`accounts`: the operator's, and each user's own key, sealed at rest
//! by `keys`), which of them run their reconcilers and when (`driving`, over the engine's
//! `Driver`), replicas' leases on a shared Postgres (`replicas`), the pods' log followers
//! (`pod_logs`) and the serverless jobs' stream followers (`serverless_streams`), queued jobs'
//! moves to another cloud their spec allows (`rehome`), and what each background task did last
//! (`tasks`).
//!
//! [`Control`] holds that state; the server holds one and is HTTP, auth and serialisation on
//! top of it (its state dereferences to `Control`). Nothing here knows HTTP.

pub mod accounts;
pub mod driving;
pub mod keys;
pub mod pod_logs;
pub mod rehome;
pub mod replicas;
pub mod serverless_streams;
pub mod tasks;

use podwarden_core::Account;
use podwarden_engine::{AnyProvider, Engine};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The orchestration's state: the operator's engine, users' engines, the driver and the
/// followers. One per server process.
pub struct Control {
    /// The operator's account's engine (also the store and clock every engine shares).
    pub engine: Engine<AnyProvider>,
    /// Wakes the server's loop (`driving::run`) before its period.
    pub poke: Notify,
    /// An operator key exists: users without their own key compute on it.
    pub hosted: bool,
    /// The operator's AWS account's engine, when the server has one.
    pub aws: Option<Engine<AnyProvider>>,
    /// Where jobs that name no provider run.
    pub default_provider: podwarden_core::ProviderKind,
    /// Seals users' provider keys at rest.
    pub sealer: keys::Sealer,
    /// Engines of users' own provider accounts (bring your own key).
    pub accounts: accounts::Accounts,
    /// Cancelled at shutdown: followers and open event streams end instead of holding the
    /// server up.
    pub shutdown: CancellationToken,
    /// Pod log followers (stored logs, exits read from the logs).
    pub followers: pod_logs::Followers,
    /// Stream followers of running serverless jobs.
    pub stream_followers: serverless_streams::StreamFollowers,
    /// The background tasks' last activations (`GET /api/v1/admin/tasks`).
    pub tasks: tasks::Tasks,
    /// Runs each account's passes (`driving`).
    pub driver: podwarden_engine::driver::Driver,
    /// Accounts with settled pods whose bill is due a check (filled once a minute).
    pub bills_due: Mutex<BTreeSet<Account>>,
    /// How long after a pod ends its bill is checked.
    pub billing_settle_ms: i64,
    /// On Postgres: this replica's leases and wake-ups (`replicas`).
    pub replicas: Option<Arc<replicas::Replicas>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").field("hosted", &self.hosted).finish_non_exhaustive()
    }
}

impl Control {
    /// The accounts whose bills are due a check.
    pub fn bills_due(&self) -> MutexGuard<'_, BTreeSet<Account>> {
        self.bills_due.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `account`'s bills are due a check; a yes is taken (the check runs once).
    pub fn take_bill_check(&self, account: &Account) -> bool {
        self.bills_due().remove(account)
    }
}
