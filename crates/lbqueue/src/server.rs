//! src/server.c and the CLI's server commands: admin state changes and
//! `srv_shutdown_streams`.

use crate::event::{Event, Journal};
use crate::queue::{
    first_batch, other_tgroup, pendconn_grab_from_px, pendconn_redistribute, process_srv_queue,
    process_srv_queue_tail,
};
use crate::scenario::{CliCommand, CliKind, CliRole};
use crate::state::{Phase, ServerId, System};
use crate::variant::{Behaviour, SeededBug};

/// Models the part of `disable server px/s` done under the server lock:
/// `srv_set_admin_flag(FMAINT)` → `srv_update_status()`: the server enters maintenance
/// and the LB propagation removes it (`tot_wact`/`tot_weight` drop). Streams served on
/// it are not killed; they finish normally.
pub fn srv_set_admin_maint(sys: &mut System, v: ServerId, j: &mut Journal) {
    sys.px.servers[v as usize].maint = true;
    j.note(|| Event::Disable(v));
}

/// Models `enable server px/s`: leaving maintenance, the server is RUNNING again and the
/// LB propagation puts its weight back.
pub fn srv_clear_admin_maint(sys: &mut System, v: ServerId, j: &mut Journal) {
    sys.px.servers[v as usize].maint = false;
    j.note(|| Event::Enable(v));
}

/// Models the stream walk of `srv_shutdown_streams()` (`shutdown sessions server`):
/// every stream on the server's stream list is told to die, newest slot first (the
/// list's order). Since b8e3b0a18 that is only a wake-up with a flag; the stream kills
/// itself (and releases its slot) when its own thread next runs it. Streams grabbed off
/// the books have no `srv_conn`, are not on the list and are not found.
pub fn srv_shutdown_streams(sys: &mut System, v: ServerId, j: &mut Journal) {
    let victims: Vec<u8> = sys.px.servers[v as usize]
        .conns
        .iter()
        .copied()
        // A stream already told to die is dying: since 36d151dc1 it may still hold its
        // slot while it runs the end of its shutdown, and it is freed before it runs again.
        .filter(|&s| {
            let strm = &sys.streams[s as usize];
            !matches!(strm.phase, Phase::Done(_)) && !strm.kill_requested
        })
        .collect();
    for &s in &victims {
        sys.streams[s as usize].kill_requested = true;
        sys.wake(s);
    }
    j.note(|| Event::KillRequested(v, victims));
}

/// Models 0144426df's reset in `srv_update_status()` (server.c:7705–7709 at 50872daa6):
/// a server no longer RUNNING is taken back out of `px->ready_srv` by compare-and-swap.
pub fn ready_srv_reset(sys: &mut System, v: ServerId, j: &mut Journal) {
    if sys.px.ready_srv == Some(v) {
        sys.px.ready_srv = None;
        j.note(|| Event::ReadySrvReset(v));
    }
}

/// Where the CLI runs: the thread group of its thread ([`crate::Scenario::cli_tgroup`]:
/// group 1 for the free CLI actor), and a bug a test seeded.
#[derive(Clone, Copy, Debug)]
pub struct CliContext {
    /// The thread group whose queues its `process_srv_queue` runs first.
    pub tgroup: u8,
    /// A seeded bug, if any.
    pub bug: Option<SeededBug>,
}

/// One section of a CLI command: `disable` and `shutdown sessions` end with
/// `pendconn_redistribute()`, `enable` with `pendconn_grab_from_px()` (or, since
/// 111ea83ed, `process_srv_queue()`: with two thread groups of queues its second
/// group's batch, and with `ready_srv` that call's tail), each a separate section from
/// the one before it (another lock). `role` is what the section does
/// ([`crate::scenario::CliSection::role`]).
pub fn run_cli_section(
    sys: &mut System,
    command: CliCommand,
    role: CliRole,
    b: Behaviour,
    cli: CliContext,
    j: &mut Journal,
) {
    let CliContext { tgroup, bug } = cli;
    let v = command.server;
    match (command.kind, role) {
        (CliKind::Disable, CliRole::StateChange) => srv_set_admin_maint(sys, v, j),
        (CliKind::Shutdown, CliRole::StateChange) => srv_shutdown_streams(sys, v, j),
        (CliKind::Enable, CliRole::StateChange) => srv_clear_admin_maint(sys, v, j),
        (CliKind::Disable, _) => {
            pendconn_redistribute(sys, v, b, bug, j);
            if b.ready_srv_reset_on_down {
                ready_srv_reset(sys, v, j);
            }
        }
        (CliKind::Shutdown, _) => pendconn_redistribute(sys, v, b, bug, j),
        (CliKind::Enable, CliRole::QueueWork) if b.enable_processes_queue => {
            let first = first_batch(sys, tgroup);
            process_srv_queue(sys, v, first, b, j)
        }
        (CliKind::Enable, CliRole::QueueWork) => pendconn_grab_from_px(sys, v, j),
        (CliKind::Enable, CliRole::OtherTgroupBatch) => {
            process_srv_queue(sys, v, Some(other_tgroup(tgroup)), b, j)
        }
        (CliKind::Enable, CliRole::ReadySrvTail) => process_srv_queue_tail(sys, v, b, j),
    }
}
