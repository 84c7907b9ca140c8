//! Exploration and liveness across processes and worker threads, on timely-dataflow.
//!
//! timely-dataflow gives the transport (threads of one process share memory, processes
//! talk over TCP), the routing of each record to the worker a function names, and the
//! progress tracking that says when every record sent at a time has been taken in by
//! every worker. This driver uses one tiny dataflow per worker: an input, an exchange
//! to the worker each record names, and a sink whose output is probed. A *round* is
//! one timestamp: every worker sends what it has for the round, advances its input,
//! and steps timely until the probe passes the round, so that everything sent in the
//! round, by anyone, has been received everywhere. All workers run the same sequence
//! of rounds; every decision that ends a loop is taken on a sum over all workers (an
//! all-reduce, itself one round), so they stay in step without any other protocol.
//!
//! - **Ownership.** A state belongs to the worker chosen by its 96-bit fingerprint
//!   (the disk store's, [`crate::disk`]). Each worker keeps its own visited set (the
//!   disk store's fingerprint table) and the encoded bytes, BFS parent (fingerprint
//!   and action index) and BFS level of the states it owns, plus the non-progress
//!   edges that lead into them (from the predecessor's fingerprint): in RAM, or, with
//!   [`DiskOptions`], in append-only files of its own run directory
//!   (`<dir>/lbq-dist-<pid>-<n>/p<process>-w<worker>/`, [`OnDisk`]) with only the
//!   fingerprint table and per-state counters in RAM; the frontier, the elimination's
//!   predecessors, the residual and the parents are then read back from those files.
//!   A disk failure mid-run ends the process (status 2), as the other workers cannot
//!   go on without this one.
//! - **Exploration**, level-synchronous BFS: in round `d` every worker expands its
//!   states of level `d - 1`, evaluates the `always`/`sometimes` properties on them,
//!   and sends each successor to its owner, which keeps it if its table lacks the
//!   fingerprint; round 0 carries the initial states. A level is finished everywhere
//!   when the round's probe passes, so levels, depth and counts are exactly those of
//!   the single-process BFS. Transitions are counted where they are generated and
//!   summed.
//! - **Liveness.** The non-progress subgraph is pruned by elimination, distributed:
//!   a state starts kept iff it has a non-progress successor, with a count of them;
//!   when a state is dropped, its owner tells the owner of each non-progress
//!   predecessor, which decrements that predecessor's count and drops it at zero; the
//!   rounds go on until a round drops nothing anywhere. What is left are exactly the
//!   states from which a non-progress path reaches a non-progress cycle (the residual
//!   of the disk store's elimination). The residual is gathered to worker 0, re-expanded
//!   through the model and searched by the unchanged [`fair_cycle`], [`stuck_cycle`]
//!   and [`solo_cycle`].
//! - **Traces.** Worker 0 asks each state's owner for its parent, round after round,
//!   until every path reaches an initial state, then replays the path through
//!   [`stateright::Model::next_state`]; a replayed state whose bytes differ from those
//!   its owner stored is a fingerprint collision, reported as an error.
//!
//! Bounds are judged between levels, on the sums: `max_states` stops before expanding
//! a level once that many states are stored (so a bounded run may store a little more
//! than the bound, unlike the single-process explorers, which stop at the state);
//! timeout, memory and interruption on any worker stop every worker. Time is bounded
//! everywhere: processes that cannot all connect give up after `connect_timeout`; a
//! peer that dies breaks timely's connections (the network threads panic with
//! "timely communication error", which `lbq` turns into an error exit); with a
//! timeout, a round that waits longer than it plus a minute for a peer that hangs
//! ends the process with status 2.
//!
//! Processes connect through [`connect`] rather than timely's `Config::Cluster`
//! set-up, which retries forever and prints its retries on stdout; the sockets are
//! then handed to timely (`initialize_networking_from_sockets`), laid out exactly as
//! timely's own set-up lays them out (process `i` at line `i` of the hostfile, each
//! process connecting to the lower indices).
//!
//! The result is the disk store's [`DiskCheck`] (only on worker 0 of process 0), so a
//! model renders its report from it the same way.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::fs::FileExt;

use serde::{Deserialize, Serialize};
use stateright::Expectation;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::{Input, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

use crate::disk::{
    expand_residual, fingerprint, hashers, io_error, read_state, scan_records, DiskCheck,
    DiskOptions, DiskStats, Error, FpTable, RunDir, StateLog, StateReader,
};
use crate::graph::{resident_bytes, Bounds, Codec, Graph};
use crate::liveness::{fair_cycle, solo_cycle, stuck_cycle, Fairness, Lasso, Steps};

/// Where this process sits among the processes of one check (timely's conventions:
/// `processes` processes, this one `process`, each with `workers` worker threads, one
/// `host:port` per process, in process order).
#[derive(Clone, Debug)]
pub struct Cluster {
    /// How many processes take part.
    pub processes: usize,
    /// This process's index, `0..processes`; process 0 gets the result.
    pub process: usize,
    /// Worker threads per process.
    pub workers: usize,
    /// `host:port` of every process, in process order (empty with one process).
    pub addresses: Vec<String>,
    /// How long to wait for the other processes to connect before giving up.
    pub connect_timeout: Duration,
}

/// The port timely's own examples start from when no hostfile is given.
pub const DEFAULT_PORT_BASE: u16 = 2101;

impl Cluster {
    /// Processes on this machine, at 127.0.0.1 with consecutive ports from `port_base`.
    /// Errors name the command-line flag at fault.
    pub fn local(
        processes: usize,
        process: usize,
        workers: usize,
        port_base: u16,
    ) -> Result<Cluster, Error> {
        check_counts(processes, process, workers)?;
        let last = u32::from(port_base) + processes as u32 - 1;
        if processes > 1 && (port_base == 0 || last > u32::from(u16::MAX)) {
            return Err(format!(
                "--port-base {port_base}: ports {port_base}..={last} for {processes} processes are not all valid TCP ports (1-65535)"
            ));
        }
        let addresses = if processes > 1 {
            (0..processes)
                .map(|i| format!("127.0.0.1:{}", port_base as usize + i))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Cluster {
            processes,
            process,
            workers,
            addresses,
            connect_timeout: Duration::from_secs(60),
        })
    }

    /// Processes at the addresses of a hostfile: one `host:port` per line, line `i`
    /// for process `i` (blank lines and `#` comments skipped), exactly `processes`
    /// of them.
    pub fn from_hostfile(
        text: &str,
        processes: usize,
        process: usize,
        workers: usize,
    ) -> Result<Cluster, Error> {
        check_counts(processes, process, workers)?;
        let mut addresses = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let port_ok = line
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !port_ok || line.contains(char::is_whitespace) {
                return Err(format!(
                    "--hostfile line {}: expected host:port, found `{line}`",
                    n + 1
                ));
            }
            addresses.push(line.to_string());
        }
        if addresses.len() != processes {
            return Err(format!(
                "--hostfile: {} addresses for --processes {processes} (one host:port line per process)",
                addresses.len()
            ));
        }
        Ok(Cluster {
            processes,
            process,
            workers,
            addresses,
            connect_timeout: Duration::from_secs(60),
        })
    }

    /// timely's configuration for one process (several go through [`connect`]).
    fn config(&self) -> timely::Config {
        let communication = if self.workers > 1 {
            timely::CommunicationConfig::Process(self.workers)
        } else {
            timely::CommunicationConfig::Thread
        };
        timely::Config {
            communication,
            worker: timely::WorkerConfig::default(),
        }
    }
}

