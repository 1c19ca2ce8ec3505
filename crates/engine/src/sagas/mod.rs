//! The sagas: multi-step creations on a provider, each written so that a crash between any two
//! steps leaves something a reconciler finishes or undoes. Their steps are declared once, as
//! data, in `steps` (forward action, crash points, what heals a crash there): the crash tests
//! inject a crash at every point it names and the docs' table is generated from it.

pub mod endpoint_deploy;
pub mod pod_launch;
pub mod steps;

pub(crate) use pod_launch::InFlight;
