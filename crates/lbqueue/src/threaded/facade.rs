//! The sync facade: the few primitives the threaded composition uses (a mutex, a
//! condition variable, spawning and joining a thread), with three back ends — real
//! threads ([`Std`]), shuttle's randomized schedulers ([`Shuttle`]) and loom's
//! exhaustive one (`Loom`, in `--cfg loom` builds only). The composition is written
//! once, generic over [`Facade`]; no queue logic lives here.
//!
//! Every back end hands out the same std-shaped guards, so a poisoned lock (a worker
//! panicked while holding it) is taken over rather than propagated: the composition
//! reports failures as values, and a panic already fails the run.

use std::ops::DerefMut;

use super::Memory;

/// A sync back end.
pub trait Facade: 'static {
    /// A mutex around the composition's [`Memory`].
    type Lock: Send + Sync;
    /// Its guard.
    type Guard<'a>: DerefMut<Target = Memory>;
    /// A condition variable (HAProxy threads park on it when their run queue is empty).
    type Cond: Send + Sync;
    /// A spawned thread.
    type Handle;

    /// A new lock holding `memory`.
    fn lock_new(memory: Memory) -> Self::Lock;
    /// Takes the lock.
    fn lock(lock: &Self::Lock) -> Self::Guard<'_>;
    /// A new condition variable.
    fn cond_new() -> Self::Cond;
    /// Releases the guard, waits for a notification, takes the lock again.
    fn wait<'a>(cond: &Self::Cond, guard: Self::Guard<'a>) -> Self::Guard<'a>;
    /// Wakes every waiter.
    fn notify_all(cond: &Self::Cond);
    /// Starts a thread.
    fn spawn(f: impl FnOnce() + Send + 'static) -> Self::Handle;
    /// Waits for a thread; `Err` if it panicked.
    fn join(handle: Self::Handle) -> std::thread::Result<()>;
}

/// Defines a back end whose module has std's `sync::{Mutex, Condvar}` and
/// `thread::{spawn, JoinHandle}` API (std, shuttle and loom all do).
macro_rules! std_shaped_facade {
    ($(#[$doc:meta])* $name:ident, $($sync:ident)::+, $($thread:ident)::+) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl Facade for $name {
            type Lock = $($sync)::+::Mutex<Memory>;
            type Guard<'a> = $($sync)::+::MutexGuard<'a, Memory>;
            type Cond = $($sync)::+::Condvar;
            type Handle = $($thread)::+::JoinHandle<()>;

            fn lock_new(memory: Memory) -> Self::Lock {
                <$($sync)::+::Mutex<Memory>>::new(memory)
            }
            fn lock(lock: &Self::Lock) -> Self::Guard<'_> {
                lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
            }
            fn cond_new() -> Self::Cond {
                <$($sync)::+::Condvar>::new()
            }
            fn wait<'a>(cond: &Self::Cond, guard: Self::Guard<'a>) -> Self::Guard<'a> {
                cond.wait(guard)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
            }
            fn notify_all(cond: &Self::Cond) {
                cond.notify_all();
            }
            fn spawn(f: impl FnOnce() + Send + 'static) -> Self::Handle {
                $($thread)::+::spawn(f)
            }
            fn join(handle: Self::Handle) -> std::thread::Result<()> {
                handle.join()
            }
        }
    };
}

std_shaped_facade!(
    /// Operating-system threads (`lbq stress`, the conformance test).
    Std,
    std::sync,
    std::thread
);

std_shaped_facade!(
    /// shuttle's controlled threads (`lbq shuttle`): every lock, wait and notify is a
    /// scheduling point of its random or PCT scheduler.
    Shuttle,
    shuttle::sync,
    shuttle::thread
);

#[cfg(loom)]
std_shaped_facade!(
    /// loom's threads: every interleaving up to a preemption bound (tests/loom.rs).
    Loom,
    loom::sync,
    loom::thread
);
