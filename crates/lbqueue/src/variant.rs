//! The historical versions of HAProxy's queue logic, chosen at run time.
//!
//! A variant is a set of [`Behaviour`] switches, so a new fix is one more row in
//! [`Variant::behaviour`] rather than a copy of the queue code.

use std::fmt;
use std::str::FromStr;

/// One version of the queue logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// Before 5541d4995d: no `pendconn_must_try_again`, no dequeue after queueing.
    Toctou,
    /// 8d68717a4: the try-again loop, backend queue never purged (the commit message's state).
    Livelock,
    /// 53f52e67a: `pendconn_redistribute` purges the backend queue when no usable server is left.
    Purge,
    /// `purge` plus HAProxy's own follow-ups: ca275d99c (no shortcut while nothing is
    /// served), 111ea83ed (a server coming back runs its queue, no more grab) and
    /// dc9ce9c26 (`stream_free` dequeues after releasing a slot).
    Upstream,
    /// `purge` plus the changes the checkers showed necessary: two in
    /// `pendconn_must_try_again`, one where a slot is released, and HAProxy's later
    /// dc9ce9c26 (CHECKS.md, "fixed").
    Fixed,
    /// `purge` with the try-again loop limited to [`BOUNDED_RETRY_ROUNDS`] rounds, the
    /// first alternative the seed commit names ("It could be limited to a few rounds"):
    /// after that many `goto balance_again`, assign_server_and_queue returns QUEUED and
    /// leaves the entry in the backend queue.
    BoundedRetry,
    /// `purge` with a change count on the backend queue, the other alternative the seed
    /// commit names ("a change count should be used in the queues so that it's possible
    /// to detect that some dequeuing happened and/or that a last stream has left"):
    /// `pendconn_must_try_again` only takes the entry back when the count moved since
    /// this round's `assign_server`.
    ChangeCounter,
}

/// How many times `bounded-retry` lets one call of assign_server_and_queue go back to
/// `balance_again`. One round is what the race 5541d4995d is about needs (the last slot
/// holder leaves between our FULL and our `pendconn_add`); three ("a few") lets a call
/// survive that race three times in a row, while keeping the per-call counter, which
/// lives in the thread's task only while the call is in progress, to four values.
/// CHECKS.md ("Alternative fixes") shows the verdicts do not depend on the value
/// (1 to 6 tried): only the counterexamples get longer.
pub const BOUNDED_RETRY_ROUNDS: u8 = 3;

/// A bug seeded on purpose into one section, so that a test can show that a property
/// catches it: a property that no variant violates would prove nothing. Set only by
/// tests ([`crate::Scenario::seeded_bug`]); scenario files cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeededBug {
    /// The purge of `pendconn_redistribute` unlinks the backend entries but forgets to
    /// subtract them from `px->totpend` (53f52e67a updates both counters by hand).
    PurgeKeepsTotpend,
}

/// The switches that tell the variants apart. Every section function reads these and
/// nothing else about the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Behaviour {
    /// 5541d4995d: after `pendconn_add` to the backend queue, call
    /// `pendconn_must_try_again` and go back to `balance_again` when it says so.
    pub try_again: bool,
    /// 5541d4995d: `srv_redispatch_connect` runs `process_srv_queue` right after a
    /// stream was queued on a server (`may_dequeue_tasks`).
    pub dequeue_after_queueing: bool,
    /// 53f52e67a: `pendconn_redistribute` purges the backend queue when the backend has
    /// no usable weight left.
    pub purge_backend_queue: bool,
    /// ca275d99c: `assign_server`'s "backend queue non-empty ⇒ FULL" shortcut is only
    /// taken while some stream is served on the backend (`px->served > 0`).
    pub shortcut_needs_served: bool,
    /// lbqueue's own change: `pendconn_must_try_again` also takes the entry back when the
    /// backend has no usable server, so that the retried LB answers NOSRV instead of
    /// leaving a pendconn that nobody will dequeue.
    pub try_again_without_usable_server: bool,
    /// 111ea83ed: a server coming back runs `process_srv_queue` (its own queue first,
    /// slots counted) instead of `pendconn_grab_from_px` (backend queue only, uncounted).
    pub enable_processes_queue: bool,
    /// lbqueue's own change: when `pendconn_must_try_again` finds nobody served but a
    /// usable server, the stream stays queued and runs that server's queue itself instead
    /// of going back to `balance_again`.
    pub dequeue_instead_of_retry: bool,
    /// dc9ce9c26: `stream_free` runs `process_srv_queue` after releasing a slot that it
    /// still held (a stream killed before it connected), not only before.
    pub dequeue_after_free_release: bool,
    /// lbqueue's own change: a slot released on a server that may not serve the backend
    /// queue (in maintenance) is offered to a usable server when the backend queue holds
    /// entries, since `px->served` counted that stream as a future dequeuer.
    pub release_offers_backend_elsewhere: bool,
    /// `bounded-retry`: assign_server_and_queue goes back to `balance_again` at most this
    /// many times per call; after that it no longer calls `pendconn_must_try_again` and
    /// returns QUEUED with the entry left in the backend queue
    /// (`if (tries++ < K && pendconn_must_try_again(p)) goto balance_again;`). The count
    /// is the call's local variable ([`crate::state::Call::retries`]). `None`: unlimited.
    pub try_again_rounds: Option<u8>,
    /// `change-counter`: `pendconn_must_try_again` takes the entry back only if the
    /// backend queue's change count moved since this round's `assign_server` looked —
    /// some entry left the backend queue (dequeued, grabbed, purged, timed out, killed;
    /// not another caller's own take-back) or `px->served` dropped to 0 (a last stream
    /// left). Kept exactly, as the per-call flag [`crate::state::Call::queue_changed`].
    pub retry_only_after_queue_change: bool,
}

