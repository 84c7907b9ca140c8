//! The report of a run (JSON, written whole) and its one-line verdict.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Params;
use crate::load::WrkSummary;
use crate::verdict::ModelVerdict;
use crate::watch::{LogCounts, StderrScan};

/// How a run ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// HAProxy was still serving when the time was up.
    Survived,
    /// The watchdog killed HAProxy (a thread stuck).
    WatchdogDeath,
    /// HAProxy ended otherwise (a crash or an exit).
    OtherDeath,
    /// Stopped early by Ctrl-C.
    Interrupted,
}

/// One run of the reproducer on one binary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// The build's label (a commit, or `debian-2.6`).
    pub label: String,
    /// The binary run.
    pub binary: String,
    /// `haproxy -v`'s first line.
    pub version: String,
    /// Which run of how many (1-based).
    pub run: u32,
    /// The runs asked for.
    pub runs: u32,
    /// Every parameter.
    pub params: Params,
    /// Ports on 127.0.0.1: frontend, origin, syslog.
    pub ports: Ports,
    /// (name, pid = process group id) of every process started.
    pub processes: Vec<(String, u32)>,
    /// Unix time the run started.
    pub started_unix: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Seconds HAProxy ran (until its death, else the run's length).
    pub seconds_run: f64,
    /// Seconds from start to death, when it died.
    pub time_to_death_s: Option<f64>,
    /// How HAProxy's process ended ("killed by SIGABRT (6)"), or how it was stopped.
    pub exit: String,
    /// What HAProxy's stderr said about stuck threads and the frames it printed.
    pub stderr: StderrScan,
    /// wrk's summary (None when it printed none).
    pub wrk: Option<WrkSummary>,
    /// `show info`'s CumReq at the last reading.
    pub cum_req: Option<u64>,
    /// HAProxy's log lines counted by termination state (abnormal ones only:
    /// `option dontlog-normal`).
    pub logs: LogCounts,
    /// CLI cycles done (disable, shutdown sessions, enable).
    pub cli_cycles: u64,
    /// When the last CLI cycle completed, in seconds from HAProxy's start: after a
    /// death, about when the loop began (the CLI stops answering long before the
    /// watchdog's kill on a loaded machine).
    #[serde(default)]
    pub last_cli_cycle_s: Option<f64>,
    /// CLI commands that failed or that HAProxy refused.
    pub cli_failures: u64,
    /// The first such failures, in HAProxy's words.
    pub cli_first_failures: Vec<String>,
    /// The model's verdict for the matching variant.
    pub model: Option<ModelVerdict>,
}

/// The ports of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ports {
    /// HAProxy's frontend.
    pub frontend: u16,
    /// nginx.
    pub origin: u16,
    /// The harness's syslog socket.
    pub syslog: u16,
}

impl RunReport {
    /// Requests answered: wrk's count, else `show info`'s CumReq.
    pub fn requests(&self) -> u64 {
        self.wrk
            .as_ref()
            .map(|w| w.requests)
            .filter(|&n| n > 0)
            .or(self.cum_req)
            .unwrap_or(0)
    }

    /// Requests per second over the time HAProxy ran.
    pub fn requests_per_s(&self) -> f64 {
        if self.seconds_run > 0.0 {
            self.requests() as f64 / self.seconds_run
        } else {
            0.0
        }
    }

    /// The one-line verdict.
    pub fn one_line(&self) -> String {
        let what = match self.outcome {
            Outcome::Survived => format!("survived {:.0} s", self.seconds_run),
            Outcome::Interrupted => format!("interrupted after {:.1} s", self.seconds_run),
            Outcome::WatchdogDeath => {
                let frames = if self.stderr.frames.is_empty() {
                    String::new()
                } else {
                    format!("; frames printed: {}", self.stderr.frames.join(", "))
                };
                let hung = self
                    .last_cli_cycle_s
                    .map(|t| format!(", last CLI cycle at {t:.1} s"))
                    .unwrap_or_default();
                format!(
                    "DIED of the watchdog after {:.1} s ({}{frames}{hung})",
                    self.seconds_run, self.exit
                )
            }
            Outcome::OtherDeath => format!("DIED after {:.1} s ({})", self.seconds_run, self.exit),
        };
        let model = self
            .model
            .as_ref()
            .map(|m| format!("; model ({}): {}", m.variant, m.summary()))
            .unwrap_or_default();
        format!(
            "{} run {}/{}: {what}; {} requests ({:.0}/s), {} stranded in queue (sQ), {} CLI cycles{model}",
            self.label,
            self.run,
            self.runs,
            self.requests(),
            self.requests_per_s(),
            self.logs.stranded_sq,
            self.cli_cycles,
        )
    }
}

