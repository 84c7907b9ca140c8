//! `lbq explore` as users run it: a taken port is bad input, only 127.0.0.1 is served,
//! and the Explorer's JSON names steps in HAProxy's words. Every child is killed within
//! ~20 s, whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// A child process killed when dropped (also when a test panics).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lbq(args: &[&str]) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_lbq"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lbq starts"),
    )
}

/// Waits for the child to exit, at most [`LIMIT`]; returns its status and stderr.
fn exit_of(mut child: Killed) -> (ExitStatus, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            let mut err = String::new();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, err);
        }
        assert!(
            start.elapsed() < LIMIT,
            "lbq explore did not exit within {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_taken_port_is_bad_input() {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (status, err) = exit_of(lbq(&["explore", "--variant", "livelock", "--port", &port]));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("port {port} on 127.0.0.1 is taken: pass --port N")),
        "{err}"
    );
    drop(taken);
}

#[test]
fn only_loopback_is_served() {
    let (status, err) = exit_of(lbq(&["explore", "--bind", "0.0.0.0", "--port", "0"]));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("127.0.0.1"), "{err}");
}

/// `GET path` over HTTP/1.0 on 127.0.0.1:port; the body as JSON.
/// The child's stdout, line by line, read on a thread so that waits can time out.
fn stdout_lines(child: &mut Killed) -> mpsc::Receiver<String> {
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn get_json(port: u16, path: &str) -> serde_json::Value {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("the Explorer answers");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("a whole response");
    let text = String::from_utf8(response).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head and body");
    assert!(
        head.starts_with("HTTP/1.") && head[9..].starts_with("200"),
        "{head}"
    );
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn the_explorer_serves_steps_in_haproxy_words() {
    let mut child = lbq(&["explore", "--variant", "livelock", "--port", "0"]);
    // Read stdout on a thread: the URL line tells the port lbq picked.
    let rx = stdout_lines(&mut child);
    let start = Instant::now();
    let mut printed = Vec::new();
    let port: u16 = loop {
        let left = LIMIT.saturating_sub(start.elapsed());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no Explorer URL within {LIMIT:?} ({e}): {printed:?}"));
        if let Some(rest) = line.strip_prefix("Explorer: http://127.0.0.1:") {
            break rest.split('/').next().unwrap().parse().expect("a port");
        }
        printed.push(line);
    };
    // What lbq printed before serving: the stuck loop's verdict and its Explorer path.
    let text = printed.join("\n");
    assert!(text.contains("assign_can_return violated"), "{text}");
    assert!(text.contains("#/steps/0/"), "{text}");

    // Wait for the server to accept (it starts right after the URL is printed).
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(start.elapsed() < LIMIT, "port {port} never answered");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The initial state.
    let init = get_json(port, "/.states");
    let init = init.as_array().expect("a list of initial states");
    assert_eq!(init.len(), 1, "{init:?}");
    assert!(
        init[0]["state"].as_str().unwrap().contains("System"),
        "{init:?}"
    );
    let names = |steps: &serde_json::Value| -> Vec<String> {
        steps
            .as_array()
            .expect("a list of steps")
            .iter()
            .map(|s| format!("{} | {}", s["action"], s["outcome"]))
            .collect()
    };
    // Its next steps: the CLI's first command, in HAProxy's CLI syntax, named so in the
    // action itself (what the Path of Actions and the Next Action Choices show).
    let next = names(&get_json(port, "/.states/0"));
    assert!(
        next.iter()
            .any(|s| s.starts_with("\"CLI: disable server px/s1")),
        "{next:?}"
    );
    // After S1 arrives, its thread runs HAProxy's first section for it.
    let client = next
        .iter()
        .position(|s| s.starts_with("\"client: S1 arrives"))
        .expect("a client arrives");
    let after = names(&get_json(port, &format!("/.states/0/{client}")));
    assert!(
        after.iter().any(|s| {
            let action = s.split(" | ").next().unwrap();
            action.starts_with("\"T") && action.contains("S1 assign_server")
        }),
        "{after:?}"
    );

    // The liveness verdicts are properties of the model the Explorer serves.
    let status = get_json(port, "/.status");
    let properties = status["properties"].as_array().expect("properties");
    for name in ["assign_can_return", "assign_terminates"] {
        assert!(
            properties.iter().any(|p| p[0] == "Always" && p[1] == name),
            "{name} missing: {properties:?}"
        );
    }
    assert!(start.elapsed() < LIMIT, "took {:?}", start.elapsed());
    drop(child);
}

/// `--model actor`: the Explorer serves the actor model (threads, the CLI and clients as
/// actors around the backend), whose first step is a request to the backend.
#[test]
fn the_explorer_serves_the_actor_model() {
    let mut child = lbq(&[
        "explore",
        "--model",
        "actor",
        "--scenario",
        "one-thread",
        "--port",
        "0",
    ]);
    let rx = stdout_lines(&mut child);
    let start = Instant::now();
    let port: u16 = loop {
        let line = rx
            .recv_timeout(LIMIT.saturating_sub(start.elapsed()))
            .expect("lbq prints the Explorer URL");
        if let Some((_, rest)) = line.split_once("Explorer: http://127.0.0.1:") {
            break rest.split('/').next().unwrap().parse().expect("a port");
        }
    };
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        assert!(start.elapsed() < LIMIT, "port {port} never answered");
        std::thread::sleep(Duration::from_millis(20));
    }
    let init = get_json(port, "/.states");
    let state = init[0]["state"].as_str().expect("a state").to_string();
    assert!(
        state.contains("Backend") && state.contains("System"),
        "{state}"
    );
    let next = get_json(port, "/.states/0");
    let steps: Vec<String> = next
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["action"].to_string())
        .collect();
    assert!(!steps.is_empty(), "no step from the initial state");
    // Each action says what it does in HAProxy's words: the first stream arrives, the
    // CLI's first command as typed.
    assert!(
        steps
            .iter()
            .any(|s| s.contains("client → backend: the next stream arrives: S1 arrives")),
        "{steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.contains("CLI → backend: run the next CLI section: disable server px/s1")),
        "{steps:?}"
    );
    drop(child);
}
