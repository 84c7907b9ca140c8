//! Scenarios: the backend's configuration, the streams and their threads, the CLI
//! script. Named presets are embedded; files are TOML and validated field by field.

use std::fmt;

use serde::Deserialize;

use crate::state::{LbAlgo, ServerId, ThreadId};
use crate::variant::{Behaviour, SeededBug, Switch, Variant};

/// Limits that keep every counter in a `u8` and a run of the threaded engines short.
/// An exhaustive search is practical up to about 6 streams (CHECKS.md, "Scale"); the
/// larger limits are for the reproduction-scale runs of `lbq shuttle` and `lbq stress`.
pub mod limits {
    /// Most servers in a backend.
    pub const SERVERS: usize = 4;
    /// Largest `maxconn`.
    pub const MAXCONN: u8 = 8;
    /// Largest server weight.
    pub const WEIGHT: u8 = 16;
    /// Most HAProxy threads.
    pub const THREADS: u8 = 8;
    /// Most streams.
    pub const STREAMS: usize = 64;
    /// Most CLI commands.
    pub const CLI_COMMANDS: usize = 36;
    /// Most thread groups. With two, every queue has one other group, so
    /// `last_other_tgrp_served`'s rotation among several other groups never comes into
    /// play (CHECKS.md, "Thread groups").
    pub const THREAD_GROUPS: u8 = 2;
    /// Most failing connection attempts (they fit three bits of a packed state).
    pub const CONNECT_ERRORS: u8 = 7;
    /// Largest `retries` (two bits of a packed state; HAProxy's default is 3).
    pub const RETRIES: u8 = 3;
}

/// One server's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerConfig {
    /// Its name (`px/<name>` on the CLI).
    pub name: String,
    /// `maxconn` (0 = unlimited).
    pub maxconn: u8,
    /// Its weight.
    pub weight: u8,
    /// `strict-maxconn` (706b00842): the slot is released only once the server
    /// connection is freed (`stream_free`), not when the server side closes.
    pub strict_maxconn: bool,
}

/// What a CLI command does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CliKind {
    /// `disable server px/s`.
    Disable,
    /// `shutdown sessions server px/s`.
    Shutdown,
    /// `enable server px/s`.
    Enable,
}

/// A CLI command on one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CliCommand {
    /// The command.
    pub kind: CliKind,
    /// The server it names.
    pub server: ServerId,
}

/// A whole scenario: what the model checker explores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scenario {
    /// Its name (preset name or file stem).
    pub name: String,
    /// One line saying what it is for.
    pub description: String,
    /// The queue logic version under test.
    pub variant: Variant,
    /// Switches turned on (`true`) or off on top of the variant's row, in order
    /// (`behaviour = ["+ready-srv"]`, `lbq check --with`): a candidate patch.
    pub changes: Vec<(Switch, bool)>,
    /// The backend's LB algorithm.
    pub algo: LbAlgo,
    /// The servers, `s1` first.
    pub servers: Vec<ServerConfig>,
    /// Number of HAProxy threads.
    pub threads: u8,
    /// For each stream (`S1` first), the thread (0-based) that runs its task.
    pub streams: Vec<ThreadId>,
    /// The CLI script, run once, in order.
    pub cli: Vec<CliCommand>,
    /// Whether `timeout queue` is set (queued streams may time out).
    pub queue_timeout: bool,
    /// Whether the counters HAProxy updates with atomics just outside a queue lock
    /// (`totpend`, `px->served` after a dequeue batch, a queue's `length` after an
    /// unlink) change in steps of their own (`atomics = "split"`), or in the section
    /// whose lock they follow (`"in-section"`, the default).
    pub split_atomics: bool,
    /// HAProxy's `thread-groups` (1 or 2): threads are split into groups in order,
    /// evenly (`T1`.. in group 1), as HAProxy does by default. Only a variant with
    /// per-thread-group queues (26b3e5236, `per-tgrp-queues`) reads it; the free CLI
    /// actor runs as a thread of group 1.
    pub thread_groups: u8,
    /// `cli_thread = N`: the CLI applet is a task of thread N (0-based here): its
    /// commands run between that thread's stream tasks, never inside one, and a stream
    /// task of that thread waits while a command is in progress. `None` (default): the
    /// CLI is an actor of its own, i.e. an HAProxy thread that runs no stream of the
    /// scenario.
    pub cli_thread: Option<ThreadId>,
    /// `connect_errors = N`: how many connection attempts fail, in all (any of them,
    /// chosen by the checker; 0 by default).
    pub connect_errors: u8,
    /// The backend's `retries` (HAProxy's default: 3).
    pub retries: u8,
    /// `option redispatch` on the backend.
    pub redispatch: bool,
    /// `option abortonclose` on the backend (`true` by default here, unlike HAProxy).
    /// Before 51611a5b7 a `shutdown sessions` kill only schedules the stream's shutdown:
    /// a stream holding a slot that has not connected yet gives it up in `stream_free`
    /// only when `back_may_abort_req()` lets it, i.e. with `option abortonclose` or with
    /// nothing of its request to forward yet; otherwise (HTTP without the option) it
    /// connects with the request it holds and ends when that connection closes. `true`
    /// lets the kill land before the connection (the general case: a kill after the
    /// connection is explored too); `false` is an HTTP backend without the option.
    pub abortonclose: bool,
    /// A bug seeded by a test to show a property bites; never read from a file.
    pub seeded_bug: Option<SeededBug>,
}

