//! The engine's integration suites against the emulator on a manual clock.
//!
//! One test binary per crate, a module per suite: the stack is linked once, not once per file
//! (most of CI's time was linking). Suites that install a global log subscriber keep binaries
//! of their own.

mod endpoints;
mod learned;
mod multi_node;
mod pod_jobs;
mod queued;
mod refused_key;
mod resume;
mod sagas;
mod serverless_jobs;
