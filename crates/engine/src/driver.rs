//! The driver: one supervised task per account, running that account's passes (reconcile,
//! bill checks) on a period and on a poke, concurrently with other accounts under a bound.
//!
//! Owns: the tasks. Invariants:
//! - at most one pass of an account runs at a time (its task runs them one after another);
//! - at most `concurrency` passes run at once, across accounts, so a slow or rate-limited key
//!   delays only its own account's budget checks and teardowns, never another's;
//! - a pass that panics ends its task; the panic is reported by `reap` and the next `ensure`
//!   starts a new task (the reconcilers are level-triggered, so nothing is lost);
//! - a task whose pass reports `Pass::Idle` ends; `ensure` starts it again when work appears;
//! - a pass is never later than the period after the last (or its `Pass::Soon`), and never
//!   earlier than asked, except on a poke;
//! - an account a reconciler's error policy makes wait (`Pass::After`: the provider's 429, a
//!   refused key) is not asked again before then, whatever pokes it, so one user's spent budget costs nobody else
//!   and is not spent further.
//!
//! The driver knows nothing of users or keys: the caller's pass closure builds the account's
//! engine (for a user's own key the server decrypts it) and says what happened.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a pass says about its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// More to do: run again on the period (or a poke).
    Busy,
    /// More to do, and due sooner than the period (a follow-up of a pass that moved something,
    /// a job's teardown or deadline): run again after this long, the period at most, or a poke.
    Soon(Duration),
    /// The account must wait (its provider budget is spent, its key is refused): run again
    /// after this long, or the period if longer; pokes meanwhile do not cut it short.
    After(Duration),
    /// Nothing live on the account: the task ends.
    Idle,
}

/// One account's task.
#[derive(Debug)]
struct Task {
    poke: Arc<Notify>,
    handle: JoinHandle<()>,
}

/// Per-account tasks under one concurrency bound.
#[derive(Debug)]
pub struct Driver {
    tasks: Mutex<HashMap<String, Task>>,
    limit: Arc<Semaphore>,
    period: Duration,
    cancel: CancellationToken,
}

impl Driver {
    /// A driver running at most `concurrency` passes at once, each account's every `period`
    /// (or sooner when poked), until `cancel`.
    pub fn new(concurrency: usize, period: Duration, cancel: CancellationToken) -> Self {
        Self {
            tasks: Mutex::new(HashMap::new()),
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
            period,
            cancel,
        }
    }

