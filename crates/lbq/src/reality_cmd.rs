//! `lbq reality`: run the seed commit's reproducer on real HAProxy builds and print
//! each run's outcome beside the model's verdict for the matching variant.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use lbqueue::Variant;
use lbqueue_reality::report::{self, RunReport};
use lbqueue_reality::run::Target;
use lbqueue_reality::verdict::{self, ModelVerdict};
use lbqueue_reality::{build, run_once, Params, Tools};

#[derive(clap::Args, Debug)]
pub struct RealityArgs {
    /// An already-built haproxy binary (repeatable). With no --haproxy, --tarball,
    /// --source or --all: Debian's /usr/sbin/haproxy.
    #[arg(long, value_name = "PATH")]
    haproxy: Vec<PathBuf>,
    /// An HAProxy source tarball named haproxy-<commit>.tar.gz (repeatable): extracted
    /// and built once with `make TARGET=linux-glibc`, cached under --build-dir/<commit>.
    #[arg(long, value_name = "FILE")]
    tarball: Vec<PathBuf>,
    /// An HAProxy source tree (repeatable): built in place, cached by its git commit.
    #[arg(long, value_name = "DIR")]
    source: Vec<PathBuf>,
    /// Every haproxy-*.tar.gz in DIR (e.g. ../shared/haproxy), plus Debian's
    /// /usr/sbin/haproxy when installed.
    #[arg(long, value_name = "DIR")]
    all: Option<PathBuf>,
    /// A patch applied (`patch -p1`) to every --tarball and --all source before it is
    /// built, e.g. crates/reality/patches/widen-ca275-gaps.patch; the build is
    /// labelled and cached as <commit>+<patch file stem>, and --all leaves Debian's
    /// binary out.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["haproxy", "source"])]
    patch: Option<PathBuf>,
    /// The lbqueue variant to set beside every build (default: the variant matching
    /// each build by commit: Debian's 2.6.12 toctou, 8d68717a4 livelock, 53f52e67a
    /// purge, ca275d99c ca275, 111ea83ed upstream, 50872daa6 master).
    #[arg(long)]
    variant: Option<String>,
    /// Runs per build.
    #[arg(long, default_value_t = 1, value_name = "N")]
    runs: u32,
    /// The length of a run, in seconds (it ends earlier if HAProxy dies).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    seconds: u64,
    /// HAProxy's nbthread.
    #[arg(long, default_value_t = 8, value_name = "N")]
    threads: u32,
    /// Concurrent keep-alive connections of wrk.
    #[arg(long, default_value_t = 40, value_name = "N")]
    connections: u32,
    /// CLI cycles (disable server, shutdown sessions server, enable server) per second.
    #[arg(long, default_value_t = 10.0, value_name = "PER_S")]
    rate: f64,
    /// `timeout queue`, in milliseconds.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    queue_timeout_ms: u64,
    /// Pause between `shutdown sessions server` and `enable server`, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    wait_ms: u64,
    /// `option abortonclose` in the backend: a stream killed by `shutdown sessions`
    /// before it connected gives its slot back from `stream_free` instead of connecting
    /// with the request it holds (ca275d99c's remaining loop needs this).
    #[arg(long)]
    abortonclose: bool,
    /// Where the JSON reports go (one per run).
    #[arg(long, default_value = "target/reality", value_name = "DIR")]
    out: PathBuf,
    /// Where builds are cached (<DIR>/<commit>/haproxy).
    #[arg(long, default_value = "target/haproxy-builds", value_name = "DIR")]
    build_dir: PathBuf,
    /// make -j for builds.
    #[arg(long, default_value_t = 2, value_name = "N")]
    jobs: u32,
    /// The origin server.
    #[arg(long, default_value = "/usr/sbin/nginx", value_name = "PATH")]
    nginx: PathBuf,
    /// The load generator.
    #[arg(long, default_value = "/usr/bin/wrk", value_name = "PATH")]
    wrk: PathBuf,
    /// Run nothing: print the side-by-side table of the JSON reports in DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["haproxy", "tarball", "source", "all"])]
    table: Option<PathBuf>,
}

/// Debian's haproxy.
const DEBIAN_HAPROXY: &str = "/usr/sbin/haproxy";

