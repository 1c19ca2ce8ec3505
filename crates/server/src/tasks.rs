//! What the background tasks did last: each reconciler activation (the pod, endpoint and
//! serverless reconcile tick, and billing reconciliation) per account, with its duration, the
//! number of actions and its errors, for operators (`GET /api/v1/admin/tasks`).
//!
//! Owns: an in-memory table, one row per (task, account), overwritten by each activation;
//! bounded by the accounts with work (errors kept per row: the last 20).

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use podwarden_api::types::TaskStatus;

/// Every task's last activation.
#[derive(Debug, Default)]
pub(crate) struct Tasks(Mutex<BTreeMap<(String, String), TaskStatus>>);

impl Tasks {
    /// Records an activation that started at `started_ms` and took `duration_ms`.
    pub(crate) fn record(
        &self,
        task: &str,
        account: impl std::fmt::Display,
        started_ms: i64,
        duration_ms: i64,
        actions: usize,
        errors: Vec<String>,
    ) {
        let account = account.to_string();
        let mut g = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let row = g.entry((task.to_owned(), account.clone())).or_insert_with(|| TaskStatus {
            task: task.to_owned(),
            account,
            last_started_at: 0,
            last_duration_ms: 0,
            ok: true,
            actions: 0,
            errors: Vec::new(),
            runs: 0,
            failures: 0,
        });
        row.last_started_at = started_ms;
        row.last_duration_ms = duration_ms;
        row.ok = errors.is_empty();
        row.actions = actions;
        row.runs += 1;
        row.failures += u64::from(!errors.is_empty());
        row.errors = errors.into_iter().take(20).collect();
    }

    pub(crate) fn all(&self) -> Vec<TaskStatus> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect()
    }
}

/// Runs `f` as an activation of `task` on `account` and records it; `f` returns the number of
/// actions and the errors.
pub(crate) async fn activation<F>(
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
}
