//! The endpoint state machine: a serverless endpoint and its template, as podwarden deploys
//! them (`podwarden_engine::sagas::endpoint_deploy`) and heals them (`podwarden_engine::reconcilers::endpoints`).
//!
//! ```text
//! intent ──converged──▶ ready ──drifted / vanished / deploy──▶ intent
//!   │  ▲                  │
//!   │  └──deploy──────────┘
//!   ├──update_refused(previous)──▶ previous (intent or ready)
//!   ├──create_refused──▶ deleting
//!   └──remove──▶ deleting ──resources_gone──▶ deleted
//!                ready ──remove──▶ deleting ──remove──▶ deleting
//! ```

use super::{IllegalTransition, illegal, stored_names};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EndpointState {
    /// The row (with its provider names) is committed; the provider may not match it yet.
    Intent,
    /// The provider's endpoint and template match the spec.
    Ready,
    /// Removal asked; retried until the provider confirms both are gone.
    Deleting,
    /// Nothing is left at the provider. Final.
    Deleted,
}

/// What happened to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointEvent {
    /// The user deployed a (changed) spec.
    Deploy,
    /// The provider's template and endpoint match the spec.
    Converged,
    /// The provider's copy runs something else than the spec.
    Drifted,
    /// The provider no longer lists the endpoint.
    Vanished,
    /// The provider refused a first create for good: undo it.
    CreateRefused,
    /// The provider refused an update for good: back to where it was.
    UpdateRefused { previous: EndpointState },
    /// The user removed it.
    Remove,
    /// The provider confirmed the endpoint and its template are gone.
    ResourcesGone,
}

impl EndpointState {
    /// Every state, for tables.
    pub const ALL: [EndpointState; 4] = [Self::Intent, Self::Ready, Self::Deleting, Self::Deleted];

    /// Nothing more will happen and nothing is left at the provider.
    pub fn is_final(self) -> bool {
        self == Self::Deleted
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Ready => "ready",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

stored_names!(EndpointState);

impl fmt::Display for EndpointState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The endpoint transition function. Every legal edge is listed here.
pub fn endpoint_transition(
    from: EndpointState,
    event: EndpointEvent,
) -> Result<EndpointState, IllegalTransition> {
    use EndpointEvent as E;
    use EndpointState as S;
    Ok(match (from, event) {
        (S::Intent | S::Ready, E::Deploy) => S::Intent,
        (S::Intent, E::Converged) => S::Ready,
        (S::Ready, E::Drifted | E::Vanished) => S::Intent,
        (S::Intent, E::CreateRefused) => S::Deleting,
        (S::Intent, E::UpdateRefused { previous: p @ (S::Intent | S::Ready) }) => p,
        (S::Intent | S::Ready | S::Deleting, E::Remove) => S::Deleting,
        (S::Deleting, E::ResourcesGone) => S::Deleted,
        _ => return Err(illegal(from, event)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointEvent as E;
    use EndpointState as S;

    fn events() -> Vec<EndpointEvent> {
        let mut v = vec![
            E::Deploy,
            E::Converged,
            E::Drifted,
            E::Vanished,
            E::CreateRefused,
            E::Remove,
            E::ResourcesGone,
        ];
        v.extend(S::ALL.map(|previous| E::UpdateRefused { previous }));
        v
    }

    /// Every legal edge, written out independently of the transition function.
    const LEGAL: [(S, E, S); 12] = [
        (S::Intent, E::Deploy, S::Intent),
        (S::Ready, E::Deploy, S::Intent),
        (S::Intent, E::Converged, S::Ready),
        (S::Ready, E::Drifted, S::Intent),
        (S::Ready, E::Vanished, S::Intent),
        (S::Intent, E::CreateRefused, S::Deleting),
        (S::Intent, E::UpdateRefused { previous: S::Intent }, S::Intent),
        (S::Intent, E::UpdateRefused { previous: S::Ready }, S::Ready),
        (S::Intent, E::Remove, S::Deleting),
        (S::Ready, E::Remove, S::Deleting),
        (S::Deleting, E::Remove, S::Deleting),
        (S::Deleting, E::ResourcesGone, S::Deleted),
    ];

    #[test]
    fn every_legal_edge_goes_where_the_table_says_and_every_other_is_rejected() {
        for (f, e, t) in LEGAL {
            assert_eq!(endpoint_transition(f, e), Ok(t), "{f:?} --{e:?}-->");
        }
        let mut rejected = 0;
        for f in S::ALL {
            for e in events() {
                if !LEGAL.iter().any(|(lf, le, _)| *lf == f && *le == e) {
                    assert!(endpoint_transition(f, e).is_err(), "{f:?} --{e:?}--> must be illegal");
                    rejected += 1;
                }
            }
        }
        assert_eq!(rejected, S::ALL.len() * events().len() - LEGAL.len());
        assert!(events().into_iter().all(|e| endpoint_transition(S::Deleted, e).is_err()));
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("gone"), None);
    }
}
