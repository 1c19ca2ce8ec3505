//! The state machines: jobs and attempts (here), endpoints (`endpoint`) and serverless jobs
//! (`serverless_job`). One enum each, one transition function each listing every legal edge;
//! anything else is an `IllegalTransition`. Rows store the names (`as_str`); the engine moves
//! a row only through its machine's transition function.
//!
//! ```text
//! job:  pending ──launch──▶ provisioning ──booted──▶ running ──exited──▶ tearing_down(outcome) ──settled──▶ outcome
//!          │                  │ ▲ │ ▲                  │
//!          │                  │ │ │ └──launch── recovering ◀──interrupted──┘ (preempted, boot timeout, pod vanished)
//!          │                  │ │ └──queue──▶ queued (no capacity, the account's limit: waits, up to start_within)
//!          │                  │ └──launch─────┘
//!          └──────────────────┴───── cancel / budget / deadline / give_up ──▶ tearing_down(…)
//! attempt: intent ──created──▶ created ──booted──▶ running ──terminate──▶ terminating ──gone──▶ terminated
//!            └──create_failed (confirmed by name lookup)──▶ abandoned
//! ```

pub mod endpoint;
pub mod serverless_job;
pub mod volume;

pub use endpoint::{EndpointEvent, EndpointState, endpoint_transition};
pub use serverless_job::{ServerlessJobEvent, ServerlessJobState, serverless_job_transition};
pub use volume::VolumeState;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    /// Waiting for capacity (or the account's headroom), with the reason; costs nothing.
    Queued,
    Provisioning,
    Running,
    Recovering,
    TearingDown,
    Succeeded,
    Failed,
    Cancelled,
    BudgetExceeded,
    TimedOut,
}

/// How a job ends. Held while tearing down, then becomes the final state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    Cancelled,
    BudgetExceeded,
    TimedOut,
}

/// What happened to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEvent {
    /// An attempt starts (first or after recovery).
    Launch,
    /// The attempt's pod is RUNNING.
    Booted,
    /// The command ended and said how.
    Exited { success: bool },
    /// The user stopped it.
    Cancel,
    /// Spend reached the budget.
    BudgetExhausted,
    /// `max_runtime` passed.
    DeadlinePassed,
    /// The attempt is lost (preempted, boot timeout, pod vanished).
    Interrupted,
    /// Nothing could be placed now (no capacity, the account's spend limit): the job waits.
    Queue,
    /// No (further) attempt will be made.
    GiveUp,
    /// Every resource of the job is confirmed gone.
    Settled,
}

/// An edge the machine does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition: {event:?} in state {from}")]
pub struct IllegalTransition {
    pub from: String,
    pub event: String,
}

impl JobState {
    /// Every state, for tables.
    pub const ALL: [JobState; 11] = [
        JobState::Pending,
        JobState::Queued,
        JobState::Provisioning,
        JobState::Running,
        JobState::Recovering,
        JobState::TearingDown,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::BudgetExceeded,
        JobState::TimedOut,
    ];

