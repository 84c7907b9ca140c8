//! Exploration with the states on disk and only fingerprints in RAM.
//!
//! [`crate::graph::Graph`] keeps every state, edge and parent in RAM (well over 100
//! bytes per state). This store keeps in RAM one 16-byte slot per state in an
//! open-addressing table (a 96-bit fingerprint of the state's encoded bytes and its
//! 32-bit id) and writes everything else to append-only files in a run directory:
//!
//! - `states`: each state's encoded bytes ([`Codec`]), length-prefixed, in id (BFS)
//!   order. It is also the frontier: the explorer reads it back sequentially, level
//!   after level, while it appends the next level.
//! - `offsets`: where each state starts in `states` (random access for traces).
//! - `parents`: per state, its BFS parent and the index of the action, among the
//!   parent's [`stateright::Model::actions`], that led to it.
//! - `edges`: the non-progress edges (`from`, `to`), the only ones a livelock can use.
//!
//! Liveness then needs no state in RAM until the end: the non-progress subgraph is
//! pruned on disk by elimination (OWCTY-style, backward): a state none of whose
//! non-progress successors is still kept is dropped, repeatedly, until nothing changes.
//! What remains are exactly the states from which a non-progress path leads into a
//! non-progress cycle. Only those are read back, re-expanded through the model, and
//! handed to the very searches of [`crate::liveness`] as a small in-memory [`Graph`];
//! their answers are the ones those searches give on the whole graph (every fair or
//! closed non-progress component and every solo loop lies inside, and so does every
//! solo walk that ends in one). Paths from an initial state are rebuilt from `parents`
//! and replayed through [`stateright::Model::next_state`]: a replayed state whose bytes differ
//! from the stored ones is a fingerprint collision, reported as an error.

use std::fs::{self, File};
use std::hash::Hash;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stateright::Expectation;

use crate::graph::{state_hasher, Bounds, Codec, Edge, Graph, Progress, Storage};
use crate::liveness::{fair_cycle, solo_cycle, stuck_cycle, Fairness, Lasso, Steps};

/// Where the disk store writes, and whether it keeps its files.
#[derive(Clone, Debug)]
pub struct DiskOptions {
    /// The directory under which the run directory (`lbq-store-<pid>-<n>`) is made.
    pub dir: PathBuf,
    /// Keep the run directory at the end (it is removed otherwise, also on error).
    pub keep: bool,
}

/// What a disk-backed check found: the verdicts' lassos, and the part of the graph
/// they refer to (for rendering).
pub struct DiskCheck<M: Storage> {
    /// The residual of the elimination, plus the states on the paths to the lassos and
    /// discoveries; every lasso's ids are ids of this graph. Its own counts are not the
    /// exploration's: see the fields below.
    pub graph: Graph<M>,
    /// Per `always`/`sometimes` property (in `stateright::Model::properties()` order): the path to
    /// the first state (in BFS order) that violates or witnesses it.
    pub discoveries: Vec<Option<Lasso<M::Action>>>,
    /// [`fair_cycle`]'s answer on the whole graph.
    pub fair: Option<Lasso<M::Action>>,
    /// [`stuck_cycle`]'s answer on the whole graph.
    pub stuck: Option<Lasso<M::Action>>,
    /// [`solo_cycle`]'s answer on the whole graph.
    pub solo: Option<Lasso<M::Action>>,
    /// Figures of the run.
    pub stats: DiskStats,
}

/// Figures of a disk-backed run.
#[derive(Clone, Debug, Default)]
pub struct DiskStats {
    /// Distinct states stored.
    pub states: usize,
    /// Transitions generated (duplicates included).
    pub transitions: usize,
    /// Deepest BFS level.
    pub max_depth: u32,
    /// Whether every reachable state was expanded.
    pub complete: bool,
    /// The bound that stopped the search, if one did.
    pub stopped_by: Option<&'static str>,
    /// Time of the exploration alone.
    pub explore_time: Duration,
    /// Bytes of the fingerprint table at the end of the exploration.
    pub table_bytes: usize,
    /// Bytes written to the run directory.
    pub disk_bytes: u64,
    /// Non-progress edges written.
    pub non_progress_edges: u64,
    /// Passes of the elimination over the edge file.
    pub elimination_passes: usize,
    /// States left by the elimination (read back for the liveness searches).
    pub residual: usize,
    /// The run directory (removed at the end unless kept).
    pub dir: PathBuf,
}

