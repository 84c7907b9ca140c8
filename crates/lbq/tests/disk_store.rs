//! `lbq check --store disk` from the command line: its trace replays, and a store
//! directory that cannot be written is bad input (exit 2, naming the flag).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lbq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbq"))
        .args(args)
        .output()
        .expect("lbq runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_livelock_found_with_the_disk_store_replays() {
    let trace = scratch("disk-livelock.json");
    let store = scratch("store");
    let t = trace.to_str().unwrap();
    let o = lbq(&[
        "check",
        "--variant",
        "livelock",
        "--store",
        "disk",
        "--store-dir",
        store.to_str().unwrap(),
        "--trace-out",
        t,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("disk store: 33544 states"), "{err}");
    let replay = lbq(&["replay", t]);
    assert_eq!(
        replay.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert_eq!(
        std::fs::read_dir(&store).unwrap().count(),
        0,
        "run directory removed"
    );
}

#[test]
fn an_unwritable_store_dir_is_bad_input() {
    let file = scratch("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let o = lbq(&[
        "check",
        "--store",
        "disk",
        "--store-dir",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--store-dir"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