pub fn run(args: RealityArgs) -> Result<u8, String> {
    if let Some(dir) = &args.table {
        let reports = report::read_dir(dir).map_err(|e| format!("--table: {e}"))?;
        if reports.is_empty() {
            return Err(format!(
                "--table: no run reports (*.json) in {}",
                dir.display()
            ));
        }
        print!("{}", report::table(&reports));
        return Ok(0);
    }
    let params = Params {
        threads: args.threads,
        connections: args.connections,
        rate: args.rate,
        seconds: args.seconds,
        queue_timeout_ms: args.queue_timeout_ms,
        wait_ms: args.wait_ms,
        abortonclose: args.abortonclose,
    };
    params.validate()?;
    if !(1..=1000).contains(&args.runs) {
        return Err(format!("--runs: expected 1 to 1000, got {}", args.runs));
    }
    if !(1..=64).contains(&args.jobs) {
        return Err(format!("--jobs: expected 1 to 64, got {}", args.jobs));
    }
    let forced = match &args.variant {
        Some(v) => {
            v.parse::<Variant>()
                .map_err(|e| format!("--variant: {e}"))?;
            Some(v.clone())
        }
        None => None,
    };
    for (field, p) in [("--nginx", &args.nginx), ("--wrk", &args.wrk)] {
        if !p.is_file() {
            return Err(format!(
                "{field}: {} not found (Debian: apt-get install nginx-light wrk)",
                p.display()
            ));
        }
    }
    let tools = Tools {
        nginx: args.nginx.clone(),
        wrk: args.wrk.clone(),
    };

    // Every build to run: (label, binary), bad input found before anything runs.
    let mut bins: Vec<(Option<String>, PathBuf)> = Vec::new();
    for h in &args.haproxy {
        if !h.is_file() {
            return Err(format!("--haproxy: {} not found", h.display()));
        }
        bins.push((None, h.clone()));
    }
    let mut tarballs = args.tarball.clone();
    if let Some(dir) = &args.all {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| format!("--all: cannot read {}: {e}", dir.display()))?;
        let mut found: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("haproxy-") && n.ends_with(".tar.gz"))
            })
            .collect();
        found.sort();
        if found.is_empty() {
            return Err(format!("--all: no haproxy-*.tar.gz in {}", dir.display()));
        }
        tarballs.extend(found);
        if args.patch.is_none() && Path::new(DEBIAN_HAPROXY).is_file() {
            bins.insert(0, (None, PathBuf::from(DEBIAN_HAPROXY)));
        }
    }
    for t in &tarballs {
        if !t.is_file() {
            return Err(format!("--tarball: {} not found", t.display()));
        }
        let commit = build::tarball_commit(t)?;
        if let Some(p) = &args.patch {
            build::patched_label(&commit, p)?;
        }
    }
    if let Some(p) = &args.patch {
        if tarballs.is_empty() {
            return Err("--patch: give the sources to patch with --tarball or --all".into());
        }
        if !p.is_file() {
            return Err(format!("--patch: {} not found", p.display()));
        }
    }
    if bins.is_empty() && tarballs.is_empty() && args.source.is_empty() {
        if !Path::new(DEBIAN_HAPROXY).is_file() {
            return Err(format!(
                "--haproxy: none given and Debian's {DEBIAN_HAPROXY} not found (apt-get install haproxy)"
            ));
        }
        bins.push((None, PathBuf::from(DEBIAN_HAPROXY)));
    }
    for t in &tarballs {
        let (label, bin) =
            build::from_tarball_patched(t, args.patch.as_deref(), &args.build_dir, args.jobs)?;
        bins.push((Some(label), bin));
    }
    for s in &args.source {
        let (commit, bin) = build::from_tree(s, &args.build_dir, args.jobs)?;
        bins.push((Some(commit), bin));
    }

    let stop = crate::interrupt::flag();
    let tty = std::io::stderr().is_terminal();
    let mut reports: Vec<RunReport> = Vec::new();
    println!(
        "lbq reality: nbthread {}, one server maxconn 1, balance roundrobin{}, timeout queue {} ms, \
         {} wrk connections, CLI cycle {}/s (wait {} ms), {} s per run, {} run(s) per build",
        params.threads,
        if params.abortonclose {
            ", option abortonclose"
        } else {
            ""
        },
        params.queue_timeout_ms,
        params.connections,
        params.rate,
        params.wait_ms,
        params.seconds,
        args.runs
    );
    'builds: for (label, bin) in &bins {
        let version = build::version(bin)?;
        // A tarball's or tree's commit names the build; else `haproxy -v` does.
        let known = label
            .as_deref()
            .and_then(verdict::known)
            .or_else(|| verdict::known(&version));
        let label = label
            .clone()
            .or_else(|| known.map(|k| k.label.to_string()))
            .unwrap_or_else(|| version_label(&version));
        let variant = forced
            .clone()
            .or_else(|| known.map(|k| k.variant.to_string()));
        let model: Option<ModelVerdict> = variant
            .as_deref()
            .map(|v| verdict::model_verdict(v, params.abortonclose));
        match &model {
            Some(m) => println!(
                "{label} ({version}): model, variant {} on the seed preset (abortonclose {}): {}",
                m.variant,
                if params.abortonclose { "on" } else { "off" },
                m.summary()
            ),
            None => println!("{label} ({version}): no matching variant (use --variant)"),
        }
        for n in 1..=args.runs {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break 'builds;
            }
            let work = std::env::temp_dir().join(format!(
                "lbq-reality-{}-{}-{n}",
                std::process::id(),
                reports.len()
            ));
            let target = Target {
                label: &label,
                binary: bin,
                version: &version,
                model: model.clone(),
            };
            let mut last = std::time::Instant::now();
            let mut progress = |line: &str| {
                if tty {
                    eprint!("\r\x1b[K{line}");
                } else if last.elapsed().as_secs() >= 10 {
                    last = std::time::Instant::now();
                    eprintln!("{line}");
                }
            };
            let result = run_once(
                &target,
                &params,
                &tools,
                (n, args.runs),
                &work,
                stop,
                &mut progress,
            );
            if tty {
                eprint!("\r\x1b[K");
            }
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let _ = std::fs::create_dir_all(&args.out);
            let _ = std::fs::copy(
                work.join("haproxy.stderr"),
                report::run_file(&args.out, &label, n, unix, "stderr.txt"),
            );
            let _ = std::fs::remove_dir_all(&work);
            let r = result?;
            report::write_json(&report::run_file(&args.out, &label, n, unix, "json"), &r)?;
            println!("{}", r.one_line());
            reports.push(r);
        }
    }
    if !reports.is_empty() {
        println!("\n{}", report::table(&reports));
        println!("reports: {}", args.out.display());
    }
    Ok(0)
}

/// A label from `haproxy -v`: "HAProxy version 3.1-dev8-8d68717a4 …" → "3.1-dev8-8d68717a4".
fn version_label(version: &str) -> String {
    version
        .split_whitespace()
        .nth(2)
        .unwrap_or("haproxy")
        .to_string()
}
