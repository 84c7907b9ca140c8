//! `lbq stress`: the threaded composition on operating-system threads, run after run
//! for a wall-clock budget, with a watchdog like HAProxy's: a thread that stays inside
//! one call of assign_server_and_queue for longer than the watchdog period (HAProxy's is
//! one second) is reported with its loop count, and the run is stopped.
//!
//! Nothing here is replayable: the OS picks the schedules. A hit is reported with the
//! run's history, which the step model can replay.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::facade::Std;
use super::{start, Config, Failure, Memory, Outcome};
use crate::scenario::Scenario;
use crate::sections::Actor;

/// A stress campaign.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Wall-clock budget.
    pub duration: Duration,
    /// How long one call may run before the watchdog reports it.
    pub watchdog: Duration,
}

/// The first hit of a campaign.
#[derive(Clone, Debug, Serialize)]
pub struct Hit {
    /// What happened.
    pub failure: Failure,
    /// In which run (1-based).
    pub run: usize,
    /// Seconds from the start of the campaign.
    pub seconds: f64,
    /// The actor of every section of that run, in order.
    pub history: Vec<String>,
}

/// What a campaign found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Runs started.
    pub runs: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Sections run over all runs.
    pub sections: u64,
    /// The watchdog period, in milliseconds.
    pub watchdog_ms: u64,
    /// The first livelock (what HAProxy's watchdog kills the process for), if any.
    pub hit: Option<Hit>,
    /// Runs that got stuck (every thread parked with streams left): HAProxy would not
    /// die of it, the streams would wait for their queue timeout; the campaign goes on.
    pub stuck_runs: usize,
    /// The first stuck run, if any.
    pub first_stuck: Option<Hit>,
    /// Each `always` property violated, with the number of runs that violated it.
    pub violations: Vec<(String, usize)>,
}

/// Runs `scenario` on OS threads until the budget is spent or a run hits a livelock
/// (reported by the watchdog). Stuck runs are counted and the campaign goes on.
pub fn run(scenario: &Scenario, options: Options) -> Report {
    let start_time = Instant::now();
    let mut report = Report {
        runs: 0,
        seconds: 0.0,
        sections: 0,
        watchdog_ms: options.watchdog.as_millis() as u64,
        hit: None,
        stuck_runs: 0,
        first_stuck: None,
        violations: Vec::new(),
    };
    while start_time.elapsed() < options.duration && report.hit.is_none() {
        let config = Config {
            round_bound: None,
            record: true,
            gated: false,
        };
        let running = start::<Std>(scenario, config);
        watch(
            running.shared(),
            options.watchdog,
            start_time + options.duration,
        );
        report.note(running.finish(), start_time.elapsed());
    }
    report.seconds = start_time.elapsed().as_secs_f64();
    report
}

impl Report {
    /// Counts one finished run, `elapsed` into the campaign: its sections, each
    /// property it violated, and its failure (a stuck run is counted and the campaign
    /// goes on; any other failure is the campaign's hit).
    fn note(&mut self, out: Outcome, elapsed: Duration) {
        self.runs += 1;
        self.sections += out.sections;
        for v in &out.violations {
            match self.violations.iter_mut().find(|(p, _)| *p == v.property) {
                Some((_, n)) => *n += 1,
                None => self.violations.push((v.property.clone(), 1)),
            }
        }
        if let Some(failure) = out.failure {
            let stuck = matches!(failure, Failure::Stuck { .. });
            let hit = Hit {
                failure,
                run: self.runs,
                seconds: elapsed.as_secs_f64(),
                history: out.history.iter().map(Actor::to_string).collect(),
            };
            if stuck {
                self.stuck_runs += 1;
                self.first_stuck.get_or_insert(hit);
            } else {
                self.hit = Some(hit);
            }
        }
    }
}

