//! The live set: every job not yet settled and every attempt that may still own a provider
//! resource, kept in memory and written through on each insert and compare-and-swap of this
//! process. A reconcile tick reads it instead of reading 10,000 rows back from the database.
//!
//! Coherence: writes to `jobs` and `attempts` are serialized by [`Store`]'s write lock, which is
//! held across the database write and the update here, so the set changes in commit order. It is
//! loaded once when the store opens, before anyone can write.
//!
//! On SQLite it sees this process's writes only, and that is exact: one server owns a database
//! file (the data dir's pidfile keeps it so). On Postgres other replicas write too (jobs
//! submitted and cancelled through them, accounts they reconcile): each write is announced by
//! a trigger (`notify::ROWS`), and before each round of passes a replica reloads the rows
//! others wrote ([`Store::reload_rows`]). When it may have missed an announcement (its listener
//! was not yet connected, or reconnected) and when it takes an account over, it reloads the
//! whole set instead ([`Store::refresh_live`]): one consistent snapshot, under the write lock,
//! so none of this replica's own writes is lost in between.

use crate::{AttemptRow, Backend, JobRow, Result, Store};
use podwarden_core::{Account, AttemptId, JobId};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Live jobs and attempts, ordered by id (ids are time-sortable, so oldest first), indexed so
/// one account's pass reads its own rows only: a thousand accounts' passes then cost the rows
/// they own, not a thousand times every row.
#[derive(Debug, Default)]
pub struct LiveSet {
    jobs: BTreeMap<JobId, JobRow>,
    attempts: BTreeMap<AttemptId, AttemptRow>,
    /// Live job ids by account.
    jobs_by_account: HashMap<Account, BTreeSet<JobId>>,
    /// Live attempt ids by job (the job may have settled).
    attempts_by_job: HashMap<JobId, BTreeSet<AttemptId>>,
    /// Live attempt ids by the account their pod is made on.
    attempts_by_account: HashMap<Account, BTreeSet<AttemptId>>,
    /// Live attempt ids by pod name and by pod id.
    attempts_by_pod: HashMap<String, AttemptId>,
}

impl LiveSet {
    pub(crate) fn load(jobs: Vec<JobRow>, attempts: Vec<AttemptRow>) -> Self {
        let mut set = Self::default();
        for j in &jobs {
            set.put_job(j);
        }
        for a in &attempts {
            set.put_attempt(a);
        }
        set
    }

