//! Ctrl-C stops a check cleanly: the first SIGINT sets a flag that the explorer polls
//! (the search ends as incomplete, the partial report is printed, exit 3); a second
//! one kills the process as usual.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// The flag a check polls; installs the SIGINT handler on first use.
pub fn flag() -> &'static AtomicBool {
    #[cfg(unix)]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        // SAFETY: `on_sigint` only performs async-signal-safe operations (an atomic store
        // and resetting the disposition); installing a handler has no other precondition.
        INSTALLED.call_once(|| unsafe {
            libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t);
        });
    }
    &STOP
}

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
    // SAFETY: signal() is async-signal-safe; the next Ctrl-C gets the default action.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}
