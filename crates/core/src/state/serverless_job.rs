//! The serverless job state machine: one job sent to a deployed endpoint (`/run`), followed
//! by polling the provider (`podwarden_engine::reconcilers::serverless_jobs`).
//!
//! ```text
//! submitting ──accepted(s)──▶ queued | running | (a final state, for /runsync)
//!     ├──never_confirmed / submit_refused──▶ failed
//!     └──cancel──▶ cancelled
//! queued ──observed(running)──▶ running ──observed(final)──▶ succeeded | failed | timed_out | cancelled
//!   ▲ └───────────observed(final)─────────────▲
//!   └──observed(queued): a worker lost mid-job──┘ (running → queued)
//! queued | running ──lost──▶ failed
//! ```
//!
//! The provider reports where the job is (`observed`); a job the provider no longer knows is
//! `lost`. Final states take no event.

use super::{IllegalTransition, illegal, stored_names};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a serverless job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServerlessJobState {
    /// The row is committed; the provider has not confirmed the submission.
    Submitting,
    /// In the endpoint's queue.
    Queued,
    /// A worker runs it.
    Running,
    Succeeded,
    Failed,
    /// It ran past its execution timeout, or its TTL passed.
    TimedOut,
    Cancelled,
}

/// What happened to a serverless job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerlessJobEvent {
    /// The provider confirmed the submission, with the job's state then.
    Accepted(ServerlessJobState),
    /// A poll found the job in this state.
    Observed(ServerlessJobState),
    /// The provider never confirmed the submission within the grace period.
    NeverConfirmed,
    /// The provider refused the submission.
    SubmitRefused,
    /// Stopped by the user before the provider confirmed it.
    Cancel,
    /// The provider no longer knows the job (its TTL passed, the endpoint was deleted).
    Lost,
}

impl ServerlessJobState {
    /// Every state, for tables.
    pub const ALL: [ServerlessJobState; 7] = [
        Self::Submitting,
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::TimedOut,
        Self::Cancelled,
    ];

    /// Settled: billed, and nothing more will happen.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut | Self::Cancelled)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitting => "submitting",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

stored_names!(ServerlessJobState);

impl fmt::Display for ServerlessJobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The serverless job transition function. Every legal edge is listed here.
pub fn serverless_job_transition(
    from: ServerlessJobState,
    event: ServerlessJobEvent,
) -> Result<ServerlessJobState, IllegalTransition> {
    use ServerlessJobEvent as E;
    use ServerlessJobState as S;
    Ok(match (from, event) {
        (S::Submitting, E::Accepted(to)) if to != S::Submitting => to,
        (S::Submitting, E::NeverConfirmed | E::SubmitRefused) => S::Failed,
        (S::Submitting, E::Cancel) => S::Cancelled,
        // A poll may find it anywhere ahead: a short job goes from queued to done between
        // two polls. A worker lost mid-job puts it back in the queue.
        (S::Queued | S::Running, E::Observed(to @ (S::Queued | S::Running))) => to,
        (S::Queued | S::Running, E::Observed(to)) if to.is_final() => to,
        (S::Queued | S::Running, E::Lost) => S::Failed,
        _ => return Err(illegal(from, event)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServerlessJobEvent as E;
    use ServerlessJobState as S;

    fn events() -> Vec<ServerlessJobEvent> {
        let mut v = vec![E::NeverConfirmed, E::SubmitRefused, E::Cancel, E::Lost];
        v.extend(S::ALL.map(E::Accepted));
        v.extend(S::ALL.map(E::Observed));
        v
    }

    /// Every legal edge, written out independently of the transition function.
    fn legal() -> Vec<(S, E, S)> {
        let finals = [S::Succeeded, S::Failed, S::TimedOut, S::Cancelled];
        let mut v = vec![
            (S::Submitting, E::NeverConfirmed, S::Failed),
            (S::Submitting, E::SubmitRefused, S::Failed),
            (S::Submitting, E::Cancel, S::Cancelled),
            (S::Queued, E::Observed(S::Queued), S::Queued),
            (S::Queued, E::Observed(S::Running), S::Running),
            (S::Running, E::Observed(S::Running), S::Running),
            (S::Running, E::Observed(S::Queued), S::Queued),
            (S::Queued, E::Lost, S::Failed),
            (S::Running, E::Lost, S::Failed),
        ];
        for to in [S::Queued, S::Running].into_iter().chain(finals) {
            v.push((S::Submitting, E::Accepted(to), to));
        }
        for to in finals {
            v.push((S::Queued, E::Observed(to), to));
            v.push((S::Running, E::Observed(to), to));
        }
        v
    }

    #[test]
    fn every_legal_edge_goes_where_the_table_says_and_every_other_is_rejected() {
        let legal = legal();
        for (f, e, t) in &legal {
            assert_eq!(serverless_job_transition(*f, *e), Ok(*t), "{f:?} --{e:?}-->");
        }
        let mut rejected = 0;
        for f in S::ALL {
            for e in events() {
                if !legal.iter().any(|(lf, le, _)| *lf == f && *le == e) {
                    assert!(
                        serverless_job_transition(f, e).is_err(),
                        "{f:?} --{e:?}--> must be illegal"
                    );
                    rejected += 1;
                }
            }
        }
        assert_eq!(rejected, S::ALL.len() * events().len() - legal.len());
        for f in S::ALL.into_iter().filter(|s| s.is_final()) {
            assert!(events().into_iter().all(|e| serverless_job_transition(f, e).is_err()));
        }
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
    }
}