fn check_counts(processes: usize, process: usize, workers: usize) -> Result<(), Error> {
    if processes == 0 {
        return Err("--processes: expected at least 1 process, found 0".into());
    }
    if process >= processes {
        return Err(format!(
            "--process {process}: expected a process index below --processes {processes} (0..={})",
            processes - 1
        ));
    }
    if workers == 0 {
        return Err("--workers: expected at least 1 worker thread, found 0".into());
    }
    Ok(())
}

/// One record of the driver, routed to one worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Msg {
    /// A state for its owner: its fingerprint and encoded bytes, the fingerprint of
    /// the state it was generated from (0 for an initial state), the index of the
    /// action that led to it (of the initial state, for one), and whether that
    /// transition is non-progress.
    State {
        fp: u128,
        parent: u128,
        action: u32,
        non_progress: bool,
        bytes: Vec<u8>,
    },
    /// One worker's contribution to an all-reduce.
    Sum(Vec<u64>),
    /// Elimination: one non-progress successor of state `fp` was dropped.
    Dropped(u128),
    /// A state of the residual, for worker 0, with its BFS level.
    Kept { depth: u32, bytes: Vec<u8> },
    /// A worker's first state (least level, then fingerprint) that violates or
    /// witnesses property `property`, for worker 0.
    Found { property: u32, depth: u32, fp: u128 },
    /// Worker 0 asks the owner of `fp` for its parent.
    Ask(u128),
    /// The owner's answer (`known` false: it has no such state).
    Parent {
        fp: u128,
        parent: u128,
        action: u32,
        known: bool,
        bytes: Vec<u8>,
    },
}

/// What one worker owns: its visited set, and the rest in RAM or in its own files.
struct Store {
    table: FpTable,
    len: u32,
    kept: Kept,
}

/// Where a worker keeps its states' bytes, parents and incoming non-progress edges.
enum Kept {
    Memory {
        /// Encoded states back to back; state `i` is `arena[offsets[i]..offsets[i + 1]]`.
        arena: Vec<u8>,
        offsets: Vec<usize>,
        /// Per state: the parent's fingerprint (0 for an initial state) and the action.
        parents: Vec<(u128, u32)>,
        /// The non-progress edges into owned states: (owned state, predecessor's fp).
        into: Vec<(u32, u128)>,
    },
    Disk(OnDisk),
}

/// A worker's run directory: `states` and `offsets` ([`StateLog`]), `parents` (per
/// state the parent's fingerprint and the action index, 20 bytes), `edges` (per
/// non-progress edge into an owned state, its id and the predecessor's fingerprint, 20
/// bytes, in arrival order) and, for the elimination, `preds` (the predecessors'
/// fingerprints grouped by owned state, written whole).
struct OnDisk {
    log: StateLog,
    parents: BufWriter<File>,
    edges: BufWriter<File>,
    edge_count: u64,
    states: StateReader,
    parents_at: File,
    dir: RunDir,
}

const PARENT_RECORD: usize = 20;
const EDGE_RECORD: usize = 20;

/// A disk failure in the middle of the rounds: the other workers cannot go on without
/// this one, so the process ends (status 2) with the worker's message.
fn fatal(e: impl std::fmt::Display) -> ! {
    eprintln!("lbq: distributed disk store: {e}");
    std::process::exit(2);
}

fn le_u128(b: &[u8]) -> u128 {
    u128::from_le_bytes(b[..16].try_into().unwrap())
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().unwrap())
}

