//! What a job's events are about (`job_events.kind`), and the typed facts an event may carry
//! beside its message (`job_events.data`): the state a job, attempt or serverless job moved
//! to. Readers decide from these, never from the message's words, which are for people.

use crate::state::{AttemptState, JobState, ServerlessJobState};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a job event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The job (or serverless job) changed state; `data` says to what.
    State,
    /// A pod was created, adopted, refused or found gone.
    Attempt,
    /// Where the job may run (placement choices at submit).
    Placement,
    /// A line from the pod's boot (image pull, container start).
    Boot,
    /// The command exited.
    Exit,
    /// The job's early-stop rule fired.
    EarlyStop,
    /// The job's budget was set for it (capped to what is left of a spend cap).
    Budget,
    /// Spend passed one of the job's alert thresholds.
    BudgetAlert,
    /// The provider's bill corrected podwarden's ledger.
    Billing,
    /// Why a serverless job waits in its endpoint's queue.
    Queue,
    /// Training metric points arrived (`data`: the last one; all are in `metrics`).
    Metric,
    /// A serverless job's progress update (`data`: the handler's value).
    Progress,
    /// A streamed output chunk of a serverless job (`data`: the chunk).
    Chunk,
    /// A kind this version does not know (written by a newer one): shown, never acted on.
    #[serde(other)]
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        Self::State,
        Self::Attempt,
        Self::Placement,
        Self::Boot,
        Self::Exit,
        Self::EarlyStop,
        Self::Budget,
        Self::BudgetAlert,
        Self::Billing,
        Self::Queue,
        Self::Metric,
        Self::Progress,
        Self::Chunk,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::State => "state",
            Self::Attempt => "attempt",
            Self::Placement => "placement",
            Self::Boot => "boot",
            Self::Exit => "exit",
            Self::EarlyStop => "early_stop",
            Self::Budget => "budget",
            Self::BudgetAlert => "budget_alert",
            Self::Billing => "billing",
            Self::Queue => "queue",
            Self::Metric => "metric",
            Self::Progress => "progress",
            Self::Chunk => "chunk",
            Self::Other => "other",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A stored kind; one this version does not know reads as `Other` (the event is still listed).
impl From<String> for EventKind {
    fn from(s: String) -> Self {
        Self::parse(&s).unwrap_or(Self::Other)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The typed part of a `state` or `attempt` event, stored as its `data` (JSON). Each field is
/// set by the events it concerns only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// A pod job's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<JobState>,
    /// While tearing down: the final state the job is heading for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<JobState>,
    /// An attempt's new state (its pod was created, adopted or is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<AttemptState>,
    /// A serverless job's new state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<ServerlessJobState>,
}

impl StateChange {
    /// Reads the typed part of a stored event (`None` for events without one, such as those
    /// written before events carried it, or progress payloads).
    pub fn of(kind: EventKind, data: Option<&str>) -> Self {
        match (kind, data) {
            (EventKind::State | EventKind::Attempt, Some(d)) => {
                serde_json::from_str(d).unwrap_or_default()
            }
            _ => Self::default(),
        }
    }

    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_state_changes_read_back() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::from(k.as_str().to_owned()), k);
            assert_eq!(serde_json::to_value(k).ok(), Some(serde_json::json!(k.as_str())));
        }
        assert_eq!(EventKind::from("note".to_owned()), EventKind::Other);
        assert_eq!(serde_json::from_str::<EventKind>(r#""note""#).ok(), Some(EventKind::Other));
        let c = StateChange {
            state: Some(JobState::TearingDown),
            ending: Some(JobState::Cancelled),
            ..Default::default()
        };
        assert_eq!(
            c.to_json(),
            serde_json::json!({"state": "tearing_down", "ending": "cancelled"})
        );
        let stored = c.to_json().to_string();
        assert_eq!(StateChange::of(EventKind::State, Some(&stored)), c);
        // A progress payload is the handler's, not a state change.
        assert_eq!(StateChange::of(EventKind::Progress, Some(&stored)), StateChange::default());
        assert_eq!(StateChange::of(EventKind::State, Some("[1,2]")), StateChange::default());
    }
}
