//! The public side of `lbqueue::random`: the SplitMix64 generator every randomized test
//! and `lbq check --random N --seed S` draw from, `Limits::small`, and the `reductions`
//! a shrinker walks.
//!
//! A failing random scenario is only reproducible from its seed if the generator is
//! exactly SplitMix64, so the draws are pinned here bit for bit, including the rejection
//! edge of `below` (reached by seeding the generator so that its next output is a chosen
//! value: SplitMix64's output function is a bijection, inverted below). `reductions` is
//! pinned on a scenario where every kind of reduction applies, so that a shrinker gets
//! exactly the documented candidates (that every shrink is a valid, smaller scenario is
//! checked on random scenarios by `random.rs`'s own tests).

use lbqueue::random::{reductions, shrink_scenario, Atomics, Limits, Reduction, SplitMix64};
use lbqueue::scenario::ServerConfig;
use lbqueue::{CliCommand, CliKind, LbAlgo, Scenario, Variant};
use std::collections::HashSet;

/// SplitMix64's increment (the reference implementation's constant).
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The inverse of `x ^ (x >> shift)`.
fn unxorshift(y: u64, shift: u32) -> u64 {
    let mut x = y;
    for _ in 0..64 / shift + 1 {
        x = y ^ (x >> shift);
    }
    x
}

/// The inverse of an odd multiplier modulo 2^64 (Newton's iteration).
fn inverse(c: u64) -> u64 {
    let mut x = c;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(x)));
    }
    x
}

/// The inverse of SplitMix64's output function.
fn unmix64(mut z: u64) -> u64 {
    z = unxorshift(z, 31).wrapping_mul(inverse(0x94D0_49BB_1331_11EB));
    z = unxorshift(z, 27).wrapping_mul(inverse(0xBF58_476D_1CE4_E5B9));
    unxorshift(z, 30)
}

/// A generator whose next output is `x`.
fn drawing_first(x: u64) -> SplitMix64 {
    SplitMix64::new(unmix64(x).wrapping_sub(GOLDEN_GAMMA))
}

#[test]
fn a_generator_can_be_seeded_to_draw_a_chosen_value_first() {
    // The helper the edge tests below rely on, checked against the reference outputs.
    let reference = [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
    ];
    assert_eq!(drawing_first(reference[0]), SplitMix64::new(1234567));
    for x in [0, 1, 1 << 63, u64::MAX, u64::MAX - 5, 0x0123_4567_89AB_CDEF] {
        assert_eq!(drawing_first(x).next_u64(), x);
    }
}

#[test]
fn below_takes_a_draw_just_under_the_rejection_zone_and_redraws_one_at_it() {
    // For n = 10 the largest multiple of 10 that fits is u64::MAX - 5: draws from it up
    // are redrawn, so that every value is equally likely.
    let n = 10;
    let zone = u64::MAX - u64::MAX % n;
    assert_eq!(zone, u64::MAX - 5);
    assert_eq!(drawing_first(zone - 1).below(n), 9);
    // (draw, what below(10) gives after redrawing it): the draw that follows, mod 10.
    for (rejected, redrawn) in [(zone, 3), (zone + 1, 0), (u64::MAX, 3)] {
        let mut r = drawing_first(rejected);
        let mut after = r.clone();
        after.next_u64();
        assert_eq!(after.clone().next_u64() % n, redrawn);
        assert_eq!(r.below(n), redrawn, "after {rejected:#x}");
        after.next_u64();
        assert_eq!(r, after, "exactly one redraw after {rejected:#x}");
    }
    // n = 3 divides 2^64 - 1: only u64::MAX itself is redrawn.
    assert_eq!(drawing_first(u64::MAX - 1).below(3), (u64::MAX - 1) % 3);
}

