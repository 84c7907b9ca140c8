//! Watching for the outcome: HAProxy's logs (termination states, over the harness's
//! own UDP syslog socket), and a death's traces on HAProxy's stderr (the watchdog's
//! "Thread N is about to kill the process", the `stuck=1` thread dumps, the frames).

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Requests counted from HAProxy's log lines.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LogCounts {
    /// Log lines received.
    pub lines: u64,
    /// Requests per termination state (the first two characters: `sQ`, `SC`, `CD`, `--` …).
    pub termination_states: BTreeMap<String, u64>,
    /// Requests that waited in the queue until `timeout queue` (termination state `sQ`).
    pub stranded_sq: u64,
    /// The longest queue wait (Tw) of a stranded request, in ms.
    pub max_stranded_wait_ms: u64,
    /// The first stranded request's log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_stranded: Option<String>,
}

/// The termination state and Tw of one HTTP log line (`option httplog`):
/// `… fe px/s1 TR/Tw/Tc/Tr/Ta status bytes - - sQ-- act/fe/be/srv/retries sq/bq "GET …"`.
pub fn parse_http_log(line: &str) -> Option<(String, Option<u64>)> {
    let head = line.split('"').next()?;
    let t: Vec<&str> = head.split_whitespace().collect();
    if t.len() < 8 {
        return None;
    }
    let state = t[t.len() - 3];
    if state.len() != 4 || !t[t.len() - 2].contains('/') || !t[t.len() - 1].contains('/') {
        return None;
    }
    // The timers TR/Tw/Tc/Tr/Ta: the first token of five numbers separated by '/'.
    let timers = t
        .iter()
        .map(|w| w.split('/').collect::<Vec<_>>())
        .find(|f| f.len() == 5 && f.iter().all(|x| x.parse::<i64>().is_ok()))
        .and_then(|f| f[1].parse::<u64>().ok());
    Some((state.to_string(), timers))
}

impl LogCounts {
    /// Counts one log line.
    pub fn add(&mut self, line: &str) {
        self.lines += 1;
        let Some((state, tw)) = parse_http_log(line) else {
            return;
        };
        let key = state[..2].to_string();
        *self.termination_states.entry(key).or_default() += 1;
        if state.starts_with("sQ") {
            self.stranded_sq += 1;
            self.max_stranded_wait_ms = self.max_stranded_wait_ms.max(tw.unwrap_or(0));
            if self.first_stranded.is_none() {
                self.first_stranded = Some(line.trim().to_string());
            }
        }
    }
}

/// HAProxy's syslog destination: a UDP socket on 127.0.0.1 that counts what arrives
/// until `stop`.
pub struct Syslog {
    /// The port HAProxy's `log` line names.
    pub port: u16,
    counts: Arc<Mutex<LogCounts>>,
    handle: std::thread::JoinHandle<()>,
}

impl Syslog {
    /// Binds 127.0.0.1:0 (a large receive buffer, so that bursts are not dropped) and
    /// starts counting.
    pub fn start(stop: Arc<AtomicBool>) -> Result<Syslog, String> {
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("syslog socket: {e}"))?;
        set_rcvbuf(&sock, 8 << 20);
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| format!("syslog socket: {e}"))?;
        let port = sock.local_addr().map_err(|e| e.to_string())?.port();
        let counts = Arc::new(Mutex::new(LogCounts::default()));
        let c = counts.clone();
        let handle = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = sock.recv(&mut buf) {
                    let line = String::from_utf8_lossy(&buf[..n]);
                    c.lock().unwrap_or_else(|e| e.into_inner()).add(&line);
                }
            }
        });
        Ok(Syslog {
            port,
            counts,
            handle,
        })
    }

    /// The counts so far.
    pub fn snapshot(&self) -> LogCounts {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits for the counting thread (after `stop` was set) and returns the counts.
    pub fn finish(self) -> LogCounts {
        let _ = self.handle.join();
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.clone()
    }
}

fn set_rcvbuf(sock: &UdpSocket, bytes: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket fd and a pointer to a c_int of the size passed.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            &bytes as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The functions of the seed commit's backtrace and of the queue code around it.
pub const FRAMES: &[&str] = &[
    "pendconn_add",
    "pendconn_must_try_again",
    "assign_server_and_queue",
    "srv_redispatch_connect",
    "back_handle_st_req",
    "process_stream",
    "process_srv_queue",
    "pendconn_redistribute",
    "pendconn_grab_from_px",
    "server_atomic_sync",
    "srv_shutdown_streams",
];

/// What HAProxy's stderr says about a death.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StderrScan {
    /// Lines about the watchdog and stuck threads ("is about to kill the process",
    /// "stuck=1", "Thread N is stuck"), the first 12.
    pub stuck_lines: Vec<String>,
    /// Names from [`FRAMES`] that appear, in order of first appearance.
    pub frames: Vec<String>,
    /// Whether the watchdog announced the kill.
    pub watchdog: bool,
    /// The last lines of a patched build's step trace (`LBQ_GAP_TRACE=1` with
    /// crates/reality/patches: "lbq kill: …", "lbq queued on srv: …", "lbq stream_free
    /// released a slot: …"), the story before a death; at most [`TRACE_TAIL`].
    #[serde(default)]
    pub trace_tail: Vec<String>,
}

