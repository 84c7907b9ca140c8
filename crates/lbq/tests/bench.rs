//! `lbq bench` as users run it: one small row, JSON and text, and bad input.
//! (Needs `lbq bench` wired into the CLI.)

use std::process::{Command, Output};

fn lbq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbq"))
        .args(args)
        .output()
        .expect("lbq runs")
}

#[test]
fn bench_measures_a_row_and_the_yardstick() {
    let out = lbq(&[
        "bench",
        "--scenario",
        "one-thread",
        "--variant",
        "livelock",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    // Exact figures (CHECKS.md); timings only need to be there. The default reduction
    // stores 1,827 of the 4,024 states.
    assert_eq!(r["reduction"], "streams");
    assert_eq!(r["unique_states"], 1827);
    assert_eq!(r["complete"], true);
    assert_eq!(r["first_violation"]["property"], "backend_queue_drains");
    assert_eq!(r["first_violation"]["steps"], 13);
    for loop_ in [
        "assign_terminates",
        "assign_can_return",
        "assign_solo_terminates",
    ] {
        assert!(r["loops"][loop_]["ms"].as_f64().unwrap() > 0.0, "{loop_}");
    }
    assert!(r["states_per_s"].as_f64().unwrap() > 0.0);
    assert!(r["ratio_to_yardstick"].as_f64().unwrap() > 0.0);
    assert!(r["peak_mib"].as_f64().unwrap() > 0.0);
    assert_eq!(v["yardstick"]["unique_states"], 50_816);

    let off = lbq(&[
        "bench",
        "--scenario",
        "one-thread",
        "--variant",
        "livelock",
        "--reduction",
        "off",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&off.stdout).expect("JSON");
    assert_eq!(v["rows"][0]["unique_states"], 4024);
    assert_eq!(v["rows"][0]["first_violation"]["steps"], 13);
}

#[test]
fn bench_prints_a_table() {
    let out = lbq(&["bench", "--scenario", "one-thread", "--variant", "fixed"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("one-thread   fixed"), "{text}");
    assert!(text.contains("yardstick: two-phase commit"), "{text}");
}

#[test]
fn bench_rejects_bad_input() {
    for args in [
        &["bench", "--repeat", "0"][..],
        &["bench", "--variant", "nope"],
        &["bench", "--scenario", "no-such-preset-or-file"],
        &["bench", "--reduction", "some"],
    ] {
        let out = lbq(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