    /// Live jobs on `account`, oldest first.
    pub fn jobs_of<'a>(&'a self, account: &Account) -> impl Iterator<Item = &'a JobRow> + 'a {
        self.jobs_by_account.get(account).into_iter().flatten().filter_map(|id| self.jobs.get(id))
    }

    /// Live attempts an account's engine acts on: those whose pod is made on it (only its key
    /// reaches the pod), whether their job is live or has settled; oldest first.
    pub fn attempts_of(&self, account: &Account) -> Vec<&AttemptRow> {
        self.attempts_by_account
            .get(account)
            .into_iter()
            .flatten()
            .filter_map(|id| self.attempts.get(id))
            .collect()
    }

    /// Accounts with live attempts.
    pub fn accounts_with_attempts(&self) -> impl Iterator<Item = &Account> {
        self.attempts_by_account.keys()
    }

    /// The live attempt that owns a pod, by its name or its id.
    pub fn attempt_of_pod(&self, name: &str, id: &str) -> Option<&AttemptRow> {
        self.attempts_by_pod
            .get(name)
            .or_else(|| self.attempts_by_pod.get(id))
            .and_then(|a| self.attempts.get(a))
    }

    /// Live jobs, oldest first.
    pub fn jobs(&self) -> impl ExactSizeIterator<Item = &JobRow> {
        self.jobs.values()
    }

    /// Live attempts, oldest first.
    pub fn attempts(&self) -> impl ExactSizeIterator<Item = &AttemptRow> {
        self.attempts.values()
    }

    /// One live job.
    pub fn job(&self, id: JobId) -> Option<&JobRow> {
        self.jobs.get(&id)
    }

    /// One live attempt.
    pub fn attempt(&self, id: AttemptId) -> Option<&AttemptRow> {
        self.attempts.get(&id)
    }

    /// Job `id`'s live attempts.
    pub fn attempts_of_job(&self, id: JobId) -> impl Iterator<Item = &AttemptRow> {
        self.attempts_by_job.get(&id).into_iter().flatten().filter_map(|a| self.attempts.get(a))
    }

    /// Whether job `id` is live or still has an attempt that may own a provider resource.
    pub fn job_or_its_pods_live(&self, id: JobId) -> bool {
        self.jobs.contains_key(&id) || self.attempts_by_job.get(&id).is_some_and(|a| !a.is_empty())
    }

    /// Records a job as written: kept while live, dropped once settled.
    pub(crate) fn put_job(&mut self, j: &JobRow) {
        // Out of its old account's index when it ends or moves (a queued job may be moved to
        // another of its owner's accounts).
        if let Some(old) = self.jobs.remove(&j.id)
            && (old.account != j.account || !j.state.is_live())
        {
            unindex(&mut self.jobs_by_account, &old.account, &j.id);
        }
        // Live as the job state machine defines it.
        if j.state.is_live() {
            self.jobs_by_account.entry(j.account.clone()).or_default().insert(j.id);
            self.jobs.insert(j.id, j.clone());
        }
    }

    /// Records an attempt as written: kept while it may own a resource.
    pub(crate) fn put_attempt(&mut self, a: &AttemptRow) {
        if let Some(old) = self.attempts.remove(&a.id) {
            for key in std::iter::once(&old.pod_name).chain(old.pod_id.as_ref()) {
                // Only its own entry (pod ids are unique, but a stale row must not unindex
                // another attempt).
                if self.attempts_by_pod.get(key) == Some(&a.id) {
                    self.attempts_by_pod.remove(key);
                }
            }
            unindex(&mut self.attempts_by_job, &old.job_id, &a.id);
            unindex(&mut self.attempts_by_account, &old.account, &a.id);
        }
        if !a.state.is_final() {
            self.attempts_by_pod.insert(a.pod_name.clone(), a.id);
            if let Some(pod) = &a.pod_id {
                self.attempts_by_pod.insert(pod.clone(), a.id);
            }
            self.attempts_by_job.entry(a.job_id).or_default().insert(a.id);
            self.attempts_by_account.entry(a.account.clone()).or_default().insert(a.id);
            self.attempts.insert(a.id, a.clone());
        }
    }
}

/// Takes `id` out of `index[key]`, dropping the entry once it is empty.
fn unindex<K: Eq + std::hash::Hash, V: Ord>(index: &mut HashMap<K, BTreeSet<V>>, key: &K, id: &V) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

impl Store {
    /// Replaces the live set with the database's, read in one snapshot. Needed only where
    /// other processes write (Postgres replicas); exact on SQLite too.
    pub async fn refresh_live(&self) -> Result<()> {
        let _w = self.writes.lock().await;
        // Reads only: no write lock (`write_tx`) is needed for the snapshot.
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            // Jobs and attempts from the same instant: an attempt never without its job.
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let jobs = crate::jobs::jobs_live(&mut tx).await?;
        let attempts = crate::attempts::attempts_live(&mut tx).await?;
        tx.commit().await?;
        *self.live() = LiveSet::load(jobs, attempts);
        Ok(())
    }
}

impl Store {
    /// Reloads the named jobs and attempts (another replica wrote them) into the live set: each
    /// as now stored, so a row that settled leaves the set. Under the write lock, so none of
    /// this replica's own writes interleaves.
    pub async fn reload_rows(&self, jobs: &[JobId], attempts: &[AttemptId]) -> Result<()> {
        let _w = self.writes.lock().await;
        let jobs: Vec<JobRow> = self
            .rows_by_id(concat!("SELECT ", crate::jobs::job_columns!(), " FROM jobs"), jobs)
            .await?;
        let attempts: Vec<AttemptRow> = self
            .rows_by_id(
                concat!("SELECT ", crate::attempts::attempt_columns!(), " FROM attempts"),
                attempts,
            )
            .await?;
        let mut live = self.live();
        for j in &jobs {
            live.put_job(j);
        }
        for a in &attempts {
            live.put_attempt(a);
        }
        Ok(())
    }

    /// The rows `select` (a `SELECT … FROM table`) reads for `ids`, 500 ids per query.
    async fn rows_by_id<T, I>(&self, select: &'static str, ids: &[I]) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
        I: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Copy + Send,
    {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            // Only `$n` placeholders are spliced in.
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("{select} WHERE id IN ({})", marks.join(", "));
            let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }
}
