//! Random scenarios for randomized testing: a small deterministic PRNG ([`SplitMix64`])
//! and [`random_scenario`], which draws small, always valid, exhaustively checkable
//! scenarios (1–2 servers, maxconn 0–2, any algorithm, 1–3 threads, 1–5 streams, 0–6 CLI
//! commands on existing servers, `timeout queue` on or off, atomics in-section or split by
//! default).
//!
//! Everything here is a pure function of a seed, so a scenario found by a randomized
//! test or by `lbq check --random N --seed S` is regenerated from its seed alone; it is
//! also written out as a scenario file ([`Scenario::to_toml`]). [`shrink_scenario`]
//! lists the valid scenarios one reduction smaller, for shrinking a failing one.

use crate::scenario::{limits, CliCommand, CliKind, Scenario, ServerConfig};
use crate::state::{LbAlgo, ServerId, ThreadId};
use crate::variant::Variant;

/// SplitMix64 (Steele, Lea, Flood 2014; the generator `java.util.SplittableRandom` and
/// xoshiro's seeding use): 64 bits of state, every seed is valid, statistically good
/// enough for test generation, and identical on every platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias (rejection).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "SplitMix64::below(0)");
        // The largest multiple of n that fits: draws at or above it are redrawn.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// A uniform integer in `lo..=hi` (`lo <= hi`).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "SplitMix64::between({lo}, {hi})");
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability 1/2.
    pub fn coin(&mut self) -> bool {
        self.next_u64() >> 63 == 1
    }

    /// One element of a non-empty slice, uniformly.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// SplitMix64's output function (a bijection on `u64`).
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of the `index`-th scenario of a run seeded with `seed`: each scenario of
/// `lbq check --random N --seed S` can be regenerated on its own from this.
pub fn derive_seed(seed: u64, index: u64) -> u64 {
    mix64(seed ^ mix64(index.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA)))
}

/// What [`random_scenario`] may draw. Every field is clamped to what a scenario file
/// accepts ([`crate::scenario::limits`]), and the minimums (1 server, 1 thread, 1
/// stream, weight 1) always hold, so any `Limits` gives valid scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most servers (at least 1 is drawn).
    pub max_servers: usize,
    /// Largest `maxconn` (0, unlimited, is drawn too).
    pub max_maxconn: u8,
    /// Largest weight (at least 1).
    pub max_weight: u8,
    /// Most threads (at least 1).
    pub max_threads: u8,
    /// Most streams (at least 1).
    pub max_streams: usize,
    /// Most CLI commands (0 is drawn too).
    pub max_cli: usize,
    /// Whether `timeout queue` may be drawn on (it is drawn on half the time).
    pub queue_timeout: bool,
    /// The variant the scenarios name.
    pub variant: Variant,
    /// Which `atomics` the scenarios get: in-section, split, or either on a coin.
    pub atomics: Atomics,
    /// The scenarios' `abortonclose`: `Some` gives every scenario that value with no
    /// draw; `None` draws it on a coin after the atomics, so that a seed keeps the rest
    /// of its scenario.
    pub abortonclose: Option<bool>,
}

/// The `atomics` of random scenarios ([`Limits::atomics`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Atomics {
    /// Always in-section (`split_atomics: false`); no draw is made.
    InSection,
    /// Always split (`atomics = "split"`); no draw is made.
    Split,
    /// Split on a coin, drawn after every other draw of the scenario, so that a seed
    /// draws the same servers, threads, streams, CLI script and `timeout queue` whatever
    /// the atomics.
    Both,
}

impl Atomics {
    /// Every choice, in `--atomics` order.
    pub const ALL: [Atomics; 3] = [Atomics::InSection, Atomics::Split, Atomics::Both];

    /// The name `lbq check --random --atomics` takes.
    pub fn name(self) -> &'static str {
        match self {
            Atomics::InSection => "in-section",
            Atomics::Split => "split",
            Atomics::Both => "both",
        }
    }
}

impl std::str::FromStr for Atomics {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Atomics::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("expected in-section, split or both, found {s:?}"))
    }
}