impl OnDisk {
    fn create(dir: RunDir) -> Result<OnDisk, Error> {
        let log = StateLog::create(&dir)?;
        Ok(OnDisk {
            log,
            parents: dir.append("parents")?,
            edges: dir.append("edges")?,
            edge_count: 0,
            states: StateReader::open(&dir)?,
            parents_at: dir.open("parents")?,
            dir,
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.log.flush()?;
        self.parents.flush()?;
        self.edges.flush()
    }

    /// Groups the `edges` file by owned state into `preds` (counting sort, in buckets
    /// of at most `BUCKET` edges, each a scan of `edges`); `start[id]..start[id + 1]`
    /// are then the records of state `id`'s predecessors.
    fn group(&mut self, len: u32) -> Result<Vec<u64>, Error> {
        const BUCKET: u64 = 1 << 20;
        self.flush().map_err(io_error(&self.dir.path))?;
        let edges = self.dir.file("edges");
        let mut start = vec![0u64; len as usize + 1];
        scan_records(&edges, EDGE_RECORD, false, |r| {
            start[le_u32(r) as usize + 1] += 1;
        })?;
        for i in 0..len as usize {
            start[i + 1] += start[i];
        }
        let tmp = self.dir.file("preds.tmp");
        let mut out = self.dir.append("preds.tmp")?;
        let mut lo = 0usize;
        while lo < len as usize {
            let mut hi = lo + 1;
            while hi < len as usize && start[hi + 1] - start[lo] <= BUCKET {
                hi += 1;
            }
            let base = start[lo];
            let mut bucket = vec![0u128; (start[hi] - base) as usize];
            let mut fill: Vec<u64> = start[lo..hi].iter().map(|s| s - base).collect();
            scan_records(&edges, EDGE_RECORD, false, |r| {
                let to = le_u32(r) as usize;
                if (lo..hi).contains(&to) {
                    bucket[fill[to - lo] as usize] = le_u128(&r[4..]);
                    fill[to - lo] += 1;
                }
            })?;
            for fp in bucket {
                out.write_all(&fp.to_le_bytes()).map_err(io_error(&tmp))?;
            }
            lo = hi;
        }
        out.flush().map_err(io_error(&tmp))?;
        drop(out);
        std::fs::rename(&tmp, self.dir.file("preds")).map_err(io_error(&tmp))?;
        Ok(start)
    }
}

impl Store {
    fn new(dir: Option<RunDir>) -> Result<Store, Error> {
        let kept = match dir {
            Some(dir) => Kept::Disk(OnDisk::create(dir)?),
            None => Kept::Memory {
                arena: Vec::new(),
                offsets: vec![0],
                parents: Vec::new(),
                into: Vec::new(),
            },
        };
        Ok(Store {
            table: FpTable::new(),
            len: 0,
            kept,
        })
    }

    fn len(&self) -> u32 {
        self.len
    }

    /// State `id`'s bytes (on disk: flushed ones only, see [`Store::flush`]).
    fn bytes(&self, id: u32) -> Vec<u8> {
        match &self.kept {
            Kept::Memory { arena, offsets, .. } => {
                arena[offsets[id as usize]..offsets[id as usize + 1]].to_vec()
            }
            Kept::Disk(d) => d.states.state_bytes(id).unwrap_or_else(|e| fatal(e)),
        }
    }

    /// State `id`'s parent's fingerprint (0 for an initial state) and action index.
    fn parent(&self, id: u32) -> (u128, u32) {
        match &self.kept {
            Kept::Memory { parents, .. } => parents[id as usize],
            Kept::Disk(d) => {
                let mut rec = [0u8; PARENT_RECORD];
                d.parents_at
                    .read_exact_at(&mut rec, u64::from(id) * PARENT_RECORD as u64)
                    .unwrap_or_else(|e| fatal(io_error(&d.dir.path)(e)));
                (le_u128(&rec), le_u32(&rec[16..]))
            }
        }
    }

    /// Makes everything received so far readable.
    fn flush(&mut self) {
        if let Kept::Disk(d) = &mut self.kept {
            d.flush()
                .unwrap_or_else(|e| fatal(io_error(&d.dir.path)(e)));
        }
    }

    fn edge_count(&self) -> u64 {
        match &self.kept {
            Kept::Memory { into, .. } => into.len() as u64,
            Kept::Disk(d) => d.edge_count,
        }
    }

    /// Bytes of the worker's files.
    fn disk_bytes(&self) -> u64 {
        match &self.kept {
            Kept::Memory { .. } => 0,
            Kept::Disk(d) => d.dir.bytes(),
        }
    }

    /// A reader of the states from `id` on, in id order (flushed ones only).
    fn level(&self, id: u32) -> Level {
        match &self.kept {
            // No state from `id` on: nothing to read (nor an offset to start from).
            _ if id >= self.len => Level::Memory,
            Kept::Memory { .. } => Level::Memory,
            Kept::Disk(d) => Level::Disk(d.states.from(id).unwrap_or_else(|e| fatal(e))),
        }
    }

    /// The non-progress predecessors of every owned state, grouped by state.
    fn preds(&mut self) -> Preds {
        match &mut self.kept {
            Kept::Memory { into, .. } => {
                let mut into = std::mem::take(into);
                into.sort_unstable_by_key(|&(to, _)| to);
                let mut start = vec![0u64; self.len as usize + 1];
                for &(to, _) in &into {
                    start[to as usize + 1] += 1;
                }
                for i in 0..self.len as usize {
                    start[i + 1] += start[i];
                }
                let from = into.into_iter().map(|(_, f)| f).collect();
                Preds {
                    start,
                    from: PredsOf::Memory(from),
                }
            }
            Kept::Disk(d) => {
                let start = d.group(self.len).unwrap_or_else(|e| fatal(e));
                let file = d.dir.open("preds").unwrap_or_else(|e| fatal(e));
                Preds {
                    start,
                    from: PredsOf::Disk(file, d.dir.path.clone()),
                }
            }
        }
    }

    fn receive(&mut self, fp: u128, parent: u128, action: u32, non_progress: bool, bytes: &[u8]) {
        let id = match self.table.get_or_insert(fp, self.len) {
            Some(id) => id,
            None => {
                match &mut self.kept {
                    Kept::Memory {
                        arena,
                        offsets,
                        parents,
                        ..
                    } => {
                        arena.extend_from_slice(bytes);
                        offsets.push(arena.len());
                        parents.push((parent, action));
                    }
                    Kept::Disk(d) => {
                        let mut rec = [0u8; PARENT_RECORD];
                        rec[..16].copy_from_slice(&parent.to_le_bytes());
                        rec[16..].copy_from_slice(&action.to_le_bytes());
                        d.log
                            .push(bytes)
                            .and_then(|()| d.parents.write_all(&rec))
                            .unwrap_or_else(|e| fatal(io_error(&d.dir.path)(e)));
                    }
                }
                self.len += 1;
                self.len - 1
            }
        };
        if non_progress {
            match &mut self.kept {
                Kept::Memory { into, .. } => into.push((id, parent)),
                Kept::Disk(d) => {
                    let mut rec = [0u8; EDGE_RECORD];
                    rec[..4].copy_from_slice(&id.to_le_bytes());
                    rec[4..].copy_from_slice(&parent.to_le_bytes());
                    d.edge_count += 1;
                    d.edges
                        .write_all(&rec)
                        .unwrap_or_else(|e| fatal(io_error(&d.dir.path)(e)));
                }
            }
        }
    }
}

/// The states of a level, read in id order.
enum Level {
    Memory,
    Disk(BufReader<File>),
}

impl Level {
    fn next(&mut self, shared: &RefCell<Shared>, id: u32, bytes: &mut Vec<u8>) {
        match self {
            Level::Memory => *bytes = shared.borrow().store.bytes(id),
            Level::Disk(r) => read_state(r, bytes).unwrap_or_else(|e| fatal(e)),
        }
    }
}

/// Per owned state, the fingerprints of its non-progress predecessors.
struct Preds {
    start: Vec<u64>,
    from: PredsOf,
}

enum PredsOf {
    Memory(Vec<u128>),
    Disk(File, std::path::PathBuf),
}

impl Preds {
    fn of(&self, id: u32) -> Vec<u128> {
        let (lo, hi) = (self.start[id as usize], self.start[id as usize + 1]);
        match &self.from {
            PredsOf::Memory(from) => from[lo as usize..hi as usize].to_vec(),
            PredsOf::Disk(file, path) => {
                let mut buf = vec![0u8; (hi - lo) as usize * 16];
                file.read_exact_at(&mut buf, lo * 16)
                    .unwrap_or_else(|e| fatal(io_error(path)(e)));
                buf.chunks_exact(16).map(le_u128).collect()
            }
        }
    }
}

/// What the worker's sink shares with the worker's own loop.
struct Shared {
    /// The round being received: records of later rounds (a faster peer may already
    /// send them) wait in `early`.
    now: u64,
    store: Store,
    early: Vec<(u64, Msg)>,
    inbox: Vec<Msg>,
}

impl Shared {
    fn accept(&mut self, msg: Msg) {
        match msg {
            Msg::State {
                fp,
                parent,
                action,
                non_progress,
                bytes,
            } => self.store.receive(fp, parent, action, non_progress, &bytes),
            other => self.inbox.push(other),
        }
    }
}

type Record = (u32, Msg);

/// One worker's end of the rounds.
struct Node<'w> {
    worker: &'w mut Worker,
    input: InputHandle<u64, CapacityContainerBuilder<Vec<Record>>>,
    probe: ProbeHandle<u64>,
    shared: Rc<RefCell<Shared>>,
    peers: u32,
    round: u64,
    /// How long a round may wait for the other workers before this process gives up
    /// (`None`: as long as it takes).
    stall: Option<Duration>,
    /// Records sent since the worker last stepped (stepping now and then while sending
    /// a large level keeps timely's queues short).
    unstepped: usize,
}

impl Node<'_> {
    fn send(&mut self, to: u32, msg: Msg) {
        self.input.send((to, msg));
        self.unstepped += 1;
        if self.unstepped >= 4096 {
            self.unstepped = 0;
            self.worker.step();
        }
    }