    /// Makes sure `account` has a running task; starts one running `pass` when it has none
    /// (or its last one ended). Returns whether a task was started.
    pub fn ensure<F, Fut>(&self, account: &str, pass: F) -> bool
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Pass> + Send + 'static,
    {
        let mut tasks = crate::lock(&self.tasks);
        if tasks.get(account).is_some_and(|t| !t.handle.is_finished()) {
            return false;
        }
        let poke = Arc::new(Notify::new());
        let (limit, period, cancel, p) =
            (self.limit.clone(), self.period, self.cancel.clone(), poke.clone());
        let handle = tokio::spawn(async move {
            loop {
                let outcome = {
                    let Ok(_permit) = limit.acquire().await else { return };
                    if cancel.is_cancelled() {
                        return;
                    }
                    pass().await
                };
                match outcome {
                    Pass::Idle => return,
                    Pass::After(wait) => {
                        tokio::select! {
                            () = tokio::time::sleep(wait.max(period)) => {}
                            () = cancel.cancelled() => return,
                        }
                    }
                    Pass::Busy | Pass::Soon(_) => {
                        let wait = match outcome {
                            Pass::Soon(d) => d.min(period),
                            _ => period,
                        };
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = p.notified() => {}
                            () = cancel.cancelled() => return,
                        }
                    }
                }
            }
        });
        // `drive` reaps before it ensures, so a replaced handle's panic was already reported.
        tasks.insert(account.to_owned(), Task { poke, handle });
        true
    }

    /// Runs `account`'s next pass now rather than at the end of its period (a no-op when it
    /// has no task: `ensure` starts one).
    pub fn poke(&self, account: &str) {
        let tasks = crate::lock(&self.tasks);
        if let Some(t) = tasks.get(account) {
            t.poke.notify_one();
        }
    }

    /// Removes the tasks that ended; returns the accounts whose task panicked, with the panic's
    /// message.
    pub async fn reap(&self) -> Vec<(String, String)> {
        let done: Vec<(String, Task)> = {
            let mut tasks = crate::lock(&self.tasks);
            let ended: Vec<String> = tasks
                .iter()
                .filter(|(_, t)| t.handle.is_finished())
                .map(|(a, _)| a.clone())
                .collect();
            ended.into_iter().filter_map(|a| tasks.remove(&a).map(|t| (a, t))).collect()
        };
        let mut panicked = Vec::new();
        for (account, t) in done {
            if let Err(e) = t.handle.await {
                if e.is_panic() {
                    let p = e.into_panic();
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a pass panicked".into());
                    panicked.push((account, msg));
                }
            }
        }
        panicked
    }

    /// Accounts with a running task.
    pub fn running(&self) -> usize {
        let tasks = crate::lock(&self.tasks);
        tasks.values().filter(|t| !t.handle.is_finished()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Lets spawned tasks run until they all wait (time is paused: sleeps end only on advance).
    async fn settle() {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
    }

    fn counting(
        n: &Arc<AtomicUsize>,
    ) -> impl Fn() -> std::future::Ready<Pass> + Send + Sync + 'static {
        let n = n.clone();
        move || {
            n.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Pass::Busy)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_stuck_in_a_pass_does_not_hold_up_the_others() {
        let d = Driver::new(4, Duration::from_secs(2), CancellationToken::new());
        let stuck = Arc::new(Notify::new());
        let s = stuck.clone();
        d.ensure("slow", move || {
            let s = s.clone();
            async move {
                s.notified().await;
                Pass::Busy
            }
        });
        let fast = Arc::new(AtomicUsize::new(0));
        d.ensure("fast", counting(&fast));
        settle().await;
        for _ in 0..5 {
            tokio::time::advance(Duration::from_secs(2)).await;
            settle().await;
        }
        assert_eq!(fast.load(Ordering::SeqCst), 6, "the fast account ran on every period");
        assert!(!d.ensure("slow", || std::future::ready(Pass::Busy)), "one task per account");
        stuck.notify_one();
    }

    #[tokio::test(start_paused = true)]
    async fn the_bound_holds_passes_back_and_a_poke_runs_one_now() {
        let d = Driver::new(1, Duration::from_secs(60), CancellationToken::new());
        let gate = Arc::new(Notify::new());
        let g = gate.clone();
        let first = Arc::new(AtomicUsize::new(0));
        let f = first.clone();
        d.ensure("a", move || {
            let (g, f) = (g.clone(), f.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                g.notified().await;
                Pass::Busy
            }
        });
        settle().await;
        let second = Arc::new(AtomicUsize::new(0));
        d.ensure("b", counting(&second));
        settle().await;
        assert_eq!(second.load(Ordering::SeqCst), 0, "b waits for a's permit");
        gate.notify_one();
        settle().await;
        assert_eq!(second.load(Ordering::SeqCst), 1, "then b runs");
        d.poke("b");
        settle().await;
        assert_eq!(second.load(Ordering::SeqCst), 2, "a poke runs b's next pass before its period");
        assert_eq!(first.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_pass_is_reported_and_an_idle_account_lets_its_task_go() {
        let d = Driver::new(2, Duration::from_secs(1), CancellationToken::new());
        d.ensure("boom", || async { panic!("a key that cannot be decrypted") });
        d.ensure("quiet", || std::future::ready(Pass::Idle));
        settle().await;
        let panicked = d.reap().await;
        assert_eq!(
            panicked,
            vec![("boom".to_owned(), "a key that cannot be decrypted".to_owned())]
        );
        assert_eq!(d.running(), 0, "the idle account's task ended too");
        let n = Arc::new(AtomicUsize::new(0));
        assert!(d.ensure("boom", counting(&n)), "a new task replaces the dead one");
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limited_account_waits_out_retry_after_even_when_poked() {
        let d = Driver::new(2, Duration::from_secs(2), CancellationToken::new());
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        d.ensure("spent", move || {
            m.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Pass::After(Duration::from_secs(30)))
        });
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 1);
        d.poke("spent");
        tokio::time::advance(Duration::from_secs(29)).await;
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 1, "neither a poke nor the period cuts it short");
        tokio::time::advance(Duration::from_secs(1)).await;
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 2, "then it runs again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_due_soon_runs_when_due_and_never_later_than_the_period() {
        let d = Driver::new(2, Duration::from_secs(2), CancellationToken::new());
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        d.ensure("ending", move || {
            // First a follow-up in 500 ms, then something due in 10 s (past the period).
            let pass = match m.fetch_add(1, Ordering::SeqCst) {
                0 => Pass::Soon(Duration::from_millis(500)),
                _ => Pass::Soon(Duration::from_secs(10)),
            };
            std::future::ready(pass)
        });
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(499)).await;
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 1, "not before it is due");
        tokio::time::advance(Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(
            n.load(Ordering::SeqCst),
            2,
            "the follow-up runs when due, not after the period"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        settle().await;
        assert_eq!(n.load(Ordering::SeqCst), 3, "something due past the period waits the period");
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_ends_every_task() {
        let cancel = CancellationToken::new();
        let d = Driver::new(2, Duration::from_secs(1), cancel.clone());
        let n = Arc::new(AtomicUsize::new(0));
        d.ensure("a", counting(&n));
        settle().await;
        cancel.cancel();
        settle().await;
        assert_eq!(d.running(), 0);
    }
}