/// Bad input or an I/O failure of the store, or a fingerprint collision.
pub type Error = String;

// ---------------------------------------------------------------------------------------
// The fingerprint table.
// ---------------------------------------------------------------------------------------

/// Visited set: 256 open-addressing tables with linear probing, chosen by the top byte
/// of the fingerprint, over 16-byte slots, each the 96-bit fingerprint of a state (high
/// bits) and its id (low 32 bits); 0 is an empty slot. A table grows by a quarter when
/// 7/8 full, so slots are 70 % to 88 % used (18 to 23 bytes a state), and as each table
/// grows alone, the copy made while growing is 1/256 of the whole, not a second table.
pub(crate) struct FpTable {
    shards: Vec<Vec<u128>>,
    len: usize,
    /// Per shard, how many slots are used.
    used: Vec<usize>,
}

const SHARDS: usize = 256;

impl FpTable {
    pub(crate) fn new() -> Self {
        FpTable {
            shards: vec![vec![0; 256]; SHARDS],
            len: 0,
            used: vec![0; SHARDS],
        }
    }

    fn home(fp: u128, cap: usize) -> usize {
        // Bits 64..120 are uniformly random (the top 8 chose the shard): scale them.
        (((((fp >> 64) as u64) << 8) as u128 * cap as u128) >> 64) as usize
    }

    /// The id stored under `fp` (96 bits, high-aligned), or stores `id` under it.
    pub(crate) fn get_or_insert(&mut self, fp: u128, id: u32) -> Option<u32> {
        let k = (fp >> 120) as usize;
        if (self.used[k] + 1) * 8 > self.shards[k].len() * 7 {
            Self::grow(&mut self.shards[k]);
        }
        let slots = &mut self.shards[k];
        let cap = slots.len();
        let mut i = Self::home(fp, cap);
        loop {
            let slot = slots[i];
            if slot == 0 {
                slots[i] = fp | u128::from(id);
                self.used[k] += 1;
                self.len += 1;
                return None;
            }
            if slot >> 32 == fp >> 32 {
                return Some(slot as u32);
            }
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
    }

    /// The id stored under `fp`, if any.
    pub(crate) fn get(&self, fp: u128) -> Option<u32> {
        let slots = &self.shards[(fp >> 120) as usize];
        let cap = slots.len();
        let mut i = Self::home(fp, cap);
        loop {
            let slot = slots[i];
            if slot == 0 {
                return None;
            }
            if slot >> 32 == fp >> 32 {
                return Some(slot as u32);
            }
            i = if i + 1 == cap { 0 } else { i + 1 };
        }
    }

    fn grow(slots: &mut Vec<u128>) {
        let cap = slots.len() + slots.len() / 4;
        let old = std::mem::replace(slots, vec![0; cap]);
        for slot in old.into_iter().filter(|&s| s != 0) {
            let mut i = Self::home(slot, cap);
            while slots[i] != 0 {
                i = if i + 1 == cap { 0 } else { i + 1 };
            }
            slots[i] = slot;
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        let slots: usize = self.shards.iter().map(Vec::len).sum();
        slots * std::mem::size_of::<u128>()
    }
}

/// A state's 96-bit fingerprint, high-aligned in a u128, never 0.
pub(crate) fn fingerprint(hashers: &[ahash::RandomState; 2], bytes: &[u8]) -> u128 {
    let hi = hashers[0].hash_one(bytes);
    let lo = hashers[1].hash_one(bytes) >> 32;
    let fp = (u128::from(hi) << 64) | (u128::from(lo) << 32);
    if fp == 0 {
        1 << 32
    } else {
        fp
    }
}

pub(crate) fn hashers() -> [ahash::RandomState; 2] {
    [
        state_hasher(),
        ahash::RandomState::with_seeds(0x5f1d, 0x9e37, 0x79b9, 0x7f4a),
    ]
}

// ---------------------------------------------------------------------------------------
// The run directory and its files.
// ---------------------------------------------------------------------------------------

/// A run directory; removed when dropped unless kept.
pub(crate) struct RunDir {
    pub(crate) path: PathBuf,
    keep: bool,
}

impl RunDir {
    /// A new directory `<prefix>-<pid>-<n>` under `opts.dir` (made if absent); errors
    /// name `--store-dir`.
    pub(crate) fn create(opts: &DiskOptions, prefix: &str) -> Result<RunDir, Error> {
        let base = &opts.dir;
        fs::create_dir_all(base)
            .map_err(|e| format!("--store-dir {}: cannot create it: {e}", base.display()))?;
        for n in 0.. {
            let path = base.join(format!("{prefix}-{}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(RunDir {
                        path,
                        keep: opts.keep,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "--store-dir {}: cannot write in it: {e}",
                        base.display()
                    ))
                }
            }
        }
        unreachable!("some run directory name is free")
    }

