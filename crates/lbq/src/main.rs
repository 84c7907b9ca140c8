//! `lbq`: check HAProxy's queue logic and print counterexamples in HAProxy's words.
//!
//! Exit codes: 0 every property holds (exhaustive and complete), 1 a property is
//! violated, 2 bad input, 3 incomplete (a bound stopped the search first).

mod cli;
mod output;
mod tour;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
