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
    /// HAProxy exactly at ca275d99c: `purge` with the "backend queue non-empty ⇒ FULL"
    /// shortcut taken only while some stream is served ("make sure never to queue when
    /// there's no more served conns").
    Ca275,
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
    /// HAProxy at 659d5f657 (v3.2-dev2, January 2025): the try-again loop replaced by
    /// `px->ready_srv` (cda7275ef, 505480eee, with 659d5f657's counters), the slot
    /// reserved by compare-and-swap at pick time (3372a2ea0), no more
    /// `pendconn_grab_from_px` (111ea83ed, b3cd5a4b8), plus everything `upstream` has.
    ReadySrv,
    /// HAProxy master at 50872daa6 (v3.5-dev5-2, August 2026): `ready-srv` plus every later
    /// change that the model can see: the lock released on the `ready_srv` path
    /// (e9d34f991), `ready_srv` reset when its server goes down (0144426df), a forced
    /// shutdown that releases the slot and dequeues at once (51611a5b7), `px->served`
    /// released before the server's own count (c880c32b1).
    Master,
    /// `master` plus the smallest changes the checkers showed necessary (findings/):
    /// a stream that queued in the backend and got no server from `ready_srv` makes
    /// sure somebody will dequeue it — a usable server serving a stream — or runs a
    /// usable server's queue itself, or, with no usable server left, takes its entry
    /// back and redoes the LB (NOSRV); a `ready_srv` slot given back is offered to its
    /// server's queue; and, as in `fixed`, a slot released on a server that went down
    /// is offered to a usable server when the backend queue holds entries.
    MasterFixed,
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
    /// 3372a2ea0: assign_server_and_queue reserves the slot with a compare-and-swap on
    /// `srv->served` bounded by maxconn, in the same atomic operation as the "is it full"
    /// test. Before it, the test and `sess_change_server`'s increment were two separate
    /// operations, and two streams could both see the last slot free.
    pub slot_reserved_at_pick: bool,
    /// cda7275ef + 505480eee (+ 659d5f657's counters): no try-again loop. A
    /// `process_srv_queue` that leaves its server and the backend with nothing served
    /// publishes the server in `px->ready_srv` and tries one more dequeue; a stream that
    /// just queued in the backend swaps `ready_srv` for NULL and, if it got a server whose
    /// `served` it can move from 0 to 1, takes its own entry back and uses that server.
    pub ready_srv: bool,
    /// e9d34f991: the `ready_srv` path releases the backend queue lock when it finds its
    /// entry already dequeued. Before it, it returned with the lock held.
    pub ready_srv_unlocks_when_dequeued: bool,
    /// 0144426df: a server that leaves RUNNING (here: `disable server`) is taken back out
    /// of `px->ready_srv` by compare-and-swap.
    pub ready_srv_reset_on_down: bool,
    /// 51611a5b7: `stream_shutdown_self` (a forced shutdown) releases the stream's slot and
    /// runs its server's queue at once, before `stream_free`.
    pub shutdown_releases_at_once: bool,
    /// c880c32b1 (with 3372a2ea0's `sess_change_server`): a released slot drops
    /// `px->served` first and the server's `served` after, each an atomic of its own.
    pub served_released_proxy_first: bool,
    /// lbqueue's own change: `pendconn_must_try_again` asks whether anybody is served
    /// on a server (`srv->served`, taken and dropped with the slot itself) instead of
    /// reading `px->served`, which a `process_srv_queue` batch only raises after its
    /// unlock: a stream it dequeued can drop `px->served` first and wrap it, so that
    /// `px->served > 0` counts a dequeuer that does not exist.
    pub try_again_reads_server_served: bool,
    /// lbqueue's own change to the `ready_srv` design (`master-fixed`): after a backend
    /// `pendconn_add` that got no server from `ready_srv`, the stream checks the
    /// servers' `served`: if no usable server serves anybody, nobody will dequeue it, so
    /// it runs a usable server's queue itself, or with no usable server takes its entry
    /// back and goes to `balance_again` (NOSRV).
    pub queued_stream_checks_dequeuer: bool,
    /// lbqueue's own change to the `ready_srv` path (`master-fixed`): a slot reserved on
    /// the `ready_srv` server and given back because the entry was already dequeued is
    /// offered to that server's queue (`may_dequeue_tasks` → `process_srv_queue`): while
    /// it was reserved, a stream could find the server full and queue on it.
    pub ready_srv_giveback_dequeues: bool,
    /// 583303c48 + 26b3e5236: one queue per thread group on each server and on the
    /// backend. `pendconn_add` queues in its own group's queue; `queueslength` (the sum
    /// over groups) is what the LB and `may_dequeue_tasks` read, while
    /// assign_server_and_queue's "does the server have a queue" reads its own group's
    /// `length`; `process_srv_queue` runs its own group's queue first, then the other
    /// groups' (each under its own lock); its tail tries each group in turn. Matters
    /// only with `thread_groups > 1` in the scenario.
    pub per_tgrp_queues: bool,
    /// lbqueue's own change (`fixed`, `master-fixed`): `process_srv_queue` (and
    /// `pendconn_process_next_strm`'s slot test) treat maxconn 0 as unlimited, as the LB,
    /// assign_server_and_queue and `may_dequeue_tasks` do. In HAProxy they compare
    /// `served` with `srv_dynamic_maxconn()`, which is 0 for an unlimited server, so such
    /// a server never hands a queued stream a slot.
    pub unlimited_server_dequeues: bool,
}