    /// A new directory `name` inside this one, kept or removed as this one is.
    pub(crate) fn child(&self, name: &str) -> Result<RunDir, Error> {
        let path = self.path.join(name);
        fs::create_dir(&path).map_err(io_error(&path))?;
        Ok(RunDir {
            path,
            keep: self.keep,
        })
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Bytes of the files in the directory (not in its subdirectories).
    pub(crate) fn bytes(&self) -> u64 {
        fs::read_dir(&self.path)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// An append-only file of the directory, buffered.
    pub(crate) fn append(&self, name: &str) -> Result<BufWriter<File>, Error> {
        let path = self.file(name);
        File::create(&path)
            .map(|f| BufWriter::with_capacity(1 << 20, f))
            .map_err(io_error(&path))
    }

    /// A file of the directory, for reading.
    pub(crate) fn open(&self, name: &str) -> Result<File, Error> {
        let path = self.file(name);
        File::open(&path).map_err(io_error(&path))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

pub(crate) fn io_error(what: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| format!("disk store {}: {e}", what.display())
}

/// The packed states of one store, appended: `states` holds each state's bytes,
/// length-prefixed, in id order; `offsets` where each starts (8 bytes a state).
pub(crate) struct StateLog {
    states: BufWriter<File>,
    offsets: BufWriter<File>,
    len: u64,
}

impl StateLog {
    pub(crate) fn create(dir: &RunDir) -> Result<StateLog, Error> {
        Ok(StateLog {
            states: dir.append("states")?,
            offsets: dir.append("offsets")?,
            len: 0,
        })
    }

    /// Appends the next state's bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u16::try_from(bytes.len()).expect("an encoded state fits in 64 KiB");
        self.offsets.write_all(&self.len.to_le_bytes())?;
        self.states.write_all(&len.to_le_bytes())?;
        self.states.write_all(bytes)?;
        self.len += 2 + bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.states.flush()?;
        self.offsets.flush()
    }
}

/// Reads the next length-prefixed state of a sequential reader of `states` into `bytes`.
pub(crate) fn read_state(from: &mut impl Read, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    let mut len = [0u8; 2];
    from.read_exact(&mut len)?;
    bytes.resize(u16::from_le_bytes(len) as usize, 0);
    from.read_exact(bytes)
}

/// Random access to the flushed part of a [`StateLog`].
pub(crate) struct StateReader {
    states: File,
    offsets: File,
    dir: PathBuf,
}

impl StateReader {
    pub(crate) fn open(dir: &RunDir) -> Result<StateReader, Error> {
        Ok(StateReader {
            states: dir.open("states")?,
            offsets: dir.open("offsets")?,
            dir: dir.path.clone(),
        })
    }

    fn offset(&self, id: u32) -> Result<u64, Error> {
        let mut at = [0u8; 8];
        self.offsets
            .read_exact_at(&mut at, u64::from(id) * 8)
            .map_err(io_error(&self.dir))?;
        Ok(u64::from_le_bytes(at))
    }

    pub(crate) fn state_bytes(&self, id: u32) -> Result<Vec<u8>, Error> {
        let at = self.offset(id)?;
        let err = io_error(&self.dir);
        let mut len = [0u8; 2];
        self.states.read_exact_at(&mut len, at).map_err(&err)?;
        let mut bytes = vec![0u8; u16::from_le_bytes(len) as usize];
        self.states
            .read_exact_at(&mut bytes, at + 2)
            .map_err(&err)?;
        Ok(bytes)
    }

    /// A sequential reader of the states from `id` on (read them with [`read_state`]).
    pub(crate) fn from(&self, id: u32) -> Result<BufReader<File>, Error> {
        let at = self.offset(id)?;
        let err = io_error(&self.dir);
        let mut file = self.states.try_clone().map_err(&err)?;
        file.seek(SeekFrom::Start(at)).map_err(&err)?;
        Ok(BufReader::with_capacity(1 << 20, file))
    }
}

/// The append-only files of one exploration.
struct Files {
    log: StateLog,
    parents: BufWriter<File>,
    edges: BufWriter<File>,
    edge_count: u64,
}

impl Files {
    fn create(dir: &RunDir) -> Result<Files, Error> {
        Ok(Files {
            log: StateLog::create(dir)?,
            parents: dir.append("parents")?,
            edges: dir.append("edges")?,
            edge_count: 0,
        })
    }

    /// Appends a new state with its parent and action index.
    fn push_state(&mut self, bytes: &[u8], parent: u32, action: u32) -> std::io::Result<()> {
        self.log.push(bytes)?;
        self.parents.write_all(&parent.to_le_bytes())?;
        self.parents.write_all(&action.to_le_bytes())
    }

    fn push_edge(&mut self, from: u32, to: u32) -> std::io::Result<()> {
        self.edge_count += 1;
        self.edges.write_all(&from.to_le_bytes())?;
        self.edges.write_all(&to.to_le_bytes())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.log.flush()?;
        self.parents.flush()?;
        self.edges.flush()
    }
}

/// Random access to the finished files.
struct Reader {
    states: StateReader,
    parents: File,
    dir: PathBuf,
}

impl Reader {
    fn open(dir: &RunDir) -> Result<Reader, Error> {
        Ok(Reader {
            states: StateReader::open(dir)?,
            parents: dir.open("parents")?,
            dir: dir.path.clone(),
        })
    }

    fn state_bytes(&self, id: u32) -> Result<Vec<u8>, Error> {
        self.states.state_bytes(id)
    }

    /// The BFS parent of `id` (`None` for an initial state) and the action index.
    fn parent(&self, id: u32) -> Result<(Option<u32>, u32), Error> {
        let mut rec = [0u8; 8];
        self.parents
            .read_exact_at(&mut rec, u64::from(id) * 8)
            .map_err(io_error(&self.dir))?;
        let parent = u32::from_le_bytes(rec[..4].try_into().unwrap());
        let action = u32::from_le_bytes(rec[4..].try_into().unwrap());
        Ok(((parent != NO_PARENT).then_some(parent), action))
    }
}

const NO_PARENT: u32 = u32::MAX;

// ---------------------------------------------------------------------------------------
// Exploration.
// ---------------------------------------------------------------------------------------

/// What the exploration leaves for the liveness phase.
struct Explored {
    len: u32,
    expanded: u32,
    /// First id of each BFS level.
    levels: Vec<u32>,
    transitions: usize,
    discoveries: Vec<Option<u32>>,
    complete: bool,
    stopped_by: Option<&'static str>,
    table_bytes: usize,
    edges: u64,
}

impl Explored {
    fn depth(&self, id: u32) -> u32 {
        (self.levels.partition_point(|&first| first <= id) - 1) as u32
    }
}

/// Breadth-first exploration; states, parents and non-progress edges to the files.
fn explore<M>(
    model: &M,
    codec: &M::Store,
    bounds: Bounds,
    dir: &RunDir,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Explored, Error>
where
    M: Fairness,
    M::Store: Codec<M::State>,
    M::Action: Clone,
{
    let start = Instant::now();
    let mut last_report = start;
    let properties = model.properties();
    let hashers = hashers();
    let mut table = FpTable::new();
    let mut files = Files::create(dir)?;
    let werr = io_error(&dir.path);
    let mut x = Explored {
        len: 0,
        expanded: 0,
        levels: vec![0],
        transitions: 0,
        discoveries: vec![None; properties.len()],
        complete: true,
        stopped_by: None,
        table_bytes: 0,
        edges: 0,
    };
    let mut bytes = Vec::new();
    for (k, s) in model.init_states().into_iter().enumerate() {
        bytes.clear();
        codec.encode(&s, &mut bytes);
        if table
            .get_or_insert(fingerprint(&hashers, &bytes), x.len)
            .is_none()
        {
            files
                .push_state(&bytes, NO_PARENT, k as u32)
                .map_err(&werr)?;
            x.len += 1;
        }
    }
    files.flush().map_err(&werr)?;
    // The frontier: the states file itself, read in id order behind the writer.
    let mut frontier =
        BufReader::with_capacity(1 << 20, File::open(dir.file("states")).map_err(&werr)?);
    let mut flushed = x.len;
    let mut actions = Vec::new();
    let mut depth = 0u32;
    while x.expanded < x.len {
        let id = x.expanded;
        if let Some(bound) = bounds.hit(x.len as usize, id as usize, start) {
            x.complete = false;
            x.stopped_by = Some(bound);
            break;
        }
        if id >= flushed {
            files.flush().map_err(&werr)?;
            flushed = x.len;
        }
        if x.levels.get(depth as usize + 1) == Some(&id) {
            depth += 1;
        }
        if id.is_multiple_of(4096) && last_report.elapsed() >= Duration::from_millis(250) {
            last_report = Instant::now();
            progress(&Progress {
                states: x.transitions,
                unique_states: x.len as usize,
                depth,
                elapsed: start.elapsed(),
            });
        }
        read_state(&mut frontier, &mut bytes).map_err(&werr)?;
        let state = codec.decode(&bytes);
        for (i, p) in properties.iter().enumerate() {
            if x.discoveries[i].is_none() {
                let holds = (p.condition)(model, &state);
                let found = match p.expectation {
                    Expectation::Always => !holds,
                    Expectation::Sometimes => holds,
                    Expectation::Eventually => false,
                };
                if found {
                    x.discoveries[i] = Some(id);
                }
            }
        }
        actions.clear();
        model.actions(&state, &mut actions);
        for (k, action) in actions.drain(..).enumerate() {
            let Some(succ) = model.next_state(&state, action.clone()) else {
                continue;
            };
            x.transitions += 1;
            let is_progress = model.is_progress(&state, &action, &succ);
            bytes.clear();
            codec.encode(&succ, &mut bytes);
            let to = match table.get_or_insert(fingerprint(&hashers, &bytes), x.len) {
                Some(to) => to,
                None => {
                    if x.levels.len() == depth as usize + 1 {
                        x.levels.push(x.len);
                    }
                    files.push_state(&bytes, id, k as u32).map_err(&werr)?;
                    x.len = x
                        .len
                        .checked_add(1)
                        .filter(|&n| n != NO_PARENT)
                        .ok_or("disk store: more than 2^32 - 1 states")?;
                    x.len - 1
                }
            };
            if !is_progress {
                files.push_edge(id, to).map_err(&werr)?;
            }
        }
        x.expanded += 1;
    }
    files.flush().map_err(&werr)?;
    x.table_bytes = table.bytes();
    x.edges = files.edge_count;
    Ok(x)
}

// ---------------------------------------------------------------------------------------
// Elimination on the non-progress subgraph.
// ---------------------------------------------------------------------------------------

/// A set of state ids, one bit each.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u32) -> Self {
        Bits(vec![0; (n as usize).div_ceil(64)])
    }
    fn get(&self, i: u32) -> bool {
        self.0[i as usize / 64] >> (i % 64) & 1 == 1
    }
    fn set(&mut self, i: u32, v: bool) {
        let w = &mut self.0[i as usize / 64];
        if v {
            *w |= 1 << (i % 64);
        } else {
            *w &= !(1 << (i % 64));
        }
    }
    fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(k, &w)| {
            (0..64)
                .filter(move |b| w >> b & 1 == 1)
                .map(move |b| (k * 64 + b) as u32)
        })
    }
}

