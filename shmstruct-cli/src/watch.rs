//! `watch`: re-reads a segment's values every interval and shows them again,
//! in place on a terminal with the changed lines highlighted, as plain
//! repeated frames otherwise; stops on Ctrl-C or when the segment is
//! unlinked (its path no longer names the same file).

use std::io::{IsTerminal as _, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::entry::Shown;
use crate::table;

/// Set by the SIGINT handler; read by the watch loop.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    // An atomic store is async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT set [`INTERRUPTED`] instead of killing the process.
fn catch_interrupt() -> Result<(), super::Failure> {
    let handler: extern "C" fn(libc::c_int) = on_interrupt;
    // SAFETY: `on_interrupt` only stores to an atomic, which is
    // async-signal-safe, and has the signature `signal` expects.
    let previous = unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
    if previous == libc::SIG_ERR {
        return Err(format!("cannot catch SIGINT: {}", std::io::Error::last_os_error()).into());
    }
    Ok(())
}

/// The (device, inode) that `path` names now, if it names anything.
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Watches the segment `name` in `dir` until Ctrl-C or until it is unlinked.
pub fn watch(
    dir: &Path,
    name: &str,
    interval: Duration,
    limit: usize,
) -> Result<(), super::Failure> {
    catch_interrupt()?;
    let first = Shown::read(dir, name, None)?;
    let path = first.info.path().to_owned();
    let watched = identity(&path).ok_or_else(|| format!("segment `{name}` disappeared"))?;
    let terminal = std::io::stdout().is_terminal();
    let colour = table::colour();
    let mut previous: Option<Vec<String>> = None;
    let mut shown = Some(first);
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Ok(());
        }
        if identity(&path) != Some(watched) {
            println!("segment `{name}` was unlinked");
            return Ok(());
        }
        let current = match shown.take() {
            Some(current) => current,
            None => match Shown::read(dir, name, None) {
                Ok(current) => current,
                // Unlinked (or replaced) between the check and the read.
                Err(_) if identity(&path) != Some(watched) => continue,
                Err(error) => return Err(error),
            },
        };
        let lines: Vec<String> = table::values(&current.value, limit)
            .lines()
            .map(str::to_owned)
            .collect();
        if terminal || previous.as_ref() != Some(&lines) {
            print!(
                "{}",
                frame(name, &lines, previous.as_deref(), terminal, colour)
            );
            std::io::stdout().flush()?;
        }
        previous = Some(lines);
        pause(interval);
    }
}

/// One frame: on a terminal, the screen cleared and the values with the
/// lines that differ from `previous` highlighted; otherwise the values
/// under a separator line.
fn frame(
    name: &str,
    lines: &[String],
    previous: Option<&[String]>,
    terminal: bool,
    colour: bool,
) -> String {
    let mut out = String::new();
    if terminal {
        out.push_str("\x1b[H\x1b[2J");
    }
    out.push_str(&format!(
        "--- {name} (read without the lock; Ctrl-C stops)\n"
    ));
    for (i, line) in lines.iter().enumerate() {
        let changed = previous.is_some_and(|old| old.get(i) != Some(line));
        out.push_str(&table::paint(line, "1;33", colour && changed));
        out.push('\n');
    }
    out
}

/// Sleeps for `interval`, waking early on Ctrl-C.
fn pause(interval: Duration) {
    let end = Instant::now() + interval;
    while !INTERRUPTED.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}