impl Variant {
    /// Every variant, in history order.
    pub const ALL: [Variant; 7] = [
        Variant::Toctou,
        Variant::Livelock,
        Variant::Purge,
        Variant::Upstream,
        Variant::Fixed,
        Variant::BoundedRetry,
        Variant::ChangeCounter,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Toctou => "toctou",
            Variant::Livelock => "livelock",
            Variant::Purge => "purge",
            Variant::Upstream => "upstream",
            Variant::Fixed => "fixed",
            Variant::BoundedRetry => "bounded-retry",
            Variant::ChangeCounter => "change-counter",
        }
    }

    /// One line for `lbq list` and report headers.
    pub fn summary(self) -> &'static str {
        match self {
            Variant::Toctou => "before 5541d4995d: queue without re-checking for a dequeuer",
            Variant::Livelock => "8d68717a4: try-again loop, backend queue not purged",
            Variant::Purge => "53f52e67a: backend queue purged when no usable server is left",
            Variant::Upstream => {
                "purge + ca275d99c (shortcut only while served) + 111ea83ed (no grab_from_px) + dc9ce9c26"
            }
            Variant::Fixed => {
                "purge + must_try_again never spins (NOSRV retry without a usable server, else dequeue \
                 ourselves) + a slot freed on a downed server goes to a usable one + dc9ce9c26"
            }
            Variant::BoundedRetry => {
                "purge + try-again loop limited to 3 rounds per call, then QUEUED (seed commit's first alternative)"
            }
            Variant::ChangeCounter => {
                "purge + must_try_again retries only if the backend queue's change count moved \
                 (dequeue or last stream left; seed commit's second alternative)"
            }
        }
    }

    /// The switches this variant sets.
    pub fn behaviour(self) -> Behaviour {
        let none = Behaviour {
            try_again: false,
            dequeue_after_queueing: false,
            purge_backend_queue: false,
            shortcut_needs_served: false,
            try_again_without_usable_server: false,
            enable_processes_queue: false,
            dequeue_instead_of_retry: false,
            dequeue_after_free_release: false,
            release_offers_backend_elsewhere: false,
            try_again_rounds: None,
            retry_only_after_queue_change: false,
        };
        match self {
            Variant::Toctou => none,
            Variant::Livelock => Behaviour {
                try_again: true,
                dequeue_after_queueing: true,
                ..none
            },
            Variant::Purge => Behaviour {
                purge_backend_queue: true,
                ..Variant::Livelock.behaviour()
            },
            Variant::Upstream => Behaviour {
                shortcut_needs_served: true,
                enable_processes_queue: true,
                dequeue_after_free_release: true,
                ..Variant::Purge.behaviour()
            },
            Variant::Fixed => Behaviour {
                try_again_without_usable_server: true,
                dequeue_instead_of_retry: true,
                dequeue_after_free_release: true,
                release_offers_backend_elsewhere: true,
                ..Variant::Purge.behaviour()
            },
            Variant::BoundedRetry => Behaviour {
                try_again_rounds: Some(BOUNDED_RETRY_ROUNDS),
                ..Variant::Purge.behaviour()
            },
            Variant::ChangeCounter => Behaviour {
                retry_only_after_queue_change: true,
                ..Variant::Purge.behaviour()
            },
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                format!(
                    "unknown variant `{s}`: expected one of {}",
                    names.join(", ")
                )
            })
    }
}
