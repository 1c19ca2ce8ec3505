//! The store's suites on SQLite and Postgres.
//!
//! One test binary per crate, a module per suite: the stack is linked once, not once per file
//! (most of CI's time was linking). Suites that install a global log subscriber keep binaries
//! of their own.

mod postgres;
mod rows;
