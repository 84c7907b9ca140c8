//! `lbq`: check HAProxy's queue logic and print counterexamples in HAProxy's words.
//!
//! Exit codes: 0 every property holds (exhaustive and complete), 1 a property is
//! violated, 2 bad input, 3 incomplete (a bound stopped the search first).

mod bench;
mod cli;
mod explore;
mod interrupt;
mod output;
mod random_cmd;
mod reality_cmd;
mod replay_cmd;
mod threads_cmd;
mod tour;
mod yardstick;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout with success; usage errors are bad input.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lbq: {e}");
            ExitCode::from(2)
        }
    }
}

/// `lbq … | head` should end quietly like any Unix tool, not panic on a closed pipe:
/// Rust ignores SIGPIPE by default, so restore the default action.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
