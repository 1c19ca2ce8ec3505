//! Where a network volume made through podwarden is. The row is written `creating` before the
//! provider is asked (so a create lost to a crash is found by its resource name), becomes
//! `ready` with the provider's id, and `deleted` once the provider removed it (or refused to
//! make it). Deleted rows are history: a user's live volumes are the others.

use super::stored_names;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a network volume is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VolumeState {
    /// The row is committed; the provider's create may or may not have happened.
    Creating,
    /// The provider has it (its id is recorded).
    Ready,
    /// Removed at the provider. Final.
    Deleted,
}

impl VolumeState {
    /// Every state, for tables.
    pub const ALL: [VolumeState; 3] = [Self::Creating, Self::Ready, Self::Deleted];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Ready => "ready",
            Self::Deleted => "deleted",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

stored_names!(VolumeState);

impl fmt::Display for VolumeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for s in VolumeState::ALL {
            assert_eq!(s.as_str().parse::<VolumeState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).expect("json"), s.as_str());
        }
        assert!("gone".parse::<VolumeState>().is_err());
    }
}
