//! `lbq` with no arguments: the project's story in four checks on the default preset —
//! the livelock the seed commit describes, the loop its fix still allows, a fix verified
//! exhaustively on every preset, and today's HAProxy (master at 50872daa6): no loop left,
//! a request queued with nobody to dequeue it, and the change that closes it.

use lbqueue::{presets, Variant};
use lbqueue_models::check::{check, default_bounds};
use lbqueue_models::step_model::{ASSIGN_CAN_RETURN, ASSIGN_TERMINATES};
use lbqueue_models::trace::Trace;
use lbqueue_models::{Report, Status};

use crate::output::header;

/// Runs the three checks; exit 0 when all three come out as expected.
pub fn run() -> u8 {
    let seed = presets::get(presets::DEFAULT).expect("default preset");
    println!(
        "lbq: HAProxy backend queue livelock, scenario `{}`: {}\n",
        seed.name, seed.description
    );

    let livelock = check(&seed.with_variant(Variant::Livelock), default_bounds());
    println!("1. livelock (8d68717a4, the state the seed commit describes)");
    println!("   {}", header(&livelock));
    let ok1 = show_loop(&livelock);
    if let Some(p) = livelock.property(ASSIGN_TERMINATES) {
        if let Some(t) = &p.trace {
            println!(
                "   assign_terminates (weak fairness) is violated sooner, in {} steps, by two threads \
                 whose transient entries keep each other's assign_server on the shortcut in lockstep: \
                 `lbq check --variant livelock` prints it.",
                t.steps.len()
            );
        }
    }

    let purge = check(&seed.with_variant(Variant::Purge), default_bounds());
    println!("\n2. purge (53f52e67a, the seed commit's fix) still loops, as real HAProxy did");
    println!("   {}", header(&purge));
    let ok2 = show_loop(&purge);

    println!("\n3. fixed: {}", Variant::Fixed.summary());
    let ok3 = verified_on_every_preset(Variant::Fixed);

    let ok4 = today(&seed);

    let all = ok1 && ok2 && ok3 && ok4;
    println!(
        "\n{}",
        if all {
            "All four came out as expected (exit 0)."
        } else {
            "UNEXPECTED: see above (exit 1)."
        }
    );
    if all {
        0
    } else {
        1
    }
}

/// Part 4: HAProxy master. No loop (the try-again loop is gone), but a request that
/// queues just after the last one left waits for the next request or `timeout queue`
/// (findings/master-toctou-orphan.md); `master-fixed` holds on every preset. Returns
/// whether all of that came out.
fn today(seed: &lbqueue::Scenario) -> bool {
    println!("\n4. today's HAProxy: {}", Variant::Master.summary());
    let master = check(&seed.with_variant(Variant::Master), default_bounds());
    println!("   {}", header(&master));
    let no_loop = [ASSIGN_TERMINATES, ASSIGN_CAN_RETURN].iter().all(|n| {
        master
            .property(n)
            .is_some_and(|p| p.status == Status::Holds)
    });
    println!(
        "   {}",
        if no_loop {
            "no loop: assign_terminates and assign_can_return hold (ready_srv replaced the try-again loop)"
        } else {
            "UNEXPECTED: a loop in master"
        }
    );
    let orphan = master
        .property("no_orphan_pendconn")
        .and_then(|p| p.trace.as_ref());
    let ok_orphan = match orphan {
        Some(t) => {
            println!(
                "   but a stream waits in the backend queue with nobody to dequeue it ({} steps; it \
                 waits for the next request or `timeout queue`, findings/master-toctou-orphan.md):",
                t.steps.len()
            );
            print!("{t}");
            true
        }
        None => {
            println!("   UNEXPECTED: no orphan pendconn in master");
            false
        }
    };
    println!("   master-fixed: {}", Variant::MasterFixed.summary());
    let ok_fixed = verified_on_every_preset(Variant::MasterFixed);
    no_loop && ok_orphan && ok_fixed
}

/// Checks `variant` on every preset and prints one line each; whether every check was
/// complete with every property holding.
fn verified_on_every_preset(variant: Variant) -> bool {
    let mut all = true;
    for sc in presets::all() {
        let r = check(&sc.with_variant(variant), default_bounds());
        let good = r.complete && r.exit_code() == 0;
        all &= good;
        println!(
            "   {} {}",
            if good { "verified:" } else { "NOT VERIFIED:" },
            header(&r)
        );
        for p in r
            .properties
            .iter()
            .filter(|p| !matches!(p.status, Status::Holds | Status::Reached))
        {
            println!("      {} is {:?}", p.name, p.status);
        }
    }
    all
}

/// Prints the loop no scheduling can stop (`assign_can_return`) and a summary of its
/// cycle; returns whether it was found.
fn show_loop(report: &Report) -> bool {
    let Some(trace) = report
        .property(ASSIGN_CAN_RETURN)
        .and_then(|p| p.trace.as_ref())
    else {
        println!("   UNEXPECTED: no loop found");
        return false;
    };
    println!(
        "   shortest interleaving after which a stream loops in assign_server_and_queue whatever the \
         scheduler does ({} steps):",
        trace.steps.len()
    );
    print!("{trace}");
    println!("   {}", summarize_cycle(trace));
    true
}

/// "T1 runs S4 forever: …, backend queue `[S3]`, px->served 0" from the cycle's steps.
fn summarize_cycle(trace: &Trace) -> String {
    let Some(start) = trace.cycle_start else {
        return "no cycle".to_string();
    };
    let mut who: Vec<String> = trace.steps[start..]
        .iter()
        .map(|s| format!("{} runs {}", s.actor, s.stream.clone().unwrap_or_default()))
        .collect();
    who.dedup();
    let before = &trace.steps[start.saturating_sub(1)];
    format!(
        "the cycle: {} forever (pendconn_add, pendconn_must_try_again → 1, assign_server → FULL), \
         entering it with the backend queue at [{}] and px->served {}.",
        who.join(" and "),
        before.backend_queue.join(","),
        before.px_served
    )
}
