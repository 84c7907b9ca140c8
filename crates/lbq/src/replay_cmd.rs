//! `lbq replay FILE`: re-run a saved counterexample against the current code.

use std::path::PathBuf;

use lbqueue::Variant;
use lbqueue_models::replay::{replay, TraceFile};

/// Arguments of `lbq replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A trace file written by `lbq check --trace-out` (or, with --shuttle, a
    /// schedule file written by `lbq shuttle`).
    file: PathBuf,
    /// Replay against this variant instead of the one the trace was found in.
    #[arg(long, conflicts_with = "shuttle")]
    variant: Option<String>,
    /// FILE is a failing shuttle schedule: run the threaded composition under it again.
    #[arg(long)]
    shuttle: bool,
    /// Print one JSON report instead of text.
    #[arg(long)]
    json: bool,
}

/// Exit 1 when the property is still violated (the bug reproduces), 0 when it no
/// longer is (the trace stops being valid, or the cycle no longer loops), 2 on bad input.
pub fn run(args: ReplayArgs) -> Result<u8, String> {
    if args.shuttle {
        return crate::threads_cmd::replay_shuttle(&args.file, args.json);
    }
    let at = args.file.display().to_string();
    let text = std::fs::read(&args.file).map_err(|e| format!("{at}: cannot read: {e}"))?;
    let text =
        String::from_utf8(text).map_err(|_| format!("{at}: expected a UTF-8 JSON trace file"))?;
    let file = TraceFile::parse(&text).map_err(|e| format!("{at}: {e}"))?;
    let variant = match &args.variant {
        Some(v) => Some(
            v.parse::<Variant>()
                .map_err(|e| format!("--variant: {e}"))?,
        ),
        None => None,
    };
    let report = replay(&file, variant).map_err(|e| format!("{at}: {e}"))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serializes")
        );
    } else {
        println!(
            "lbq replay {at}: {} ({} steps, found in {}) against variant {}",
            report.property, report.steps_in_file, file.variant, report.variant
        );
        print!("{}", report.trace);
        if let Some((step, why)) = &report.invalid_at {
            println!("  ---- step {step}: {why} ----");
        }
        println!("{}: {}", report.property, report.verdict);
    }
    Ok(u8::from(report.violated))
}