/// How many of a patched build's last step-trace lines a report keeps.
pub const TRACE_TAIL: usize = 8;

/// Scans HAProxy's stderr for the watchdog's words and the frames of the backtrace.
pub fn scan_stderr(text: &str) -> StderrScan {
    let mut s = StderrScan::default();
    for line in text.lines() {
        let l = line.trim_end();
        if l.contains("about to kill the process") || l.contains("WARNING! thread") {
            s.watchdog = true;
        }
        let stuck = l.contains("about to kill")
            || l.contains("stuck=1")
            || l.contains("is stuck")
            || l.contains("watchdog");
        if stuck && s.stuck_lines.len() < 12 {
            s.stuck_lines.push(l.trim().to_string());
        }
        for f in FRAMES {
            if contains_word(l, f) && !s.frames.iter().any(|x| x == f) {
                s.frames.push(f.to_string());
            }
        }
        // The window lines ("lbq_gap …") only say a delay ran; the steps tell the story.
        if l.starts_with("lbq ") {
            if s.trace_tail.len() == TRACE_TAIL {
                s.trace_tail.remove(0);
            }
            s.trace_tail.push(l.to_string());
        }
    }
    s
}

fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patched_builds_last_steps_are_kept() {
        let mut text = String::new();
        for n in 0..10 {
            text.push_str(&format!(
                "lbq_gap LBQ_GAP_FULL_US 100000 us\nlbq kill: n={n}\n"
            ));
        }
        text.push_str("Thread 2 is about to kill the process.\n");
        let s = scan_stderr(&text);
        assert!(s.watchdog);
        assert_eq!(s.trace_tail.len(), TRACE_TAIL);
        assert_eq!(s.trace_tail.first().unwrap(), "lbq kill: n=2");
        assert_eq!(s.trace_tail.last().unwrap(), "lbq kill: n=9");
        assert!(scan_stderr("no trace\n").trace_tail.is_empty());
    }

    #[test]
    fn termination_states_and_queue_waits_are_read() {
        let sq = "<134>Dec  4 05:00:01 haproxy[123]: 127.0.0.1:50000 [04/Dec/2026:05:00:01.000] fe px/s1 0/3001/-1/-1/3001 503 217 - - sQ-- 40/40/39/0/0 0/38 \"GET / HTTP/1.1\"";
        let ok = "<134>Dec  4 05:00:01 haproxy[123]: 127.0.0.1:50001 [04/Dec/2026:05:00:01.000] fe px/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 40/40/39/0/0 0/0 \"GET / HTTP/1.1\"";
        assert_eq!(parse_http_log(sq), Some(("sQ--".into(), Some(3001))));
        let mut c = LogCounts::default();
        c.add(sq);
        c.add(ok);
        c.add("not a log line");
        assert_eq!(c.lines, 3);
        assert_eq!(c.stranded_sq, 1);
        assert_eq!(c.max_stranded_wait_ms, 3001);
        assert_eq!(c.termination_states.get("SC"), Some(&1));
        assert_eq!(c.termination_states.get("sQ"), Some(&1));
    }

    #[test]
    fn a_watchdog_death_is_recognised() {
        let err = "Thread 3 is about to kill the process.\n\
                   *>Thread 3 : id=0x7f act=1 glob=0 wq=1 rq=0 tl=0 tlsz=0 rqsz=1\n\
                   \x20     stuck=1 prof=0 harmless=0 isolated=0\n\
                   \x20     | 0x55 [48 89]: pendconn_add+0x3c/0x120\n\
                   \x20     | 0x55 [48 89]: assign_server_and_queue+0x1a0\n\
                   \x20     | 0x55 [48 89]: pendconn_add_x\n";
        let s = scan_stderr(err);
        assert!(s.watchdog);
        assert_eq!(s.frames, vec!["pendconn_add", "assign_server_and_queue"]);
        assert_eq!(s.stuck_lines.len(), 2);
        assert!(!scan_stderr("[NOTICE] haproxy started\n").watchdog);
    }
}
