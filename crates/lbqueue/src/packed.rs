//! A compact byte encoding of a [`System`], for checkers that store millions of them.
//!
//! A `System` in memory is about 450 bytes (inline lists with room to spare, a machine
//! word of length per list); the same state packed is one byte per field and list
//! entry, about 60 bytes for the `seed` preset. The encoding is exact and canonical:
//! [`System::unpack`] gives back the very system that was packed, and two systems pack
//! to the same bytes iff they are equal, so a checker can hash and compare the bytes
//! instead of the systems. Every field is encoded, the ones a scenario fixes too (a
//! server's maxconn, a stream's thread): nothing is assumed constant.
//!
//! Limits the encoding relies on (the scenario's own limits are smaller): ids and
//! counters fit a byte, a server id fits four bits.

use smallvec::SmallVec;

use crate::state::{
    AfterTail, Call, ConnConfig, Counter, Deferred, LbAlgo, Outcome, Pc, Pendconn, Phase, Proxy,
    Queue, QueueId, Server, Stream, System, Task, Thread,
};

/// `None` of an optional id.
const NONE: u8 = u8::MAX;

fn opt(v: Option<u8>) -> u8 {
    debug_assert!(v != Some(NONE), "ids stay below {NONE}");
    v.unwrap_or(NONE)
}

fn unopt(b: u8) -> Option<u8> {
    (b != NONE).then_some(b)
}

fn queue_code(q: QueueId) -> u8 {
    match q {
        QueueId::Backend => 0,
        QueueId::Server(v) => 1 + v,
    }
}

fn queue_of(b: u8) -> QueueId {
    match b {
        0 => QueueId::Backend,
        v => QueueId::Server(v - 1),
    }
}

fn phase_code(p: Phase) -> u8 {
    match p {
        Phase::New => 0,
        Phase::Req => 1,
        Phase::Que => 2,
        Phase::Ass => 3,
        Phase::Est => 4,
        Phase::Done(Outcome::Served) => 5,
        Phase::Done(Outcome::NoServer) => 6,
        Phase::Done(Outcome::QueueTimeout) => 7,
        Phase::Done(Outcome::Killed) => 8,
        Phase::Done(Outcome::ConnectionError) => 9,
    }
}

fn phase_of(b: u8) -> Phase {
    match b {
        0 => Phase::New,
        1 => Phase::Req,
        2 => Phase::Que,
        3 => Phase::Ass,
        4 => Phase::Est,
        5 => Phase::Done(Outcome::Served),
        6 => Phase::Done(Outcome::NoServer),
        7 => Phase::Done(Outcome::QueueTimeout),
        8 => Phase::Done(Outcome::Killed),
        9 => Phase::Done(Outcome::ConnectionError),
        _ => unreachable!("phase code {b}"),
    }
}

/// A section and its server argument in one byte, the section in the high nibble; the
/// sections of the later designs, which are rarer, take a second byte after the escape
/// code 15 (the same layout: extended section, server).
fn pc_write(out: &mut Vec<u8>, pc: Pc) {
    let (code, v) = match pc {
        Pc::AssignServer => (0, 0),
        Pc::CheckServer(v) => (1, v),
        Pc::AddToServerQueue(v) => (2, v),
        Pc::AddToBackendQueue => (3, 0),
        Pc::MustTryAgain => (4, 0),
        Pc::DequeueAfterQueueing(v) => (5, v),
        Pc::Dequeue => (6, 0),
        Pc::Connect => (7, 0),
        Pc::Close => (8, 0),
        Pc::DequeueAfterRelease(v) => (9, v),
        Pc::FreeDequeue(v) => (10, v),
        Pc::FreeReleaseSlot => (11, 0),
        Pc::TakeSlot(v) => (12, v),
        Pc::TakeReadySrv => (13, 0),
        Pc::ClaimReadySrv(v) => (14, v),
        extended => {
            let (ext, v) = match extended {
                Pc::ReadySrvTail(v, AfterTail::Yield) => (0, v),
                Pc::ReadySrvTail(v, AfterTail::FreeReleaseSlot) => (1, v),
                Pc::ReadySrvTail(v, AfterTail::StreamFree) => (2, v),
                Pc::ShutdownDequeue(v) => (3, v),
                Pc::StreamFree => (4, 0),
                Pc::UnlinkForReadySrv(v) => (5, v),
                Pc::CheckDequeuer => (6, 0),
                Pc::OtherTgroupBatch(v, AfterTail::Yield) => (7, v),
                Pc::OtherTgroupBatch(v, AfterTail::FreeReleaseSlot) => (8, v),
                Pc::OtherTgroupBatch(v, AfterTail::StreamFree) => (9, v),
                Pc::ReadySrvTail(v, AfterTail::Rebalance) => (10, v),
                Pc::OtherTgroupBatch(v, AfterTail::Rebalance) => (11, v),
                Pc::DequeueBeforeRebalance(v) => (12, v),
                other => unreachable!("{other:?} has a one-byte code"),
            };
            debug_assert!(v < 16, "server ids fit four bits");
            out.extend_from_slice(&[ESCAPE << 4, ext << 4 | v]);
            return;
        }
    };
    debug_assert!(v < 16, "server ids fit four bits");
    out.push(code << 4 | v);
}