/// Writes `text` to `path` whole: a temporary file beside it, then a rename.
pub fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes a run's JSON report whole.
pub fn write_json(path: &Path, r: &RunReport) -> Result<(), String> {
    let text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    write_whole(path, &(text + "\n"))
}

/// The file of a run's report (`ext` "json") or of HAProxy's stderr ("stderr.txt"):
/// `<dir>/<label>-run<N>-<unix time>.<ext>`. Built as a string: a label such as
/// `debian-2.6` has a dot that `Path::with_extension` would take for an extension.
pub fn run_file(dir: &Path, label: &str, run: u32, unix: u64, ext: &str) -> std::path::PathBuf {
    dir.join(format!("{label}-run{run}-{unix}.{ext}"))
}

/// Reads every run report (`*.json`) in `dir`, sorted by label then run.
pub fn read_dir(dir: &Path) -> Result<Vec<RunReport>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        if let Ok(r) = serde_json::from_str::<RunReport>(&text) {
            out.push(r);
        }
    }
    out.sort_by(|a, b| (a.label.as_str(), a.started_unix).cmp(&(b.label.as_str(), b.started_unix)));
    Ok(out)
}

/// A table row's name: the build's label, and the run's parameters where they are not
/// the reproducer's defaults (the run length aside; `option abortonclose` when set), so that runs of one build under
/// other settings are rows of their own.
fn row_name(r: &RunReport) -> String {
    let d = Params::default();
    let p = &r.params;
    let mut name = r.label.clone();
    for (differs, what) in [
        (p.threads != d.threads, format!("nbthread {}", p.threads)),
        (
            p.connections != d.connections,
            format!("{} connections", p.connections),
        ),
        (p.rate != d.rate, format!("{} CLI cycles/s", p.rate)),
        (
            p.queue_timeout_ms != d.queue_timeout_ms,
            format!("timeout queue {} ms", p.queue_timeout_ms),
        ),
        (p.wait_ms != d.wait_ms, format!("wait {} ms", p.wait_ms)),
        (p.abortonclose, "option abortonclose".to_string()),
    ] {
        if differs {
            name.push_str(", ");
            name.push_str(&what);
        }
    }
    name
}