/// The watchdog of one run: samples every thread's call; a thread still in the same
/// call of assign_server_and_queue, still looping, after `period` is reported and the
/// run stopped. Also stops the run at `deadline` (a run that is merely slow is not a
/// hit). Returns when the run has ended.
fn watch(shared: &super::Shared<Std>, period: Duration, deadline: Instant) {
    let tick = (period / 10).max(Duration::from_millis(1));
    let mut seen: Vec<Option<Watched>> = Vec::new();
    loop {
        std::thread::sleep(tick);
        let mut m = shared.lock();
        if m.live_workers == 0 {
            return;
        }
        if seen.is_empty() {
            seen = vec![None; m.rounds.len()];
        }
        if let Some(failure) = overdue(&m, shared.scenario(), &mut seen, period) {
            m.failure.get_or_insert(failure);
            drop(m);
            shared.halt();
            return;
        }
        if Instant::now() >= deadline {
            drop(m);
            shared.halt();
            return;
        }
    }
}

/// What the watchdog saw of a looping thread: its call, since when, and (sections,
/// own sections) then.
#[derive(Clone, Copy)]
struct Watched {
    call: u64,
    since: Instant,
    mark: (u64, u64),
}

/// A thread that has looped in one call for at least `period`, as a failure.
fn overdue(
    m: &Memory,
    sc: &Scenario,
    seen: &mut [Option<Watched>],
    period: Duration,
) -> Option<Failure> {
    for (t, slot) in seen.iter_mut().enumerate() {
        let looping = m.rounds[t] > 0;
        let call = m.calls[t];
        match slot {
            Some(w) if looping && w.call == call => {
                if w.since.elapsed() >= period {
                    let stream = m.sys.threads[t].task.map(|k| k.stream)?;
                    return Some(Failure::looping(m, sc, t as u8, stream, w.mark));
                }
            }
            _ if looping => {
                *slot = Some(Watched {
                    call,
                    since: Instant::now(),
                    mark: (m.sections, m.own_sections[t]),
                })
            }
            _ => *slot = None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;
    use crate::state::{Call, Pc, System, Task};
    use crate::Variant;

    /// The memory of a `seed` run in which T1 runs S2's call number `call` of
    /// assign_server_and_queue, gone back to `balance_again` `rounds` times.
    fn memory(sc: &Scenario, call: u64, rounds: u32) -> Memory {
        let mut sys = System::new(sc);
        sys.threads[0].task = Some(Task {
            stream: 1,
            pc: Pc::AssignServer,
            call: Call::default(),
        });
        Memory {
            sections: 30,
            rounds: vec![rounds, 0],
            calls: vec![call, 0],
            own_sections: vec![20, 10],
            ..Memory::new(sys)
        }
    }

    fn seed() -> Scenario {
        presets::get("seed")
            .expect("preset")
            .with_variant(Variant::Livelock)
    }

    const FOREVER: Duration = Duration::from_secs(3600);

    #[test]
    fn the_watchdog_reports_a_call_still_looping_after_its_period() {
        let sc = seed();
        let mut seen = vec![None; 2];
        let mut m = memory(&sc, 5, 3);
        // First sight of the loop: noted with the (sections, own sections) of now.
        assert_eq!(overdue(&m, &sc, &mut seen, Duration::ZERO), None);
        assert_eq!(seen[0].map(|w| (w.call, w.mark)), Some((5, (30, 20))));
        assert!(seen[1].is_none(), "T2 is not looping");
        // Later in the same call: within the period, nothing yet …
        m.sections = 50;
        m.own_sections = vec![40, 10];
        m.rounds[0] = 9;
        assert_eq!(overdue(&m, &sc, &mut seen, FOREVER), None);
        // … past it, the loop since the mark, where only T1 ran while the CLI and
        // the clients could have.
        assert_eq!(
            overdue(&m, &sc, &mut seen, Duration::ZERO),
            Some(Failure::Livelock {
                thread: 0,
                stream: 1,
                rounds: 9,
                starved_others: true,
            })
        );
    }

    #[test]
    fn the_watchdog_starts_over_on_a_new_call_and_forgets_a_call_that_stopped_looping() {
        let sc = seed();
        let mut seen = vec![None; 2];
        assert_eq!(
            overdue(&memory(&sc, 5, 3), &sc, &mut seen, Duration::ZERO),
            None
        );
        // Another call of the same thread, also looping: watched afresh, not reported.
        let m = memory(&sc, 6, 1);
        assert_eq!(overdue(&m, &sc, &mut seen, Duration::ZERO), None);
        assert_eq!(seen[0].map(|w| w.call), Some(6));
        // The call left the loop (no `goto balance_again` in progress): forgotten.
        let m = memory(&sc, 6, 0);
        assert_eq!(overdue(&m, &sc, &mut seen, Duration::ZERO), None);
        assert!(seen[0].is_none());
        assert_eq!(overdue(&m, &sc, &mut seen, Duration::ZERO), None);
        assert!(seen[0].is_none());
    }

    #[test]
    fn the_watchdog_halts_a_run_at_its_deadline() {
        // A gated run given no turn never ends by itself: only the deadline stops it.
        let sc = seed();
        let running = start::<Std>(
            &sc,
            Config {
                round_bound: None,
                record: true,
                gated: true,
            },
        );
        let deadline = Instant::now();
        let (done, watched) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                watch(running.shared(), Duration::from_millis(10), deadline);
                let _ = done.send(());
            });
            // A watchdog that never returns fails here (after a generous wait) rather
            // than hanging the suite; stop the run so that the scope can end.
            let returned = watched.recv_timeout(Duration::from_secs(20)).is_ok();
            if !returned {
                running.shared().lock().halt = true;
                running.shared().changed.notify_all();
            }
            assert!(
                returned,
                "the watchdog did not stop the run at its deadline"
            );
        });
        assert!(running.shared().lock().halt);
        let out = running.finish();
        assert_eq!((out.failure, out.sections), (None, 0));
    }

    #[test]
    fn a_campaign_counts_runs_per_violated_property_stuck_runs_and_keeps_the_first_of_each() {
        let sc = seed();
        let mut report = run(
            &sc,
            Options {
                duration: Duration::ZERO,
                watchdog: Duration::from_millis(1000),
            },
        );
        assert_eq!((report.runs, report.sections), (0, 0), "no budget, no run");
        let violation = |property: &str| crate::threaded::Violation {
            property: property.to_string(),
            detail: String::new(),
            section: 1,
        };
        let stuck = || Failure::Stuck { waiting: vec![2] };
        let run_of = |failure, violations: Vec<_>, sections| Outcome {
            failure,
            violations,
            sections,
            history: vec![Actor::Client],
            sys: System::new(&sc),
        };
        let drains = "backend_queue_drains";
        let orphan = "no_orphan_pendconn";
        report.note(
            run_of(None, vec![violation(drains)], 10),
            Duration::from_secs(1),
        );
        report.note(
            run_of(
                Some(stuck()),
                vec![violation(orphan), violation(drains)],
                20,
            ),
            Duration::from_secs(2),
        );
        report.note(
            run_of(Some(stuck()), vec![violation(orphan)], 30),
            Duration::from_secs(3),
        );
        assert_eq!(
            report.violations,
            [(drains.to_string(), 2), (orphan.to_string(), 2)]
        );
        assert_eq!(
            (report.runs, report.sections, report.stuck_runs),
            (3, 60, 2)
        );
        let first = report.first_stuck.as_ref().expect("a stuck run");
        assert_eq!(
            (first.run, first.seconds),
            (2, 2.0),
            "the first stuck run is kept"
        );
        assert!(report.hit.is_none(), "a stuck run is no hit");
        let livelock = Failure::Livelock {
            thread: 0,
            stream: 1,
            rounds: 99,
            starved_others: false,
        };
        report.note(
            run_of(Some(livelock.clone()), vec![], 5),
            Duration::from_secs(4),
        );
        let hit = report.hit.as_ref().expect("the hit");
        assert_eq!((&hit.failure, hit.run, hit.seconds), (&livelock, 4, 4.0));
        assert_eq!(hit.history, ["client"]);
        assert_eq!(report.stuck_runs, 2);
    }
}
