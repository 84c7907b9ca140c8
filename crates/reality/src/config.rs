//! The reproducer's HAProxy configuration (the seed commit's recipe: a single server
//! with maxconn 1 and plenty of threads, `balance roundrobin`, `timeout queue`, an
//! admin stats socket; the watchdog is always on in multi-threaded Linux builds).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Every parameter of a run (all printed in the report, so that a run can be replayed).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// HAProxy's `nbthread`.
    pub threads: u32,
    /// Concurrent keep-alive connections of the load generator.
    pub connections: u32,
    /// CLI cycles per second (disable, shutdown sessions, wait, enable).
    pub rate: f64,
    /// How long a run lasts at most, in seconds.
    pub seconds: u64,
    /// `timeout queue`, in milliseconds.
    pub queue_timeout_ms: u64,
    /// The pause between `shutdown sessions server` and `enable server`, in
    /// milliseconds (the recipe's `wait 100ms server-removable`).
    pub wait_ms: u64,
    /// `option abortonclose` in the backend: a stream whose server side is shut (a
    /// `shutdown sessions` kill) before it connects gives up its slot instead of
    /// connecting anyway with the request it already holds (`back_may_abort_req`).
    #[serde(default)]
    pub abortonclose: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            threads: 8,
            connections: 40,
            rate: 10.0,
            seconds: 60,
            queue_timeout_ms: 3000,
            wait_ms: 50,
            abortonclose: false,
        }
    }
}

impl Params {
    /// Checks every field; the message names the field and what was expected.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=64).contains(&self.threads) {
            return Err(format!("--threads: expected 1 to 64, got {}", self.threads));
        }
        if !(1..=10_000).contains(&self.connections) {
            return Err(format!(
                "--connections: expected 1 to 10000, got {}",
                self.connections
            ));
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1000.0) {
            return Err(format!(
                "--rate: expected CLI cycles per second in (0, 1000], got {}",
                self.rate
            ));
        }
        if !(1..=86_400).contains(&self.seconds) {
            return Err(format!(
                "--seconds: expected 1 to 86400, got {}",
                self.seconds
            ));
        }
        if !(1..=3_600_000).contains(&self.queue_timeout_ms) {
            return Err(format!(
                "--queue-timeout-ms: expected 1 to 3600000, got {}",
                self.queue_timeout_ms
            ));
        }
        if self.wait_ms > 60_000 {
            return Err(format!(
                "--wait-ms: expected 0 to 60000, got {}",
                self.wait_ms
            ));
        }
        Ok(())
    }
}

/// Ports and paths of one run.
pub struct Endpoints<'a> {
    /// The frontend's port (the load generator's target).
    pub frontend: u16,
    /// The origin server's port (server `s1`).
    pub origin: u16,
    /// The harness's syslog socket (UDP) that receives HAProxy's logs.
    pub syslog: u16,
    /// The stats socket (admin level).
    pub stats_socket: &'a Path,
}

/// The backend and server names the CLI cycle addresses (`px/s1`).
pub const BACKEND: &str = "px";
/// The only server of the backend.
pub const SERVER: &str = "s1";

/// haproxy.cfg for the reproducer. Logs go over UDP syslog (every HAProxy version has
/// it) to the harness; `option dontlog-normal` logs only the abnormal requests (a
/// termination state other than `--`, or a 5xx), so that logging does not take the CPU
/// the reproducer needs; every `sQ` (stranded in the queue until `timeout queue`) is
/// among them.
pub fn haproxy_cfg(p: &Params, e: &Endpoints) -> String {
    format!(
        "# lbq reality: the seed commit's reproducer\n\
         global\n\
         \x20   nbthread {threads}\n\
         \x20   stats socket {sock} level admin\n\
         \x20   stats timeout 10s\n\
         \x20   log 127.0.0.1:{syslog} len 2048 local0\n\
         \n\
         defaults\n\
         \x20   mode http\n\
         \x20   log global\n\
         \x20   option httplog\n\
         \x20   option dontlog-normal\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 30s\n\
         \x20   timeout server 30s\n\
         \x20   timeout queue {queue}ms\n\
         \n\
         frontend fe\n\
         \x20   bind 127.0.0.1:{fe}\n\
         \x20   default_backend {BACKEND}\n\
         \n\
         backend {BACKEND}\n\
         \x20   balance roundrobin\n\
         {abort}\
         \x20   server {SERVER} 127.0.0.1:{origin} maxconn 1\n",
        abort = if p.abortonclose {
            "    option abortonclose\n"
        } else {
            ""
        },
        threads = p.threads,
        sock = e.stats_socket.display(),
        syslog = e.syslog,
        queue = p.queue_timeout_ms,
        fe = e.frontend,
        origin = e.origin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_has_the_recipe() {
        let sock = Path::new("/tmp/x/admin.sock");
        let e = Endpoints {
            frontend: 1000,
            origin: 1001,
            syslog: 1002,
            stats_socket: sock,
        };
        let c = haproxy_cfg(&Params::default(), &e);
        for needle in [
            "nbthread 8",
            "balance roundrobin",
            "server s1 127.0.0.1:1001 maxconn 1",
            "timeout queue 3000ms",
            "stats socket /tmp/x/admin.sock level admin",
            "log 127.0.0.1:1002",
            "bind 127.0.0.1:1000",
        ] {
            assert!(c.contains(needle), "{needle} missing from\n{c}");
        }
        assert!(!c.contains("abortonclose"));
        let p = Params {
            abortonclose: true,
            ..Params::default()
        };
        let c = haproxy_cfg(&p, &e);
        assert!(
            c.contains("balance roundrobin\n    option abortonclose\n    server s1"),
            "{c}"
        );
    }

    #[test]
    fn bad_numbers_name_the_field() {
        let p = Params {
            threads: 0,
            ..Params::default()
        };
        assert!(p.validate().unwrap_err().starts_with("--threads"));
        let p = Params {
            rate: f64::NAN,
            ..Params::default()
        };
        assert!(p.validate().unwrap_err().starts_with("--rate"));
        assert!(Params::default().validate().is_ok());
    }
}