/// One section of the CLI script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CliSection {
    /// The command it belongs to.
    pub command: CliCommand,
    /// Whether it is the command's first section.
    pub first: bool,
    /// Which section of the command it is: 0 the state change, 1 the queue work under
    /// another lock; after `enable`'s `process_srv_queue`, with per-thread-group queues
    /// and two groups, the second group's batch; then (`ready_srv` only) the batch's
    /// tail that may publish `px->ready_srv`.
    pub index: u8,
    /// What that section does.
    pub role: CliRole,
}

/// What a section of a CLI command does ([`CliSection::role`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CliRole {
    /// The state change under the server lock (`srv_set_admin_flag`, …).
    StateChange,
    /// The queue work under a queue lock (`pendconn_redistribute`,
    /// `pendconn_grab_from_px`, or `process_srv_queue`'s batch on thread group 1).
    QueueWork,
    /// `process_srv_queue`'s batch on the other thread group's queues (26b3e5236).
    OtherTgroupBatch,
    /// `process_srv_queue`'s tail (cda7275ef).
    ReadySrvTail,
}

impl Scenario {
    /// The behaviour under check: the variant's row with the scenario's changes.
    pub fn behaviour(&self) -> Behaviour {
        self.variant.behaviour().with_changes(&self.changes)
    }

    /// The variant's name with the scenario's changes (`master +ready-srv-reset-on-down`).
    pub fn variant_label(&self) -> String {
        let mut label = self.variant.name().to_string();
        for &c in &self.changes {
            label.push(' ');
            label.push_str(&Switch::change_text(c));
        }
        label
    }

