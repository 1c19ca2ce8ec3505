//! What runs each account's reconcilers: the engine's `Driver` (one supervised task per
//! account, concurrent under a bound, each on the tick period and on a poke), fed by this
//! server's view of which accounts have work.
//!
//! Owns: the choice of accounts to drive (the hosted one always, when there is an operator
//! key; a user's own account while it has live jobs, endpoints or serverless jobs, or settled
//! pods whose bill is due a check), and recording each pass in `tasks`. Building an account's
//! engine (decrypting a user's key) is `accounts`'. On Postgres a pass first takes the
//! account's lease and runs fenced by it (`replicas`); without the lease it ends at once.

use crate::Control;
use crate::accounts::engine_for;
use podwarden_core::{Account, JobId};
use podwarden_engine::driver::Pass;
use podwarden_engine::reconcilers::pods::Action as PodAction;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Passes that run at once across accounts. Each holds a few provider calls in flight; the
/// bound keeps a thousand accounts from opening a thousand connections at once.
pub const CONCURRENCY: usize = 32;

/// How often settled pods are looked for and checked against the provider's bill.
const BILL_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The server's loop: on every `period` and every poke, finds the accounts with work and makes
/// sure each has its task (`drive`), and starts or stops the pods' log followers and the
/// serverless jobs' stream followers; bills due a check are looked for once a minute.
pub async fn run(
    s: Arc<Control>,
    followers: TaskTracker,
    c: CancellationToken,
    period: std::time::Duration,
) {
    // Bills are looked for on their own, slower period: the query behind it reads the
    // attempts table, and a pod's bill settles in minutes, not ticks.
    let mut next_bill_check = std::time::Instant::now();
    loop {
        if std::time::Instant::now() >= next_bill_check {
            next_bill_check = std::time::Instant::now() + BILL_CHECK_EVERY;
            find_bills_due(&s).await;
        }
        if let Some(r) = &s.replicas
            && let Err(e) = r.sync_live(s.engine.store()).await
        {
            tracing::warn!(error = %e, "cannot reload the live set from Postgres");
        }
        crate::rehome::rehome_queued(&s).await;
        drive(&s).await;
        crate::pod_logs::sync(&s, &followers, &c);
        crate::serverless_streams::sync(&s, &followers, &c).await;
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = s.poke.notified() => {}
            () = c.cancelled() => break,
        }
    }
}

/// Starts a task for every account with work, and reports tasks whose pass panicked. Run on
/// every tick period and every poke of the server.
pub async fn drive(s: &Arc<Control>) {
    let now = s.engine.now_ms();
    for (account, why) in s.driver.reap().await {
        tracing::error!(account, panic = why, "an account's pass panicked; it is restarted");
        s.tasks.record("reconcile", &account, now, 0, 0, vec![format!("the pass panicked: {why}")]);
    }
    let mut accounts: BTreeSet<Account> = BTreeSet::new();
    if s.hosted {
        accounts.insert(Account::Hosted);
    }
    if s.aws.is_some() {
        accounts.insert(Account::hosted_on(podwarden_core::ProviderKind::Aws));
    }
    accounts.extend(byok_with_work(s).await);
    accounts.extend(s.bills_due().iter().filter(|a| !a.is_hosted()).cloned());
    for account in accounts {
        let (st, a) = (s.clone(), account.clone());
        s.driver.ensure(&account.to_string(), move || {
            let (st, a) = (st.clone(), a.clone());
            async move { pass(&st, &a).await }
        });
    }
}

/// Runs `account`'s next pass now (after a submit, a cancel, an exit), on whichever replica
/// holds it.
pub fn poke(s: &Control, account: &Account) {
    s.driver.poke(&account.to_string());
    // A new account's task is started by the server's loop.
    s.poke.notify_one();
    if s.replicas.is_some() {
        let (store, account) = (s.engine.store().clone(), account.clone());
        tokio::spawn(async move {
            if let Err(e) = store.notify_poke(&account).await {
                tracing::warn!(%account, error = %e, "could not poke the other replicas");
            }
        });
    }
}

/// Runs the next pass of the account a job was placed on.
pub fn poke_job(s: &Control, job: JobId) {
    let account = s.engine.store().live().job(job).map(|j| j.account.clone());
    poke(s, &account.unwrap_or(Account::Hosted));
}

/// Users' own accounts with live work: jobs, pods left of settled jobs, endpoints and
/// serverless jobs.
async fn byok_with_work(s: &Control) -> BTreeSet<Account> {
    let store = s.engine.store();
    let mut out: BTreeSet<Account> = {
        let live = store.live();
        let jobs = live.jobs().map(|j| &j.account);
        jobs.chain(live.accounts_with_attempts()).filter(|a| !a.is_hosted()).cloned().collect()
    };
    match (store.endpoints_live().await, store.serverless_jobs_live().await) {
        (Ok(eps), Ok(jobs)) => {
            let accounts = eps.iter().map(|e| &e.account).chain(jobs.iter().map(|r| &r.account));
            out.extend(accounts.filter(|a| !a.is_hosted()).cloned());
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot list BYOK endpoints and serverless jobs")
        }
    }
    out
}

