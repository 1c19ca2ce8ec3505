//! The emulator's integration suites: RunPod's REST, GraphQL, S3 and serverless surfaces,
//! containers and accounts.
//!
//! One test binary per crate, a module per suite: the stack is linked once, not once per file
//! (most of CI's time was linking). Suites that install a global log subscriber keep binaries
//! of their own.

mod accounts;
mod bad_input;
mod client_errors;
mod containers;
mod global_networking;
mod pods;
mod queries;
mod s3;
mod serverless;
mod spec_conformance;