/// The high nibble that announces a second byte (see [`pc_write`]).
const ESCAPE: u8 = 15;

fn pc_read(r: &mut Reader<'_>) -> Pc {
    let b = r.byte();
    let v = b & 0xf;
    match b >> 4 {
        0 => Pc::AssignServer,
        1 => Pc::CheckServer(v),
        2 => Pc::AddToServerQueue(v),
        3 => Pc::AddToBackendQueue,
        4 => Pc::MustTryAgain,
        5 => Pc::DequeueAfterQueueing(v),
        6 => Pc::Dequeue,
        7 => Pc::Connect,
        8 => Pc::Close,
        9 => Pc::DequeueAfterRelease(v),
        10 => Pc::FreeDequeue(v),
        11 => Pc::FreeReleaseSlot,
        12 => Pc::TakeSlot(v),
        13 => Pc::TakeReadySrv,
        14 => Pc::ClaimReadySrv(v),
        _ => {
            let e = r.byte();
            let v = e & 0xf;
            match e >> 4 {
                0 => Pc::ReadySrvTail(v, AfterTail::Yield),
                1 => Pc::ReadySrvTail(v, AfterTail::FreeReleaseSlot),
                2 => Pc::ReadySrvTail(v, AfterTail::StreamFree),
                3 => Pc::ShutdownDequeue(v),
                4 => Pc::StreamFree,
                5 => Pc::UnlinkForReadySrv(v),
                6 => Pc::CheckDequeuer,
                7 => Pc::OtherTgroupBatch(v, AfterTail::Yield),
                8 => Pc::OtherTgroupBatch(v, AfterTail::FreeReleaseSlot),
                9 => Pc::OtherTgroupBatch(v, AfterTail::StreamFree),
                10 => Pc::ReadySrvTail(v, AfterTail::Rebalance),
                11 => Pc::OtherTgroupBatch(v, AfterTail::Rebalance),
                12 => Pc::DequeueBeforeRebalance(v),
                code => unreachable!("extended section code {code}"),
            }
        }
    }
}

fn counter_code(c: Counter) -> u8 {
    match c {
        Counter::PxServed => 0,
        Counter::PxTotpend => 1,
        // Bit 6: the second thread group's queue (server ids fit four bits).
        Counter::Length(q, g) => (2 + queue_code(q)) | (g << 6),
        Counter::SrvServed(v) => 0x80 | v,
    }
}

fn counter_of(b: u8) -> Counter {
    match b {
        0 => Counter::PxServed,
        1 => Counter::PxTotpend,
        v if v & 0x80 != 0 => Counter::SrvServed(v & 0x7f),
        q => Counter::Length(queue_of((q & 0x3f) - 2), (q >> 6) & 1),
    }
}

fn algo_code(a: LbAlgo) -> u8 {
    match a {
        LbAlgo::RoundRobin => 0,
        LbAlgo::StaticRr => 1,
        LbAlgo::First => 2,
        LbAlgo::Hash => 3,
    }
}

fn algo_of(b: u8) -> LbAlgo {
    match b {
        0 => LbAlgo::RoundRobin,
        1 => LbAlgo::StaticRr,
        2 => LbAlgo::First,
        3 => LbAlgo::Hash,
        _ => unreachable!("algorithm code {b}"),
    }
}