const CHUNK: usize = 8 << 20;

/// Calls `f` on every `size`-byte record of the file, first to last or last to first.
pub(crate) fn scan_records(
    path: &Path,
    size: usize,
    backward: bool,
    mut f: impl FnMut(&[u8]),
) -> Result<(), Error> {
    let err = io_error(path);
    let file = File::open(path).map_err(&err)?;
    let len = file.metadata().map_err(&err)?.len();
    let chunk_len = (CHUNK / size * size) as u64;
    let mut buf = vec![0u8; chunk_len as usize];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(chunk_len);
        let at = if backward { len - done - n } else { done };
        let chunk = &mut buf[..n as usize];
        file.read_exact_at(chunk, at).map_err(&err)?;
        if backward {
            chunk.chunks_exact(size).rev().for_each(&mut f);
        } else {
            chunk.chunks_exact(size).for_each(&mut f);
        }
        done += n;
    }
    Ok(())
}

/// Calls `f(from, to)` on every edge of the file, first to last or last to first.
fn scan_edges(path: &Path, backward: bool, mut f: impl FnMut(u32, u32)) -> Result<(), Error> {
    scan_records(path, 8, backward, |r| {
        f(
            u32::from_le_bytes(r[..4].try_into().unwrap()),
            u32::from_le_bytes(r[4..].try_into().unwrap()),
        )
    })
}

