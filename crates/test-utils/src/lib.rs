//! What podwarden's integration tests share, in one place instead of a copy per crate:
//!
//! - `emulator`: an emulator on a manual clock whose every response is checked against RunPod's
//!   pinned spec when the test ends, a test worker, fixtures;
//! - `engine`: an engine on such an emulator, on its clock;
//! - `server`: a server on its embedded emulator (fast pods and ticks), and waits on jobs
//!   through the typed API client (long-polls, no sleeping);
//! - `log`: this process's log lines, to wait on;
//! - `telegram`: a fake of Telegram's Bot API for the bot's conversations.
//!
//! Tests only: nothing here is linked into a shipped binary.

pub mod emulator;
pub mod engine;
pub mod log;
pub mod server;
pub mod telegram;
