//! The sagas: multi-step creations on a provider, each written so that a crash between any two
//! steps leaves something a reconciler finishes or undoes. Each file opens with its table of
//! steps (forward action | undo, or the reconciler that heals it) and is tested by injecting a
//! crash at each step (`crate::crash::CrashPoint`).

pub mod endpoint_deploy;
pub mod pod_launch;

pub(crate) use pod_launch::InFlight;
