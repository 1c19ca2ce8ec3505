//! Crash points: the steps of the sagas where a test kills the engine, to show that whatever a
//! crash leaves behind is healed by the reconcilers (no pod left billing, no duplicate, no job
//! without a final state).
//!
//! The same names serve two tests: the crash test (`cli/tests/crash.rs`) aborts the server
//! process at a point (`PODWARDEN_CRASH_AT`, read by the server, never by the engine), and the
//! sagas' own tests fail the step in-process and start a fresh engine on the same database.

use std::fmt;
use std::str::FromStr;

/// A step of a saga where a crash can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPoint {
    /// Pod launch: before the attempt's intent row is written.
    BeforeIntent,
    /// Pod launch: the intent is committed, the pod not yet asked for.
    AfterIntent,
    /// Pod launch: the provider made the pod; its id is not recorded.
    AfterCreate,
    /// Pod launch: the pod's id is recorded.
    AfterRecord,
    /// Teardown: before the terminate call.
    BeforeTerminate,
    /// Teardown: the terminate was accepted; the attempt is not yet settled.
    AfterTerminate,
    /// Endpoint deploy: the row is committed; no template looked for or made.
    BeforeTemplateCreate,
    /// Endpoint deploy: the template exists and is recorded; no endpoint yet.
    AfterTemplate,
    /// Endpoint deploy: the endpoint exists; the row is not yet `ready`.
    AfterEndpointCreate,
}

impl CrashPoint {
    /// Every crash point, in saga order (checked against `sagas::steps`, which says where
    /// each is).
    pub const ALL: [CrashPoint; 9] = [
        Self::BeforeIntent,
        Self::AfterIntent,
        Self::AfterCreate,
        Self::AfterRecord,
        Self::BeforeTerminate,
        Self::AfterTerminate,
        Self::BeforeTemplateCreate,
        Self::AfterTemplate,
        Self::AfterEndpointCreate,
    ];

    /// The kebab-case name (`after-create`), as `PODWARDEN_CRASH_AT` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeIntent => "before-intent",
            Self::AfterIntent => "after-intent",
            Self::AfterCreate => "after-create",
            Self::AfterRecord => "after-record",
            Self::BeforeTerminate => "before-terminate",
            Self::AfterTerminate => "after-terminate",
            Self::BeforeTemplateCreate => "before-template-create",
            Self::AfterTemplate => "after-template",
            Self::AfterEndpointCreate => "after-endpoint-create",
        }
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CrashPoint {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown crash point {s:?}; one of {}", names.join(", "))
        })
    }
}

/// What reaching the crash point does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCrash {
    /// Abort the process with no cleanup (the crash test's server).
    AbortProcess,
    /// Fail the step with `EngineError::Crashed` and stop the engine's current pass; the test
    /// then drops the engine and starts another on the same database.
    FailStep,
}

/// A crash to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failpoint {
    pub at: CrashPoint,
    pub then: OnCrash,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_round_trips_through_its_name_and_unknown_names_are_refused() {
        for p in CrashPoint::ALL {
            assert_eq!(p.as_str().parse::<CrashPoint>(), Ok(p));
        }
        let e = "after-lunch".parse::<CrashPoint>().expect_err("unknown");
        assert!(e.contains("after-create"), "{e}");
    }
}