// Stream flags.
const ASSIGNED: u8 = 1;
const CURR_SESS: u8 = 2;
const KILL_REQUESTED: u8 = 4;
const TIMED_OUT: u8 = 8;
const HAS_PENDCONN: u8 = 16;
const PENDCONN_ASSIGNED: u8 = 32;
const CONN_FAILED: u8 = 64;

fn list(out: &mut Vec<u8>, items: &[u8]) {
    out.push(items.len() as u8);
    out.extend_from_slice(items);
}

fn deferred(out: &mut Vec<u8>, d: &Deferred) {
    out.push(d.len() as u8);
    for &(c, delta) in d {
        out.push(counter_code(c));
        out.push(delta as u8);
    }
}

/// Reads what [`System::pack_into`] wrote, in order.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().expect("a packed system is whole");
        self.0 = rest;
        b
    }

    fn flag(&mut self) -> bool {
        self.byte() != 0
    }

    fn list<const N: usize>(&mut self) -> SmallVec<[u8; N]>
    where
        [u8; N]: smallvec::Array<Item = u8>,
    {
        let n = self.byte() as usize;
        let (items, rest) = self.0.split_at(n);
        self.0 = rest;
        SmallVec::from_slice(items)
    }

    fn deferred(&mut self) -> Deferred {
        (0..self.byte())
            .map(|_| (counter_of(self.byte()), self.byte() as i8))
            .collect()
    }
}

impl System {
    /// Appends this system's packed bytes to `out`.
    pub fn pack_into(&self, out: &mut Vec<u8>) {
        let px = &self.px;
        out.extend_from_slice(&[
            self.arrived,
            self.cli_pc,
            // Thread groups and the connection settings in the same byte: a system
            // with one group and no connection error packs as before.
            u8::from(self.split_atomics)
                | (self.thread_groups - 1) << 1
                | self.conn_errors_left << 2
                | self.conn.retries.min(3) << 5
                | u8::from(self.conn.redispatch) << 7,
            px.queue.lengths[0],
            px.totpend,
            px.served,
            px.beconn,
            algo_code(px.algo),
            px.rr_next,
            opt(px.ready_srv),
            // `abortonclose` off (not the default) shares the lock-leak byte.
            u8::from(px.queue_lock_leaked) | u8::from(!self.conn.abortonclose) << 1,
            px.servers.len() as u8,
        ]);
        for srv in &px.servers {
            out.extend_from_slice(&[
                u8::from(srv.maint)
                    | u8::from(srv.dequeuing) << 1
                    | u8::from(srv.strict_maxconn) << 2,
                srv.maxconn,
                srv.served,
                srv.cur_sess,
                srv.queue.lengths[0],
                srv.weight,
            ]);
            if self.thread_groups > 1 {
                out.push(srv.queue.lengths[1]);
            }
            list(out, &srv.conns);
        }
        if self.thread_groups > 1 {
            out.push(px.queue.lengths[1]);
        }
        list(out, &px.pendconns);
        out.push(self.streams.len() as u8);
        for strm in &self.streams {
            let mut flags = 0;
            for (on, bit) in [
                (strm.assigned, ASSIGNED),
                (strm.curr_sess, CURR_SESS),
                (strm.kill_requested, KILL_REQUESTED),
                (strm.timed_out, TIMED_OUT),
                (strm.pend_pos.is_some(), HAS_PENDCONN),
                (strm.pend_pos.is_some_and(|p| p.assigned), PENDCONN_ASSIGNED),
                (strm.conn_failed, CONN_FAILED),
            ] {
                if on {
                    flags |= bit;
                }
            }
            out.extend_from_slice(&[
                // `conn_retries` (at most 3) above the thread (at most 8).
                strm.thread | strm.conn_retries << 4,
                phase_code(strm.phase),
                opt(strm.target),
                opt(strm.srv_conn),
                flags,
            ]);
            if let Some(p) = strm.pend_pos {
                out.extend_from_slice(&[queue_code(p.queue), opt(p.target)]);
            }
        }
        out.push(self.threads.len() as u8);
        for th in &self.threads {
            list(out, &th.runq);
            match th.task {
                None => out.push(NONE),
                Some(t) => {
                    out.push(t.stream);
                    pc_write(out, t.pc);
                    out.extend_from_slice(&[t.call.retries, u8::from(t.call.queue_changed)]);
                }
            }
            deferred(out, &th.deferred);
        }
        deferred(out, &self.cli_deferred);
        deferred(out, &self.deferring);
    }