    /// Settled: nothing more will happen and nothing is left at the provider.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::Failed
                | Self::Cancelled
                | Self::BudgetExceeded
                | Self::TimedOut
        )
    }

    /// May hold or acquire provider resources.
    pub fn is_live(self) -> bool {
        !self.is_final()
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Provisioning => "provisioning",
            Self::Running => "running",
            Self::Recovering => "recovering",
            Self::TearingDown => "tearing_down",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::BudgetExceeded => "budget_exceeded",
            Self::TimedOut => "timed_out",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Outcome {
    /// The final state it settles into.
    pub fn final_state(self) -> JobState {
        match self {
            Self::Succeeded => JobState::Succeeded,
            Self::Failed => JobState::Failed,
            Self::Cancelled => JobState::Cancelled,
            Self::BudgetExceeded => JobState::BudgetExceeded,
            Self::TimedOut => JobState::TimedOut,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        self.final_state().as_str()
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Succeeded, Self::Failed, Self::Cancelled, Self::BudgetExceeded, Self::TimedOut]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// A job's state plus, while tearing down, how it will end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPhase {
    pub state: JobState,
    pub outcome: Option<Outcome>,
}

impl JobPhase {
    /// A new job.
    pub const PENDING: JobPhase = JobPhase { state: JobState::Pending, outcome: None };

    fn to(state: JobState) -> Self {
        Self { state, outcome: None }
    }

    fn ending(o: Outcome) -> Self {
        Self { state: JobState::TearingDown, outcome: Some(o) }
    }
}

/// The job transition function. Every legal edge is listed here.
pub fn job_transition(from: JobPhase, event: JobEvent) -> Result<JobPhase, IllegalTransition> {
    use JobEvent as E;
    use JobState as S;
    let next = match (from.state, event) {
        (S::Pending | S::Recovering | S::Queued, E::Launch) => JobPhase::to(S::Provisioning),
        (S::Provisioning, E::Queue) => JobPhase::to(S::Queued),
        (S::Provisioning, E::Booted) => JobPhase::to(S::Running),
        (S::Running, E::Exited { success }) => {
            JobPhase::ending(if success { Outcome::Succeeded } else { Outcome::Failed })
        }
        (S::Provisioning | S::Running, E::Interrupted) => JobPhase::to(S::Recovering),
        (S::Pending | S::Provisioning | S::Running | S::Recovering | S::Queued, E::Cancel) => {
            JobPhase::ending(Outcome::Cancelled)
        }
        (S::Provisioning | S::Running | S::Recovering | S::Queued, E::BudgetExhausted) => {
            JobPhase::ending(Outcome::BudgetExceeded)
        }
        (S::Provisioning | S::Running | S::Recovering | S::Queued, E::DeadlinePassed) => {
            JobPhase::ending(Outcome::TimedOut)
        }
        // Running too: a container that runs but can never start the job's command (its
        // image's entrypoint ignores its arguments) is given up.
        (S::Pending | S::Provisioning | S::Running | S::Recovering | S::Queued, E::GiveUp) => {
            JobPhase::ending(Outcome::Failed)
        }
        // A user may cancel during keep-alive: the job still ends as it was going to.
        (S::TearingDown, E::Cancel) => from,
        (S::TearingDown, E::Settled) => match from.outcome {
            Some(o) => JobPhase::to(o.final_state()),
            None => return Err(illegal(from.state, event)),
        },
        _ => return Err(illegal(from.state, event)),
    };
    Ok(next)
}

/// A stored or sent name that is not one of a state enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

/// `FromStr` and `TryFrom<String>` from the stored names (`as_str`/`parse`): rows decode their
/// state columns through these, so a row holds the enum, never the string.
macro_rules! stored_names {
    ($($t:ident),* $(,)?) => {$(
        impl std::str::FromStr for $t {
            type Err = $crate::state::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::state::UnknownName {
                    kind: stringify!($t),
                    value: s.to_owned(),
                })
            }
        }
        impl TryFrom<String> for $t {
            type Error = $crate::state::UnknownName;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    )*};
}
pub(crate) use stored_names;

stored_names!(JobState, Outcome, AttemptState);

fn illegal(from: impl fmt::Debug, event: impl fmt::Debug) -> IllegalTransition {
    IllegalTransition { from: format!("{from:?}"), event: format!("{event:?}") }
}

/// Where an attempt (one pod) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Row committed with the pod's deterministic name; the create may or may not have happened.
    Intent,
    /// The provider gave the pod an id.
    Created,
    /// The pod is RUNNING.
    Running,
    /// Termination requested; retried until the provider confirms.
    Terminating,
    /// The provider confirmed the pod is gone. Final.
    Terminated,
    /// The create failed and a lookup by name confirmed no pod exists. Final.
    Abandoned,
}

/// What happened to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptEvent {
    Created,
    Booted,
    Terminate,
    Gone,
    CreateFailed,
}

impl AttemptState {
    /// Every state, for tables.
    pub const ALL: [AttemptState; 6] = [
        Self::Intent,
        Self::Created,
        Self::Running,
        Self::Terminating,
        Self::Terminated,
        Self::Abandoned,
    ];

