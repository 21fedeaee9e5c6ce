//! Process identity on Linux: the one place that reads `/proc/<pid>/stat`
//! and decides whether a process is alive. Stale-segment detection and the
//! semaphore's dead-holder reclaim both ask here, so they agree.

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A process, told apart from a later process that reuses its pid by its
/// start time (clock ticks after boot, `/proc/<pid>/stat` field 22). A start
/// time of 0 means "unknown" (it could not be read when recorded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcessId {
    pub(crate) pid: u32,
    pub(crate) start: u64,
}

impl ProcessId {
    /// The calling process.
    pub(crate) fn current() -> ProcessId {
        // Cached per pid, so a forked child computes its own. Relaxed: the
        // two words are only a cache; a torn pair fails the pid check and
        // is recomputed.
        static CACHED_PID: AtomicU32 = AtomicU32::new(0);
        static CACHED_START: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        if CACHED_PID.load(Ordering::Relaxed) == pid {
            return ProcessId {
                pid,
                start: CACHED_START.load(Ordering::Relaxed),
            };
        }
        let start = read_stat(pid).map_or(0, |stat| stat.start);
        CACHED_START.store(start, Ordering::Relaxed);
        CACHED_PID.store(pid, Ordering::Relaxed);
        ProcessId { pid, start }
    }

    /// Whether this process is still running: its pid exists, was not
    /// reused by a later process (when the start time is known), and it is
    /// not a zombie.
    ///
    /// A zombie counts as dead. It has exited: it runs no code, so it can
    /// hold no lock or permit it will ever release, and the kernel has
    /// already run its robust-list cleanup. Only its exit status waits for
    /// a parent that may never reap it; treating it as alive would keep its
    /// segments and semaphore permits forever.
    ///
    /// When `/proc` cannot be read (mounted with `hidepid`), a pid that
    /// exists is taken as alive: reclaiming from a live process would be
    /// worse than keeping a dead one's leftovers.
    pub(crate) fn is_alive(&self) -> bool {
        match read_stat(self.pid) {
            Some(stat) => {
                !matches!(stat.state, b'Z' | b'X' | b'x')
                    && (self.start == 0 || stat.start == self.start)
            }
            None => pid_exists(self.pid),
        }
    }
}

/// What `/proc/<pid>/stat` says about a process.
struct Stat {
    /// Field 3: the state letter (`R`, `S`, `Z` for a zombie, ...).
    state: u8,
    /// Field 22: the start time in clock ticks after boot.
    start: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    if pid == 0 {
        return None;
    }
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain anything, spaces and
    // parentheses included, so parse after its last closing parenthesis:
    // field 3 (state) then field 22 (start time).
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some(Stat { state, start })
}

/// Whether a process `pid` exists (possibly owned by another user).
fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: `kill` with signal 0 sends nothing; it only checks that the
    // process exists and may be signalled.
    let status = unsafe { libc::kill(pid, 0) };
    // EPERM: it exists but belongs to someone else.
    status == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = ProcessId::current();
        assert_eq!(me.pid, std::process::id());
        assert_ne!(me.start, 0, "/proc is mounted");
        assert_eq!(ProcessId::current(), me);
        assert!(me.is_alive());
        let reused = ProcessId {
            start: me.start + 1,
            ..me
        };
        assert!(!reused.is_alive());
        assert!(!ProcessId { pid: 0, start: 0 }.is_alive());
    }

    /// Reaps the child on every path, so a failing test leaves no zombie.
    struct Reap(std::process::Child);

    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn an_exited_child_not_yet_reaped_is_dead() {
        let child = Reap(
            std::process::Command::new("true")
                .spawn()
                .expect("spawn `true`"),
        );
        let pid = child.0.id();
        let start = read_stat(pid).map_or(0, |stat| stat.start);
        let zombie = ProcessId { pid, start };
        // Wait (bounded) until it has exited; it stays a zombie because
        // nothing reaps it before `child` drops.
        let deadline = Instant::now() + Duration::from_secs(10);
        while read_stat(pid).is_some_and(|stat| stat.state != b'Z') {
            assert!(Instant::now() < deadline, "child {pid} did not exit");
            std::thread::sleep(Duration::from_millis(1));
        }
        let stat = read_stat(pid).expect("an unreaped child keeps its /proc entry");
        assert_eq!(stat.state, b'Z');
        assert!(pid_exists(pid), "kill(pid, 0) still finds a zombie");
        assert!(!zombie.is_alive());
    }
}
