//! Several replicas on one Postgres.
//!
//! Owns: this replica's identity (`holder`), its account leases (taken by each pass, renewed
//! by a heartbeat, given up when the account goes idle and at shutdown), the live set's
//! refresh, and the listening side of cross-replica wake-ups (an event recorded anywhere wakes
//! event streams here; a poke for an account reaches the replica that holds it).
//!
//! Invariants:
//! - A replica reconciles an account only while it holds the account's lease, and the pass's
//!   writes are fenced by the lease's epoch (`podwarden_store::leases`): a replica that lost the lease
//!   while mid-pass lands nothing more.
//! - A replica that dies stops renewing; its leases expire after `TTL_TICKS` periods and the
//!   next pass of a surviving replica takes each over: under 3 periods from the last renewal.
//! - The live set follows the database: before every round of passes a replica reloads the
//!   jobs and attempts other replicas wrote (announced by `NOTIFY`), and the whole set when it
//!   may have missed an announcement (listener not yet connected, or reconnected) and before
//!   the first pass after a takeover, so a pass never acts on a view older than its lease.
//!
//! On SQLite none of this runs: one server owns the file (its pidfile).

use crate::Control;
use podwarden_core::{Account, AttemptId, JobId};
use podwarden_store::{Fence, Store, StoreError};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A lease lasts this many tick periods from its last renewal (the heartbeat renews it every
/// third of that). With a surviving replica's next round at most a period later, a dead
/// replica's accounts are taken over within 2.5 periods.
const TTL_TICKS: f64 = 1.5;

/// This replica's place among the others.
#[derive(Debug)]
pub struct Replicas {
    /// Who this replica is in `account_leases` (host, process, and a random part: a restarted
    /// replica is a new holder, so its old epochs are fenced).
    pub holder: String,
    ttl_ms: i64,
    period: Duration,
    /// The epoch of each account this replica holds.
    held: Mutex<HashMap<Account, i64>>,
    /// The listener is connected: row announcements arrive.
    listening: AtomicBool,
    /// An announcement may have been missed: the next round reloads the whole live set.
    reload_all: AtomicBool,
    /// Jobs and attempts other replicas wrote since the last round.
    changed: Mutex<(BTreeSet<JobId>, BTreeSet<AttemptId>)>,
}

impl Replicas {
    /// `name` is the replica's (its host's) name, for people reading leases.
    pub fn new(period: Duration, name: Option<&str>) -> Self {
        let holder = format!(
            "{}-{}-{}",
            name.filter(|h| !h.is_empty()).unwrap_or("replica"),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let ttl_ms = (period.as_millis() as f64 * TTL_TICKS) as i64;
        Self {
            holder,
            ttl_ms,
            period,
            held: Mutex::default(),
            listening: AtomicBool::new(false),
            reload_all: AtomicBool::new(true),
            changed: Mutex::default(),
        }
    }

    /// Brings the live set up to date before a round of passes: the rows other replicas wrote,
    /// or everything when an announcement may have been missed.
    pub async fn sync_live(&self, store: &Store) -> Result<(), StoreError> {
        if !self.listening.load(Ordering::SeqCst) || self.reload_all.swap(false, Ordering::SeqCst) {
            // Taken before the reload: announcements from now on are applied next round.
            self.changed_rows();
            return store.refresh_live().await.inspect_err(|_| {
                self.reload_all.store(true, Ordering::SeqCst);
            });
        }
        let (jobs, attempts) = self.changed_rows();
        if jobs.is_empty() && attempts.is_empty() {
            return Ok(());
        }
        let (jobs, attempts): (Vec<JobId>, Vec<AttemptId>) =
            (jobs.into_iter().collect(), attempts.into_iter().collect());
        store.reload_rows(&jobs, &attempts).await.inspect_err(|_| {
            self.reload_all.store(true, Ordering::SeqCst);
        })
    }

    fn changed_rows(&self) -> (BTreeSet<JobId>, BTreeSet<AttemptId>) {
        std::mem::take(&mut *self.changed_lock())
    }

    fn changed_lock(&self) -> std::sync::MutexGuard<'_, (BTreeSet<JobId>, BTreeSet<AttemptId>)> {
        self.changed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<Account, i64>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this replica reconciles `account` now.
    pub fn holds(&self, account: &Account) -> bool {
        self.held().contains_key(account)
    }

    /// Takes or keeps `account`'s lease: the fence its pass runs under, or `None` while
    /// another replica holds it. A new epoch (a takeover) reloads the live set first.
    pub async fn lease(
        &self,
        store: &Store,
        account: &Account,
        now_ms: i64,
    ) -> Result<Option<Fence>, StoreError> {
        let Some(epoch) = store.lease_acquire(account, &self.holder, now_ms, self.ttl_ms).await?
        else {
            self.held().remove(account);
            return Ok(None);
        };
        let before = self.held().insert(account.clone(), epoch);
        if before != Some(epoch) {
            tracing::info!(%account, epoch, holder = self.holder, "took over the account's lease");
            store.refresh_live().await?;
        }
        Ok(Some(Fence { account: account.clone(), holder: self.holder.clone(), epoch }))
    }

    /// Gives up `account` (its task went idle): another replica may take it at once.
    pub async fn release(&self, store: &Store, account: &Account) {
        if self.held().remove(account).is_some()
            && let Err(e) = store.lease_release(account, &self.holder).await
        {
            tracing::warn!(%account, error = %e, "could not give up the account's lease");
        }
    }

    /// Gives up every lease (clean shutdown).
    pub async fn release_all(&self, store: &Store) {
        self.held().clear();
        if let Err(e) = store.leases_release(&self.holder).await {
            tracing::warn!(error = %e, "could not give up this replica's leases at shutdown");
        }
    }

    /// Renews this replica's leases every third of a lease, whatever its passes are doing.
    pub fn spawn_heartbeat(s: Arc<Control>, tracker: &TaskTracker, cancel: CancellationToken) {
        let Some(r) = s.replicas.clone() else { return };
        let every = Duration::from_millis((r.ttl_ms / 3).max(10) as u64);
        tracker.spawn(async move {
            loop {
                let now = s.engine.now_ms();
                if let Err(e) = s.engine.store().leases_renew(&r.holder, now, r.ttl_ms).await {
                    tracing::warn!(error = %e, "could not renew this replica's leases");
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = cancel.cancelled() => break,
                }
            }
        });
    }

    /// Listens for other replicas' events and pokes.
    pub fn spawn_listener(s: Arc<Control>, tracker: &TaskTracker, cancel: CancellationToken) {
        let Some(r) = s.replicas.clone() else { return };
        tracker.spawn(async move {
            loop {
                let mut l = match s.engine.store().listen().await {
                    Ok(Some(l)) => {
                        // Whatever was written before it listened is read in full once.
                        r.reload_all.store(true, Ordering::SeqCst);
                        r.listening.store(true, Ordering::SeqCst);
                        l
                    }
                    Ok(None) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for other replicas; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(r.period) => continue,
                            () = cancel.cancelled() => return,
                        }
                    }
                };
                loop {
                    let n = tokio::select! {
                        n = l.recv() => n,
                        () = cancel.cancelled() => return,
                    };
                    match n {
                        Ok(podwarden_store::notify::Notification::Event { .. }) => {
                            s.engine.wake_followers()
                        }
                        Ok(podwarden_store::notify::Notification::Poke { account }) => {
                            // A name that is no account's (another version's) pokes nothing.
                            if account.parse().is_ok_and(|a| r.holds(&a)) {
                                s.driver.poke(&account);
                            }
                            s.poke.notify_one();
                        }
                        Ok(podwarden_store::notify::Notification::Job(id)) => {
                            r.changed_lock().0.insert(id);
                        }
                        Ok(podwarden_store::notify::Notification::Attempt(id)) => {
                            r.changed_lock().1.insert(id);
                        }
                        Ok(podwarden_store::notify::Notification::Reconnected) => {
                            r.reload_all.store(true, Ordering::SeqCst);
                            s.engine.wake_followers();
                            s.poke.notify_one();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the notification connection");
                            r.listening.store(false, Ordering::SeqCst);
                            break;
                        }
                    }
                }
            }
        });
    }
}