    /// No provider resource can exist any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Terminated | Self::Abandoned)
    }

    /// A pod exists and bills (created, running, or terminating but not yet confirmed gone).
    pub fn holds_pod(self) -> bool {
        matches!(self, Self::Created | Self::Running | Self::Terminating)
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Created => "created",
            Self::Running => "running",
            Self::Terminating => "terminating",
            Self::Terminated => "terminated",
            Self::Abandoned => "abandoned",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for AttemptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The attempt transition function. Every legal edge is listed here.
pub fn attempt_transition(
    from: AttemptState,
    event: AttemptEvent,
) -> Result<AttemptState, IllegalTransition> {
    use AttemptEvent as E;
    use AttemptState as S;
    Ok(match (from, event) {
        (S::Intent, E::Created) => S::Created,
        (S::Intent, E::CreateFailed) => S::Abandoned,
        (S::Created, E::Booted) => S::Running,
        (S::Intent | S::Created | S::Running | S::Terminating, E::Terminate) => S::Terminating,
        (S::Created | S::Running | S::Terminating, E::Gone) => S::Terminated,
        _ => return Err(illegal(from, event)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(state: JobState) -> JobPhase {
        JobPhase { state, outcome: None }
    }

    const JOB_EVENTS: [JobEvent; 11] = [
        JobEvent::Launch,
        JobEvent::Queue,
        JobEvent::Booted,
        JobEvent::Exited { success: true },
        JobEvent::Exited { success: false },
        JobEvent::Cancel,
        JobEvent::BudgetExhausted,
        JobEvent::DeadlinePassed,
        JobEvent::Interrupted,
        JobEvent::GiveUp,
        JobEvent::Settled,
    ];

    /// Every legal job edge, written out independently of the transition function.
    fn legal_job_edges() -> Vec<(JobPhase, JobEvent, JobPhase)> {
        use JobEvent as E;
        use JobState as S;
        let end = JobPhase::ending;
        let mut v = vec![
            (p(S::Pending), E::Launch, p(S::Provisioning)),
            (p(S::Recovering), E::Launch, p(S::Provisioning)),
            (p(S::Queued), E::Launch, p(S::Provisioning)),
            (p(S::Provisioning), E::Queue, p(S::Queued)),
            (p(S::Provisioning), E::Booted, p(S::Running)),
            (p(S::Running), E::Exited { success: true }, end(Outcome::Succeeded)),
            (p(S::Running), E::Exited { success: false }, end(Outcome::Failed)),
            (p(S::Provisioning), E::Interrupted, p(S::Recovering)),
            (p(S::Running), E::Interrupted, p(S::Recovering)),
        ];
        for s in [S::Pending, S::Provisioning, S::Running, S::Recovering, S::Queued] {
            v.push((p(s), E::Cancel, end(Outcome::Cancelled)));
        }
        for s in [S::Provisioning, S::Running, S::Recovering, S::Queued] {
            v.push((p(s), E::BudgetExhausted, end(Outcome::BudgetExceeded)));
            v.push((p(s), E::DeadlinePassed, end(Outcome::TimedOut)));
        }
        for s in [S::Pending, S::Provisioning, S::Running, S::Recovering, S::Queued] {
            v.push((p(s), E::GiveUp, end(Outcome::Failed)));
        }
        for o in [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::Cancelled,
            Outcome::BudgetExceeded,
            Outcome::TimedOut,
        ] {
            v.push((end(o), E::Settled, p(o.final_state())));
            v.push((end(o), E::Cancel, end(o)));
        }
        v
    }

    #[test]
    fn every_legal_job_edge_goes_where_the_table_says() {
        for (from, ev, to) in legal_job_edges() {
            assert_eq!(job_transition(from, ev), Ok(to), "{from:?} --{ev:?}-->");
        }
    }

    #[test]
    fn every_other_job_edge_is_rejected() {
        let legal = legal_job_edges();
        let outcomes = [None, Some(Outcome::Succeeded), Some(Outcome::Cancelled)];
        let mut rejected = 0;
        for state in JobState::ALL {
            for outcome in outcomes {
                if (state == JobState::TearingDown) != outcome.is_some() {
                    continue;
                }
                let from = JobPhase { state, outcome };
                for ev in JOB_EVENTS {
                    if legal.iter().any(|(f, e, _)| *f == from && *e == ev) {
                        continue;
                    }
                    assert!(
                        job_transition(from, ev).is_err(),
                        "{from:?} --{ev:?}--> must be illegal"
                    );
                    rejected += 1;
                }
            }
        }
        assert!(rejected > 60, "{rejected}");
        assert!(
            JobState::ALL
                .iter()
                .filter(|s| s.is_final())
                .all(|s| JOB_EVENTS.iter().all(|e| job_transition(p(*s), *e).is_err())),
            "final states are final"
        );
    }

    #[test]
    fn attempt_edges_are_exactly_the_listed_ones() {
        use AttemptEvent as E;
        use AttemptState as S;
        let legal = [
            (S::Intent, E::Created, S::Created),
            (S::Intent, E::CreateFailed, S::Abandoned),
            (S::Created, E::Booted, S::Running),
            (S::Intent, E::Terminate, S::Terminating),
            (S::Created, E::Terminate, S::Terminating),
            (S::Running, E::Terminate, S::Terminating),
            (S::Terminating, E::Terminate, S::Terminating),
            (S::Created, E::Gone, S::Terminated),
            (S::Running, E::Gone, S::Terminated),
            (S::Terminating, E::Gone, S::Terminated),
        ];
        for (f, e, t) in legal {
            assert_eq!(attempt_transition(f, e), Ok(t), "{f:?} --{e:?}-->");
        }
        for f in AttemptState::ALL {
            for e in [E::Created, E::Booted, E::Terminate, E::Gone, E::CreateFailed] {
                if !legal.iter().any(|(lf, le, _)| *lf == f && *le == e) {
                    assert!(attempt_transition(f, e).is_err(), "{f:?} --{e:?}--> must be illegal");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        for s in AttemptState::ALL {
            assert_eq!(AttemptState::parse(s.as_str()), Some(s));
        }
        assert_eq!(Outcome::parse("budget_exceeded"), Some(Outcome::BudgetExceeded));
    }
}