    /// The sections of a CLI command, in order: the state change, then the queue work
    /// under another lock; after `enable`'s `process_srv_queue` (111ea83ed), the other
    /// thread group's batch when there are two groups with their own queues, and with
    /// `ready_srv` the tail (the test that may publish `px->ready_srv`).
    fn sections_of(&self, c: CliCommand, b: &Behaviour) -> &'static [CliRole] {
        use CliRole::*;
        let runs_queue = c.kind == CliKind::Enable && b.enable_processes_queue;
        let two_groups = b.per_tgrp_queues && self.thread_groups > 1;
        match (runs_queue, two_groups, b.ready_srv) {
            (true, true, true) => &[StateChange, QueueWork, OtherTgroupBatch, ReadySrvTail],
            (true, true, false) => &[StateChange, QueueWork, OtherTgroupBatch],
            (true, false, true) => &[StateChange, QueueWork, ReadySrvTail],
            _ => &[StateChange, QueueWork],
        }
    }

    /// Number of CLI sections of the whole script.
    pub fn cli_section_count(&self) -> usize {
        let b = self.behaviour();
        self.cli
            .iter()
            .map(|&c| self.sections_of(c, &b).len())
            .sum()
    }

    /// The CLI section at `pc`.
    pub fn cli_section(&self, pc: u8) -> Option<CliSection> {
        let b = self.behaviour();
        let mut left = usize::from(pc);
        for &command in &self.cli {
            let roles = self.sections_of(command, &b);
            if let Some(&role) = roles.get(left) {
                return Some(CliSection {
                    command,
                    first: left == 0,
                    index: left as u8,
                    role,
                });
            }
            left -= roles.len();
        }
        None
    }

    /// How many HAProxy threads the scenario stands for: its threads, plus the CLI's
    /// own thread when the CLI has commands and is a free actor (no `cli_thread`).
    pub fn haproxy_threads(&self) -> u8 {
        self.threads + u8::from(!self.cli.is_empty() && self.cli_thread.is_none())
    }

    /// The thread group whose queues the CLI's `process_srv_queue` runs first: its
    /// thread's with `cli_thread`, else group 1's.
    pub fn cli_tgroup(&self) -> u8 {
        self.cli_thread.map_or(0, |t| self.tgroup_of(t))
    }

    /// The thread group (0-based) of thread `t`: HAProxy fills the groups in thread
    /// order, evenly (`thread-groups 2` with 3 threads: T1, T2 in group 1, T3 in 2).
    pub fn tgroup_of(&self, t: ThreadId) -> u8 {
        tgroup_of(t, self.threads, self.thread_groups)
    }

    /// The same scenario checked against another variant.
    pub fn with_variant(&self, variant: Variant) -> Scenario {
        Scenario {
            variant,
            ..self.clone()
        }
    }

    /// The same scenario with the counters HAProxy updates outside the queue locks
    /// updated in steps of their own (`split`) or not.
    pub fn with_split_atomics(&self, split: bool) -> Scenario {
        Scenario {
            split_atomics: split,
            ..self.clone()
        }
    }

    /// A CLI command as typed on HAProxy's CLI, with the server's configured name.
    pub fn cli_text(&self, c: CliCommand) -> String {
        let verb = match c.kind {
            CliKind::Disable => "disable server",
            CliKind::Shutdown => "shutdown sessions server",
            CliKind::Enable => "enable server",
        };
        format!("{verb} px/{}", self.servers[c.server as usize].name)
    }

    /// Parses and validates a TOML scenario; `name` is used when the file has none.
    pub fn from_toml(text: &str, name: &str) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile = toml::from_str(text).map_err(|e| {
            // A missing field has no place of its own: its span is the whole table.
            let at = describe_span(text, e.span(), !e.message().starts_with("missing field"));
            ScenarioError::Syntax(e.message().to_string(), at)
        })?;
        file.validate(name)
    }

    /// Writes the scenario as TOML that [`Scenario::from_toml`] reads back.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("name = {}\n", toml_str(&self.name)));
        out.push_str(&format!("description = {}\n", toml_str(&self.description)));
        out.push_str(&format!("variant = {:?}\n", self.variant.name()));
        if !self.changes.is_empty() {
            let changes: Vec<String> = self
                .changes
                .iter()
                .map(|&c| toml_str(&Switch::change_text(c)))
                .collect();
            out.push_str(&format!("behaviour = [{}]\n", changes.join(", ")));
        }
        out.push_str(&format!("algo = {:?}\n", algo_name(self.algo)));
        out.push_str(&format!("threads = {}\n", self.threads));
        let streams: Vec<String> = self.streams.iter().map(|t| (t + 1).to_string()).collect();
        out.push_str(&format!("streams = [{}]\n", streams.join(", ")));
        let cli: Vec<String> = self
            .cli
            .iter()
            .map(|c| toml_str(&self.cli_text(*c)))
            .collect();
        out.push_str(&format!("cli = [{}]\n", cli.join(", ")));
        out.push_str(&format!("queue_timeout = {}\n", self.queue_timeout));
        if self.split_atomics {
            out.push_str("atomics = \"split\"\n");
        }
        if self.thread_groups != 1 {
            out.push_str(&format!("thread_groups = {}\n", self.thread_groups));
        }
        if let Some(t) = self.cli_thread {
            out.push_str(&format!("cli_thread = {}\n", t + 1));
        }
        if self.connect_errors != 0 {
            out.push_str(&format!("connect_errors = {}\n", self.connect_errors));
        }
        if self.retries != DEFAULT_RETRIES {
            out.push_str(&format!("retries = {}\n", self.retries));
        }
        if self.redispatch {
            out.push_str("redispatch = true\n");
        }
        if !self.abortonclose {
            out.push_str("abortonclose = false\n");
        }
        for s in &self.servers {
            out.push_str(&format!(
                "\n[[servers]]\nname = {}\nmaxconn = {}\nweight = {}\n",
                toml_str(&s.name),
                s.maxconn,
                s.weight
            ));
            if s.strict_maxconn {
                out.push_str("strict_maxconn = true\n");
            }
        }
        out
    }
}

