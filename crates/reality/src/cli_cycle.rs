//! The seed commit's CLI cycle over the stats socket: "disable server px/s;shutdown
//! sessions server px/s; wait 100ms server-removable px/s; show servers conn px;
//! enable server px/s" at ~10/s. The wait is done here (a sleep), since HAProxy 2.6's
//! CLI has no `wait` command; each command is one connection to the socket, as
//! `socat` sends it.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{BACKEND, SERVER};

/// Sends one command to HAProxy's stats socket and returns its whole answer (the CLI
/// closes the connection after answering a non-interactive command).
pub fn command(socket: &Path, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(cmd.as_bytes())?;
    s.write_all(b"\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// `show info`'s CumReq: requests HAProxy has received since it started.
pub fn cum_req(socket: &Path) -> Option<u64> {
    let info = command(socket, "show info", Duration::from_millis(800)).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("CumReq:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The counters of a running cycle.
#[derive(Default)]
pub struct Counters {
    /// Cycles completed (the server enabled again).
    pub cycles: AtomicU64,
    /// When the last cycle completed, in ms since the cycle started (0: none yet).
    /// A stuck HAProxy stops answering its CLI long before the watchdog kills it.
    pub last_cycle_ms: AtomicU64,
    /// Commands that failed (no answer within the timeout, refused) or that HAProxy
    /// answered with an error.
    pub failures: AtomicU64,
    /// The first few failures, in HAProxy's words.
    pub first_failures: Mutex<Vec<String>>,
}

impl Counters {
    fn fail(&self, what: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let mut f = self
            .first_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if f.len() < 5 {
            f.push(what);
        }
    }
}

/// Runs the cycle on a thread until `stop`: `rate` cycles per second, `wait` between
/// `shutdown sessions server` and `enable server`.
pub fn spawn(
    socket: PathBuf,
    rate: f64,
    wait: Duration,
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let period = Duration::from_secs_f64(1.0 / rate);
        let started = Instant::now();
        let srv = format!("{BACKEND}/{SERVER}");
        let step = |cmd: &str| -> bool {
            match command(&socket, cmd, Duration::from_secs(2)) {
                Ok(answer) if answer.trim().is_empty() => true,
                Ok(answer) => {
                    counters.fail(format!("{cmd}: {}", answer.trim()));
                    false
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    counters.fail(format!("{cmd}: no answer within 2 s"));
                    false
                }
                Err(e) => {
                    counters.fail(format!("{cmd}: {e}"));
                    false
                }
            }
        };
        while !stop.load(Ordering::Relaxed) {
            let t0 = Instant::now();
            let ok = step(&format!("disable server {srv}"))
                && step(&format!("shutdown sessions server {srv}"));
            std::thread::sleep(wait);
            // Enable even after a failure, so that the server is not left down.
            let enabled = step(&format!("enable server {srv}"));
            if ok && enabled {
                counters.cycles.fetch_add(1, Ordering::Relaxed);
                counters
                    .last_cycle_ms
                    .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            } else {
                // HAProxy is gone or not answering: do not hammer it.
                std::thread::sleep(Duration::from_millis(200));
            }
            if let Some(rest) = period.checked_sub(t0.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    })
}
