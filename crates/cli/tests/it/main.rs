//! The CLI's suites: the `podwarden` binary run as a user runs it (its own data directory, the
//! embedded or a standalone emulator), one module per area.
//!
//! One test binary for these, a module per suite: the stack is linked once, not once per file
//! (most of CI's time was linking). The crash and replicas tests keep binaries of their own:
//! they kill servers at random moments and are kept from sharing the machine with the rest.

#[path = "../common/mod.rs"]
mod common;

mod aws;
mod bot;
mod cli;
mod doctor;
mod finetune;
mod serverless;
mod ssh;
mod volumes;
