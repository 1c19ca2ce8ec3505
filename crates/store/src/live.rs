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
//! submitted and cancelled through them, accounts they reconcile), so a replica calls
//! [`Store::refresh_live`] before each round of passes: one consistent snapshot replaces the
//! set, under the write lock, so none of this replica's own writes is lost in between.

use crate::{AttemptRow, Backend, JobRow, Result, Store};
use core_domain::state::{AttemptState, JobState};
use std::collections::BTreeMap;

/// Live jobs and attempts, ordered by id (ids are time-sortable, so oldest first).
#[derive(Debug, Default)]
pub struct LiveSet {
    jobs: BTreeMap<String, JobRow>,
    attempts: BTreeMap<String, AttemptRow>,
}

impl LiveSet {
    pub(crate) fn load(jobs: Vec<JobRow>, attempts: Vec<AttemptRow>) -> Self {
        Self {
            jobs: jobs.into_iter().map(|j| (j.id.clone(), j)).collect(),
            attempts: attempts.into_iter().map(|a| (a.id.clone(), a)).collect(),
        }
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
    pub fn job(&self, id: &str) -> Option<&JobRow> {
        self.jobs.get(id)
    }

    /// One live attempt.
    pub fn attempt(&self, id: &str) -> Option<&AttemptRow> {
        self.attempts.get(id)
    }

    /// Records a job as written: kept while live, dropped once settled.
    pub(crate) fn put_job(&mut self, j: &JobRow) {
        // Live as the job state machine defines it.
        if JobState::parse(&j.state).is_some_and(JobState::is_live) {
            self.jobs.insert(j.id.clone(), j.clone());
        } else {
            self.jobs.remove(&j.id);
        }
    }

    /// Records an attempt as written: kept while it may own a resource.
    pub(crate) fn put_attempt(&mut self, a: &AttemptRow) {
        if AttemptState::parse(&a.state).is_some_and(|s| !s.is_final()) {
            self.attempts.insert(a.id.clone(), a.clone());
        } else {
            self.attempts.remove(&a.id);
        }
    }
}

impl Store {
    /// Replaces the live set with the database's, read in one snapshot. Needed only where
    /// other processes write (Postgres replicas); exact on SQLite too.
    pub async fn refresh_live(&self) -> Result<()> {
        let _w = self.writes.lock().await;
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