/// The thread group (0-based) of thread `t` among `threads` split into `groups` in
/// order, evenly (HAProxy's default `thread-groups` mapping).
pub fn tgroup_of(t: ThreadId, threads: u8, groups: u8) -> u8 {
    (u16::from(t) * u16::from(groups) / u16::from(threads.max(1))) as u8
}

/// A TOML basic string (TOML's escapes, not Rust's `{:?}` ones such as `\u{200b}`).
fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The name of an algorithm in scenario files and reports (HAProxy's `balance` keyword).
pub fn algo_name(algo: LbAlgo) -> &'static str {
    match algo {
        LbAlgo::RoundRobin => "roundrobin",
        LbAlgo::StaticRr => "static-rr",
        LbAlgo::First => "first",
        LbAlgo::Hash => "hash",
    }
}

fn parse_algo(s: &str) -> Option<LbAlgo> {
    [
        LbAlgo::RoundRobin,
        LbAlgo::StaticRr,
        LbAlgo::First,
        LbAlgo::Hash,
    ]
    .into_iter()
    .find(|&a| algo_name(a) == s)
}

/// "line 2, field `threads`" for a TOML error's span, so the message names the field.
fn describe_span(text: &str, span: Option<std::ops::Range<usize>>, name_field: bool) -> String {
    let Some(r) = span else {
        return "somewhere in the file".to_string();
    };
    let start = r.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default();
    match line.split_once('=') {
        Some((key, _)) if name_field && !key.trim().is_empty() && !key.contains('[') => {
            format!("line {line_no}, field `{}`", key.trim())
        }
        _ => format!("line {line_no}"),
    }
}

/// Why a scenario was refused. Each says which field and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// Not TOML, an unknown field, or a field of the wrong type: (message, where).
    Syntax(String, String),
    /// A field's value is out of range: (field, what was expected, what was found).
    Field(String, String, String),
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Syntax(msg, at) => write!(f, "scenario file, {at}: {msg}"),
            ScenarioError::Field(field, expected, found) => {
                write!(
                    f,
                    "scenario field `{field}`: expected {expected}, found {found}"
                )
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

/// The file format, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: Option<String>,
    description: Option<String>,
    variant: Option<String>,
    #[serde(default)]
    behaviour: Vec<String>,
    algo: String,
    threads: i64,
    streams: Vec<i64>,
    #[serde(default)]
    cli: Vec<String>,
    #[serde(default)]
    queue_timeout: bool,
    atomics: Option<String>,
    thread_groups: Option<i64>,
    cli_thread: Option<i64>,
    #[serde(default)]
    connect_errors: i64,
    #[serde(default = "default_retries")]
    retries: i64,
    #[serde(default)]
    redispatch: bool,
    #[serde(default = "default_abortonclose")]
    abortonclose: bool,
    servers: Vec<ServerFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    name: String,
    #[serde(default)]
    maxconn: i64,
    #[serde(default = "default_weight")]
    weight: i64,
    #[serde(default)]
    strict_maxconn: bool,
}

fn default_weight() -> i64 {
    1
}

/// HAProxy's default `retries`.
pub const DEFAULT_RETRIES: u8 = 3;

fn default_abortonclose() -> bool {
    true
}

fn default_retries() -> i64 {
    DEFAULT_RETRIES.into()
}

fn field_err(
    field: impl Into<String>,
    expected: impl Into<String>,
    found: impl fmt::Display,
) -> ScenarioError {
    ScenarioError::Field(field.into(), expected.into(), found.to_string())
}

fn in_range(field: &str, v: i64, lo: i64, hi: i64) -> Result<u8, ScenarioError> {
    if (lo..=hi).contains(&v) {
        Ok(v as u8)
    } else {
        Err(field_err(field, format!("an integer from {lo} to {hi}"), v))
    }
}