impl std::fmt::Display for Atomics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Limits {
    /// Small enough that almost every scenario is checked exhaustively in seconds: 1–2
    /// servers, maxconn 0–2, weight 1 (roundrobin = static-rr, as in every preset),
    /// 1–3 threads, 1–5 streams, 0–6 CLI commands, `timeout queue` on or off, atomics
    /// in-section or split, `fixed`.
    pub const SMALL: Limits = Limits {
        max_servers: 2,
        max_maxconn: 2,
        max_weight: 1,
        max_threads: 3,
        max_streams: 5,
        max_cli: 6,
        queue_timeout: true,
        variant: Variant::Fixed,
        atomics: Atomics::Both,
        abortonclose: Some(true),
    };

    /// [`Limits::SMALL`] for another variant.
    pub fn small(variant: Variant) -> Limits {
        Limits {
            variant,
            ..Limits::SMALL
        }
    }

    /// The same limits, clamped into what scenario files accept.
    fn clamped(&self) -> Limits {
        Limits {
            max_servers: self.max_servers.clamp(1, limits::SERVERS),
            max_maxconn: self.max_maxconn.min(limits::MAXCONN),
            max_weight: self.max_weight.clamp(1, limits::WEIGHT),
            max_threads: self.max_threads.clamp(1, limits::THREADS),
            max_streams: self.max_streams.clamp(1, limits::STREAMS),
            max_cli: self.max_cli.min(limits::CLI_COMMANDS),
            ..*self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::SMALL
    }
}

/// Every LB algorithm, in scenario-file order.
pub const ALGOS: [LbAlgo; 4] = [
    LbAlgo::RoundRobin,
    LbAlgo::StaticRr,
    LbAlgo::First,
    LbAlgo::Hash,
];

const CLI_KINDS: [CliKind; 3] = [CliKind::Disable, CliKind::Shutdown, CliKind::Enable];

/// A random scenario within `limits` (named `random`; callers rename it). Always valid:
/// `Scenario::from_toml(&s.to_toml(), ..)` gives `s` back. Half the CLI scripts are
/// commands of any kind on any server in any order; the other half are maintenance
/// cycles (`disable`, maybe `shutdown sessions`, usually `enable`, on one server), the
/// shape of the seed commit's reproducer, which uniform scripts rarely produce.
pub fn random_scenario(rng: &mut SplitMix64, limits: &Limits) -> Scenario {
    let l = limits.clamped();
    let n_servers = rng.between(1, l.max_servers as u64) as usize;
    let servers = (0..n_servers)
        .map(|i| ServerConfig {
            name: format!("s{}", i + 1),
            maxconn: rng.between(0, l.max_maxconn.into()) as u8,
            weight: rng.between(1, l.max_weight.into()) as u8,
            strict_maxconn: false,
        })
        .collect();
    let algo = *rng.pick(&ALGOS);
    let threads = rng.between(1, l.max_threads.into()) as u8;
    let n_streams = rng.between(1, l.max_streams as u64) as usize;
    let streams = (0..n_streams)
        .map(|_| rng.below(threads.into()) as ThreadId)
        .collect();
    let n_cli = rng.between(0, l.max_cli as u64) as usize;
    let cli = if rng.coin() {
        random_commands(rng, n_cli, n_servers)
    } else {
        maintenance_cycles(rng, n_cli, n_servers)
    };
    let queue_timeout = l.queue_timeout && rng.coin();
    // Last, so that the draws above are those of the same seed before split atomics were
    // drawn.
    let split_atomics = match l.atomics {
        Atomics::InSection => false,
        Atomics::Split => true,
        Atomics::Both => rng.coin(),
    };
    let abortonclose = l.abortonclose.unwrap_or_else(|| rng.coin());
    Scenario {
        name: "random".to_string(),
        description: "drawn by lbqueue::random".to_string(),
        variant: l.variant,
        changes: Vec::new(),
        algo,
        servers,
        threads,
        streams,
        cli,
        queue_timeout,
        split_atomics,
        thread_groups: 1,
        cli_thread: None,
        connect_errors: 0,
        retries: 3,
        redispatch: false,
        abortonclose,
        seeded_bug: None,
    }
}

/// `n` commands, each of any kind on any server.
fn random_commands(rng: &mut SplitMix64, n: usize, n_servers: usize) -> Vec<CliCommand> {
    (0..n)
        .map(|_| CliCommand {
            kind: *rng.pick(&CLI_KINDS),
            server: rng.below(n_servers as u64) as ServerId,
        })
        .collect()
}

/// `n` commands made of maintenance cycles as operators (and the seed commit's
/// reproducer) run them: `disable server`, sometimes `shutdown sessions server`, usually
/// `enable server`, each cycle on one server.
fn maintenance_cycles(rng: &mut SplitMix64, n: usize, n_servers: usize) -> Vec<CliCommand> {
    let mut cli = Vec::with_capacity(n);
    while cli.len() < n {
        let server = rng.below(n_servers as u64) as ServerId;
        let shutdown = rng.coin();
        let enable = rng.below(3) > 0;
        let cycle = [
            Some(CliKind::Disable),
            shutdown.then_some(CliKind::Shutdown),
            enable.then_some(CliKind::Enable),
        ];
        for kind in cycle.into_iter().flatten() {
            if cli.len() < n {
                cli.push(CliCommand { kind, server });
            }
        }
    }
    cli
}

/// How [`reductions`] made a scenario smaller, so that a shrinker can carry a schedule
/// over (the actors that remain keep their identity, renumbered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Server `v` removed, with the CLI commands naming it; later servers renumbered.
    Server(ServerId),
    /// CLI command `i` removed.
    Cli(usize),
    /// Stream `i` removed; later streams renumbered.
    Stream(usize),
    /// Thread `t` removed: its streams moved to thread 0 (the first remaining one),
    /// later threads renumbered.
    Thread(ThreadId),
    /// A setting simplified: `timeout queue` off, atomics in-section, `abortonclose`
    /// on (the default), a smaller `maxconn`, weight 1, roundrobin.
    Setting,
}

