//! The server's integration suites: HTTP, auth, jobs, volumes, billing and the rest, against
//! the embedded emulator or a standalone one.
//!
//! One test binary per crate, a module per suite: the stack is linked once, not once per file
//! (most of CI's time was linking). Suites that install a global log subscriber keep binaries
//! of their own.

mod accounts;
mod api;
mod aws;
mod billing;
mod hardening;
mod images;
mod invites;
mod lost_database;
mod openapi;
mod pods;
mod spend_caps;
mod ssh;
mod volumes;
mod webhooks;
