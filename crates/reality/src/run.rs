//! One run of the reproducer: origin, HAProxy, syslog, load, CLI cycle; watch until
//! HAProxy dies or the time is up; stop and reap everything; report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::cli_cycle::{self, Counters};
use crate::config::{self, Endpoints, Params};
use crate::procs::{self, Guard};
use crate::report::{Outcome, Ports, RunReport};
use crate::verdict::ModelVerdict;
use crate::watch::{scan_stderr, Syslog};
use crate::{load, origin, ports};

/// The programs a run starts besides HAProxy.
#[derive(Clone, Debug)]
pub struct Tools {
    /// The origin server (Debian's nginx).
    pub nginx: PathBuf,
    /// The load generator (Debian's wrk).
    pub wrk: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            nginx: PathBuf::from("/usr/sbin/nginx"),
            wrk: PathBuf::from("/usr/bin/wrk"),
        }
    }
}

/// What a run is of.
pub struct Target<'a> {
    /// The label (a commit, `debian-2.6`).
    pub label: &'a str,
    /// The haproxy binary.
    pub binary: &'a Path,
    /// `haproxy -v`'s first line.
    pub version: &'a str,
    /// The model's verdict to print beside it.
    pub model: Option<ModelVerdict>,
}

/// Runs the reproducer once. `work` is an empty directory for this run's files (its
/// path must be short: the stats socket lives there). `stop` ends the run early
/// (Ctrl-C). `progress` gets a line about once a second.
pub fn run_once(
    target: &Target,
    params: &Params,
    tools: &Tools,
    run: (u32, u32),
    work: &Path,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&str),
) -> Result<RunReport, String> {
    params.validate()?;
    std::fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let mut guard = Guard::default();
    let halt = Arc::new(AtomicBool::new(false));
    // Whatever happens below, the helper threads stop when this returns.
    struct Halt(Arc<AtomicBool>);
    impl Drop for Halt {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _halt = Halt(halt.clone());

    let syslog = Syslog::start(halt.clone())?;
    let syslog_port = syslog.port;
    let origin_port = ports::free_port().map_err(|e| format!("no free port: {e}"))?;
    origin::start(&mut guard, &tools.nginx, work, origin_port)?;

    let fe_port = ports::free_port().map_err(|e| format!("no free port: {e}"))?;
    let sock = work.join("admin.sock");
    let cfg_text = config::haproxy_cfg(
        params,
        &Endpoints {
            frontend: fe_port,
            origin: origin_port,
            syslog: syslog.port,
            stats_socket: &sock,
        },
    );
    let cfg = work.join("haproxy.cfg");
    std::fs::write(&cfg, cfg_text).map_err(|e| format!("cannot write {}: {e}", cfg.display()))?;
    let stderr_path = work.join("haproxy.stderr");
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    guard.spawn(
        "haproxy",
        Command::new(target.binary)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(stderr.try_clone().map_err(|e| e.to_string())?)
            .stderr(stderr),
    )?;
    let up = ports::wait_listening(fe_port, Duration::from_secs(10));
    if !up || guard.try_wait("haproxy").is_some() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        return Err(format!(
            "HAProxy did not start on 127.0.0.1:{fe_port}: {}",
            err.lines()
                .filter(|l| l.contains("ALERT"))
                .take(3)
                .collect::<Vec<_>>()
                .join(" / ")
        ));
    }

    let counters = Arc::new(Counters::default());
    let cycle_offset = started.elapsed().as_secs_f64();
    let cycle = cli_cycle::spawn(
        sock.clone(),
        params.rate,
        Duration::from_millis(params.wait_ms),
        halt.clone(),
        counters.clone(),
    );
    let wrk_out = work.join("wrk.out");
    load::start(
        &mut guard,
        &tools.wrk,
        fe_port,
        params.connections,
        params.seconds,
        (params.queue_timeout_ms / 1000 + 10).max(10),
        &wrk_out,
    )?;

    let limit = Duration::from_secs(params.seconds);
    let mut cum_req = None;
    let mut last_progress = Instant::now();
    let (outcome, exit_status, seconds_run) = loop {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(st) = guard.try_wait("haproxy") {
            break (None, Some(st), started.elapsed().as_secs_f64());
        }
        if stop.load(Ordering::Relaxed) {
            break (
                Some(Outcome::Interrupted),
                None,
                started.elapsed().as_secs_f64(),
            );
        }
        if started.elapsed() >= limit || guard.try_wait("wrk").is_some() {
            break (
                Some(Outcome::Survived),
                None,
                started.elapsed().as_secs_f64(),
            );
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            if let Some(n) = cli_cycle::cum_req(&sock) {
                cum_req = Some(n);
            }
            let logs = syslog.snapshot();
            progress(&format!(
                "{} run {}/{}: {:.0}/{} s, CumReq {}, {} CLI cycles, {} sQ",
                target.label,
                run.0,
                run.1,
                started.elapsed().as_secs_f64(),
                params.seconds,
                cum_req.map_or("?".to_string(), |n| n.to_string()),
                counters.cycles.load(Ordering::Relaxed),
                logs.stranded_sq,
            ));
        }
    };
    if exit_status.is_none() {
        if let Some(n) = cli_cycle::cum_req(&sock) {
            cum_req = Some(n);
        }
    }

    // Stop the load first (SIGINT: wrk prints its summary), then the CLI, then the rest.
    halt.store(true, Ordering::Relaxed);
    guard.signal("wrk", libc::SIGINT);
    guard.wait_for("wrk", Duration::from_secs(3));
    let _ = cycle.join();
    let haproxy_exit = match exit_status {
        Some(st) => procs::describe(st),
        None => {
            let st = guard.stop("haproxy", Duration::from_secs(2));
            format!(
                "stopped by the harness ({})",
                st.map_or("not reaped".to_string(), procs::describe)
            )
        }
    };
    let processes: Vec<(String, u32)> = guard
        .groups()
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect();
    drop(guard);
    let logs = syslog.finish();

    let err_text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let scan = scan_stderr(&err_text);
    let outcome = outcome.unwrap_or(if scan.watchdog {
        Outcome::WatchdogDeath
    } else {
        Outcome::OtherDeath
    });
    let wrk = std::fs::read_to_string(&wrk_out)
        .ok()
        .and_then(|t| load::parse(&t));
    let died = matches!(outcome, Outcome::WatchdogDeath | Outcome::OtherDeath);
    let first_failures = counters
        .first_failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(RunReport {
        label: target.label.to_string(),
        binary: target.binary.display().to_string(),
        version: target.version.to_string(),
        run: run.0,
        runs: run.1,
        params: params.clone(),
        ports: Ports {
            frontend: fe_port,
            origin: origin_port,
            syslog: syslog_port,
        },
        processes,
        started_unix,
        outcome,
        seconds_run,
        time_to_death_s: died.then_some(seconds_run),
        exit: haproxy_exit,
        stderr: scan,
        wrk,
        cum_req,
        logs,
        cli_cycles: counters.cycles.load(Ordering::Relaxed),
        last_cli_cycle_s: match counters.last_cycle_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(ms as f64 / 1000.0 + cycle_offset),
        },
        cli_failures: counters.failures.load(Ordering::Relaxed),
        cli_first_failures: first_failures,
        model: target.model.clone(),
    })
}
