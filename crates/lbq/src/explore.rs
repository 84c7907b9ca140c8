//! `lbq explore`: serve stateright's Explorer on the step model, with the liveness
//! verdicts that stateright cannot judge (`assign_can_return`, `assign_terminates`)
//! shown as properties, and print where the livelock's lasso is.
//!
//! The Explorer listens on 127.0.0.1 only: it has no authentication and its "Run to
//! completion" button makes it spend CPU and memory for whoever asks.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

use lbqueue::{presets, Variant};
use lbqueue_models::check::default_bounds;
use lbqueue_models::explorer::ExploreModel;

use crate::cli::load_scenario;

/// The only address the Explorer listens on.
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Arguments of `lbq explore`.
#[derive(clap::Args, Debug)]
pub struct ExploreArgs {
    /// The queue logic version: toctou, livelock, purge, upstream or fixed
    /// (default: the scenario file's `variant`, else fixed).
    #[arg(long)]
    variant: Option<String>,
    /// A preset name (see `lbq list`) or a scenario file (TOML).
    #[arg(long, default_value = presets::DEFAULT)]
    scenario: String,
    /// Which model to explore: `step` (one action per section, with the liveness
    /// verdicts) or `actor` (threads, the CLI and clients as actors, wake-ups as
    /// messages: the Explorer draws its paths as sequence diagrams).
    #[arg(long, value_enum, default_value = "step")]
    model: ModelKind,
    /// The TCP port to serve the Explorer on (0: any free port).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The address to listen on. Only 127.0.0.1: the Explorer has no authentication.
    #[arg(long, default_value = "127.0.0.1", value_parser = ["127.0.0.1"])]
    bind: String,
}

/// The models `lbq explore` can serve.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// The step model, with the liveness verdicts as properties.
    Step,
    /// The actor model (sequence diagrams between threads, the CLI and the backend).
    Actor,
}

/// Runs `lbq explore`: serves until killed. `Err` is bad input or a taken port (exit 2).
pub fn run(args: ExploreArgs) -> Result<u8, String> {
    debug_assert_eq!(args.bind, LOOPBACK.to_string());
    let mut scenario = load_scenario(&args.scenario)?;
    if let Some(v) = &args.variant {
        scenario = scenario.with_variant(
            v.parse::<Variant>()
                .map_err(|e| format!("--variant: {e}"))?,
        );
    }
    // Fail fast on a taken port, before the exploration.
    let port = free_port(args.port)?;
    if args.model == ModelKind::Actor {
        if let Some(why) = lbqueue_models::actor_model::unsupported(&scenario) {
            return Err(format!("--model actor: {why}"));
        }
        return serve_actor_model(scenario, port);
    }

    let started = std::time::Instant::now();
    let model = ExploreModel::new(scenario, default_bounds());
    let base = format!("http://{LOOPBACK}:{port}/");
    println!(
        "lbq explore: variant {}, scenario {}: {} unique states explored in {:.2} s{}",
        model.step.scenario.variant.name(),
        model.step.scenario.name,
        model.unique_states(),
        started.elapsed().as_secs_f64(),
        if model.complete() {
            ""
        } else {
            " (INCOMPLETE: a bound stopped the search; a loop may be missed)"
        }
    );
    if model.loops().is_empty() && model.complete() {
        println!("  assign_can_return and assign_terminates hold: no livelock to show");
    } else if model.loops().is_empty() {
        println!("  no livelock found before the bound (assign_can_return, assign_terminates: incomplete)");
    }
    for l in model.loops() {
        let what = if l.property == lbqueue_models::step_model::ASSIGN_CAN_RETURN {
            "stuck loop (no schedule leaves it)"
        } else {
            "fair non-progress loop"
        };
        println!(
            "  {} violated: {what}, {} steps to it, {} per turn",
            l.property, l.prefix_len, l.cycle_len
        );
        println!("    lasso's last state: {base}#/steps/{}", l.path());
        println!(
            "    loop's first state: {base}#/steps/{}",
            l.loop_entry_path()
        );
    }
    println!("Explorer: {base}  (Ctrl-C to stop)");
    if model.loops().is_empty() {
        println!(
            "  Its checker runs to completion by itself: the Properties list shows every verdict."
        );
    } else {
        println!(
            "  Its checker runs to completion by itself: the Properties list shows every verdict \
             and links to a loop state it found for each violated liveness property."
        );
    }

    // The port was free a moment ago; take it again at the last moment so that a race
    // is an error message, not a panic inside stateright.
    free_port(port)?;
    run_to_completion_once_up(port);
    let _ = std::io::stdout().flush();
    model.serve(port);
    Err("the Explorer's server stopped".to_string())
}

/// `--model actor`: stateright's Explorer on the actor model as it is. Its paths are
/// drawn as sequence diagrams; the liveness verdicts are only computed for the step
/// model (`--model step`), which reaches the same verdicts (tests/engines_agree.rs).
fn serve_actor_model(scenario: lbqueue::Scenario, port: u16) -> Result<u8, String> {
    let model = lbqueue_models::explorer::ActorExploreModel::new(scenario);
    let base = format!("http://{LOOPBACK}:{port}/");
    println!("lbq explore: actor model, Explorer: {base}  (Ctrl-C to stop)");
    println!("  liveness verdicts: `lbq explore --model step` (same verdicts, fewer states)");
    free_port(port)?;
    run_to_completion_once_up(port);
    let _ = std::io::stdout().flush();
    model.serve(port);
    Err("the Explorer's server stopped".to_string())
}

/// Checks that `port` is free on 127.0.0.1 by binding it and letting it go; for port
/// 0, the free port the system picked.
fn free_port(port: u16) -> Result<u16, String> {
    match TcpListener::bind((LOOPBACK, port)) {
        Ok(l) => l
            .local_addr()
            .map(|a| a.port())
            .map_err(|e| format!("port {port} on {LOOPBACK}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
            "port {port} on {LOOPBACK} is taken: pass --port N (another free port, or 0 for any)"
        )),
        Err(e) => Err(format!("cannot listen on port {port} of {LOOPBACK}: {e}")),
    }
}

/// stateright's Explorer checks nothing until its "Run to completion" button is
/// pressed; press it (POST /.runtocompletion) as soon as the server answers, so the
/// verdicts are there when the page opens.
fn run_to_completion_once_up(port: u16) {
    std::thread::spawn(move || {
        for _ in 0..600 {
            if let Ok(mut s) = TcpStream::connect((LOOPBACK, port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = s.write_all(
                    b"POST /.runtocompletion HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                );
                let _ = s.read_to_end(&mut Vec::new());
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}