impl Variant {
    /// Every variant, in history order.
    pub const ALL: [Variant; 11] = [
        Variant::Toctou,
        Variant::Livelock,
        Variant::Purge,
        Variant::Ca275,
        Variant::Upstream,
        Variant::Fixed,
        Variant::BoundedRetry,
        Variant::ChangeCounter,
        Variant::ReadySrv,
        Variant::Master,
        Variant::MasterFixed,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Toctou => "toctou",
            Variant::Livelock => "livelock",
            Variant::Purge => "purge",
            Variant::Ca275 => "ca275",
            Variant::Upstream => "upstream",
            Variant::Fixed => "fixed",
            Variant::BoundedRetry => "bounded-retry",
            Variant::ChangeCounter => "change-counter",
            Variant::ReadySrv => "ready-srv",
            Variant::Master => "master",
            Variant::MasterFixed => "master-fixed",
        }
    }

    /// One line for `lbq list` and report headers.
    pub fn summary(self) -> &'static str {
        match self {
            Variant::Toctou => "before 5541d4995d: queue without re-checking for a dequeuer",
            Variant::Livelock => "8d68717a4: try-again loop, backend queue not purged",
            Variant::Purge => "53f52e67a: backend queue purged when no usable server is left",
            Variant::Ca275 => "ca275d99c: purge + the backend-queue shortcut only while something is served",
            Variant::Upstream => {
                "purge + ca275d99c (shortcut only while served) + 111ea83ed (no grab_from_px) + dc9ce9c26"
            }
            Variant::Fixed => {
                "purge + must_try_again never spins (NOSRV retry without a usable server, else dequeue \
                 ourselves) + a slot freed on a downed server goes to a usable one + dc9ce9c26 + 3372a2ea0 \
                 + 111ea83ed + must_try_again reads the servers' served + an unlimited server dequeues"
            }
            Variant::BoundedRetry => {
                "purge + try-again loop limited to 3 rounds per call, then QUEUED (seed commit's first alternative)"
            }
            Variant::ChangeCounter => {
                "purge + must_try_again retries only if the backend queue's change count moved \
                 (dequeue or last stream left; seed commit's second alternative)"
            }
            Variant::ReadySrv => {
                "659d5f657 (v3.2-dev2): px->ready_srv instead of the try-again loop, slot reserved by \
                 CAS (3372a2ea0), no grab_from_px"
            }
            Variant::Master => {
                "50872daa6 (master, v3.5-dev5-2): ready-srv + unlock fix (e9d34f991), ready_srv reset \
                 on down (0144426df), forced shutdown releases at once (51611a5b7)"
            }
            Variant::MasterFixed => {
                "master + a stream queued without ready_srv checks that a usable server serves \
                 someone, else dequeues itself (or NOSRV when none is usable) + a ready_srv slot \
                 given back is offered to its queue + fixed's slot-freed-on-a-downed-server rule + \
                 an unlimited server dequeues"
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
            slot_reserved_at_pick: false,
            ready_srv: false,
            ready_srv_unlocks_when_dequeued: false,
            ready_srv_reset_on_down: false,
            shutdown_releases_at_once: false,
            served_released_proxy_first: false,
            try_again_reads_server_served: false,
            queued_stream_checks_dequeuer: false,
            ready_srv_giveback_dequeues: false,
            per_tgrp_queues: false,
            unlimited_server_dequeues: false,
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
            Variant::Ca275 => Behaviour {
                shortcut_needs_served: true,
                ..Variant::Purge.behaviour()
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
                slot_reserved_at_pick: true,
                enable_processes_queue: true,
                try_again_reads_server_served: true,
                unlimited_server_dequeues: true,
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
            Variant::ReadySrv => Behaviour {
                try_again: false,
                slot_reserved_at_pick: true,
                ready_srv: true,
                ..Variant::Upstream.behaviour()
            },
            Variant::Master => Behaviour {
                ready_srv_unlocks_when_dequeued: true,
                ready_srv_reset_on_down: true,
                shutdown_releases_at_once: true,
                served_released_proxy_first: true,
                per_tgrp_queues: true,
                ..Variant::ReadySrv.behaviour()
            },
            Variant::MasterFixed => Behaviour {
                queued_stream_checks_dequeuer: true,
                ready_srv_giveback_dequeues: true,
                release_offers_backend_elsewhere: true,
                unlimited_server_dequeues: true,
                ..Variant::Master.behaviour()
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

/// One [`Behaviour`] switch, by the name users give it on the command line
/// (`lbq check --with +ready-srv,-try-again`) and in scenario files
/// (`behaviour = ["+ready-srv"]`): a candidate patch checked without recompiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Switch {
    TryAgain,
    DequeueAfterQueueing,
    PurgeBackendQueue,
    ShortcutNeedsServed,
    TryAgainWithoutUsableServer,
    EnableProcessesQueue,
    DequeueInsteadOfRetry,
    DequeueAfterFreeRelease,
    ReleaseOffersBackendElsewhere,
    BoundedRetry,
    RetryOnlyAfterQueueChange,
    SlotReservedAtPick,
    ReadySrv,
    ReadySrvUnlocksWhenDequeued,
    ReadySrvResetOnDown,
    ShutdownReleasesAtOnce,
    ServedReleasedProxyFirst,
    TryAgainReadsServerServed,
    QueuedStreamChecksDequeuer,
    ReadySrvGivebackDequeues,
    PerTgrpQueues,
    UnlimitedServerDequeues,
}

impl Switch {
    /// Every switch, in history order.
    pub const ALL: [Switch; 22] = [
        Switch::TryAgain,
        Switch::DequeueAfterQueueing,
        Switch::PurgeBackendQueue,
        Switch::ShortcutNeedsServed,
        Switch::TryAgainWithoutUsableServer,
        Switch::EnableProcessesQueue,
        Switch::DequeueInsteadOfRetry,
        Switch::DequeueAfterFreeRelease,
        Switch::ReleaseOffersBackendElsewhere,
        Switch::BoundedRetry,
        Switch::RetryOnlyAfterQueueChange,
        Switch::SlotReservedAtPick,
        Switch::ReadySrv,
        Switch::ReadySrvUnlocksWhenDequeued,
        Switch::ReadySrvResetOnDown,
        Switch::ShutdownReleasesAtOnce,
        Switch::ServedReleasedProxyFirst,
        Switch::TryAgainReadsServerServed,
        Switch::QueuedStreamChecksDequeuer,
        Switch::ReadySrvGivebackDequeues,
        Switch::PerTgrpQueues,
        Switch::UnlimitedServerDequeues,
    ];

    /// The name on the command line and in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Switch::TryAgain => "try-again",
            Switch::DequeueAfterQueueing => "dequeue-after-queueing",
            Switch::PurgeBackendQueue => "purge-backend-queue",
            Switch::ShortcutNeedsServed => "shortcut-needs-served",
            Switch::TryAgainWithoutUsableServer => "try-again-without-usable-server",
            Switch::EnableProcessesQueue => "enable-processes-queue",
            Switch::DequeueInsteadOfRetry => "dequeue-instead-of-retry",
            Switch::DequeueAfterFreeRelease => "dequeue-after-free-release",
            Switch::ReleaseOffersBackendElsewhere => "release-offers-backend-elsewhere",
            Switch::BoundedRetry => "bounded-retry",
            Switch::RetryOnlyAfterQueueChange => "retry-only-after-queue-change",
            Switch::SlotReservedAtPick => "slot-reserved-at-pick",
            Switch::ReadySrv => "ready-srv",
            Switch::ReadySrvUnlocksWhenDequeued => "ready-srv-unlocks-when-dequeued",
            Switch::ReadySrvResetOnDown => "ready-srv-reset-on-down",
            Switch::ShutdownReleasesAtOnce => "shutdown-releases-at-once",
            Switch::ServedReleasedProxyFirst => "served-released-proxy-first",
            Switch::TryAgainReadsServerServed => "try-again-reads-server-served",
            Switch::QueuedStreamChecksDequeuer => "queued-stream-checks-dequeuer",
            Switch::ReadySrvGivebackDequeues => "ready-srv-giveback-dequeues",
            Switch::PerTgrpQueues => "per-tgrp-queues",
            Switch::UnlimitedServerDequeues => "unlimited-server-dequeues",
        }
    }

    /// The HAProxy commit (or lbqueue's own idea) the switch stands for.
    pub fn origin(self) -> &'static str {
        match self {
            Switch::TryAgain => "5541d4995d: pendconn_must_try_again after a backend pendconn_add, goto balance_again",
            Switch::DequeueAfterQueueing => "5541d4995d: srv_redispatch_connect runs process_srv_queue after queueing on a server",
            Switch::PurgeBackendQueue => "53f52e67a: pendconn_redistribute purges the backend queue when no usable server is left",
            Switch::ShortcutNeedsServed => "ca275d99c: the 'backend queue non-empty => FULL' shortcut only while px->served > 0",
            Switch::TryAgainWithoutUsableServer => "lbqueue (fixed): must_try_again also retries when no server is usable (NOSRV next)",
            Switch::EnableProcessesQueue => "111ea83ed: enable server runs process_srv_queue instead of pendconn_grab_from_px",
            Switch::DequeueInsteadOfRetry => "lbqueue (fixed): nobody served but a usable server: stay queued and run its queue",
            Switch::DequeueAfterFreeRelease => "dc9ce9c26: stream_free runs process_srv_queue after releasing a held slot",
            Switch::ReleaseOffersBackendElsewhere => "lbqueue (fixed): a slot freed on a downed server is offered to a usable one",
            Switch::BoundedRetry => "seed commit's first alternative: at most 3 goto balance_again per call",
            Switch::RetryOnlyAfterQueueChange => "seed commit's second alternative: retry only if the backend queue's change count moved",
            Switch::SlotReservedAtPick => "3372a2ea0: srv->served reserved by CAS below maxconn at pick time",
            Switch::ReadySrv => "cda7275ef + 505480eee + 659d5f657: px->ready_srv replaces the try-again loop",
            Switch::ReadySrvUnlocksWhenDequeued => "e9d34f991: the ready_srv path unlocks the queue before returning",
            Switch::ReadySrvResetOnDown => "0144426df: ready_srv reset by CAS when its server leaves RUNNING",
            Switch::ShutdownReleasesAtOnce => "51611a5b7: stream_shutdown_self releases the slot and dequeues at once",
            Switch::ServedReleasedProxyFirst => "c880c32b1: px->served dropped before the server's served",
            Switch::TryAgainReadsServerServed => "lbqueue (fixed): must_try_again reads the servers' served, not px->served",
            Switch::QueuedStreamChecksDequeuer => "lbqueue (master-fixed): no ready_srv: check a usable server serves someone, else dequeue ourselves",
            Switch::ReadySrvGivebackDequeues => "lbqueue (master-fixed): a ready_srv slot given back is offered to its queue",
            Switch::PerTgrpQueues => "583303c48 + 26b3e5236: one queue per thread group, queueslength summed over them",
            Switch::UnlimitedServerDequeues => "lbqueue (fixed, master-fixed): process_srv_queue hands slots on a maxconn 0 (unlimited) server",
        }
    }

    /// Whether `b` has this switch on.
    pub fn get(self, b: &Behaviour) -> bool {
        match self {
            Switch::TryAgain => b.try_again,
            Switch::DequeueAfterQueueing => b.dequeue_after_queueing,
            Switch::PurgeBackendQueue => b.purge_backend_queue,
            Switch::ShortcutNeedsServed => b.shortcut_needs_served,
            Switch::TryAgainWithoutUsableServer => b.try_again_without_usable_server,
            Switch::EnableProcessesQueue => b.enable_processes_queue,
            Switch::DequeueInsteadOfRetry => b.dequeue_instead_of_retry,
            Switch::DequeueAfterFreeRelease => b.dequeue_after_free_release,
            Switch::ReleaseOffersBackendElsewhere => b.release_offers_backend_elsewhere,
            Switch::BoundedRetry => b.try_again_rounds.is_some(),
            Switch::RetryOnlyAfterQueueChange => b.retry_only_after_queue_change,
            Switch::SlotReservedAtPick => b.slot_reserved_at_pick,
            Switch::ReadySrv => b.ready_srv,
            Switch::ReadySrvUnlocksWhenDequeued => b.ready_srv_unlocks_when_dequeued,
            Switch::ReadySrvResetOnDown => b.ready_srv_reset_on_down,
            Switch::ShutdownReleasesAtOnce => b.shutdown_releases_at_once,
            Switch::ServedReleasedProxyFirst => b.served_released_proxy_first,
            Switch::TryAgainReadsServerServed => b.try_again_reads_server_served,
            Switch::QueuedStreamChecksDequeuer => b.queued_stream_checks_dequeuer,
            Switch::ReadySrvGivebackDequeues => b.ready_srv_giveback_dequeues,
            Switch::PerTgrpQueues => b.per_tgrp_queues,
            Switch::UnlimitedServerDequeues => b.unlimited_server_dequeues,
        }
    }

    /// Turns this switch on or off in `b`.
    pub fn set(self, b: &mut Behaviour, on: bool) {
        let field = match self {
            Switch::TryAgain => &mut b.try_again,
            Switch::DequeueAfterQueueing => &mut b.dequeue_after_queueing,
            Switch::PurgeBackendQueue => &mut b.purge_backend_queue,
            Switch::ShortcutNeedsServed => &mut b.shortcut_needs_served,
            Switch::TryAgainWithoutUsableServer => &mut b.try_again_without_usable_server,
            Switch::EnableProcessesQueue => &mut b.enable_processes_queue,
            Switch::DequeueInsteadOfRetry => &mut b.dequeue_instead_of_retry,
            Switch::DequeueAfterFreeRelease => &mut b.dequeue_after_free_release,
            Switch::ReleaseOffersBackendElsewhere => &mut b.release_offers_backend_elsewhere,
            Switch::BoundedRetry => {
                b.try_again_rounds = on.then_some(BOUNDED_RETRY_ROUNDS);
                return;
            }
            Switch::RetryOnlyAfterQueueChange => &mut b.retry_only_after_queue_change,
            Switch::SlotReservedAtPick => &mut b.slot_reserved_at_pick,
            Switch::ReadySrv => &mut b.ready_srv,
            Switch::ReadySrvUnlocksWhenDequeued => &mut b.ready_srv_unlocks_when_dequeued,
            Switch::ReadySrvResetOnDown => &mut b.ready_srv_reset_on_down,
            Switch::ShutdownReleasesAtOnce => &mut b.shutdown_releases_at_once,
            Switch::ServedReleasedProxyFirst => &mut b.served_released_proxy_first,
            Switch::TryAgainReadsServerServed => &mut b.try_again_reads_server_served,
            Switch::QueuedStreamChecksDequeuer => &mut b.queued_stream_checks_dequeuer,
            Switch::ReadySrvGivebackDequeues => &mut b.ready_srv_giveback_dequeues,
            Switch::PerTgrpQueues => &mut b.per_tgrp_queues,
            Switch::UnlimitedServerDequeues => &mut b.unlimited_server_dequeues,
        };
        *field = on;
    }

    /// Parses one `+name` (on), `-name` (off) or bare `name` (on).
    pub fn parse_change(text: &str) -> Result<(Switch, bool), String> {
        let t = text.trim();
        let (on, name) = match t.strip_prefix('-') {
            Some(rest) => (false, rest),
            None => (true, t.strip_prefix('+').unwrap_or(t)),
        };
        Switch::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .map(|s| (s, on))
            .ok_or_else(|| {
                let names: Vec<_> = Switch::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown switch `{name}`: expected +NAME or -NAME with NAME one of {}",
                    names.join(", ")
                )
            })
    }

    /// `+name` or `-name`.
    pub fn change_text((switch, on): (Switch, bool)) -> String {
        format!("{}{}", if on { '+' } else { '-' }, switch.name())
    }
}

impl Behaviour {
    /// This behaviour with `changes` applied, in order.
    pub fn with_changes(mut self, changes: &[(Switch, bool)]) -> Behaviour {
        for &(switch, on) in changes {
            switch.set(&mut self, on);
        }
        self
    }
}