/// The valid scenarios one reduction smaller than `s`, simplest first: one server, CLI
/// command, stream or thread fewer, `timeout queue` off, atomics in-section, a smaller
/// `maxconn` or weight, roundrobin. Each strictly decreases a well-founded measure, so repeated shrinking
/// ends.
pub fn shrink_scenario(s: &Scenario) -> Vec<Scenario> {
    reductions(s).into_iter().map(|(_, t)| t).collect()
}

/// [`shrink_scenario`], saying what each reduction removed.
pub fn reductions(s: &Scenario) -> Vec<(Reduction, Scenario)> {
    let mut out = Vec::new();
    if s.servers.len() > 1 {
        for v in 0..s.servers.len() {
            let mut t = s.clone();
            t.servers.remove(v);
            t.cli = s
                .cli
                .iter()
                .filter(|c| c.server as usize != v)
                .map(|c| CliCommand {
                    server: if c.server as usize > v {
                        c.server - 1
                    } else {
                        c.server
                    },
                    ..*c
                })
                .collect();
            out.push((Reduction::Server(v as ServerId), t));
        }
    }
    for i in 0..s.cli.len() {
        let mut t = s.clone();
        t.cli.remove(i);
        out.push((Reduction::Cli(i), t));
    }
    if s.streams.len() > 1 {
        for i in 0..s.streams.len() {
            let mut t = s.clone();
            t.streams.remove(i);
            out.push((Reduction::Stream(i), t));
        }
    }
    if s.threads > 1 {
        for gone in 0..s.threads {
            let mut t = s.clone();
            t.threads -= 1;
            // Never more thread groups than threads; the CLI's thread renumbered too.
            t.thread_groups = t.thread_groups.min(t.threads);
            t.cli_thread = s.cli_thread.map(|th| match th.cmp(&gone) {
                std::cmp::Ordering::Less => th,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => th - 1,
            });
            t.streams = s
                .streams
                .iter()
                .map(|&th| match th.cmp(&gone) {
                    std::cmp::Ordering::Less => th,
                    std::cmp::Ordering::Equal => 0,
                    std::cmp::Ordering::Greater => th - 1,
                })
                .collect();
            out.push((Reduction::Thread(gone), t));
        }
    }
    let mut setting = |t: Scenario| out.push((Reduction::Setting, t));
    if s.queue_timeout {
        setting(Scenario {
            queue_timeout: false,
            ..s.clone()
        });
    }
    if s.split_atomics {
        setting(s.with_split_atomics(false));
    }
    if !s.abortonclose {
        setting(Scenario {
            abortonclose: true,
            ..s.clone()
        });
    }
    for v in 0..s.servers.len() {
        if s.servers[v].maxconn > 0 {
            let mut t = s.clone();
            t.servers[v].maxconn -= 1;
            setting(t);
        }
        if s.servers[v].weight > 1 {
            let mut t = s.clone();
            t.servers[v].weight = 1;
            setting(t);
        }
    }
    if s.algo != LbAlgo::RoundRobin {
        setting(Scenario {
            algo: LbAlgo::RoundRobin,
            ..s.clone()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn reparsed(s: &Scenario) -> Scenario {
        Scenario::from_toml(&s.to_toml(), "unused").unwrap_or_else(|e| {
            panic!("invalid random scenario ({e}):\n{}", s.to_toml());
        })
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The reference implementation's first outputs for seed 1234567
        // (https://prng.di.unimi.it/splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423,
                4593380528125082431,
                16408922859458223821
            ]
        );
    }

    #[test]
    fn below_and_between_stay_in_range_and_cover_it() {
        let mut r = SplitMix64::new(7);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let x = r.below(7);
            assert!(x < 7);
            seen.insert(x);
            let y = r.between(3, 5);
            assert!((3..=5).contains(&y));
        }
        assert_eq!(seen.len(), 7);
        // The full range does not overflow.
        let _ = r.between(0, u64::MAX);
        assert_eq!(r.between(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn derived_seeds_differ() {
        let seeds: HashSet<u64> = (0..1000).map(|i| derive_seed(42, i)).collect();
        assert_eq!(seeds.len(), 1000);
        assert_ne!(derive_seed(1, 0), derive_seed(2, 0));
    }

    #[test]
    fn random_scenarios_round_trip_through_toml() {
        let mut r = SplitMix64::new(0x5EED);
        for variant in Variant::ALL {
            for _ in 0..2_000 {
                let s = random_scenario(&mut r, &Limits::small(variant));
                assert_eq!(reparsed(&s), s, "\n{}", s.to_toml());
            }
        }
    }

    #[test]
    fn random_scenarios_respect_the_limits_and_cover_them() {
        let mut r = SplitMix64::new(99);
        let l = Limits::SMALL;
        let (mut algos, mut kinds) = (HashSet::new(), HashSet::new());
        let (mut servers, mut threads, mut streams, mut clis, mut maxconns, mut qt, mut split) = (
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
            HashSet::new(),
        );
        for _ in 0..5_000 {
            let s = random_scenario(&mut r, &l);
            assert!((1..=l.max_servers).contains(&s.servers.len()));
            assert!((1..=l.max_threads).contains(&s.threads));
            assert!((1..=l.max_streams).contains(&s.streams.len()));
            assert!(s.cli.len() <= l.max_cli);
            assert!(s.streams.iter().all(|&t| t < s.threads));
            assert!(s.cli.iter().all(|c| (c.server as usize) < s.servers.len()));
            assert!(s.servers.iter().all(|v| v.maxconn <= 2 && v.weight == 1));
            algos.insert(s.algo);
            kinds.extend(s.cli.iter().map(|c| c.kind));
            servers.insert(s.servers.len());
            threads.insert(s.threads);
            streams.insert(s.streams.len());
            clis.insert(s.cli.len());
            maxconns.extend(s.servers.iter().map(|v| v.maxconn));
            qt.insert(s.queue_timeout);
            split.insert(s.split_atomics);
        }
        assert_eq!(algos.len(), 4);
        assert_eq!(kinds.len(), 3);
        assert_eq!(servers.len(), 2);
        assert_eq!(threads.len(), 3);
        assert_eq!(streams.len(), 5);
        assert_eq!(clis.len(), 7);
        assert_eq!(maxconns.len(), 3);
        assert_eq!(qt.len(), 2);
        assert_eq!(split.len(), 2);
    }

    #[test]
    fn atomics_are_drawn_last_and_only_when_both_may_be() {
        for i in 0..2_000 {
            let seed = derive_seed(0xA70, i);
            let draw = |atomics| {
                let mut r = SplitMix64::new(seed);
                let s = random_scenario(
                    &mut r,
                    &Limits {
                        atomics,
                        ..Limits::SMALL
                    },
                );
                (s, r)
            };
            let (inside, r_in) = draw(Atomics::InSection);
            let (split, r_split) = draw(Atomics::Split);
            let (both, r_both) = draw(Atomics::Both);
            assert!(!inside.split_atomics && split.split_atomics);
            // Everything else is the same draw: only the atomics differ.
            assert_eq!(inside.with_split_atomics(true), split);
            assert_eq!(inside.with_split_atomics(both.split_atomics), both);
            // A fixed choice draws nothing; `both` draws one coin, after everything.
            assert_eq!(r_in, r_split);
            let mut after = r_in.clone();
            assert_eq!(after.coin(), both.split_atomics);
            assert_eq!(after, r_both);
        }
        // About half the scenarios are split.
        let mut r = SplitMix64::new(0x5B1);
        let n = (0..4_000)
            .filter(|_| random_scenario(&mut r, &Limits::SMALL).split_atomics)
            .count();
        assert!((1_800..=2_200).contains(&n), "{n} of 4000 split");
    }

    #[test]
    fn abortonclose_is_drawn_after_the_atomics_and_only_on_a_coin() {
        let (mut off, n) = (0, 2_000);
        for i in 0..n {
            let seed = derive_seed(0xAB0, i);
            let draw = |abortonclose| {
                let mut r = SplitMix64::new(seed);
                let s = random_scenario(
                    &mut r,
                    &Limits {
                        abortonclose,
                        ..Limits::SMALL
                    },
                );
                (s, r)
            };
            let (on, r_on) = draw(Some(true));
            let (coin, r_coin) = draw(None);
            assert!(on.abortonclose);
            assert_eq!(
                Scenario {
                    abortonclose: coin.abortonclose,
                    ..on.clone()
                },
                coin
            );
            let mut after = r_on.clone();
            assert_eq!(after.coin(), coin.abortonclose);
            assert_eq!(after, r_coin);
            off += usize::from(!coin.abortonclose);
        }
        assert!(
            (800..=1_200).contains(&off),
            "{off} of {n} without abortonclose"
        );
    }

    #[test]
    fn atomics_names_parse_back_and_others_are_refused() {
        for a in Atomics::ALL {
            assert_eq!(a.name().parse::<Atomics>(), Ok(a));
            assert_eq!(a.to_string(), a.name());
        }
        let e = "inside".parse::<Atomics>().unwrap_err();
        assert!(
            e.contains("in-section, split or both") && e.contains("inside"),
            "{e}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_scenario() {
        let a = random_scenario(&mut SplitMix64::new(derive_seed(3, 4)), &Limits::SMALL);
        let b = random_scenario(&mut SplitMix64::new(derive_seed(3, 4)), &Limits::SMALL);
        assert_eq!(a, b);
    }

    /// Limits out of range on both sides, as a caller might pass them.
    const WILD: Limits = Limits {
        max_servers: 100,
        max_maxconn: 255,
        max_weight: 0,
        max_threads: 0,
        max_streams: 0,
        max_cli: 1000,
        queue_timeout: true,
        variant: Variant::Purge,
        atomics: Atomics::Split,
        abortonclose: None,
    };

    #[test]
    fn out_of_range_limits_are_clamped_to_valid_scenarios() {
        let mut r = SplitMix64::new(5);
        for _ in 0..500 {
            let s = random_scenario(&mut r, &WILD);
            assert_eq!(reparsed(&s), s);
        }
    }

    #[test]
    fn every_shrink_is_valid_and_smaller() {
        fn size(s: &Scenario) -> usize {
            s.servers.len()
                + s.cli.len()
                + s.streams.len()
                + s.threads as usize
                + usize::from(s.queue_timeout)
                + usize::from(s.split_atomics)
                + usize::from(!s.abortonclose)
                + s.servers
                    .iter()
                    .map(|v| v.maxconn as usize + v.weight as usize)
                    .sum::<usize>()
                + usize::from(s.algo != LbAlgo::RoundRobin)
        }
        let mut r = SplitMix64::new(11);
        let coin = Limits {
            abortonclose: None,
            ..Limits::SMALL
        };
        for _ in 0..500 {
            let s = random_scenario(&mut r, &coin);
            for t in shrink_scenario(&s) {
                assert_eq!(reparsed(&t), t, "shrunk from\n{}", s.to_toml());
                assert!(size(&t) < size(&s));
            }
        }
        // Shrinking repeatedly ends at the smallest scenario.
        let mut s = random_scenario(&mut r, &Limits::SMALL);
        while let Some(t) = shrink_scenario(&s).into_iter().next() {
            s = t;
        }
        assert_eq!(
            (s.servers.len(), s.cli.len(), s.streams.len(), s.threads),
            (1, 0, 1, 1)
        );
        assert_eq!((s.servers[0].maxconn, s.algo), (0, LbAlgo::RoundRobin));
        assert!(!s.split_atomics && !s.queue_timeout);
    }

    #[test]
    fn split_atomics_shrink_to_in_section_after_timeout_queue() {
        let seed = crate::presets::get("seed").expect("preset");
        let settings = |s: &Scenario| -> Vec<Scenario> {
            reductions(s)
                .into_iter()
                .filter(|(r, _)| *r == Reduction::Setting)
                .map(|(_, t)| t)
                .collect()
        };
        let split = Scenario {
            queue_timeout: true,
            ..seed.with_split_atomics(true)
        };
        let got = settings(&split);
        let inside = split.with_split_atomics(false);
        assert_eq!(
            got[0],
            Scenario {
                queue_timeout: false,
                ..split.clone()
            }
        );
        assert_eq!(got[1], inside);
        // In-section: the same settings, less the atomics one.
        let others: Vec<Scenario> = settings(&inside)
            .iter()
            .map(|t| t.with_split_atomics(true))
            .collect();
        assert_eq!(others[..1], got[..1]);
        assert_eq!(others[1..], got[2..]);
    }

    #[test]
    fn clamped_limits_are_what_scenario_files_accept() {
        assert_eq!(
            WILD.clamped(),
            Limits {
                max_servers: limits::SERVERS,
                max_maxconn: limits::MAXCONN,
                max_weight: 1,
                max_threads: 1,
                max_streams: 1,
                max_cli: limits::CLI_COMMANDS,
                // Not limits: kept as given.
                queue_timeout: true,
                variant: Variant::Purge,
                atomics: Atomics::Split,
                abortonclose: None,
            }
        );
        let too_many_threads = Limits {
            max_servers: 0,
            max_weight: 200,
            max_threads: 200,
            max_streams: 1000,
            ..Limits::small(Variant::Livelock)
        };
        assert_eq!(
            too_many_threads.clamped(),
            Limits {
                max_servers: 1,
                max_weight: limits::WEIGHT,
                max_threads: limits::THREADS,
                max_streams: limits::STREAMS,
                ..Limits::small(Variant::Livelock)
            }
        );
        // Limits already in range are kept, the largest ones included.
        let widest = Limits {
            max_servers: limits::SERVERS,
            max_maxconn: limits::MAXCONN,
            max_weight: limits::WEIGHT,
            max_threads: limits::THREADS,
            max_streams: limits::STREAMS,
            max_cli: limits::CLI_COMMANDS,
            queue_timeout: true,
            variant: Variant::Toctou,
            atomics: Atomics::InSection,
            abortonclose: Some(false),
        };
        assert_eq!(widest.clamped(), widest);
        assert_eq!(Limits::SMALL.clamped(), Limits::SMALL);
    }

    /// A scenario with `n_servers` servers `s1`.. running `cli`, to print and parse it.
    fn running(cli: Vec<CliCommand>, n_servers: usize) -> Scenario {
        let mut s = crate::presets::get("seed").expect("preset");
        s.servers = (1..=n_servers)
            .map(|i| ServerConfig {
                name: format!("s{i}"),
                maxconn: 1,
                weight: 1,
                strict_maxconn: false,
            })
            .collect();
        s.cli = cli;
        s
    }

    #[test]
    fn random_commands_are_n_commands_of_any_kind_on_configured_servers() {
        let mut r = SplitMix64::new(0xC11);
        for n_servers in 1..=limits::SERVERS {
            let mut seen = HashSet::new();
            for n in 0..=limits::CLI_COMMANDS {
                let cli = random_commands(&mut r, n, n_servers);
                assert_eq!(cli.len(), n);
                assert!(cli.iter().all(|c| (c.server as usize) < n_servers));
                seen.extend(cli.iter().map(|c| (c.kind, c.server)));
                // A script `lbq` can write out and read back, command for command.
                let s = running(cli, n_servers);
                assert_eq!(reparsed(&s).cli, s.cli, "\n{}", s.to_toml());
            }
            // Every kind on every server, in any order.
            assert_eq!(seen.len(), 3 * n_servers, "{n_servers} servers");
        }
        // Not cycles: some command follows another on the same server out of cycle
        // order (an enable right after an enable).
        let cli = random_commands(&mut SplitMix64::new(2), 200, 1);
        assert!(cli
            .windows(2)
            .any(|w| w[0].kind == CliKind::Enable && w[1].kind == CliKind::Enable));
    }

    /// Splits a maintenance script into its cycles (each starts with a `disable`),
    /// checking that each is `disable`, maybe `shutdown sessions`, maybe `enable`, in
    /// that order, on one server.
    fn cycles(cli: &[CliCommand]) -> Vec<&[CliCommand]> {
        let starts: Vec<usize> = (0..cli.len())
            .filter(|&i| cli[i].kind == CliKind::Disable)
            .chain([cli.len()])
            .collect();
        assert_eq!(starts[0], 0, "a script starts with a disable: {cli:?}");
        let cycles: Vec<&[CliCommand]> = starts.windows(2).map(|w| &cli[w[0]..w[1]]).collect();
        for c in &cycles {
            let kinds: Vec<CliKind> = c.iter().map(|c| c.kind).collect();
            assert!(
                [
                    &[CliKind::Disable][..],
                    &[CliKind::Disable, CliKind::Shutdown],
                    &[CliKind::Disable, CliKind::Enable],
                    &[CliKind::Disable, CliKind::Shutdown, CliKind::Enable],
                ]
                .contains(&kinds.as_slice()),
                "not a maintenance cycle: {kinds:?}"
            );
            assert!(c.iter().all(|x| x.server == c[0].server), "{c:?}");
        }
        cycles
    }

    #[test]
    fn maintenance_cycles_are_n_commands_in_cycles_on_one_server_each() {
        let mut r = SplitMix64::new(0xD15);
        for n_servers in 1..=limits::SERVERS {
            let mut servers = HashSet::new();
            for n in 0..=limits::CLI_COMMANDS {
                let cli = maintenance_cycles(&mut r, n, n_servers);
                assert_eq!(cli.len(), n, "{n} commands asked for");
                assert!(cli.iter().all(|c| (c.server as usize) < n_servers));
                servers.extend(cli.iter().map(|c| c.server));
                if n > 0 {
                    cycles(&cli);
                }
                let s = running(cli, n_servers);
                assert_eq!(reparsed(&s).cli, s.cli, "\n{}", s.to_toml());
            }
            assert_eq!(servers.len(), n_servers, "every server is cycled");
        }
    }

    #[test]
    fn maintenance_cycles_sometimes_shut_sessions_down_and_usually_enable() {
        let cli = maintenance_cycles(&mut SplitMix64::new(0xF00D), 30_000, 2);
        let all = cycles(&cli);
        // The last cycle may be cut short by the length asked for.
        let whole = &all[..all.len() - 1];
        let share = |kind| {
            let n = whole
                .iter()
                .filter(|c| c.iter().any(|x| x.kind == kind))
                .count();
            n as f64 / whole.len() as f64
        };
        // `shutdown sessions` on a coin, `enable` two times out of three.
        let shutdown = share(CliKind::Shutdown);
        assert!(
            (0.47..0.53).contains(&shutdown),
            "shutdown in {shutdown} of the cycles"
        );
        let enable = share(CliKind::Enable);
        assert!(
            (0.63..0.70).contains(&enable),
            "enable in {enable} of the cycles"
        );
        let on_s2 = whole.iter().filter(|c| c[0].server == 1).count() as f64;
        let on_s2 = on_s2 / whole.len() as f64;
        assert!((0.47..0.53).contains(&on_s2), "s2 in {on_s2} of the cycles");
    }
}