#[test]
fn below_stays_in_range_and_hits_every_value() {
    let mut r = SplitMix64::new(0xB0B);
    for n in 1..=9u64 {
        let mut seen = HashSet::new();
        for _ in 0..2_000 {
            let x = r.below(n);
            assert!(x < n, "below({n}) gave {x}");
            seen.insert(x);
        }
        assert_eq!(seen.len() as u64, n, "below({n}) missed a value");
    }
    // The largest n: every draw but u64::MAX itself is kept as is.
    let mut r = SplitMix64::new(1234567);
    assert_eq!(r.below(u64::MAX), 6457827717110365317);
}

#[test]
fn below_between_and_pick_give_a_pinned_sequence_for_a_pinned_seed() {
    let mut r = SplitMix64::new(42);
    let got: Vec<u64> = (0..8).map(|_| r.below(6)).collect();
    let mut again = SplitMix64::new(42);
    let expected: Vec<u64> = (0..8).map(|_| again.next_u64() % 6).collect();
    // 6 does not divide 2^64, but no draw of this short run lands in the rejected zone.
    assert_eq!(got, expected);
    assert_eq!(got, [1, 1, 0, 0, 4, 0, 1, 2]);
    let mut r = SplitMix64::new(42);
    let mut b = SplitMix64::new(42);
    for _ in 0..100 {
        let x = r.between(3, 5);
        assert_eq!(x, 3 + b.below(3));
    }
    assert_eq!(SplitMix64::new(7).between(9, 9), 9);
    // The whole range: the raw draw.
    assert_eq!(
        SplitMix64::new(1234567).between(0, u64::MAX),
        6457827717110365317
    );
    let servers = ["s1", "s2", "s3"];
    let mut r = SplitMix64::new(3);
    let picked: HashSet<&str> = (0..100).map(|_| *r.pick(&servers)).collect();
    assert_eq!(picked.len(), 3);
}

#[test]
fn coin_is_the_top_bit_of_the_next_draw() {
    // The reference outputs for seed 1234567: below 2^63, below, above, below, above.
    let mut r = SplitMix64::new(1234567);
    let coins: Vec<bool> = (0..5).map(|_| r.coin()).collect();
    assert_eq!(coins, [false, false, true, false, true]);
    // The edges of the two halves.
    assert!(!drawing_first(0).coin());
    assert!(!drawing_first((1 << 63) - 1).coin());
    assert!(drawing_first(1 << 63).coin());
    assert!(drawing_first(u64::MAX).coin());
    // Probability 1/2.
    let mut r = SplitMix64::new(0xC014);
    let heads = (0..10_000).filter(|_| r.coin()).count();
    assert!((4_800..=5_200).contains(&heads), "{heads} heads in 10000");
}

#[test]
fn small_limits_are_the_documented_ones_for_any_variant() {
    assert_eq!(
        Limits::SMALL,
        Limits {
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
        }
    );
    assert_eq!(Limits::default(), Limits::SMALL);
    for v in Variant::ALL {
        assert_eq!(
            Limits::small(v),
            Limits {
                variant: v,
                ..Limits::SMALL
            }
        );
    }
    // Not the default's variant.
    assert_eq!(Limits::small(Variant::Livelock).variant, Variant::Livelock);
}

fn cmd(kind: CliKind, server: u8) -> CliCommand {
    CliCommand { kind, server }
}

/// Two servers (s1 with maxconn 2 and weight 3, s2 unlimited), three threads, three
/// streams, three CLI commands on both servers, `timeout queue`, balance hash: every
/// reduction applies.
fn everything_to_shrink() -> Scenario {
    Scenario {
        name: "shrink-me".to_string(),
        description: String::new(),
        variant: Variant::Purge,
        changes: Vec::new(),
        algo: LbAlgo::Hash,
        servers: vec![
            ServerConfig {
                name: "s1".to_string(),
                maxconn: 2,
                weight: 3,
                strict_maxconn: false,
            },
            ServerConfig {
                name: "s2".to_string(),
                maxconn: 0,
                weight: 1,
                strict_maxconn: false,
            },
        ],
        threads: 3,
        streams: vec![0, 2, 1],
        cli: vec![
            cmd(CliKind::Disable, 1),
            cmd(CliKind::Shutdown, 0),
            cmd(CliKind::Enable, 1),
        ],
        queue_timeout: true,
        split_atomics: false,
        thread_groups: 1,
        cli_thread: None,
        connect_errors: 0,
        retries: 3,
        redispatch: false,
        abortonclose: true,
        seeded_bug: None,
    }
}

