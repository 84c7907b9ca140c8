//! `lbq check --processes N --process I` as separate OS processes over 127.0.0.1:
//! process 0's report equals the single-process check on every preset × variant (6 ×
//! 11, each well under a second in memory), three processes of two workers each find
//! the livelock and its trace replays, and bad flags or an absent peer end in exit 2
//! with a message naming the flag, never a panic or a hang. Two processes of two
//! workers with `--store disk` agree too and leave no run directory behind. Every process a test
//! starts is killed when the test ends, pass or fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lbqueue::{presets, Variant};
use lbqueue_models::check::check_with_progress;
use lbqueue_models::reduction::Reduction;
use lbqueue_models::Bounds;
use lbqueue_reality::ports::free_port;
use serde_json::Value;

/// The processes of one check, with the files their stdout and stderr go to (a pipe
/// nobody reads before the end would block a large report); killed (and reaped) when
/// dropped.
struct Processes(Vec<(Child, PathBuf, PathBuf)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (child, _, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

impl Processes {
    /// Starts one `lbq check` per process: `args`, `--process i` and `extra(i)`;
    /// process 0 first.
    fn start(processes: usize, args: &[String], extra: impl Fn(usize) -> Vec<String>) -> Self {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let mut all = Processes(Vec::new());
        for i in 0..processes {
            let out = scratch(&format!("run{run}-p{i}.out"));
            let err = scratch(&format!("run{run}-p{i}.err"));
            let child = Command::new(env!("CARGO_BIN_EXE_lbq"))
                .arg("check")
                .args(args)
                .args(["--process", &i.to_string()])
                .args(extra(i))
                .stdout(std::fs::File::create(&out).unwrap())
                .stderr(std::fs::File::create(&err).unwrap())
                .spawn()
                .expect("lbq starts");
            all.0.push((child, out, err));
        }
        all
    }

    /// Waits for every process (at most `limit`), returning their outputs in order.
    fn finish(mut self, limit: Duration) -> Vec<Output> {
        let until = Instant::now() + limit;
        let mut codes = vec![None; self.0.len()];
        while Instant::now() < until {
            for (code, (child, _, _)) in codes.iter_mut().zip(&mut self.0) {
                if code.is_none() {
                    *code = child.try_wait().unwrap();
                }
            }
            if codes.iter().all(Option::is_some) {
                return std::mem::take(&mut self.0)
                    .into_iter()
                    .zip(codes)
                    .map(|((_, out, err), status)| Output {
                        status: status.unwrap(),
                        stdout: std::fs::read(out).unwrap(),
                        stderr: std::fs::read(err).unwrap(),
                    })
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the processes did not finish within {limit:?}");
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A hostfile with `n` free ports on 127.0.0.1 (below the ephemeral range).
fn hostfile(name: &str, n: usize) -> PathBuf {
    let path = scratch(name);
    let lines: Vec<String> = (0..n)
        .map(|_| format!("127.0.0.1:{}", free_port().unwrap()))
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// `n` consecutive free ports; the first. Taken through `free_port`, which hands out
/// consecutive candidates and never the same port twice in this process, so a test
/// running alongside cannot be given one of them.
fn port_base(n: u16) -> u16 {
    loop {
        let ports: Vec<u16> = (0..n).map(|_| free_port().unwrap()).collect();
        if ports.windows(2).all(|w| w[1] == w[0] + 1) {
            return ports[0];
        }
    }
}

/// What must agree between the reports: counts, and per property verdict, note and
/// the shape of its trace.
fn summary(r: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["unique_states", "states", "max_depth", "complete"]
        .iter()
        .map(|k| format!("{k} {}", r[k]))
        .collect();
    for p in r["properties"].as_array().unwrap() {
        let trace = &p["trace"];
        out.push(format!(
            "{} {} {} {}",
            p["name"],
            p["status"],
            p["note"],
            if trace.is_null() {
                "-".to_string()
            } else {
                match trace["cycle_start"].as_u64() {
                    // A lasso: the same prefix length (its cycle may tour the same
                    // component from another entry of the same depth).
                    Some(start) => format!("cycle at {start}"),
                    None => format!("{} steps", trace["actions"].as_array().unwrap().len()),
                }
            }
        ));
    }
    out
}

/// Runs `name` × `variant` on 2 processes (with `extra` flags) and asserts that
/// process 0's report and exit code are the single-process check's, and that process 1
/// printed nothing and exited 0.
fn two_processes_agree_with_one(name: &str, variant: Variant, extra: &[&str]) {
    let scenario = presets::get(name).unwrap().with_variant(variant);
    let one = check_with_progress(
        &scenario,
        Bounds::unbounded(),
        Reduction::Streams,
        &mut |_| {},
    );
    let one = serde_json::to_value(&one).unwrap();
    let hosts = hostfile("hosts-2", 2);
    let mut args: Vec<String> = [
        "--scenario",
        name,
        "--variant",
        variant.name(),
        "--format",
        "json",
        "--processes",
        "2",
        "--hostfile",
        hosts.to_str().unwrap(),
        "--connect-timeout",
        "30",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|a| a.to_string()));
    let out = Processes::start(2, &args, |_| Vec::new()).finish(Duration::from_secs(60));
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        out[1].status.code(),
        Some(0),
        "{name} × {variant:?}: {}",
        err(&out[1])
    );
    assert!(
        out[1].stdout.is_empty(),
        "process 1 printed a report: {name} × {variant:?}"
    );
    let code = one_code(&one);
    assert_eq!(
        out[0].status.code(),
        Some(code),
        "{name} × {variant:?}: {}",
        err(&out[0])
    );
    let two: Value = serde_json::from_slice(&out[0].stdout)
        .unwrap_or_else(|e| panic!("{name} × {variant:?}: {e}: {}", err(&out[0])));
    assert_eq!(
        summary(&two),
        summary(&one),
        "{name} × {variant:?}: two processes differ from one"
    );
}

#[test]
fn two_processes_agree_with_one_on_every_preset_and_variant() {
    let mut checked = 0;
    for name in presets::names() {
        for variant in Variant::ALL {
            two_processes_agree_with_one(name, variant, &[]);
            checked += 1;
        }
    }
    assert_eq!(checked, presets::names().count() * Variant::ALL.len());
}

/// `lbq check`'s exit code for a report: 1 if a property is violated (or a
/// sometimes-property unreached), else 0 (these runs are complete).
fn one_code(r: &Value) -> i32 {
    let bad = r["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["status"] == "violated" || p["status"] == "unreached");
    i32::from(bad)
}

#[test]
fn three_processes_of_two_workers_find_the_livelock_and_its_trace_replays() {
    let trace = scratch("dist-livelock.json");
    let base = port_base(3);
    let args: Vec<String> = [
        "--variant",
        "livelock",
        "--processes",
        "3",
        "--workers",
        "2",
        "--port-base",
        &base.to_string(),
        "--trace-out",
        trace.to_str().unwrap(),
        "--connect-timeout",
        "30",
    ]
    .map(String::from)
    .to_vec();
    let out = Processes::start(3, &args, |_| Vec::new()).finish(Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out[0].stdout);
    let err = String::from_utf8_lossy(&out[0].stderr);
    assert_eq!(out[0].status.code(), Some(1), "{text}{err}");
    assert!(
        err.contains("timely: 3 process(es) x 2 worker(s): 33544 states"),
        "{err}"
    );
    assert!(text.contains("assign_terminates"), "{text}");
    for o in &out[1..] {
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty() && o.stderr.is_empty());
    }
    let replay = Command::new(env!("CARGO_BIN_EXE_lbq"))
        .args(["replay", trace.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        replay.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert!(String::from_utf8_lossy(&replay.stdout).contains("still violated"));
}

#[test]
fn two_processes_on_disk_agree_with_one_and_leave_nothing_behind() {
    let store = scratch("disk-store");
    let flags = [
        "--workers",
        "2",
        "--store",
        "disk",
        "--store-dir",
        store.to_str().unwrap(),
    ];
    two_processes_agree_with_one("seed", Variant::Livelock, &flags);
    // Each process made its run directory, one per worker inside, and removed it.
    let left: Vec<_> = std::fs::read_dir(&store).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn lbq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbq"))
        .args(args)
        .output()
        .expect("lbq runs")
}

fn assert_bad_input(o: &Output, flag: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(flag), "expected {flag} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn bad_flags_are_bad_input_naming_the_flag() {
    let two = hostfile("hosts-ok", 2);
    let one_line = hostfile("hosts-short", 1);
    let garbled = scratch("hosts-garbled");
    std::fs::write(&garbled, "127.0.0.1:1\nno-port-here\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--processes", "2", "--process", "2"], "--process 2"),
        (vec!["--processes", "0"], "--processes"),
        (vec!["--workers", "0"], "--workers"),
        (
            vec!["--processes", "2", "--hostfile", one_line.to_str().unwrap()],
            "--hostfile",
        ),
        (
            vec!["--processes", "2", "--hostfile", garbled.to_str().unwrap()],
            "--hostfile line 2",
        ),
        (
            vec!["--processes", "2", "--hostfile", "/nonexistent/hosts"],
            "--hostfile",
        ),
        (vec!["--processes", "2", "--model", "actor"], "--processes"),
        (
            vec![
                "--workers",
                "2",
                "--store",
                "disk",
                "--store-dir",
                garbled.to_str().unwrap(),
            ],
            "--store-dir",
        ),
        (vec!["--process", "1"], "--processes"),
        (
            vec![
                "--processes",
                "2",
                "--hostfile",
                two.to_str().unwrap(),
                "--port-base",
                "3000",
            ],
            "--port-base",
        ),
        (
            vec!["--processes", "2", "--port-base", "65535"],
            "--port-base",
        ),
        (
            vec!["--processes", "2", "--connect-timeout", "0"],
            "--connect-timeout",
        ),
    ];
    for (args, flag) in cases {
        let mut all = vec!["check"];
        all.extend(args);
        assert_bad_input(&lbq(&all), flag);
    }
}

#[test]
fn a_process_whose_peers_never_come_gives_up() {
    let base = port_base(2).to_string();
    let started = Instant::now();
    for (process, says) in [("1", "could not reach process 0"), ("0", "did not connect")] {
        let o = lbq(&[
            "check",
            "--processes",
            "2",
            "--process",
            process,
            "--port-base",
            &base,
            "--connect-timeout",
            "1",
        ]);
        assert_bad_input(&o, says);
        assert!(String::from_utf8_lossy(&o.stderr).contains("--connect-timeout"));
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn processes_started_with_different_worker_counts_refuse_to_run() {
    let hosts = hostfile("hosts-mixed", 2);
    let common: Vec<String> = [
        "--processes",
        "2",
        "--hostfile",
        hosts.to_str().unwrap(),
        "--connect-timeout",
        "10",
    ]
    .map(String::from)
    .to_vec();
    let procs = Processes::start(2, &common, |i| {
        vec!["--workers".to_string(), (i + 1).to_string()]
    });
    let out = procs.finish(Duration::from_secs(30));
    assert_bad_input(&out[0], "--workers");
    // Process 1 loses its peer: a clear error too, never a hang.
    assert_eq!(out[1].status.code(), Some(2));
}