    /// The system packed in `bytes` by [`System::pack_into`].
    pub fn unpack(bytes: &[u8]) -> System {
        let mut r = Reader(bytes);
        let [arrived, cli_pc, atomics_groups, length, totpend, served, beconn, algo, rr_next, ready_srv, leaked, n] =
            [(); 12].map(|_| r.byte());
        let thread_groups = ((atomics_groups >> 1) & 1) + 1;
        let second_length = |r: &mut Reader<'_>| if thread_groups > 1 { r.byte() } else { 0 };
        let servers = (0..n)
            .map(|_| {
                let [flags, maxconn, served, cur_sess, length, weight] = [(); 6].map(|_| r.byte());
                let lengths = [length, second_length(&mut r)];
                Server {
                    maint: flags & 1 != 0,
                    dequeuing: flags & 2 != 0,
                    strict_maxconn: flags & 4 != 0,
                    maxconn,
                    served,
                    cur_sess,
                    queue: Queue { lengths },
                    weight,
                    conns: r.list(),
                }
            })
            .collect();
        let px_lengths = [length, second_length(&mut r)];
        let px = Proxy {
            queue: Queue {
                lengths: px_lengths,
            },
            totpend,
            served,
            beconn,
            algo: algo_of(algo),
            rr_next,
            servers,
            pendconns: r.list(),
            ready_srv: unopt(ready_srv),
            queue_lock_leaked: leaked & 1 != 0,
        };
        let streams = (0..r.byte())
            .map(|_| {
                let [thread_retries, phase, target, srv_conn, flags] = [(); 5].map(|_| r.byte());
                let pend_pos = (flags & HAS_PENDCONN != 0).then(|| Pendconn {
                    queue: queue_of(r.byte()),
                    target: unopt(r.byte()),
                    assigned: flags & PENDCONN_ASSIGNED != 0,
                });
                Stream {
                    thread: thread_retries & 0xf,
                    conn_retries: thread_retries >> 4,
                    conn_failed: flags & CONN_FAILED != 0,
                    phase: phase_of(phase),
                    target: unopt(target),
                    assigned: flags & ASSIGNED != 0,
                    srv_conn: unopt(srv_conn),
                    curr_sess: flags & CURR_SESS != 0,
                    pend_pos,
                    kill_requested: flags & KILL_REQUESTED != 0,
                    timed_out: flags & TIMED_OUT != 0,
                }
            })
            .collect();
        let threads = (0..r.byte())
            .map(|_| {
                let runq = r.list();
                let task = match r.byte() {
                    NONE => None,
                    stream => Some(Task {
                        stream,
                        pc: pc_read(&mut r),
                        call: Call {
                            retries: r.byte(),
                            queue_changed: r.flag(),
                        },
                    }),
                };
                Thread {
                    runq,
                    task,
                    deferred: r.deferred(),
                }
            })
            .collect();
        let sys = System {
            px,
            streams,
            threads,
            arrived,
            cli_pc,
            cli_deferred: r.deferred(),
            split_atomics: atomics_groups & 1 != 0,
            thread_groups,
            conn_errors_left: (atomics_groups >> 2) & 7,
            conn: ConnConfig {
                retries: (atomics_groups >> 5) & 3,
                redispatch: atomics_groups & 0x80 != 0,
                abortonclose: leaked & 2 == 0,
            },
            deferring: r.deferred(),
        };
        debug_assert!(r.0.is_empty(), "a packed system has nothing after it");
        sys
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{enabled_actors, presets, step, Journal, Variant};

    #[test]
    fn every_code_names_one_value() {
        let qs = [QueueId::Backend, QueueId::Server(0), QueueId::Server(3)];
        for q in qs {
            assert_eq!(queue_of(queue_code(q)), q);
            for g in [0, 1] {
                let c = Counter::Length(q, g);
                assert_eq!(counter_of(counter_code(c)), c);
            }
        }
        for c in [
            Counter::PxServed,
            Counter::PxTotpend,
            Counter::SrvServed(0),
            Counter::SrvServed(3),
        ] {
            assert_eq!(counter_of(counter_code(c)), c);
        }
        let phases = [
            Phase::New,
            Phase::Req,
            Phase::Que,
            Phase::Ass,
            Phase::Est,
            Phase::Done(Outcome::Served),
            Phase::Done(Outcome::NoServer),
            Phase::Done(Outcome::QueueTimeout),
            Phase::Done(Outcome::Killed),
        ];
        let codes: HashSet<u8> = phases.iter().map(|&p| phase_code(p)).collect();
        assert_eq!(codes.len(), phases.len());
        for p in phases {
            assert_eq!(phase_of(phase_code(p)), p);
        }
        let mut pcs = vec![
            Pc::AssignServer,
            Pc::AddToBackendQueue,
            Pc::MustTryAgain,
            Pc::Dequeue,
            Pc::Connect,
            Pc::Close,
            Pc::FreeReleaseSlot,
            Pc::TakeReadySrv,
            Pc::StreamFree,
            Pc::CheckDequeuer,
        ];
        for v in [0, 3] {
            pcs.extend([
                Pc::CheckServer(v),
                Pc::AddToServerQueue(v),
                Pc::DequeueAfterQueueing(v),
                Pc::DequeueAfterRelease(v),
                Pc::FreeDequeue(v),
                Pc::TakeSlot(v),
                Pc::ClaimReadySrv(v),
                Pc::UnlinkForReadySrv(v),
                Pc::ShutdownDequeue(v),
                Pc::ReadySrvTail(v, AfterTail::Yield),
                Pc::ReadySrvTail(v, AfterTail::FreeReleaseSlot),
                Pc::ReadySrvTail(v, AfterTail::StreamFree),
                Pc::OtherTgroupBatch(v, AfterTail::Yield),
                Pc::OtherTgroupBatch(v, AfterTail::FreeReleaseSlot),
                Pc::OtherTgroupBatch(v, AfterTail::StreamFree),
            ]);
        }
        let codes: HashSet<Vec<u8>> = pcs
            .iter()
            .map(|&p| {
                let mut out = Vec::new();
                pc_write(&mut out, p);
                out
            })
            .collect();
        assert_eq!(codes.len(), pcs.len());
        for pc in pcs {
            let mut out = Vec::new();
            pc_write(&mut out, pc);
            let mut r = Reader(&out);
            assert_eq!(pc_read(&mut r), pc);
            assert!(r.0.is_empty(), "{pc:?} is read whole");
        }
        for a in [
            LbAlgo::RoundRobin,
            LbAlgo::StaticRr,
            LbAlgo::First,
            LbAlgo::Hash,
        ] {
            assert_eq!(algo_of(algo_code(a)), a);
        }
        assert_eq!(unopt(opt(None)), None);
        assert_eq!(unopt(opt(Some(0))), Some(0));
    }

    fn round_trip(sys: &System) -> Vec<u8> {
        let mut bytes = Vec::new();
        sys.pack_into(&mut bytes);
        assert_eq!(&System::unpack(&bytes), sys);
        bytes
    }

    /// Every field away from its initial value, each flag on its own.
    #[test]
    fn a_system_with_every_field_set_packs_and_unpacks_exactly() {
        let sc = presets::get("two-servers").unwrap();
        let base = System::new(&sc);
        let mut all = base.clone();
        all.arrived = 3;
        all.cli_pc = 2;
        all.split_atomics = true;
        all.px.queue.lengths[0] = 1;
        all.px.totpend = 2;
        all.px.served = 255;
        all.px.beconn = 3;
        all.px.algo = LbAlgo::StaticRr;
        all.px.rr_next = 1;
        all.px.pendconns = SmallVec::from_slice(&[2, 0]);
        all.px.ready_srv = Some(1);
        all.px.queue_lock_leaked = true;
        let srv = &mut all.px.servers[1];
        srv.maint = true;
        srv.dequeuing = true;
        srv.strict_maxconn = true;
        srv.maxconn = 0;
        srv.served = 1;
        srv.cur_sess = 1;
        srv.queue.lengths[0] = 1;
        srv.weight = 7;
        srv.conns = SmallVec::from_slice(&[1, 3]);
        all.streams[0].pend_pos = Some(Pendconn {
            queue: QueueId::Server(1),
            target: None,
            assigned: true,
        });
        all.streams[2].pend_pos = Some(Pendconn {
            queue: QueueId::Backend,
            target: Some(1),
            assigned: false,
        });
        let s = &mut all.streams[1];
        s.thread = 1;
        s.phase = Phase::Done(Outcome::Killed);
        s.target = Some(1);
        s.srv_conn = Some(0);
        all.threads[0].runq = SmallVec::from_slice(&[3, 1]);
        all.threads[1].task = Some(Task {
            stream: 2,
            pc: Pc::FreeDequeue(1),
            call: Call {
                retries: 2,
                queue_changed: true,
            },
        });
        all.threads[1].deferred =
            SmallVec::from_slice(&[(Counter::PxServed, -1), (Counter::SrvServed(1), -1)]);
        all.threads[0].task = Some(Task {
            stream: 3,
            pc: Pc::ReadySrvTail(1, AfterTail::StreamFree),
            call: Call::default(),
        });
        all.cli_deferred = SmallVec::from_slice(&[(Counter::Length(QueueId::Server(1), 0), 2)]);
        all.deferring = SmallVec::from_slice(&[(Counter::PxTotpend, -3)]);
        // Two thread groups: the second group's lengths and counters pack too.
        let mut groups = all.clone();
        groups.thread_groups = 2;
        groups.px.queue.lengths[1] = 2;
        groups.px.servers[0].queue.lengths[1] = 3;
        groups.px.servers[1].queue.lengths[1] = 4;
        groups
            .deferring
            .push((Counter::Length(QueueId::Backend, 1), -1));
        groups.threads[0].task = Some(Task {
            stream: 3,
            pc: Pc::OtherTgroupBatch(1, AfterTail::FreeReleaseSlot),
            call: Call::default(),
        });
        let mut seen = HashSet::from([round_trip(&base), round_trip(&all), round_trip(&groups)]);
        // Each stream flag alone packs differently.
        for flag in 0..4 {
            let mut one = base.clone();
            let s = &mut one.streams[3];
            match flag {
                0 => s.assigned = true,
                1 => s.curr_sess = true,
                2 => s.kill_requested = true,
                _ => s.timed_out = true,
            }
            assert!(seen.insert(round_trip(&one)), "flag {flag}");
        }
    }

    /// Every state reachable in the presets (and in the two-thread-group scenario, whose
    /// systems carry a second length per queue) packs to bytes that unpack to it, and
    /// two different states never pack alike.
    #[test]
    fn every_reachable_state_packs_and_unpacks_exactly() {
        let groups = crate::Scenario::from_toml(
            include_str!("../../../scenarios/thread-groups.toml"),
            "thread-groups",
        )
        .expect("scenarios/thread-groups.toml");
        let redispatch = crate::Scenario::from_toml(
            include_str!("../../../scenarios/redispatch.toml"),
            "redispatch",
        )
        .expect("scenarios/redispatch.toml");
        // The seed preset as an HTTP backend without `option abortonclose`.
        let mut http = presets::all()
            .into_iter()
            .find(|s| s.name == "seed")
            .expect("the seed preset");
        http.name = "seed-http".into();
        http.abortonclose = false;
        for sc in presets::all().into_iter().chain([groups, redispatch, http]) {
            // The small presets with every variant's locals and split atomics' owed
            // updates; the large ones once.
            let small = ["one-thread", "hash", "first", "timeouts"].contains(&sc.name.as_str());
            let runs: &[(Variant, bool)] = if sc.name == "thread-groups" {
                &[(Variant::Master, true)]
            } else if sc.name == "redispatch" {
                &[(Variant::Purge, true), (Variant::MasterFixed, false)]
            } else if small {
                &[
                    (Variant::Fixed, true),
                    (Variant::BoundedRetry, false),
                    (Variant::ChangeCounter, false),
                ]
            } else {
                &[(Variant::Livelock, false)]
            };
            for &(variant, split) in runs {
                let sc = sc.with_variant(variant).with_split_atomics(split);
                let mut seen = HashSet::from([System::new(&sc)]);
                let mut todo = vec![System::new(&sc)];
                let mut packed = HashSet::new();
                let mut actors = Vec::new();
                while let Some(sys) = todo.pop() {
                    let bytes = round_trip(&sys);
                    assert!(
                        packed.insert(bytes),
                        "{} {variant}: two states, one packing",
                        sc.name
                    );
                    actors.clear();
                    enabled_actors(&sys, &sc, &mut actors);
                    for &a in &actors {
                        let mut next = sys.clone();
                        step(&mut next, &sc, a, &mut Journal::silent());
                        if seen.insert(next.clone()) {
                            todo.push(next);
                        }
                    }
                }
            }
        }
    }
}