#[test]
fn reductions_are_the_documented_ones_simplest_first() {
    let s = everything_to_shrink();
    let with = |f: &dyn Fn(&mut Scenario)| {
        let mut t = s.clone();
        f(&mut t);
        t
    };
    let expected = vec![
        // s1 gone: its command with it, s2's commands renumbered to server 0.
        (
            Reduction::Server(0),
            with(&|t| {
                t.servers.remove(0);
                t.cli = vec![cmd(CliKind::Disable, 0), cmd(CliKind::Enable, 0)];
            }),
        ),
        // s2 gone: s1 keeps its number.
        (
            Reduction::Server(1),
            with(&|t| {
                t.servers.remove(1);
                t.cli = vec![cmd(CliKind::Shutdown, 0)];
            }),
        ),
        (
            Reduction::Cli(0),
            with(&|t| {
                t.cli.remove(0);
            }),
        ),
        (
            Reduction::Cli(1),
            with(&|t| {
                t.cli.remove(1);
            }),
        ),
        (
            Reduction::Cli(2),
            with(&|t| {
                t.cli.remove(2);
            }),
        ),
        (Reduction::Stream(0), with(&|t| t.streams = vec![2, 1])),
        (Reduction::Stream(1), with(&|t| t.streams = vec![0, 1])),
        (Reduction::Stream(2), with(&|t| t.streams = vec![0, 2])),
        // A thread gone: its streams on thread 0, the later threads renumbered.
        (
            Reduction::Thread(0),
            with(&|t| {
                t.threads = 2;
                t.streams = vec![0, 1, 0];
            }),
        ),
        (
            Reduction::Thread(1),
            with(&|t| {
                t.threads = 2;
                t.streams = vec![0, 1, 0];
            }),
        ),
        (
            Reduction::Thread(2),
            with(&|t| {
                t.threads = 2;
                t.streams = vec![0, 0, 1];
            }),
        ),
        (Reduction::Setting, with(&|t| t.queue_timeout = false)),
        // s1's maxconn one smaller, its weight back to 1; s2 has nothing to simplify.
        (Reduction::Setting, with(&|t| t.servers[0].maxconn = 1)),
        (Reduction::Setting, with(&|t| t.servers[0].weight = 1)),
        (Reduction::Setting, with(&|t| t.algo = LbAlgo::RoundRobin)),
    ];
    let got = reductions(&s);
    assert_eq!(got, expected);
    let shrunk: Vec<Scenario> = expected.into_iter().map(|(_, t)| t).collect();
    assert_eq!(shrink_scenario(&s), shrunk);
}

#[test]
fn the_smallest_scenario_has_no_reductions() {
    let s = Scenario {
        servers: vec![ServerConfig {
            name: "s1".to_string(),
            maxconn: 0,
            weight: 1,
            strict_maxconn: false,
        }],
        threads: 1,
        streams: vec![0],
        cli: vec![],
        queue_timeout: false,
        algo: LbAlgo::RoundRobin,
        ..everything_to_shrink()
    };
    assert_eq!(reductions(&s), []);
    // One server, thread and stream left: only the command and the settings shrink.
    let one_each = Scenario {
        cli: vec![cmd(CliKind::Enable, 0)],
        servers: vec![ServerConfig {
            maxconn: 1,
            ..s.servers[0].clone()
        }],
        ..s.clone()
    };
    let kinds: Vec<Reduction> = reductions(&one_each).into_iter().map(|(r, _)| r).collect();
    assert_eq!(kinds, [Reduction::Cli(0), Reduction::Setting]);
}
