//! What the background tasks did last: each reconciler activation (the pod, endpoint and
//! serverless reconcile tick, and billing reconciliation) per account, with its duration, the
//! number of actions and its errors, for operators (`GET /api/v1/admin/tasks`). A reconciler's
//! row is its pass's `Status` as the engine reported it: what it saw, what it decided, its
//! errors, and the wait its error policy set.
//!
//! Owns: an in-memory table, one row per (task, account), overwritten by each activation;
//! bounded by the accounts with work (errors kept per row: the last 20).

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use podwarden_api::types::TaskStatus;

/// Every task's last activation.
#[derive(Debug, Default)]
pub struct Tasks(Mutex<BTreeMap<(String, String), TaskStatus>>);

impl Tasks {
    /// Records an activation that started at `started_ms` and took `duration_ms`.
    pub fn record(
        &self,
        task: &str,
        account: impl std::fmt::Display,
        started_ms: i64,
        duration_ms: i64,
        actions: usize,
        errors: Vec<String>,
    ) {
        self.update(task, account, |row| activated(row, started_ms, duration_ms, actions, errors));
    }

    /// Records a reconciler's pass as its `Status` says: what it saw and decided, how long
    /// it took, its errors, and whether the account must wait.
    pub fn record_status<A: std::fmt::Debug>(
        &self,
        task: &str,
        account: impl std::fmt::Display,
        started_ms: i64,
        st: &podwarden_engine::reconcilers::Status<A>,
    ) {
        let took = st.took.as_millis() as i64;
        self.update(task, account, |row| {
            activated(row, started_ms, took, st.actions.len(), st.errors.clone());
            row.decided = st.actions.iter().take(50).map(|a| format!("{a:?}")).collect();
            row.seen = st.seen;
            row.live = st.live;
            row.retry_after_ms = st.retry_after.map(|w| w.as_millis() as u64);
        });
    }

    /// Changes the row of (`task`, `account`), made empty if new.
    fn update(&self, task: &str, account: impl std::fmt::Display, f: impl FnOnce(&mut TaskStatus)) {
        let account = account.to_string();
        let mut g = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let row = g.entry((task.to_owned(), account.clone())).or_insert_with(|| TaskStatus {
            task: task.to_owned(),
            account,
            last_started_at: 0,
            last_duration_ms: 0,
            ok: true,
            actions: 0,
            decided: Vec::new(),
            seen: 0,
            live: 0,
            retry_after_ms: None,
            errors: Vec::new(),
            runs: 0,
            failures: 0,
        });
        f(row);
    }

    pub fn all(&self) -> Vec<TaskStatus> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect()
    }
}

/// Writes an activation into its row: when, how long, what it did, and its errors.
fn activated(
    row: &mut TaskStatus,
    started_ms: i64,
    duration_ms: i64,
    actions: usize,
    errors: Vec<String>,
) {
    row.last_started_at = started_ms;
    row.last_duration_ms = duration_ms;
    row.ok = errors.is_empty();
    row.actions = actions;
    row.runs += 1;
    row.failures += u64::from(!errors.is_empty());
    row.errors = errors.into_iter().take(20).collect();
}

/// Runs `f` as an activation of `task` on `account` and records it; `f` returns the number of
/// actions and the errors.
pub async fn activation<F>(
    tasks: &Tasks,
    task: &str,
    account: impl std::fmt::Display,
    now_ms: i64,
    f: F,
) where
    F: std::future::Future<Output = (usize, Vec<String>)>,
{
    let t = std::time::Instant::now();
    let (actions, errors) = f.await;
    if !errors.is_empty() {
        tracing::warn!(task, %account, errors = ?errors, "background task had errors; the next activation retries");
    }
    tasks.record(task, account, now_ms, t.elapsed().as_millis() as i64, actions, errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_activation_is_kept_with_counts() {
        let t = Tasks::default();
        t.record("reconcile", "hosted", 1, 5, 2, vec![]);
        t.record("reconcile", "hosted", 2, 7, 0, vec!["boom".into()]);
        t.record("billing", "hosted", 2, 1, 1, vec![]);
        let all = t.all();
        assert_eq!(all.len(), 2);
        let r = all.iter().find(|s| s.task == "reconcile").expect("reconcile");
        assert_eq!(
            (r.last_started_at, r.ok, r.runs, r.failures, r.errors.as_slice()),
            (2, false, 2, 1, &["boom".to_owned()][..])
        );
    }

    #[test]
    fn a_reconcilers_row_is_its_status() {
        use podwarden_engine::reconcilers::pods::Action;
        let t = Tasks::default();
        let att = podwarden_core::AttemptId::new();
        let st = podwarden_engine::reconcilers::Status {
            ran: true,
            seen: 3,
            live: 2,
            actions: vec![Action::Booted { attempt: att }],
            errors: vec!["429".into()],
            took: std::time::Duration::from_millis(12),
            retry_after: Some(std::time::Duration::from_secs(60)),
            follow_up: false,
        };
        t.record_status("pods", "hosted", 5, &st);
        let r = &t.all()[0];
        assert_eq!(
            (r.seen, r.live, r.actions, r.decided.as_slice(), r.retry_after_ms, r.last_duration_ms),
            (3, 2, 1, &[format!("Booted {{ attempt: {att} }}")][..], Some(60_000), 12)
        );
    }
}