    /// Ends the round: waits until everything sent in it has been received by every
    /// worker; returns what this worker received (states went into its store).
    fn close(&mut self) -> Vec<Msg> {
        self.round += 1;
        self.unstepped = 0;
        self.input.advance_to(self.round);
        let waiting = Instant::now();
        while self.probe.less_than(self.input.time()) {
            self.worker.step_or_park(Some(Duration::from_millis(5)));
            if self.stall.is_some_and(|limit| waiting.elapsed() > limit) {
                // A peer that went away is caught by timely's network threads; one
                // that hangs would keep every other process waiting forever.
                eprintln!(
                    "lbq: worker {}: the other workers have not finished round {} within {:.0} s (--timeout plus a minute); giving up",
                    self.worker.index(),
                    self.round,
                    waiting.elapsed().as_secs_f64()
                );
                std::process::exit(2);
            }
        }
        let mut s = self.shared.borrow_mut();
        let inbox = std::mem::take(&mut s.inbox);
        s.now = self.round;
        let now = s.now;
        for (t, msg) in std::mem::take(&mut s.early) {
            if t == now {
                s.accept(msg);
            } else {
                s.early.push((t, msg));
            }
        }
        s.store.flush();
        inbox
    }

    /// Sums `values` over every worker (every worker must call it with as many).
    fn sum(&mut self, values: Vec<u64>) -> Vec<u64> {
        let n = values.len();
        for to in 0..self.peers {
            self.send(to, Msg::Sum(values.clone()));
        }
        let mut total = vec![0u64; n];
        for msg in self.close() {
            if let Msg::Sum(v) = msg {
                total.iter_mut().zip(v).for_each(|(t, v)| *t += v);
            }
        }
        total
    }

    fn owner(&self, fp: u128) -> u32 {
        // Bits 32..64 come from the second hasher; the table's shard and slot use
        // bits 64..128, so a worker's states still spread over its whole table.
        ((fp >> 32) as u32) % self.peers
    }
}