/// The states from which a non-progress path reaches a non-progress cycle: start with
/// every state that has a non-progress edge, then drop each state none of whose
/// successors is kept, until a pass drops nothing. A backward pass meets a state's
/// edges after those of every later state, so a chain of forward edges dies in one
/// pass; only edges back to earlier states need another one.
fn eliminate(x: &Explored, edges: &Path) -> Result<(Bits, usize), Error> {
    let mut keep = Bits::new(x.len);
    scan_edges(edges, false, |from, _| keep.set(from, true))?;
    let mut passes = 0;
    loop {
        passes += 1;
        let mut changed = false;
        let mut current: Option<(u32, bool)> = None;
        let mut close = |keep: &mut Bits, current: Option<(u32, bool)>| {
            if let Some((from, false)) = current {
                if keep.get(from) {
                    keep.set(from, false);
                    changed = true;
                }
            }
        };
        scan_edges(edges, true, |from, to| {
            if current.map(|(f, _)| f) != Some(from) {
                close(&mut keep, current);
                current = Some((from, false));
            }
            if keep.get(to) {
                current = Some((from, true));
            }
        })?;
        close(&mut keep, current);
        if !changed {
            return Ok((keep, passes));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The residual graph, paths, and the searches.
// ---------------------------------------------------------------------------------------

/// Re-expands the residual's `states` through the model and adds their edges to
/// `graph`, where they already are, in order, with their packed bytes in `by_bytes`.
/// Every state keeps all its edges; a successor outside the residual becomes a state
/// of its own that is never expanded. Shared by the disk store and the distributed
/// check, which both gather a residual before the liveness searches.
pub(crate) fn expand_residual<M>(
    model: &M,
    codec: &M::Store,
    graph: &mut Graph<M>,
    states: &[M::State],
    mut by_bytes: std::collections::HashMap<Vec<u8>, u32>,
) where
    M: Fairness,
    M::Store: Codec<M::State>,
    M::Action: Clone,
{
    let mut outside = Vec::new();
    let mut bytes = Vec::new();
    let mut actions = Vec::new();
    let mut all_edges = Vec::with_capacity(states.len());
    for state in states {
        let mut edges = Vec::new();
        actions.clear();
        model.actions(state, &mut actions);
        for action in actions.drain(..) {
            let Some(succ) = model.next_state(state, action.clone()) else {
                continue;
            };
            let progress = model.is_progress(state, &action, &succ);
            bytes.clear();
            codec.encode(&succ, &mut bytes);
            let to = match by_bytes.get(&bytes) {
                Some(&to) => to,
                None => {
                    let to = (states.len() + outside.len()) as u32;
                    by_bytes.insert(bytes.clone(), to);
                    outside.push(succ);
                    to
                }
            };
            edges.push(Edge {
                action,
                to,
                progress,
            });
        }
        all_edges.push(edges);
    }
    for edges in all_edges {
        graph.add_expansion(edges);
    }
    for state in outside {
        // Depth is only read for states inside a component; these are not.
        graph.add_state(state, u32::MAX);
    }
}

/// The residual as an in-memory [`Graph`], with the states on the paths added later.
struct Residual<'a, M: Storage> {
    model: &'a M,
    codec: &'a M::Store,
    reader: Reader,
    graph: Graph<M>,
    /// Disk id → graph id, for the states in the graph.
    ids: std::collections::HashMap<u32, u32>,
}

impl<M> Residual<'_, M>
where
    M: Fairness,
    M::Store: Codec<M::State>,
    M::Action: Clone,
{
    /// Reads the kept states, re-expands them through the model, and builds their
    /// graph: each keeps all its edges, those leaving the residual to a state of its
    /// own that is never expanded.
    fn build(&mut self, x: &Explored, keep: &Bits) -> Result<(), Error> {
        let kept: Vec<u32> = keep.ones().filter(|&i| i < x.len).collect();
        let mut by_bytes = std::collections::HashMap::new();
        let mut states = Vec::with_capacity(kept.len());
        for &id in &kept {
            let bytes = self.reader.state_bytes(id)?;
            let state = self.codec.decode(&bytes);
            let gid = self.graph.add_state(state.clone(), x.depth(id));
            self.ids.insert(id, gid);
            by_bytes.insert(bytes, gid);
            states.push(state);
        }
        expand_residual(self.model, self.codec, &mut self.graph, &states, by_bytes);
        Ok(())
    }

    /// The path from an initial state to disk state `id`, rebuilt from the parents
    /// file and replayed through the model; the states on it join the graph.
    fn path_to(&mut self, x: &Explored, id: u32) -> Result<(u32, Steps<M::Action>), Error> {
        let mut chain = vec![id];
        let mut cur = id;
        while let (Some(p), _) = self.reader.parent(cur)? {
            chain.push(p);
            cur = p;
        }
        chain.reverse();
        let (_, init_index) = self.reader.parent(chain[0])?;
        let mut state = self
            .model
            .init_states()
            .into_iter()
            .nth(init_index as usize)
            .ok_or("disk store: the parents file names an initial state the model lacks")?;
        let init = self.intern(x, chain[0], &state)?;
        let mut steps = Vec::new();
        let mut actions = Vec::new();
        for &child in &chain[1..] {
            let (_, k) = self.reader.parent(child)?;
            actions.clear();
            self.model.actions(&state, &mut actions);
            let action = actions.get(k as usize).cloned().ok_or_else(|| {
                format!("disk store: replay of the path to state {id}: action {k} is not enabled")
            })?;
            state = self
                .model
                .next_state(&state, action.clone())
                .ok_or_else(|| {
                    format!("disk store: replay of the path to state {id}: no successor")
                })?;
            let gid = self.intern(x, child, &state)?;
            steps.push((action, gid));
        }
        Ok((init, steps))
    }

    /// The graph id of disk state `id`, whose replayed value is `state`; checks that
    /// the replay gives the stored bytes.
    fn intern(&mut self, x: &Explored, id: u32, state: &M::State) -> Result<u32, Error> {
        let mut bytes = Vec::new();
        self.codec.encode(state, &mut bytes);
        if bytes != self.reader.state_bytes(id)? {
            return Err(format!(
                "disk store: fingerprint collision: replaying the path to state {id} gives another state than the one stored under its fingerprint; rerun with --store memory"
            ));
        }
        if let Some(&gid) = self.ids.get(&id) {
            return Ok(gid);
        }
        let gid = self.graph.add_state(state.clone(), x.depth(id));
        self.ids.insert(id, gid);
        Ok(gid)
    }

    /// A lasso found on the residual (its states have no parents there, so its prefix
    /// is empty), with its prefix rebuilt from disk.
    fn rooted(
        &mut self,
        x: &Explored,
        disk_of: &[u32],
        lasso: Option<Lasso<M::Action>>,
    ) -> Result<Option<Lasso<M::Action>>, Error> {
        let Some(lasso) = lasso else {
            return Ok(None);
        };
        debug_assert!(lasso.prefix.is_empty());
        let (init, prefix) = self.path_to(x, disk_of[lasso.init as usize])?;
        Ok(Some(Lasso {
            init,
            prefix,
            cycle: lasso.cycle,
        }))
    }
}

/// Explores `model` with the disk store, then runs the liveness searches on the
/// residual of the elimination; `in_assign` names the candidates of [`solo_cycle`].
pub fn check<M>(
    model: &M,
    bounds: Bounds,
    opts: &DiskOptions,
    in_assign: impl Fn(&M::State) -> Vec<M::Actor>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<DiskCheck<M>, Error>
where
    M: Fairness,
    M::Store: Codec<M::State>,
    M::State: Hash + Eq + Clone,
    M::Action: Clone,
{
    let started = Instant::now();
    let dir = RunDir::create(opts, "lbq-store")?;
    let codec = model.store();
    let x = explore(model, &codec, bounds, &dir, progress)?;
    let explore_time = started.elapsed();
    let (keep, passes) = eliminate(&x, &dir.file("edges"))?;
    let mut r = Residual {
        model,
        codec: &codec,
        reader: Reader::open(&dir)?,
        graph: Graph::assemble(model.store(), 0),
        ids: Default::default(),
    };
    r.build(&x, &keep)?;
    r.graph.seal();
    let residual = r.graph.expanded();
    // Residual graph id → disk id (the residual's states come first, in id order).
    let disk_of: Vec<u32> = keep.ones().filter(|&i| i < x.len).collect();
    r.graph.complete = x.complete;
    let fair = fair_cycle(model, &r.graph);
    let stuck = stuck_cycle(model, &r.graph);
    let solo = solo_cycle(model, &r.graph, in_assign);
    let fair = r.rooted(&x, &disk_of, fair)?;
    let stuck = r.rooted(&x, &disk_of, stuck)?;
    let solo = r.rooted(&x, &disk_of, solo)?;
    let discoveries = x
        .discoveries
        .clone()
        .into_iter()
        .map(|found| {
            found
                .map(|id| r.path_to(&x, id).map(Lasso::path))
                .transpose()
        })
        .collect::<Result<Vec<_>, Error>>()?;
    r.graph.seal();
    let stats = DiskStats {
        states: x.len as usize,
        transitions: x.transitions,
        max_depth: x.levels.len() as u32 - 1,
        complete: x.complete,
        stopped_by: x.stopped_by,
        explore_time,
        table_bytes: x.table_bytes,
        disk_bytes: dir.bytes(),
        non_progress_edges: x.edges,
        elimination_passes: passes,
        residual,
        dir: dir.path.clone(),
    };
    Ok(DiskCheck {
        graph: r.graph,
        discoveries,
        fair,
        stuck,
        solo,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_table_finds_what_it_stored_across_growth() {
        let mut t = FpTable::new();
        let h = hashers();
        let n = 200_000u32;
        for i in 0..n {
            let fp = fingerprint(&h, &i.to_le_bytes());
            assert_eq!(t.get_or_insert(fp, i), None, "{i} is new");
        }
        for i in 0..n {
            let fp = fingerprint(&h, &i.to_le_bytes());
            assert_eq!(t.get_or_insert(fp, u32::MAX - 1), Some(i));
        }
        assert_eq!(t.len, n as usize);
        // 16-byte slots at least 70 % used: at most 23 bytes a state.
        assert!(t.bytes() <= n as usize * 23, "{} bytes", t.bytes());
    }

    #[test]
    fn bits_iterate_the_ids_set() {
        let mut b = Bits::new(200);
        for i in [0, 63, 64, 130, 199] {
            b.set(i, true);
        }
        b.set(130, false);
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 63, 64, 199]);
    }
}