/// One pass of one account, under its lease when replicas share the database. A replica that
/// does not hold the lease ends the task (the server's loop tries again next period); one that
/// holds it gives it up when the account goes idle.
async fn pass(s: &Control, account: &Account) -> Pass {
    let Some(r) = &s.replicas else { return reconcile(s, account).await };
    let store = s.engine.store();
    match r.lease(store, account, s.engine.now_ms()).await {
        Ok(Some(fence)) => {
            let next = podwarden_store::fenced(fence, reconcile(s, account)).await;
            if matches!(next, Pass::Idle) {
                r.release(store, account).await;
            }
            next
        }
        Ok(None) => Pass::Idle,
        Err(e) => {
            let now = s.engine.now_ms();
            s.tasks.record("lease", account, now, 0, 0, vec![e.to_string()]);
            Pass::Idle
        }
    }
}

/// One reconcile of one account: its reconcilers, then settled pods' bills when due. The
/// hosted account is always busy (it sweeps for orphans); a user's goes idle when nothing of
/// theirs is live.
async fn reconcile(s: &Control, account: &Account) -> Pass {
    let engine = match engine_for(s, account).await {
        Ok(e) => e,
        Err(e) => {
            let now = s.engine.now_ms();
            s.tasks.record("reconcile", account, now, 0, 0, vec![e.to_string()]);
            return Pass::Idle;
        }
    };
    let now = engine.now_ms();
    let (wait, live, next) = match engine.tick().await {
        Ok(r) => {
            record(s, "pods", account, now, &r.pods);
            record(s, "endpoints", account, now, &r.endpoints);
            record(s, "serverless_jobs", account, now, &r.serverless_jobs);
            let pod_made_or_gone = |a: &PodAction| {
                matches!(
                    a,
                    PodAction::Launch { .. } | PodAction::Adopt { .. } | PodAction::Gone { .. }
                )
            };
            if r.pods.actions.iter().any(pod_made_or_gone) {
                // A pod made or gone: the server's loop starts or stops its log follower now,
                // not a period later (a booting pod's first lines say what it is doing).
                s.poke.notify_one();
            }
            (r.retry_after(), r.live(), r.next_pass)
        }
        Err(e) => {
            s.tasks.record("pods", account, now, 0, 0, vec![e.to_string()]);
            // Not known: keep the task, the next pass finds out.
            (None, 1, None)
        }
    };
    if let Some(wait) = wait {
        // A reconciler's error policy says more calls now can only fail (the request budget
        // is spent, the key is refused): nothing more on this account until then.
        tracing::warn!(
            %account,
            wait_secs = wait.as_secs(),
            "the provider makes this account's next pass wait (rate limit or refused key)"
        );
        return Pass::After(wait);
    }
    if engine.endpoint_bills_due() {
        let settle = s.billing_settle_ms;
        crate::tasks::activation(&s.tasks, "endpoint billing", account, now, async {
            match engine
                .reconcile_endpoint_bills(podwarden_engine::billing::BillingPolicy::automatic(
                    settle,
                ))
                .await
            {
                Ok(r) => (r.checked, r.errors),
                Err(e) => (0, vec![e.to_string()]),
            }
        })
        .await;
    }
    if s.take_bill_check(account) {
        let settle = s.billing_settle_ms;
        crate::tasks::activation(&s.tasks, "billing", account, now, async {
            match engine
                .reconcile_billing(podwarden_engine::billing::BillingPolicy::automatic(settle), 100)
                .await
            {
                Ok(r) => (r.checked, r.errors),
                Err(e) => (0, vec![e.to_string()]),
            }
        })
        .await;
    }
    // The hosted account always sweeps for orphans; a user's rests when the pass found nothing
    // of theirs live (their task comes back when `drive` sees work).
    match next {
        _ if !account.is_hosted() && live == 0 => Pass::Idle,
        Some(due) => Pass::Soon(due),
        None => Pass::Busy,
    }
}

/// Records a reconciler's pass (only when it looked at the provider or failed).
fn record<A: std::fmt::Debug>(
    s: &Control,
    task: &str,
    account: &Account,
    now: i64,
    st: &podwarden_engine::reconcilers::Status<A>,
) {
    if st.ran || !st.errors.is_empty() {
        s.tasks.record_status(task, account, now, st);
    }
}

/// The accounts whose bills are due a check, found once a minute (the query reads the
/// attempts table; a pod's bill settles in minutes, not ticks).
pub async fn find_bills_due(s: &Control) {
    let store = s.engine.store();
    let now = s.engine.now_ms();
    crate::tasks::activation(&s.tasks, "billing", "all accounts", now, async {
        let (ended, read) = (
            now - podwarden_engine::billing::FIRST_BILL_READ_AFTER_MS,
            now - podwarden_engine::billing::BILL_REREAD_MS,
        );
        match store.accounts_unchecked(ended, read).await {
            Ok(accounts) => {
                let n = accounts.len();
                s.bills_due().extend(accounts);
                (n, Vec::new())
            }
            Err(e) => (0, vec![format!("cannot list accounts with unchecked bills: {e}")]),
        }
    })
    .await;
}