impl ScenarioFile {
    fn validate(self, default_name: &str) -> Result<Scenario, ScenarioError> {
        let variant = match &self.variant {
            Some(v) => v.parse::<Variant>().map_err(|_| {
                let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
                field_err(
                    "variant",
                    format!("one of {}", names.join(", ")),
                    format!("{v:?}"),
                )
            })?,
            None => Variant::Fixed,
        };
        let changes = self
            .behaviour
            .iter()
            .enumerate()
            .map(|(i, text)| {
                Switch::parse_change(text)
                    .map_err(|e| field_err(format!("behaviour[{i}]"), e, format!("{text:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let split_atomics = match self.atomics.as_deref() {
            None | Some("in-section") => false,
            Some("split") => true,
            Some(other) => {
                return Err(field_err(
                    "atomics",
                    "\"in-section\" or \"split\"",
                    format!("{other:?}"),
                ))
            }
        };
        let algo = parse_algo(&self.algo).ok_or_else(|| {
            field_err(
                "algo",
                "one of roundrobin, static-rr, first, hash",
                format!("{:?}", self.algo),
            )
        })?;
        if self.servers.is_empty() || self.servers.len() > limits::SERVERS {
            return Err(field_err(
                "servers",
                format!("1 to {} [[servers]] tables", limits::SERVERS),
                self.servers.len(),
            ));
        }
        let mut servers = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            let at = |f: &str| format!("servers[{i}].{f}");
            if s.name.is_empty() || servers.iter().any(|o: &ServerConfig| o.name == s.name) {
                return Err(field_err(
                    at("name"),
                    "a non-empty name used once",
                    format!("{:?}", s.name),
                ));
            }
            servers.push(ServerConfig {
                name: s.name.clone(),
                maxconn: in_range(&at("maxconn"), s.maxconn, 0, limits::MAXCONN.into())?,
                weight: in_range(&at("weight"), s.weight, 1, limits::WEIGHT.into())?,
                strict_maxconn: s.strict_maxconn,
            });
        }
        let threads = in_range("threads", self.threads, 1, limits::THREADS.into())?;
        if self.streams.is_empty() || self.streams.len() > limits::STREAMS {
            return Err(field_err(
                "streams",
                format!("a list of 1 to {} thread numbers", limits::STREAMS),
                format!("{} entries", self.streams.len()),
            ));
        }
        let thread_groups = match self.thread_groups {
            None => 1,
            Some(g) => in_range(
                "thread_groups",
                g,
                1,
                i64::from(limits::THREAD_GROUPS.min(threads)),
            )?,
        };
        let cli_thread = match self.cli_thread {
            None => None,
            Some(t) => Some(in_range("cli_thread", t, 1, threads.into())? - 1),
        };
        let streams = self
            .streams
            .iter()
            .enumerate()
            .map(|(i, &t)| in_range(&format!("streams[{i}]"), t, 1, threads.into()).map(|t| t - 1))
            .collect::<Result<Vec<_>, _>>()?;
        if self.cli.len() > limits::CLI_COMMANDS {
            return Err(field_err(
                "cli",
                format!("at most {} commands", limits::CLI_COMMANDS),
                self.cli.len(),
            ));
        }
        let cli = self
            .cli
            .iter()
            .enumerate()
            .map(|(i, c)| {
                parse_cli(c, &servers)
                    .map_err(|e| field_err(format!("cli[{i}]"), e, format!("{c:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scenario {
            name: self.name.unwrap_or_else(|| default_name.to_string()),
            description: self.description.unwrap_or_default(),
            variant,
            changes,
            algo,
            servers,
            threads,
            streams,
            cli,
            queue_timeout: self.queue_timeout,
            split_atomics,
            thread_groups,
            cli_thread,
            connect_errors: in_range(
                "connect_errors",
                self.connect_errors,
                0,
                limits::CONNECT_ERRORS.into(),
            )?,
            retries: in_range("retries", self.retries, 0, limits::RETRIES.into())?,
            redispatch: self.redispatch,
            abortonclose: self.abortonclose,
            seeded_bug: None,
        })
    }
}

/// Parses `disable server px/s1`, `shutdown sessions server px/s1`, `enable server
/// px/s1` (the backend name before the slash is not checked: there is one backend).
fn parse_cli(text: &str, servers: &[ServerConfig]) -> Result<CliCommand, String> {
    let expected = "`disable server px/<server>`, `shutdown sessions server px/<server>` or `enable server px/<server>`";
    let words: Vec<&str> = text.split_whitespace().collect();
    let (kind, target) = match words.as_slice() {
        ["disable", "server", t] => (CliKind::Disable, *t),
        ["enable", "server", t] => (CliKind::Enable, *t),
        ["shutdown", "sessions", "server", t] => (CliKind::Shutdown, *t),
        _ => return Err(expected.to_string()),
    };
    let name = target.rsplit('/').next().unwrap_or(target);
    let server = servers
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| format!("{expected} naming a configured server"))?;
    Ok(CliCommand {
        kind,
        server: server as ServerId,
    })
}
