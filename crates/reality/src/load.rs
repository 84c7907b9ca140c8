//! The load generator: Debian's `wrk`, N keep-alive connections in a closed loop
//! (the recipe's "around 40 concurrent conns"), and the parsing of its summary.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::procs::Guard;

/// Starts wrk as "wrk" in `guard`: `connections` connections on 2 threads for
/// `seconds`, its output to `out`. Its timeout is above `timeout queue` so that a
/// request stranded in HAProxy's queue comes back as HAProxy's 503, not a wrk timeout.
pub fn start(
    guard: &mut Guard,
    wrk: &Path,
    port: u16,
    connections: u32,
    seconds: u64,
    timeout_s: u64,
    out: &Path,
) -> Result<u32, String> {
    let file =
        std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let threads = connections.clamp(1, 2);
    guard.spawn(
        "wrk",
        Command::new(wrk)
            .arg("-t")
            .arg(threads.to_string())
            .arg("-c")
            .arg(connections.to_string())
            .arg("-d")
            .arg(format!("{seconds}s"))
            .arg("--timeout")
            .arg(format!("{timeout_s}s"))
            .arg(format!("http://127.0.0.1:{port}/"))
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null()),
    )
}

/// What wrk's summary says.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WrkSummary {
    /// Responses received ("N requests in …").
    pub requests: u64,
    /// The seconds wrk measured over.
    pub seconds: f64,
    /// "Requests/sec".
    pub requests_per_s: f64,
    /// "Non-2xx or 3xx responses" (HAProxy's 503s).
    pub non_2xx: u64,
    /// Socket errors: connect, read, write, timeout.
    pub socket_errors: [u64; 4],
}

/// Parses wrk's summary; None if it printed none (killed before the end).
pub fn parse(text: &str) -> Option<WrkSummary> {
    let mut s = WrkSummary::default();
    let mut seen = false;
    for line in text.lines().map(str::trim) {
        if let Some((n, rest)) = line.split_once(" requests in ") {
            s.requests = n.trim().parse().ok()?;
            let secs = rest.split(',').next()?.trim();
            s.seconds = parse_duration(secs)?;
            seen = true;
        } else if let Some(r) = line.strip_prefix("Requests/sec:") {
            s.requests_per_s = r.trim().parse().ok()?;
        } else if let Some(r) = line.strip_prefix("Non-2xx or 3xx responses:") {
            s.non_2xx = r.trim().parse().ok()?;
        } else if let Some(r) = line.strip_prefix("Socket errors:") {
            for (i, part) in r.split(',').enumerate().take(4) {
                s.socket_errors[i] = part.split_whitespace().nth(1)?.parse().ok()?;
            }
        }
    }
    seen.then_some(s)
}

/// wrk's durations: "10.00s", "1.00m", "250.00ms", "1.50h".
fn parse_duration(s: &str) -> Option<f64> {
    let (num, mul) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 0.000_001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|x| x * mul)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "Running 20s test @ http://127.0.0.1:41000/
  2 threads and 40 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.51ms   10.12ms 300.00ms   98.00%
    Req/Sec     7.10k     1.20k    9.00k    70.00%
  283912 requests in 20.01s, 40.12MB read
  Socket errors: connect 0, read 3, write 0, timeout 12
  Non-2xx or 3xx responses: 57
Requests/sec:  14188.51
Transfer/sec:      2.00MB
";

    #[test]
    fn the_summary_is_parsed() {
        let s = parse(OUT).unwrap();
        assert_eq!(s.requests, 283_912);
        assert!((s.seconds - 20.01).abs() < 1e-9);
        assert!((s.requests_per_s - 14188.51).abs() < 1e-9);
        assert_eq!(s.non_2xx, 57);
        assert_eq!(s.socket_errors, [0, 3, 0, 12]);
        assert_eq!(parse("Running 20s test @ x\n"), None);
        assert_eq!(parse_duration("1.50m"), Some(90.0));
    }
}