/// The side-by-side table: per build and setting, the model's verdict beside the real
/// runs.
pub fn table(reports: &[RunReport]) -> String {
    let mut labels: Vec<String> = Vec::new();
    for r in reports {
        let name = row_name(r);
        if !labels.contains(&name) {
            labels.push(name);
        }
    }
    let mut out = String::from(
        "| build | model (variant: verdict) | deaths/runs | time to death (s) | last CLI cycle before death (s) | stranded (sQ) | req/s | CLI cycles | frames printed |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for l in labels {
        let rs: Vec<&RunReport> = reports.iter().filter(|r| row_name(r) == l).collect();
        let died: Vec<&&RunReport> = rs.iter().filter(|r| r.time_to_death_s.is_some()).collect();
        let deaths: Vec<String> = died
            .iter()
            .map(|r| format!("{:.1}", r.time_to_death_s.unwrap_or(0.0)))
            .collect();
        let survived: Vec<String> = rs
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Survived | Outcome::Interrupted))
            .map(|r| match r.outcome {
                Outcome::Interrupted => format!("{:.0} s until Ctrl-C", r.seconds_run),
                _ => format!("{:.0} s", r.seconds_run),
            })
            .collect();
        let ttd = match (deaths.is_empty(), survived.is_empty()) {
            (true, _) => format!("— (survived {})", survived.join(", ")),
            (false, true) => deaths.join(", "),
            (false, false) => format!("{} (survived {})", deaths.join(", "), survived.join(", ")),
        };
        let hung: Vec<String> = died
            .iter()
            .map(|r| {
                r.last_cli_cycle_s
                    .map_or("?".to_string(), |t| format!("{t:.1}"))
            })
            .collect();
        let hung = if hung.is_empty() {
            "—".to_string()
        } else {
            hung.join(", ")
        };
        let sq: Vec<String> = rs.iter().map(|r| r.logs.stranded_sq.to_string()).collect();
        let rps: Vec<String> = rs
            .iter()
            .map(|r| format!("{:.0}", r.requests_per_s()))
            .collect();
        let cyc: Vec<String> = rs.iter().map(|r| r.cli_cycles.to_string()).collect();
        let model = rs
            .iter()
            .find_map(|r| r.model.as_ref())
            .map(|m| format!("{}: {}", m.variant, m.summary()))
            .unwrap_or_else(|| "no matching variant".into());
        let frames = died
            .iter()
            .find(|r| !r.stderr.frames.is_empty())
            .map(|r| r.stderr.frames.join(", "))
            .unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| {l} | {model} | {}/{} | {ttd} | {hung} | {} | {} | {} | {frames} |\n",
            died.len(),
            rs.len(),
            sq.join(", "),
            rps.join(", "),
            cyc.join(", "),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(label: &str, outcome: Outcome, secs: f64, sq: u64) -> RunReport {
        let died = matches!(outcome, Outcome::WatchdogDeath | Outcome::OtherDeath);
        RunReport {
            label: label.into(),
            binary: "/x/haproxy".into(),
            version: "HAProxy version 3.1-dev8-8d68717a4".into(),
            run: 1,
            runs: 2,
            params: Params::default(),
            ports: Ports {
                frontend: 1,
                origin: 2,
                syslog: 3,
            },
            processes: vec![("haproxy".into(), 42)],
            started_unix: 0,
            outcome,
            seconds_run: secs,
            time_to_death_s: died.then_some(secs),
            exit: "killed by SIGABRT (6)".into(),
            stderr: StderrScan {
                frames: vec!["pendconn_add".into(), "assign_server_and_queue".into()],
                ..StderrScan::default()
            },
            wrk: Some(WrkSummary {
                requests: 1000,
                ..WrkSummary::default()
            }),
            cum_req: Some(900),
            logs: LogCounts {
                stranded_sq: sq,
                ..LogCounts::default()
            },
            cli_cycles: 7,
            last_cli_cycle_s: Some(1.5),
            cli_failures: 0,
            cli_first_failures: vec![],
            model: Some(ModelVerdict {
                variant: "livelock".into(),
                in_section: "stuck loop + orphan".into(),
                split: "stuck loop + orphan".into(),
            }),
        }
    }

    #[test]
    fn run_files_keep_dotted_labels() {
        let d = Path::new("/r");
        assert_eq!(
            run_file(d, "debian-2.6", 2, 7, "json"),
            Path::new("/r/debian-2.6-run2-7.json")
        );
        assert_ne!(
            run_file(d, "debian-2.6", 1, 7, "json"),
            run_file(d, "debian-2.6", 2, 7, "json")
        );
    }

    #[test]
    fn the_one_line_verdict_says_what_happened() {
        let r = report("8d68717a4", Outcome::WatchdogDeath, 10.0, 3);
        let l = r.one_line();
        assert!(
            l.starts_with("8d68717a4 run 1/2: DIED of the watchdog after 10.0 s"),
            "{l}"
        );
        assert!(l.contains("pendconn_add, assign_server_and_queue"), "{l}");
        assert!(l.contains("last CLI cycle at 1.5 s"), "{l}");
        assert!(
            l.contains("1000 requests (100/s), 3 stranded in queue (sQ), 7 CLI cycles"),
            "{l}"
        );
        assert!(l.ends_with("model (livelock): stuck loop + orphan"), "{l}");
        let s = report("x", Outcome::Survived, 90.0, 0).one_line();
        assert!(s.contains("survived 90 s"), "{s}");
        let t = table(&[report("x", Outcome::Interrupted, 5.0, 0)]);
        assert!(t.contains("| 0/1 | — (survived 5 s until Ctrl-C) |"), "{t}");
    }

    #[test]
    fn the_table_counts_deaths_per_build() {
        let rs = vec![
            report("8d68717a4", Outcome::WatchdogDeath, 10.0, 3),
            report("8d68717a4", Outcome::Survived, 90.0, 0),
            report("ca275d99c", Outcome::Survived, 90.0, 0),
        ];
        let t = table(&rs);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[2].starts_with("| 8d68717a4 | livelock: stuck loop + orphan | 1/2 | 10.0 (survived 90 s) | 1.5 | 3, 0 |"), "{t}");
        assert!(lines[3].contains("| 0/1 | — (survived 90 s) | — |"), "{t}");
        // Runs of one build under another setting are a row of their own.
        let mut four = report("8d68717a4", Outcome::Survived, 60.0, 0);
        four.params.threads = 4;
        let t = table(&[rs[0].clone(), four]);
        assert!(t.contains("| 8d68717a4 | livelock"), "{t}");
        assert!(t.contains("| 8d68717a4, nbthread 4 | livelock"), "{t}");
        let mut aoc = report("8d68717a4", Outcome::Survived, 60.0, 0);
        aoc.params.abortonclose = true;
        let t = table(&[aoc]);
        assert!(t.contains("| 8d68717a4, option abortonclose |"), "{t}");
        let dir = std::env::temp_dir().join(format!("lbq-reality-report-{}", std::process::id()));
        write_json(&dir.join("a.json"), &rs[0]).unwrap();
        let back = read_dir(&dir).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].one_line(), rs[0].one_line());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
