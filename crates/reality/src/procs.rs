//! Every process the harness starts: each in a process group of its own, killed
//! (SIGTERM, then SIGKILL after a short grace) and reaped when the guard drops.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

struct Started {
    name: &'static str,
    child: Child,
    status: Option<ExitStatus>,
}

/// Owns the children of one run; dropping it kills and reaps every one of them.
#[derive(Default)]
pub struct Guard {
    started: Vec<Started>,
}

impl Guard {
    /// Spawns `cmd` as `name` in a new process group (its pid is the group's id).
    pub fn spawn(&mut self, name: &'static str, cmd: &mut Command) -> Result<u32, String> {
        let child = cmd
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        let pid = child.id();
        self.started.push(Started {
            name,
            child,
            status: None,
        });
        Ok(pid)
    }

    fn find(&mut self, name: &str) -> Option<&mut Started> {
        self.started.iter_mut().find(|s| s.name == name)
    }

    /// The exit status of `name` if it has exited (reaping it), without waiting.
    pub fn try_wait(&mut self, name: &str) -> Option<ExitStatus> {
        let s = self.find(name)?;
        if s.status.is_none() {
            s.status = s.child.try_wait().ok().flatten();
        }
        s.status
    }

    /// Sends `sig` to `name`'s process group.
    pub fn signal(&mut self, name: &str, sig: i32) {
        if let Some(s) = self.find(name) {
            if s.status.is_none() {
                // SAFETY: killpg has no memory-safety preconditions.
                unsafe { libc::killpg(s.child.id() as i32, sig) };
            }
        }
    }

    /// Waits up to `grace` for `name` to exit by itself.
    pub fn wait_for(&mut self, name: &str, grace: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + grace;
        loop {
            if let Some(st) = self.try_wait(name) {
                return Some(st);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops `name`: SIGTERM to its group, SIGKILL after `grace`, then reaps it and
    /// kills whatever is left in its group (an nginx worker). Returns its exit status.
    pub fn stop(&mut self, name: &str, grace: Duration) -> Option<ExitStatus> {
        self.signal(name, libc::SIGTERM);
        let mut st = self.wait_for(name, grace);
        let s = self.find(name)?;
        let pgid = s.child.id() as i32;
        if st.is_none() {
            // SAFETY: as above.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
            st = s.child.wait().ok();
            s.status = st;
        }
        // SAFETY: as above; ESRCH (group already empty) is fine.
        unsafe { libc::killpg(pgid, libc::SIGKILL) };
        // A signal is delivered asynchronously: wait (briefly) until the rest of the
        // group, now children of init, has died.
        let until = Instant::now() + Duration::from_secs(2);
        while !alive_in_group(pgid as u32).is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        st
    }

    /// (name, process group id) of every process started.
    pub fn groups(&self) -> Vec<(&'static str, u32)> {
        self.started
            .iter()
            .map(|s| (s.name, s.child.id()))
            .collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let names: Vec<&'static str> = self.started.iter().map(|s| s.name).collect();
        for n in names {
            self.stop(n, Duration::from_millis(1500));
        }
    }
}

/// The processes still alive in process group `pgid` (read from /proc/*/stat).
pub fn alive_in_group(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // A zombie is dead already (only its parent has not reaped it).
        if f.first() == Some(&"Z") {
            continue;
        }
        if f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

/// How a process ended, in words: "exit 0", "killed by SIGABRT (6)".
pub fn describe(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by {} ({s})", signal_name(s)),
        _ => "ended".to_string(),
    }
}

/// The usual name of a signal number.
pub fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGQUIT => "SIGQUIT",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_the_guard_kills_the_whole_group() {
        let mut g = Guard::default();
        // A shell that starts a grandchild in the same group and ignores SIGTERM.
        let pid = g
            .spawn(
                "sh",
                Command::new("sh").args(["-c", "trap '' TERM; sleep 30 & sleep 30; wait"]),
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(alive_in_group(pid).len() >= 2);
        drop(g);
        assert_eq!(alive_in_group(pid), Vec::<u32>::new());
    }

    #[test]
    fn an_exit_status_is_read_once_exited() {
        let mut g = Guard::default();
        g.spawn("false", &mut Command::new("false")).unwrap();
        let st = g.wait_for("false", Duration::from_secs(5)).unwrap();
        assert_eq!(describe(st), "exit 1");
    }
}
