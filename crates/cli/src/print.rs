//! The CLI's one way out: data (tables, JSON, ids: what a script reads) on stdout through
//! `out!`, messages (progress, notes, warnings, errors) on stderr through `note!`.
//!
//! A client command whose stdout is closed (`podwarden ps | head`) ends quietly with 141
//! (128 + SIGPIPE), as Unix tools killed by SIGPIPE do. A long-running command (`serve`, a
//! worker) is not ended by a closed stdout: the line is dropped.

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static EXIT_ON_CLOSED_STDOUT: AtomicBool = AtomicBool::new(false);

/// A table for stdout with this header (plain without colour when `NO_COLOR` is set).
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header(header.to_vec());
    if std::env::var_os("NO_COLOR").is_some() {
        t.force_no_tty();
    }
    t
}

/// A USD amount to `places` decimals, marked when the provider's prices are simulated.
pub fn usd(v: f64, places: usize, simulated: bool) -> String {
    format!("${v:.places$}{}", if simulated { " (simulated)" } else { "" })
}

/// Client commands end on a closed stdout; servers do not (the default).
pub fn exit_on_closed_stdout(yes: bool) {
    EXIT_ON_CLOSED_STDOUT.store(yes, Ordering::Relaxed);
}

/// Writes one line of data to stdout.
pub fn out_line(args: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe
            && EXIT_ON_CLOSED_STDOUT.load(Ordering::Relaxed)
        {
            std::process::exit(141);
        }
    }
}

/// Writes one message line to stderr (a closed stderr loses the message, nothing else).
pub fn note_line(args: std::fmt::Arguments<'_>) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.write_all(b"\n"));
}

/// A line of data on stdout.
macro_rules! out {
    () => { $crate::print::out_line(format_args!("")) };
    ($($t:tt)*) => { $crate::print::out_line(format_args!($($t)*)) };
}

/// A message on stderr.
macro_rules! note {
    () => { $crate::print::note_line(format_args!("")) };
    ($($t:tt)*) => { $crate::print::note_line(format_args!($($t)*)) };
}
