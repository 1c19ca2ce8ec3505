//! `podwarden-tabular`: the tabular workloads as a program (see `podwarden_tabular::cli`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = podwarden_tabular::cli::Cli::parse();
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(podwarden_tabular::cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}
