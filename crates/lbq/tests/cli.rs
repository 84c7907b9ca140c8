//! The `lbq` binary as users run it: exit codes, JSON reports, trace files, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lbq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbq"))
        .args(args)
        .output()
        .expect("lbq runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

fn property<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no property {name}"))
}

/// A path for a test's file, in cargo's scratch folder for integration tests (under
/// target/, so runs leave nothing in the system's temporary folder); one folder per test
/// process, as nextest runs each test in its own.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn no_arguments_prints_both_loops_and_verifies_fixed() {
    let o = lbq(&[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("1. livelock (8d68717a4"), "{out}");
    assert!(out.contains("2. purge (53f52e67a"), "{out}");
    assert_eq!(out.matches("cycle starts here").count(), 2, "{out}");
    assert_eq!(out.matches("verified: variant fixed").count(), 6, "{out}");
    assert!(!out.contains("NOT VERIFIED"), "{out}");
}

#[test]
fn check_livelock_json_reports_a_lasso_and_exits_1() {
    let o = lbq(&["check", "--variant", "livelock", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json(&o);
    for key in [
        "variant",
        "scenario",
        "engine",
        "complete",
        "states",
        "unique_states",
        "max_depth",
        "seconds",
    ] {
        assert!(!r[key].is_null(), "missing {key}");
    }
    assert_eq!(r["variant"], "livelock");
    assert_eq!(r["complete"], true);
    let p = property(&r, "assign_terminates");
    assert_eq!(p["status"], "violated");
    assert_eq!(p["kind"], "fair-cycle");
    let start = p["trace"]["cycle_start"]
        .as_u64()
        .expect("a lasso has a cycle start");
    assert!(start < p["trace"]["steps"].as_array().unwrap().len() as u64);
}

#[test]
fn check_toctou_reports_the_orphan() {
    let r = json(&lbq(&["check", "--variant", "toctou", "--json"]));
    assert_eq!(property(&r, "no_orphan_pendconn")["status"], "violated");
}

#[test]
fn check_purge_reports_a_termination_violation() {
    let r = json(&lbq(&["check", "--variant", "purge", "--json"]));
    assert_eq!(property(&r, "assign_can_return")["status"], "violated");
    assert_eq!(property(&r, "assign_terminates")["status"], "violated");
}

#[test]
fn check_fixed_holds_completely_on_every_preset_and_exits_0() {
    for preset in [
        "seed",
        "one-thread",
        "hash",
        "two-servers",
        "timeouts",
        "first",
    ] {
        let o = lbq(&[
            "check",
            "--variant",
            "fixed",
            "--scenario",
            preset,
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{preset}: {}", stdout(&o));
        let r = json(&o);
        assert_eq!(r["complete"], true, "{preset}");
        for p in r["properties"].as_array().unwrap() {
            assert!(
                p["status"] == "holds" || p["status"] == "reached",
                "{preset}: {p}"
            );
        }
    }
}

#[test]
fn text_report_prints_the_trace_in_haproxy_terms() {
    let o = lbq(&["check", "--variant", "livelock"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(out.contains("FAIL assign_terminates"), "{out}");
    assert!(
        out.contains("pendconn_must_try_again → 1: entry removed, balance_again"),
        "{out}"
    );
    assert!(out.contains("px->served"), "{out}");
}

#[test]
fn a_bounded_check_exits_3_with_an_incomplete_report() {
    let o = lbq(&[
        "check",
        "--variant",
        "fixed",
        "--max-states",
        "200",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let r = json(&o);
    assert_eq!(r["complete"], false);
    assert!(r["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["status"] == "incomplete"));
    let t = lbq(&["check", "--variant", "fixed", "--timeout", "0.000001"]);
    assert_eq!(t.status.code(), Some(3), "{}", stdout(&t));
    assert!(stdout(&t).contains("INCOMPLETE"));
}

#[test]
fn trace_out_writes_a_whole_json_trace() {
    let path = scratch("livelock.json");
    let o = lbq(&[
        "check",
        "--variant",
        "livelock",
        "--trace-out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["format"], "lbq-trace");
    assert_eq!(doc["variant"], "livelock");
    assert!(doc["trace"]["actions"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert!(doc["scenario"]["toml"]
        .as_str()
        .unwrap()
        .contains("[[servers]]"));
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn list_shows_presets_and_variants() {
    let out = stdout(&lbq(&["list"]));
    for name in [
        "seed",
        "one-thread",
        "hash",
        "two-servers",
        "timeouts",
        "first",
    ] {
        assert!(out.contains(name), "{out}");
    }
    for v in [
        "toctou",
        "livelock",
        "purge",
        "upstream",
        "fixed",
        "bounded-retry",
        "change-counter",
    ] {
        assert!(out.contains(v), "{out}");
    }
    // Each preset says how many HAProxy threads it stands for.
    assert!(out.contains("3 HAProxy threads (2 + the CLI's)"), "{out}");
}

#[test]
fn the_cli_on_thread_1_makes_one_thread_a_single_threaded_haproxy() {
    // ca275d99c: "including a single threaded one": purge loops on one thread, ca275 not.
    let purge = json(&lbq(&[
        "check",
        "--scenario",
        "one-thread",
        "--variant",
        "purge",
        "--cli-thread",
        "1",
        "--json",
    ]));
    assert_eq!(property(&purge, "assign_terminates")["status"], "violated");
    let ca275 = json(&lbq(&[
        "check",
        "--scenario",
        "one-thread",
        "--variant",
        "ca275",
        "--cli-thread",
        "1",
        "--json",
    ]));
    assert_eq!(property(&ca275, "assign_terminates")["status"], "holds");
    assert_eq!(property(&ca275, "maxconn_respected")["status"], "holds");
    let free = json(&lbq(&[
        "check",
        "--scenario",
        "one-thread",
        "--variant",
        "ca275",
        "--cli-thread",
        "free",
        "--json",
    ]));
    assert_eq!(property(&free, "maxconn_respected")["status"], "violated");
}

/// Each bad input: exit 2, one message on stderr naming the field and what was expected.
#[test]
fn bad_scenario_files_exit_2_naming_the_field() {
    let good = "algo = \"roundrobin\"\nthreads = 2\nstreams = [1, 2]\ncli = [\"disable server px/s1\"]\n\n[[servers]]\nname = \"s1\"\nmaxconn = 1\n";
    let cases: &[(&str, String, &str)] = &[
        (
            "unknown field",
            good.replace("threads = 2", "threads = 2\ncolour = 3"),
            "unknown field `colour`",
        ),
        (
            "wrong type",
            good.replace("threads = 2", "threads = \"two\""),
            "threads",
        ),
        (
            "zero servers",
            good.split("[[servers]]").next().unwrap().to_string() + "servers = []\n",
            "`servers`",
        ),
        (
            "maxconn out of range",
            good.replace("maxconn = 1", "maxconn = 99"),
            "`servers[0].maxconn`: expected an integer from 0 to 8",
        ),
        (
            "threads out of range",
            good.replace("threads = 2", "threads = 0"),
            "`threads`: expected an integer from 1 to 8",
        ),
        (
            "stream on a missing thread",
            good.replace("[1, 2]", "[1, 3]"),
            "`streams[1]`: expected an integer from 1 to 2",
        ),
        ("no streams", good.replace("[1, 2]", "[]"), "`streams`"),
        (
            "unknown algorithm",
            good.replace("roundrobin", "leastconn"),
            "`algo`: expected one of roundrobin",
        ),
        (
            "unknown variant",
            format!("variant = \"yolo\"\n{good}"),
            "`variant`: expected one of toctou",
        ),
        (
            "unknown server in cli",
            good.replace("px/s1\"]", "px/s9\"]"),
            "`cli[0]`",
        ),
        (
            "bad cli verb",
            good.replace("disable server", "reboot server"),
            "`cli[0]`",
        ),
        (
            "not toml",
            "this is = = not toml".to_string(),
            "scenario file, line 1",
        ),
        (
            "missing field",
            good.replace("algo = \"roundrobin\"\n", ""),
            "scenario file, line 1: missing field `algo`",
        ),
        (
            "unknown atomics",
            format!("atomics = \"sometimes\"\n{good}"),
            "`atomics`: expected \"in-section\" or \"split\", found \"sometimes\"",
        ),
    ];
    for (what, text, expected) in cases {
        let path = scratch(&format!("{}.toml", what.replace(' ', "-")));
        std::fs::write(&path, text).unwrap();
        let o = lbq(&["check", "--scenario", path.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains(expected),
            "{what}: expected `{expected}` in: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{what}: one message: {err}");
        assert!(stdout(&o).is_empty(), "{what}: nothing on stdout");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
    let bytes = scratch("bytes.toml");
    std::fs::write(&bytes, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let o = lbq(&["check", "--scenario", bytes.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("UTF-8"));
}

/// `--reduction`: what each stores, said in the report, the verdict unchanged; with queue
/// timers streams are not renamed, and the report says why.
#[test]
fn check_reports_its_reduction() {
    let unique = |args: &[&str]| {
        let o = lbq(args);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        (
            v["reduction"].clone(),
            v["unique_states"].clone(),
            v["reduction_note"].clone(),
        )
    };
    let base = ["check", "--variant", "fixed", "--json"];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { base.iter().chain(extra).copied().collect() };
    assert_eq!(unique(&with(&[])).1, 39_613);
    assert_eq!(unique(&with(&["--reduction", "streams"])).0, "streams");
    assert_eq!(unique(&with(&["--reduction", "dead"])).1, 51_199);
    let off = unique(&with(&["--reduction", "off"]));
    assert_eq!((off.0, off.1), ("off".into(), 72_915.into()));
    let timers = unique(&with(&["--scenario", "timeouts"]));
    assert_eq!(timers.0, "dead");
    assert!(
        timers
            .2
            .as_str()
            .is_some_and(|n| n.contains("queue timers")),
        "{:?}",
        timers.2
    );
    let text = lbq(&["check", "--variant", "fixed"]);
    assert!(
        stdout(&text).contains("unique up to finished streams and renaming"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["check", "--variant", "nope"][..],
        &["check", "--scenario", "/no/such/file.toml"],
        &["check", "--max-states", "0"],
        &["check", "--timeout", "-1"],
        &["check", "--max-states", "many"],
        &["check", "--atomics", "some"],
        &["check", "--atomics", "both"],
        &["check", "--reduction", "some"],
        &["check", "--cli-thread", "3"],
        &["check", "--cli-thread", "0"],
        &["check", "--cli-thread", "first"],
        &["check", "--model", "actor", "--cli-thread", "1"],
        &["shuttle", "--iterations", "0"],
        &["shuttle", "--round-bound", "0"],
        &["shuttle", "--scheduler", "pct", "--depth", "0"],
        &["shuttle", "--timeout", "0"],
        &["shuttle", "--scheduler", "dfs"],
        &["stress", "--seconds", "0"],
        &["stress", "--watchdog-ms", "0"],
        &["replay", "--shuttle", "/no/such/schedule.json"],
        &["frobnicate"],
    ] {
        let o = lbq(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    let cli = lbq(&["check", "--cli-thread", "3"]);
    assert!(
        stderr(&cli).contains("--cli-thread: expected a thread from 1 to 2 or `free`"),
        "{}",
        stderr(&cli)
    );
    let actor = lbq(&["check", "--model", "actor", "--cli-thread", "1"]);
    assert!(stderr(&actor).contains("cli_thread"), "{}", stderr(&actor));
    let missing = lbq(&["check", "--scenario", "/no/such/file.toml"]);
    assert!(
        stderr(&missing).contains("not a preset"),
        "{}",
        stderr(&missing)
    );
    let both = lbq(&["check", "--atomics", "both"]);
    assert!(
        stderr(&both).contains("--atomics both: only with --random"),
        "{}",
        stderr(&both)
    );
}

#[test]
fn random_scenarios_draw_split_atomics_unless_told_otherwise() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--random",
            "12",
            "--seed",
            "5",
            "--max-states",
            "3000",
        ];
        args.extend_from_slice(extra);
        let o = lbq(&args);
        let out = stdout(&o);
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{out}{}",
            stderr(&o)
        );
        out
    };
    let split_lines = |out: &str| {
        out.lines()
            .filter(|l| l.contains("srv maxconn") && l.contains(" split"))
            .count()
    };
    let default = run(&[]);
    assert!(
        default.starts_with(
            "lbq check --random 12 --seed 0x5 --variant fixed --atomics both --abortonclose on:"
        ),
        "{default}"
    );
    let drawn = split_lines(&default);
    assert!(drawn > 0 && drawn < 12, "{drawn} of 12 split:\n{default}");
    let split = run(&["--atomics", "split"]);
    assert!(
        split.contains("--atomics split --abortonclose on:"),
        "{split}"
    );
    assert_eq!(split_lines(&split), 12, "{split}");
    let inside = run(&["--atomics", "in-section"]);
    assert_eq!(split_lines(&inside), 0, "{inside}");
    // The printed command repeats the run: the same scenarios, the same state counts.
    let shape = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("srv maxconn"))
            .map(|l| l.split(" states").next().unwrap_or(l).to_string())
            .collect()
    };
    assert_eq!(shape(&run(&["--atomics", "both"])), shape(&default));
    // `--abortonclose both` draws it last: some scenarios lose it, the rest is the same.
    let both = run(&["--abortonclose", "both"]);
    assert!(both.contains("--abortonclose both:"), "{both}");
    let off = both
        .lines()
        .filter(|l| l.contains(" no-abortonclose"))
        .count();
    assert!(
        off > 0 && off < 12,
        "{off} of 12 without abortonclose:\n{both}"
    );
    let drawn = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("srv maxconn"))
            .map(|l| {
                let l = l.replace(" no-abortonclose", "");
                let head = l.split(" states").next().unwrap_or(&l).trim_end();
                head.rsplit_once(' ')
                    .map_or(head, |(h, _)| h)
                    .trim_end()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(drawn(&both), drawn(&default));
}

#[test]
fn a_valid_scenario_file_is_checked() {
    let path = scratch("mine.toml");
    std::fs::write(
        &path,
        "variant = \"livelock\"\nalgo = \"roundrobin\"\nthreads = 1\nstreams = [1, 1, 1, 1]\n\
         cli = [\"disable server px/web\", \"shutdown sessions server px/web\", \"enable server px/web\"]\n\n\
         [[servers]]\nname = \"web\"\nmaxconn = 1\n",
    )
    .unwrap();
    let r = json(&lbq(&[
        "check",
        "--scenario",
        path.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(r["scenario"], "mine");
    assert_eq!(r["variant"], "livelock");
    assert_eq!(property(&r, "assign_can_return")["status"], "violated");
}

#[test]
fn mermaid_output_is_a_sequence_diagram_with_the_loop() {
    let o = lbq(&["check", "--variant", "livelock", "--format", "mermaid"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("%% "), "{out}");
    assert!(out.contains("sequenceDiagram\n"), "{out}");
    assert!(out.contains("participant BQ as backend queue"), "{out}");
    assert!(out.contains("participant T2 as thread T2"), "{out}");
    assert!(out.contains("    loop forever\n"), "{out}");
    assert!(out.contains("T1->>BQ: "), "{out}");
    // Every `loop` is closed; no message line carries Mermaid's separators.
    assert_eq!(
        out.matches("loop forever").count(),
        out.matches("\n    end\n").count(),
        "{out}"
    );
    for line in out
        .lines()
        .filter(|l| l.contains("->>") || l.contains("Note over"))
    {
        let text = line.split_once(": ").map(|(_, t)| t).unwrap_or_default();
        assert!(!text.contains(';') && !text.contains('#'), "{line}");
    }
}

#[test]
fn dot_output_draws_the_lasso() {
    let o = lbq(&["check", "--variant", "purge", "--format", "dot"]);
    let out = stdout(&o);
    assert!(out.contains("digraph lasso {"), "{out}");
    assert!(out.contains("color=red"), "{out}");
    let fixed = stdout(&lbq(&["check", "--variant", "fixed", "--format", "dot"]));
    assert!(fixed.starts_with("// no property violated"), "{fixed}");
}

#[test]
fn no_progress_line_when_stderr_is_not_a_terminal() {
    let o = lbq(&["check", "--variant", "fixed", "--scenario", "two-servers"]);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn replay_reproduces_a_saved_livelock_and_says_where_fixed_departs() {
    let path = scratch("replay-livelock.json");
    let p = path.to_str().unwrap();
    lbq(&["check", "--variant", "livelock", "--trace-out", p]);
    let same = lbq(&["replay", p]);
    assert_eq!(same.status.code(), Some(1), "{}", stdout(&same));
    assert!(
        stdout(&same).contains("still violated"),
        "{}",
        stdout(&same)
    );
    let fixed = lbq(&["replay", p, "--variant", "fixed"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stdout(&fixed));
    let json: serde_json::Value =
        serde_json::from_slice(&lbq(&["replay", p, "--json"]).stdout).unwrap();
    assert_eq!(json["violated"], true);
    let bad = scratch("not-a-trace.json");
    std::fs::write(&bad, "{\"format\": \"something-else\"}").unwrap();
    let o = lbq(&["replay", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not an lbq trace file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ctrl_c_stops_a_check_with_a_partial_report_and_exit_3() {
    let big = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/two-cycles.toml"
    );
    let child = Command::new(env!("CARGO_BIN_EXE_lbq"))
        // Unreduced, so that it is still exploring (about 10 s) when the signal comes:
        // reduced, two-cycles can finish within the 1.5 s wait.
        .args([
            "check",
            "--scenario",
            big,
            "--variant",
            "fixed",
            "--reduction",
            "off",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("lbq runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let r = json(&o);
    assert_eq!(r["complete"], false);
    assert_eq!(r["stopped_by"], "interrupted");
    assert!(r["properties"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["status"] != "holds"));
}

#[test]
fn a_memory_ceiling_stops_a_check_with_exit_3() {
    let big = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scenarios/three-threads.toml"
    );
    let o = lbq(&[
        "check",
        "--scenario",
        big,
        "--variant",
        "fixed",
        "--max-memory",
        "64",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let r = json(&o);
    assert_eq!(r["stopped_by"], "max_memory");
    assert!(r["unique_states"].as_u64().unwrap() > 0);
}

/// The same command twice prints the same report, timing aside.
#[test]
fn reports_are_deterministic() {
    let run = || {
        let mut r = json(&lbq(&["check", "--variant", "purge", "--json"]));
        r["seconds"] = serde_json::Value::Null;
        r
    };
    assert_eq!(run(), run());
    let text = |args: &[&str]| stdout(&lbq(args));
    assert_eq!(
        text(&["check", "--variant", "livelock", "--format", "mermaid"]),
        text(&["check", "--variant", "livelock", "--format", "mermaid"])
    );
}

/// `lbq shuttle` finds the loop at the reproducer's scale, writes the failing schedule
/// whole, and `lbq replay --shuttle` runs that schedule again to the same loop.
#[test]
fn shuttle_finds_the_livelock_and_its_schedule_replays() {
    let file = scratch("livelock-schedule.json");
    let o = lbq(&[
        "shuttle",
        "--variant",
        "livelock",
        "--iterations",
        "200",
        "--stop-at-first",
        "--schedule-out",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["seed"], 1);
    let first = &r["found"][0];
    assert!(first["iteration"].as_u64().unwrap() >= 1);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["format"], "lbq-shuttle");
    assert_eq!(saved["found"]["property"], first["property"]);
    let replay = lbq(&["replay", "--shuttle", file.to_str().unwrap()]);
    let out = stdout(&replay);
    assert_eq!(replay.status.code(), Some(1), "{out}{}", stderr(&replay));
    assert!(out.contains("REPRODUCED"), "{out}");
    let mut broken = saved.clone();
    broken["found"]["schedule"] = serde_json::json!("not a schedule");
    let bad = scratch("broken-schedule.json");
    std::fs::write(&bad, broken.to_string()).unwrap();
    let o = lbq(&["replay", "--shuttle", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("found.schedule"), "{}", stderr(&o));
}

#[test]
fn shuttle_and_stress_run_fixed_clean() {
    let o = lbq(&["shuttle", "--variant", "fixed", "--iterations", "200"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("200 of 200 iterations"), "{out}");
    assert!(out.contains("not a proof"), "{out}");
    let o = lbq(&["stress", "--variant", "fixed", "--seconds", "1", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert!(r["runs"].as_u64().unwrap() >= 1);
    assert!(r["hit"].is_null());
}

/// The OS-threads engine must find the loop the seed commit's watchdog killed: on its
/// reproducer (`repro`: 4 threads, 40 streams, maintenance cycles) under `livelock`,
/// one call of assign_server_and_queue loops past the watchdog while every other actor
/// runs or cannot. It took 70–135 runs (8–15 s) on the 2-core machine; the budget is
/// only spent if the engine stops finding it.
#[test]
fn stress_finds_the_livelock_of_the_seed_commit_on_its_reproducer() {
    let o = lbq(&[
        "stress",
        "--variant",
        "livelock",
        "--seconds",
        "180",
        "--watchdog-ms",
        "500",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = json(&o);
    let hit = &r["hit"];
    assert_eq!(hit["failure"]["kind"], "livelock", "{r}");
    assert_eq!(hit["failure"]["starved_others"], false, "{r}");
    assert!(hit["failure"]["rounds"].as_u64().unwrap() > 1_000, "{r}");
    assert_eq!(hit["run"], r["runs"], "the campaign stops at the hit: {r}");
    assert!(!hit["history"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["watchdog_ms"], 500);
}

#[test]
fn shuttle_is_deterministic_for_a_seed() {
    let run = || {
        let o = lbq(&[
            "shuttle",
            "--variant",
            "purge",
            "--iterations",
            "100",
            "--seed",
            "7",
            "--schedule-out",
            scratch("det.json").to_str().unwrap(),
            "--json",
        ]);
        let mut r = json(&o);
        r["seconds"] = serde_json::Value::Null;
        for f in r["found"].as_array_mut().unwrap() {
            f["seconds"] = serde_json::Value::Null;
        }
        r
    };
    assert_eq!(run(), run());
}

#[test]
fn the_actor_model_refuses_split_atomics() {
    let path = scratch("split.toml");
    std::fs::write(
        &path,
        "atomics = \"split\"\nalgo = \"roundrobin\"\nthreads = 1\nstreams = [1]\n\n[[servers]]\nname = \"s1\"\n",
    )
    .unwrap();
    let o = lbq(&[
        "explore",
        "--model",
        "actor",
        "--port",
        "0",
        "--scenario",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--model actor"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

/// Candidate patches without recompiling: `--with` turns switches on or off on top of
/// the variant, the report names them, a scenario file's `behaviour` does the same, and
/// an unknown switch is exit 2 naming it.
#[test]
fn with_switches_checks_a_candidate_patch() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../findings/toctou.toml");
    let plain = lbq(&["check", "--scenario", scenario, "--json"]);
    assert_eq!(plain.status.code(), Some(1), "{}", stderr(&plain));
    assert_eq!(json(&plain)["variant"], "master");
    assert_eq!(
        property(&json(&plain), "no_orphan_pendconn")["status"],
        "violated"
    );

    let patched = lbq(&[
        "check",
        "--scenario",
        scenario,
        "--with",
        "+queued-stream-checks-dequeuer",
        "--json",
    ]);
    assert_eq!(patched.status.code(), Some(0), "{}", stdout(&patched));
    assert_eq!(
        json(&patched)["variant"],
        "master +queued-stream-checks-dequeuer"
    );

    // The same change from the scenario file, and taken back by --with.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("with-behaviour.toml");
    let text = std::fs::read_to_string(scenario).unwrap().replace(
        "variant = \"master\"",
        "variant = \"master\"\nbehaviour = [\"+queued-stream-checks-dequeuer\"]",
    );
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(
        lbq(&["check", "--scenario", f, "--json"]).status.code(),
        Some(0)
    );
    let undone = lbq(&[
        "check",
        "--scenario",
        f,
        "--with",
        "-queued-stream-checks-dequeuer",
    ]);
    assert_eq!(undone.status.code(), Some(1), "{}", stdout(&undone));

    let bad = lbq(&["check", "--variant", "master", "--with", "+no-such-switch"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("--with: unknown switch `no-such-switch`"),
        "{}",
        stderr(&bad)
    );
    std::fs::write(&file, "algo = \"roundrobin\"\nthreads = 1\nstreams = [1]\nbehaviour = [\"+nope\"]\n[[servers]]\nname = \"s1\"\n").unwrap();
    let bad = lbq(&["check", "--scenario", f]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("`behaviour[0]`"), "{}", stderr(&bad));
}

#[test]
fn list_switches_names_every_switch_with_its_commit() {
    let o = lbq(&["list", "--switches"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for sw in lbqueue::Switch::ALL {
        assert!(text.contains(sw.name()), "{} missing:\n{text}", sw.name());
    }
    assert!(text.contains("3372a2ea0"), "{text}");
    assert!(
        text.contains("set in: ready-srv, master, master-fixed"),
        "{text}"
    );
}

/// `lbq check --model actor`: the actor system from the command line, same verdicts as
/// the step model; it refuses split atomics with exit 2.
#[test]
fn check_runs_the_actor_model_too() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../findings/toctou.toml");
    let step = lbq(&["check", "--scenario", scenario, "--json"]);
    let actor = lbq(&[
        "check",
        "--scenario",
        scenario,
        "--model",
        "actor",
        "--json",
    ]);
    assert_eq!(actor.status.code(), Some(1), "{}", stderr(&actor));
    let (step, actor) = (json(&step), json(&actor));
    assert_eq!(actor["engine"], "stateright-actor");
    assert_eq!(actor["complete"], true);
    for p in step["properties"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert_eq!(property(&actor, name)["status"], p["status"], "{name}");
    }
    let split = lbq(&["check", "--model", "actor", "--atomics", "split"]);
    assert_eq!(split.status.code(), Some(2));
    assert!(
        stderr(&split).contains("--model actor"),
        "{}",
        stderr(&split)
    );
}
