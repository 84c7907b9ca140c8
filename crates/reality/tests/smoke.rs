//! CI smoke test: the reproducer on Debian's haproxy for ~20 s. It asserts that the
//! harness works (requests served, CLI cycles done, a report written that parses, every
//! process it started gone afterwards), not a timing or an outcome.
//!
//! Skipped, with a printed message, where Debian's haproxy, nginx or wrk is missing;
//! under CI (`CI=true`) their absence is a failure.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use lbqueue_reality::procs::alive_in_group;
use lbqueue_reality::report::{self, RunReport};
use lbqueue_reality::run::Target;
use lbqueue_reality::{build, run_once, verdict, Params, Tools};

const HAPROXY: &str = "/usr/sbin/haproxy";

#[test]
fn the_reproducer_runs_on_debians_haproxy_and_leaves_nothing_behind() {
    let tools = Tools::default();
    let missing: Vec<String> = [Path::new(HAPROXY), &tools.nginx, &tools.wrk]
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        let msg = format!(
            "reality smoke test: {} not installed (apt-get install haproxy nginx-light wrk)",
            missing.join(", ")
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}: required under CI");
        }
        eprintln!("SKIPPED {msg}");
        return;
    }

    let params = Params {
        seconds: 20,
        ..Params::default()
    };
    let work = std::env::temp_dir().join(format!("lbq-reality-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let version = build::version(Path::new(HAPROXY)).unwrap();
    let target = Target {
        label: "debian-2.6",
        binary: Path::new(HAPROXY),
        version: &version,
        model: Some(verdict::model_verdict("toctou", params.abortonclose)),
    };
    let stop = AtomicBool::new(false);
    let mut lines = 0;
    let r = run_once(&target, &params, &tools, (1, 1), &work, &stop, &mut |l| {
        lines += 1;
        eprintln!("{l}");
    })
    .unwrap();
    let path = work.join("report.json");
    report::write_json(&path, &r).unwrap();
    let parsed: RunReport = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    eprintln!("{}", parsed.one_line());

    assert!(lines > 0, "no progress line");
    assert!(parsed.requests() > 0, "no request served: {parsed:?}");
    assert!(parsed.cum_req.unwrap_or(0) > 0, "show info gave no CumReq");
    assert!(parsed.cli_cycles > 0, "no CLI cycle done: {parsed:?}");
    assert_eq!(parsed.params, params);
    assert!(parsed.wrk.is_some(), "wrk's summary missing");
    let names: Vec<&str> = parsed.processes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["nginx", "haproxy", "wrk"]);
    for (name, pgid) in &parsed.processes {
        let left = alive_in_group(*pgid);
        assert!(
            left.is_empty(),
            "{name} (group {pgid}) left behind: {left:?}"
        );
        assert!(
            !Path::new(&format!("/proc/{pgid}")).exists(),
            "{name} (pid {pgid}) still exists"
        );
    }
    std::fs::remove_dir_all(&work).unwrap();
}
