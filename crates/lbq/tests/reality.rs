//! `lbq reality`'s bad input: one message naming the field, exit 2, nothing started.
//! (The reproducer itself is exercised by crates/reality/tests/smoke.rs.)

use std::process::Command;

fn reality(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lbq"))
        .arg("reality")
        .args(["--nginx", "/bin/sh", "--wrk", "/bin/sh"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn bad_input_names_the_field_and_exits_2() {
    for (args, field) in [
        (
            &["--variant", "no-such"][..],
            "--variant: unknown variant `no-such`",
        ),
        (
            &["--threads", "0"][..],
            "--threads: expected 1 to 64, got 0",
        ),
        (&["--rate", "0"][..], "--rate: expected"),
        (&["--runs", "0"][..], "--runs: expected 1 to 1000, got 0"),
        (
            &["--haproxy", "/nonexistent/haproxy"][..],
            "--haproxy: /nonexistent/haproxy not found",
        ),
        (
            &["--tarball", "/nonexistent/haproxy-x.tar.gz"][..],
            "--tarball: /nonexistent/haproxy-x.tar.gz not found",
        ),
        (
            &["--source", "/"][..],
            "--source: expected an HAProxy source tree",
        ),
        (&["--table", "/nonexistent"][..], "--table"),
        (&["--seconds", "many"][..], "--seconds"),
        (
            &["--patch", "/nonexistent/p.patch"][..],
            "--patch: give the sources to patch with --tarball or --all",
        ),
        (
            &["--patch", "/x.patch", "--haproxy", "/bin/sh"][..],
            "--patch",
        ),
    ] {
        let (code, err) = reality(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(field), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_missing_patch_is_named_before_anything_is_built() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reality-patch");
    std::fs::create_dir_all(&dir).unwrap();
    let tgz = dir.join("haproxy-abc123.tar.gz");
    std::fs::write(&tgz, b"not read: the patch is checked first").unwrap();
    let (code, err) = reality(&[
        "--patch",
        "/nonexistent/p.patch",
        "--tarball",
        tgz.to_str().unwrap(),
        "--build-dir",
        dir.join("builds").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--patch: /nonexistent/p.patch not found"),
        "{err}"
    );
    assert!(!dir.join("builds").exists(), "nothing built");
}

#[test]
fn a_missing_origin_or_load_generator_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_lbq"))
        .args(["reality", "--wrk", "/nonexistent/wrk", "--nginx", "/bin/sh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--wrk: /nonexistent/wrk not found"));
}