/// Explores `model` on every worker of `cluster` (this process's share of them), then
/// runs the liveness searches on the gathered residual. Returns `Some` on process 0
/// (worker 0's result), `None` on the others; `Err` is a store failure (a fingerprint
/// collision) or a worker that died.
///
/// `Err` too if the processes cannot all connect within `cluster.connect_timeout`.
pub fn check<M, F>(
    model: M,
    bounds: Bounds,
    cluster: &Cluster,
    disk: Option<&DiskOptions>,
    in_assign: F,
) -> Result<Option<DiskCheck<M>>, Error>
where
    M: Fairness + Send + Sync + 'static,
    M::Store: Codec<M::State>,
    M::State: Hash + Eq + Clone + Send,
    M::Action: Clone + Send + Sync,
    F: Fn(&M::State) -> Vec<M::Actor> + Send + Sync + 'static,
{
    let model = Arc::new(model);
    let in_assign = Arc::new(in_assign);
    // With the disk store: this process's run directory, and in it one per worker.
    let run = disk
        .map(|opts| RunDir::create(opts, "lbq-dist"))
        .transpose()?;
    let mut dirs = Vec::new();
    for w in 0..cluster.workers {
        dirs.push(match &run {
            Some(run) => Some(run.child(&format!("p{}-w{w}", cluster.process))?),
            None => None,
        });
    }
    let run_path = run.as_ref().map(|r| r.path.clone()).unwrap_or_default();
    let dirs = Arc::new(std::sync::Mutex::new(dirs));
    let workers = cluster.workers;
    let work = move |worker: &mut Worker| {
        let dir = dirs
            .lock()
            .expect("no worker panics holding the directories")[worker.index() % workers]
            .take();
        run_worker(&*model, bounds, worker, dir, &*in_assign)
    };
    let guards = if cluster.processes > 1 {
        // timely's own connection set-up waits for its peers forever and prints its
        // retries on stdout; this one gives up at the deadline and says why.
        let sockets = connect(cluster)?;
        let hooks = timely::communication::Hooks::default();
        let local = ProcessBuilder::new_typed_vector(cluster.workers, hooks.refill.clone(), None);
        let (builders, guard) = initialize_networking_from_sockets(
            local,
            sockets,
            cluster.process,
            cluster.workers,
            hooks,
        )
        .map_err(|e| format!("timely-dataflow: cannot start the network threads: {e}"))?;
        timely::execute::execute_from(
            builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
            Box::new(guard),
            timely::WorkerConfig::default(),
            work,
        )
    } else {
        timely::execute(cluster.config(), work)
    }
    .map_err(|e| format!("timely-dataflow: {e}"))?;
    let mut result = None;
    for joined in guards.join() {
        match joined {
            Ok(Ok(Some(mut found))) => {
                found.stats.dir = run_path.clone();
                result = Some(found)
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(format!("a worker failed: {e}")),
        }
    }
    drop(run);
    Ok(result)
}

/// The first bytes a process sends on each connection (then its index, the number
/// of processes and of workers per process, each a big-endian u64), so that a stray
/// connection is ignored and processes started with different flags refuse to run.
const HELLO: &[u8; 8] = b"lbq-tmly";

/// One TCP connection to every other process, in process order (`None` at this
/// process's place), as timely's networking expects them: this process connects to
/// every lower index and accepts every higher one, until `connect_timeout`.
fn connect(cluster: &Cluster) -> Result<Vec<Option<TcpStream>>, Error> {
    let deadline = Instant::now() + cluster.connect_timeout;
    let me = cluster.process;
    let addr = &cluster.addresses[me];
    let listener = TcpListener::bind(addr.as_str())
        .map_err(|e| format!("process {me}: cannot listen on {addr}: {e}"))?;
    let give_up = |what: String| {
        format!(
            "process {me} of {}: {what} within {:.0} s (--connect-timeout); giving up",
            cluster.processes,
            cluster.connect_timeout.as_secs_f64()
        )
    };
    let mut sockets: Vec<Option<TcpStream>> = (0..cluster.processes).map(|_| None).collect();
    for (peer, address) in cluster.addresses.iter().enumerate().take(me) {
        let stream = loop {
            let attempt = address
                .to_socket_addrs()
                .map_err(|e| format!("process {peer}'s address {address}: {e}"))?
                .find_map(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).ok());
            if let Some(stream) = attempt {
                break stream;
            }
            if Instant::now() >= deadline {
                return Err(give_up(format!(
                    "could not reach process {peer} at {address}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut hello = HELLO.to_vec();
        for n in [me, cluster.processes, cluster.workers] {
            hello.extend_from_slice(&(n as u64).to_be_bytes());
        }
        let mut stream = stream;
        stream
            .write_all(&hello)
            .map_err(|e| format!("process {peer} at {address}: {e}"))?;
        stream.set_nodelay(true).ok();
        sockets[peer] = Some(stream);
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("process {me}: {addr}: {e}"))?;
    while sockets.iter().skip(me + 1).any(Option::is_none) {
        let (mut stream, _) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<String> = (me + 1..cluster.processes)
                        .filter(|&p| sockets[p].is_none())
                        .map(|p| p.to_string())
                        .collect();
                    return Err(give_up(format!(
                        "process(es) {} did not connect to {addr}",
                        missing.join(", ")
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(e) => return Err(format!("process {me}: accepting on {addr}: {e}")),
        };
        stream.set_nonblocking(false).ok();
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut hello = [0u8; 32];
        if stream.read_exact(&mut hello).is_err() || &hello[..8] != HELLO {
            continue; // not one of ours
        }
        let field = |k: usize| u64::from_be_bytes(hello[8 * k..8 * k + 8].try_into().unwrap());
        let (peer, processes, workers) = (field(1) as usize, field(2), field(3));
        if processes != cluster.processes as u64 || workers != cluster.workers as u64 {
            return Err(format!(
                "process {peer} runs with --processes {processes} --workers {workers}, this one with --processes {} --workers {}: every process needs the same",
                cluster.processes, cluster.workers
            ));
        }
        if peer <= me || peer >= cluster.processes || sockets[peer].is_some() {
            return Err(format!(
                "process {me}: a second process says it is process {peer} (check each one's --process)"
            ));
        }
        stream.set_read_timeout(None).ok();
        stream.set_nodelay(true).ok();
        sockets[peer] = Some(stream);
    }
    Ok(sockets)
}

/// Per state kept by the exploration, what one worker computes (see the module doc).
fn run_worker<M, F>(
    model: &M,
    bounds: Bounds,
    worker: &mut Worker,
    dir: Option<RunDir>,
    in_assign: &F,
) -> Result<Option<DiskCheck<M>>, Error>
where
    M: Fairness,
    M::Store: Codec<M::State>,
    M::State: Hash + Eq + Clone,
    M::Action: Clone,
    F: Fn(&M::State) -> Vec<M::Actor>,
{
    let started = Instant::now();
    let shared = Rc::new(RefCell::new(Shared {
        now: 0,
        store: Store::new(dir).unwrap_or_else(|e| fatal(e)),
        early: Vec::new(),
        inbox: Vec::new(),
    }));
    let mut input = InputHandle::new();
    let probe = ProbeHandle::new();
    let sink = shared.clone();
    worker.dataflow::<u64, _, _>(|scope| {
        scope
            .input_from(&mut input)
            .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Exchange::new(|r: &Record| u64::from(r.0)),
                "owner",
                |_, _| {
                    move |input, _| {
                        input.for_each(|cap, data| {
                            let t = *cap.least().expect("records of an input carry their round");
                            let mut s = sink.borrow_mut();
                            for (_, msg) in data.drain(..) {
                                if t == s.now {
                                    s.accept(msg);
                                } else {
                                    s.early.push((t, msg));
                                }
                            }
                        });
                    }
                },
            )
            .probe_with(&probe);
    });
    let peers = worker.peers() as u32;
    let me = worker.index() as u32;
    let mut node = Node {
        worker,
        input,
        probe,
        shared,
        peers,
        round: 0,
        stall: bounds.timeout.map(|t| t + Duration::from_secs(60)),
        unstepped: 0,
    };
    let codec = model.store();
    let hashers = hashers();
    let properties = model.properties();

    // Exploration.
    let mut bytes = Vec::new();
    if me == 0 {
        for (k, s) in model.init_states().into_iter().enumerate() {
            bytes.clear();
            codec.encode(&s, &mut bytes);
            let fp = fingerprint(&hashers, &bytes);
            let to = node.owner(fp);
            node.send(
                to,
                Msg::State {
                    fp,
                    parent: 0,
                    action: k as u32,
                    non_progress: false,
                    bytes: bytes.clone(),
                },
            );
        }
    }
    node.close();
    // First local id of each level; the last entry ends the last level received.
    let mut levels = vec![0u32, node.shared.borrow().store.len()];
    let mut non_progress_out: Vec<u32> = Vec::new();
    let mut transitions = 0u64;
    let mut found: Vec<Option<(u32, u128)>> = vec![None; properties.len()];
    let mut complete = true;
    let mut stopped_by = None;
    let mut max_depth = 0u32;
    let mut actions = Vec::new();
    let mut depth = 0u32;
    loop {
        let level = &levels[depth as usize..depth as usize + 2];
        let stop = local_stop(&bounds, started);
        let mut values = vec![u64::from(level[1] - level[0]), u64::from(level[1])];
        values.extend(STOPS.iter().map(|&s| u64::from(stop == Some(s))));
        let sums = node.sum(values);
        if sums[0] == 0 {
            break;
        }
        max_depth = depth;
        // A bound hit on any worker stops every worker.
        if let Some(k) = (0..STOPS.len()).find(|&k| sums[2 + k] > 0) {
            complete = false;
            stopped_by = Some(STOPS[k]);
            break;
        }
        if bounds.max_states.is_some_and(|m| sums[1] >= m as u64) {
            complete = false;
            stopped_by = Some("max_states");
            break;
        }
        let (lo, hi) = (level[0], level[1]);
        non_progress_out.resize(hi as usize, 0);
        let mut reader = node.shared.borrow().store.level(lo);
        for id in lo..hi {
            reader.next(&node.shared, id, &mut bytes);
            let fp = fingerprint(&hashers, &bytes);
            let state = codec.decode(&bytes);
            for (i, p) in properties.iter().enumerate() {
                let better = match found[i] {
                    None => true,
                    Some((d, f)) => d == depth && fp < f,
                };
                if better {
                    let holds = (p.condition)(model, &state);
                    let hit = match p.expectation {
                        Expectation::Always => !holds,
                        Expectation::Sometimes => holds,
                        Expectation::Eventually => false,
                    };
                    if hit {
                        found[i] = Some((depth, fp));
                    }
                }
            }
            actions.clear();
            model.actions(&state, &mut actions);
            for (k, action) in actions.drain(..).enumerate() {
                let Some(succ) = model.next_state(&state, action.clone()) else {
                    continue;
                };
                transitions += 1;
                let non_progress = !model.is_progress(&state, &action, &succ);
                let mut out = Vec::with_capacity(bytes.len());
                codec.encode(&succ, &mut out);
                let to_fp = fingerprint(&hashers, &out);
                non_progress_out[id as usize] += u32::from(non_progress);
                let to = node.owner(to_fp);
                node.send(
                    to,
                    Msg::State {
                        fp: to_fp,
                        parent: fp,
                        action: k as u32,
                        non_progress,
                        bytes: out,
                    },
                );
            }
        }
        node.close();
        levels.push(node.shared.borrow().store.len());
        depth += 1;
    }
    let explore_time = started.elapsed();
    let len = node.shared.borrow().store.len();
    non_progress_out.resize(len as usize, 0);
    let (edges_local, table_local, disk_local) = {
        let s = node.shared.borrow();
        (
            s.store.edge_count(),
            s.store.table.bytes() as u64,
            s.store.disk_bytes(),
        )
    };
    let totals = node.sum(vec![
        u64::from(len),
        transitions,
        edges_local,
        table_local,
        disk_local,
    ]);

    // The first discovery per property, least (level, fingerprint) over all workers.
    for (i, f) in found.iter().enumerate() {
        if let Some((depth, fp)) = *f {
            node.send(
                0,
                Msg::Found {
                    property: i as u32,
                    depth,
                    fp,
                },
            );
        }
    }
    let mut first: Vec<Option<(u32, u128)>> = vec![None; properties.len()];
    for msg in node.close() {
        if let Msg::Found {
            property,
            depth,
            fp,
        } = msg
        {
            let slot = &mut first[property as usize];
            if slot.is_none_or(|best| (depth, fp) < best) {
                *slot = Some((depth, fp));
            }
        }
    }

    // Elimination on the non-progress subgraph.
    let preds = node.shared.borrow_mut().store.preds();
    let mut count = non_progress_out;
    let mut out: Vec<Record> = Vec::new();
    for id in 0..len {
        if count[id as usize] == 0 {
            for p in preds.of(id) {
                out.push((node.owner(p), Msg::Dropped(p)));
            }
        }
    }
    let mut passes = 0;
    loop {
        if node.sum(vec![out.len() as u64])[0] == 0 {
            break;
        }
        passes += 1;
        for (to, msg) in out.drain(..) {
            node.send(to, msg);
        }
        for msg in node.close() {
            let Msg::Dropped(fp) = msg else { continue };
            let id = node
                .shared
                .borrow()
                .store
                .table
                .get(fp)
                .expect("a dropped edge's source is owned here");
            let c = &mut count[id as usize];
            if *c > 0 {
                *c -= 1;
                if *c == 0 {
                    for p in preds.of(id) {
                        out.push((node.owner(p), Msg::Dropped(p)));
                    }
                }
            }
        }
    }

    // The residual, gathered to worker 0.
    let depth_of = |id: u32| (levels.partition_point(|&first| first <= id) - 1) as u32;
    for id in 0..len {
        if count[id as usize] > 0 {
            let bytes = node.shared.borrow().store.bytes(id);
            node.send(
                0,
                Msg::Kept {
                    depth: depth_of(id),
                    bytes,
                },
            );
        }
    }
    let gathered = node.close();
    let mut r = Residual {
        model,
        codec: &codec,
        hashers: &hashers,
        graph: Graph::assemble(model.store(), 0),
        ids: HashMap::new(),
        fp_of: Vec::new(),
        known: HashMap::new(),
        missing: false,
    };
    let (mut fair, mut stuck, mut solo) = (None, None, None);
    let mut targets = Vec::new();
    if me == 0 {
        let mut kept: Vec<(u32, u128, Vec<u8>)> = gathered
            .into_iter()
            .filter_map(|m| match m {
                Msg::Kept { depth, bytes } => Some((depth, fingerprint(&hashers, &bytes), bytes)),
                _ => None,
            })
            .collect();
        kept.sort_unstable_by_key(|&(d, fp, _)| (d, fp));
        r.build(kept);
        r.graph.seal();
        r.graph.complete = complete;
        fair = fair_cycle(model, &r.graph);
        stuck = stuck_cycle(model, &r.graph);
        solo = solo_cycle(model, &r.graph, in_assign);
        for lasso in [&fair, &stuck, &solo].into_iter().flatten() {
            targets.push(r.fp_of[lasso.init as usize]);
        }
        targets.extend(first.iter().flatten().map(|&(_, fp)| fp));
    }

    // Parents, asked of their owners until every path reaches an initial state.
    let mut asked: std::collections::HashSet<u128> = targets.iter().copied().collect();
    let mut ask: Vec<u128> = asked.iter().copied().collect();
    loop {
        if node.sum(vec![ask.len() as u64])[0] == 0 {
            break;
        }
        for fp in ask.drain(..) {
            let to = node.owner(fp);
            node.send(to, Msg::Ask(fp));
        }
        let questions = node.close();
        for msg in questions {
            let Msg::Ask(fp) = msg else { continue };
            let answer = {
                let s = node.shared.borrow();
                match s.store.table.get(fp) {
                    Some(id) => {
                        let (parent, action) = s.store.parent(id);
                        Msg::Parent {
                            fp,
                            parent,
                            action,
                            known: true,
                            bytes: s.store.bytes(id),
                        }
                    }
                    None => Msg::Parent {
                        fp,
                        parent: 0,
                        action: 0,
                        known: false,
                        bytes: Vec::new(),
                    },
                }
            };
            node.send(0, answer);
        }
        for msg in node.close() {
            let Msg::Parent {
                fp,
                parent,
                action,
                known,
                bytes,
            } = msg
            else {
                continue;
            };
            if !known {
                r.missing = true;
                continue;
            }
            if parent != 0 && asked.insert(parent) {
                ask.push(parent);
            }
            r.known.insert(fp, (parent, action, bytes));
        }
    }
    // Every worker has taken part in every round; only worker 0 has more to do.
    drop(node);
    if me != 0 {
        return Ok(None);
    }
    if r.missing {
        return Err("distributed check: a state's owner does not know it (a routing fault)".into());
    }
    let fair = r.rooted(fair)?;
    let stuck = r.rooted(stuck)?;
    let solo = r.rooted(solo)?;
    let discoveries = first
        .iter()
        .map(|f| f.map(|(_, fp)| r.path_to(fp).map(Lasso::path)).transpose())
        .collect::<Result<Vec<_>, Error>>()?;
    r.graph.seal();
    let residual = r.fp_of.len();
    let stats = DiskStats {
        states: totals[0] as usize,
        transitions: totals[1] as usize,
        max_depth,
        complete,
        stopped_by,
        explore_time,
        table_bytes: totals[3] as usize,
        disk_bytes: totals[4],
        non_progress_edges: totals[2],
        elimination_passes: passes,
        residual,
        dir: std::path::PathBuf::new(),
    };
    Ok(Some(DiskCheck {
        graph: r.graph,
        discoveries,
        fair,
        stuck,
        solo,
        stats,
    }))
}

/// The reasons a bound stops a search, in the order their codes are summed.
const STOPS: [&str; 3] = ["interrupted", "timeout", "max_memory"];

/// Which bound stops this worker now, if any (`max_states` is judged on the sums).
fn local_stop(bounds: &Bounds, started: Instant) -> Option<&'static str> {
    if bounds.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
        return Some("interrupted");
    }
    if bounds.timeout.is_some_and(|t| started.elapsed() >= t) {
        return Some("timeout");
    }
    if bounds
        .max_memory
        .is_some_and(|m| resident_bytes().is_some_and(|r| r >= m))
    {
        return Some("max_memory");
    }
    None
}

/// Worker 0's graph: the residual, then the states of the paths to lassos and
/// discoveries.
struct Residual<'a, M: Fairness> {
    model: &'a M,
    codec: &'a M::Store,
    hashers: &'a [ahash::RandomState; 2],
    graph: Graph<M>,
    /// Fingerprint → graph id, for the states in the graph.
    ids: HashMap<u128, u32>,
    /// Graph id → fingerprint, for the residual's states (they come first).
    fp_of: Vec<u128>,
    /// Per state asked about: its parent's fingerprint, action index and stored bytes.
    known: HashMap<u128, (u128, u32, Vec<u8>)>,
    missing: bool,
}

impl<M> Residual<'_, M>
where
    M: Fairness,
    M::Store: Codec<M::State>,
    M::Action: Clone,
{
    /// The residual's states (by level, then fingerprint), re-expanded: each keeps all
    /// its edges, those leaving the residual to a state of its own never expanded (as
    /// the disk store does).
    fn build(&mut self, kept: Vec<(u32, u128, Vec<u8>)>) {
        let mut by_bytes = HashMap::new();
        let mut states = Vec::with_capacity(kept.len());
        for (depth, fp, bytes) in kept {
            let state = self.codec.decode(&bytes);
            let gid = self.graph.add_state(state.clone(), depth);
            self.ids.insert(fp, gid);
            self.fp_of.push(fp);
            by_bytes.insert(bytes, gid);
            states.push(state);
        }
        expand_residual(self.model, self.codec, &mut self.graph, &states, by_bytes);
    }

    /// The path from an initial state to the state `fp`, from the parents its owners
    /// gave, replayed through the model; the states on it join the graph.
    fn path_to(&mut self, fp: u128) -> Result<(u32, Steps<M::Action>), Error> {
        let lost = || "distributed check: a path's parent was never asked for".to_string();
        let mut chain = vec![fp];
        let mut cur = fp;
        loop {
            let &(parent, _, _) = self.known.get(&cur).ok_or_else(lost)?;
            if parent == 0 {
                break;
            }
            chain.push(parent);
            cur = parent;
        }
        chain.reverse();
        let init_index = self.known[&chain[0]].1;
        let mut state = self
            .model
            .init_states()
            .into_iter()
            .nth(init_index as usize)
            .ok_or("distributed check: a parent record names an initial state the model lacks")?;
        let init = self.intern(chain[0], &state, 0)?;
        let mut steps = Vec::new();
        let mut actions = Vec::new();
        for (depth, &child) in chain.iter().enumerate().skip(1) {
            let k = self.known[&child].1;
            actions.clear();
            self.model.actions(&state, &mut actions);
            let action = actions.get(k as usize).cloned().ok_or_else(|| {
                format!("distributed check: replaying a path: action {k} is not enabled")
            })?;
            state = self
                .model
                .next_state(&state, action.clone())
                .ok_or("distributed check: replaying a path: no successor")?;
            let gid = self.intern(child, &state, depth as u32)?;
            steps.push((action, gid));
        }
        Ok((init, steps))
    }

    /// The graph id of state `fp`, whose replayed value is `state`; checks that the
    /// replay gives the bytes its owner stored.
    fn intern(&mut self, fp: u128, state: &M::State, depth: u32) -> Result<u32, Error> {
        let mut bytes = Vec::new();
        self.codec.encode(state, &mut bytes);
        if bytes != self.known[&fp].2 || fingerprint(self.hashers, &bytes) != fp {
            return Err("distributed check: fingerprint collision: replaying a path gives another state than the one stored under its fingerprint; rerun in one process with --store memory".into());
        }
        if let Some(&gid) = self.ids.get(&fp) {
            return Ok(gid);
        }
        let gid = self.graph.add_state(state.clone(), depth);
        self.ids.insert(fp, gid);
        Ok(gid)
    }

    /// A lasso found on the residual, with its prefix rebuilt from the owners' parents.
    fn rooted(
        &mut self,
        lasso: Option<Lasso<M::Action>>,
    ) -> Result<Option<Lasso<M::Action>>, Error> {
        let Some(lasso) = lasso else {
            return Ok(None);
        };
        debug_assert!(lasso.prefix.is_empty());
        let (init, prefix) = self.path_to(self.fp_of[lasso.init as usize])?;
        Ok(Some(Lasso {
            init,
            prefix,
            cycle: lasso.cycle,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostfile_needs_one_address_per_process() {
        let c = Cluster::from_hostfile("# two machines\nhost-a:2101\n\nhost-b:2101\n", 2, 1, 4)
            .unwrap();
        assert_eq!(c.addresses, ["host-a:2101", "host-b:2101"]);
        let e = Cluster::from_hostfile("host-a:2101\n", 2, 0, 1).unwrap_err();
        assert!(e.starts_with("--hostfile"), "{e}");
        let e = Cluster::from_hostfile("host-a\nhost-b:1\n", 2, 0, 1).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn bad_counts_name_their_flag() {
        assert!(Cluster::local(2, 2, 1, 2101)
            .unwrap_err()
            .starts_with("--process 2"));
        assert!(Cluster::local(0, 0, 1, 2101)
            .unwrap_err()
            .starts_with("--processes"));
        assert!(Cluster::local(1, 0, 0, 2101)
            .unwrap_err()
            .starts_with("--workers"));
        assert!(Cluster::local(3, 0, 1, 65535)
            .unwrap_err()
            .starts_with("--port-base"));
        let c = Cluster::local(3, 1, 2, 30000).unwrap();
        assert_eq!(c.addresses[2], "127.0.0.1:30002");
    }
}
