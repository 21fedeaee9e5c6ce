//! The seqlock read across real processes: this test binary re-executed as
//! a writer that holds a named `Lock` while it updates two words of another
//! segment's data, and a reader that takes lock-free snapshots.
//!
//! The two words are only ever both `i` between writes; a writer moves
//! them through `(i + 1, i)` to `(i + 1, i + 1)`, pausing in between, so a
//! copy that is not ordered with the writes sees the middle state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::poison::{Poisoned, Wait};
use crate::layout::SharedLayout;
use crate::segment::{LockPlan, Segment, SegmentOptions};
use crate::{Error, Lock};

const ROLE: &str = "SHMSTRUCT_SEQLOCK_ROLE";
const DIR: &str = "SHMSTRUCT_SEQLOCK_DIR";
/// How many updates the hammering writer makes.
const WRITES: u64 = 20_000;
/// The bound on every blocking step of the parent.
const BOUND: Duration = Duration::from_secs(30);

type Pair = [u64; 2];

/// A private directory for one test's segments, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("shmstruct-seqlock-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the test directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child (this binary, running only `test` as `role`), killed and reaped
/// on drop.
struct ChildGuard(Child);

impl ChildGuard {
    fn spawn(test: &str, role: &str, dir: &Path) -> ChildGuard {
        let test = format!(
            "{}::{test}",
            module_path!().trim_start_matches("shmstruct::")
        );
        let child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(DIR, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("re-executing the test binary");
        ChildGuard(child)
    }

    /// Waits at most `BOUND` for a clean exit.
    fn wait_success(&mut self) -> bool {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().expect("waiting") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn options(dir: &Path) -> SegmentOptions {
    SegmentOptions::new().dir(dir)
}

/// The lock and the data segment it guards (two `u64`s, no lock of its
/// own), created in `dir`.
fn create(dir: &Path) -> (Lock, Arc<Segment>) {
    let lock = Lock::create_with("lock", &options(dir)).expect("creating the lock");
    let data = Segment::create_locked(
        "data",
        <Pair as SharedLayout>::LAYOUT,
        &options(dir),
        LockPlan::None,
        |_| Ok(()),
    )
    .expect("creating the data");
    (lock, Arc::new(data))
}

fn open(dir: &Path) -> (Lock, Arc<Segment>) {
    let lock = Lock::open_with("lock", &options(dir)).expect("opening the lock");
    let data = Segment::open("data", <Pair as SharedLayout>::LAYOUT, &options(dir))
        .expect("opening the data");
    (lock, Arc::new(data))
}

/// The two words of the data.
fn words(data: &Segment) -> [&AtomicU64; 2] {
    let first = data.data().cast::<u64>().as_ptr();
    // SAFETY: the data area holds a `[u64; 2]`, aligned (the layout's
    // alignment, at least 64), mapped while `data` lives, which outlives
    // the borrow; every process accesses it only through these atomics.
    let a = unsafe { AtomicU64::from_ptr(first) };
    // SAFETY: as above, the second word.
    let b = unsafe { AtomicU64::from_ptr(first.wrapping_add(1)) };
    [a, b]
}

/// A copy of the pair, word by word, with relaxed loads (as
/// `atomic_copy` copies).
fn copy(data: &Segment) -> Pair {
    let [a, b] = words(data);
    [a.load(Ordering::Relaxed), b.load(Ordering::Relaxed)]
}

/// Under the lock: moves the pair from `(i, i)` to `(i + 1, i)`, pauses,
/// then to `(i + 1, i + 1)`.
fn write_half(data: &Segment) -> u64 {
    let [a, _] = words(data);
    let next = a.load(Ordering::Relaxed) + 1;
    a.store(next, Ordering::Relaxed);
    next
}

fn write_rest(data: &Segment, next: u64) {
    let [_, b] = words(data);
    b.store(next, Ordering::Relaxed);
}

/// Child: `WRITES` updates, each under the lock, with a pause mid-update.
fn hammer(dir: &Path) {
    let (lock, data) = open(dir);
    for _ in 0..WRITES {
        let guard = lock.lock().expect("locking");
        let next = write_half(&data);
        for _ in 0..50 {
            std::hint::spin_loop();
        }
        write_rest(&data, next);
        drop(guard);
    }
}

#[test]
fn snapshots_under_a_hammering_writer_are_never_torn() {
    const TEST: &str = "snapshots_under_a_hammering_writer_are_never_torn";
    if let Ok(role) = std::env::var(ROLE) {
        assert_eq!(role, "writer");
        hammer(Path::new(&std::env::var(DIR).expect("the directory")));
        return;
    }
    let dir = TempDir::new("hammer");
    let (lock, data) = create(&dir.0);
    let mut writer = ChildGuard::spawn(TEST, "writer", &dir.0);
    let deadline = Instant::now() + BOUND;
    let (mut snapshots, mut distinct, mut last) = (0u64, 0u64, 0u64);
    loop {
        let pair = lock
            .read_consistent(Wait::Timeout(BOUND), || copy(&data))
            .expect("a snapshot");
        snapshots += 1;
        assert_eq!(pair[0], pair[1], "torn snapshot {pair:?}");
        assert!(pair[0] >= last, "went back from {last} to {pair:?}");
        if pair[0] != last {
            distinct += 1;
            last = pair[0];
        }
        if last == WRITES {
            break;
        }
        assert!(Instant::now() < deadline, "the writer made no progress");
    }
    assert!(writer.wait_success(), "the writer failed");
    assert!(snapshots >= distinct && distinct >= 1);
    // Every write left the sequence even and bumped it twice.
    let sequence = lock.words().sequence.load(Ordering::Relaxed);
    assert_eq!(sequence % 2, 0);
    assert!(sequence >= 2 * WRITES, "sequence {sequence}");
}

#[test]
fn a_writer_killed_mid_write_leaves_readers_bounded_and_the_data_poisoned() {
    const TEST: &str = "a_writer_killed_mid_write_leaves_readers_bounded_and_the_data_poisoned";
    if let Ok(role) = std::env::var(ROLE) {
        assert_eq!(role, "dies-writing");
        let (lock, data) = open(Path::new(&std::env::var(DIR).expect("the directory")));
        let guard = lock.lock().expect("locking");
        write_half(&data);
        std::mem::forget(guard);
        // Tell the parent (through the second word, which a finished write
        // would set to 1), then wait to be killed mid-write.
        words(&data)[1].store(u64::MAX, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let dir = TempDir::new("killed");
    let (lock, data) = create(&dir.0);
    let mut writer = ChildGuard::spawn(TEST, "dies-writing", &dir.0);
    let deadline = Instant::now() + BOUND;
    while words(&data)[1].load(Ordering::Acquire) != u64::MAX {
        assert!(Instant::now() < deadline, "the writer never wrote");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(lock.words().sequence.load(Ordering::Relaxed) % 2, 1);

    // A stopped writer: the reader gives up within its bound, with no copy.
    let result = lock.read_consistent(Wait::Timeout(Duration::from_millis(20)), || copy(&data));
    assert!(matches!(result, Err(Error::TimedOut { .. })), "{result:?}");
    let result = lock.read_consistent(Wait::Try, || copy(&data));
    assert!(
        matches!(result, Err(Error::WouldBlock { .. })),
        "{result:?}"
    );

    // A dead writer: the reader takes the lock, which poisons the data and
    // makes the sequence even; the half-written pair is not returned.
    writer.kill();
    let result = lock.read_consistent(Wait::Timeout(BOUND), || copy(&data));
    assert!(matches!(result, Err(Error::Poisoned { .. })), "{result:?}");
    assert_eq!(lock.words().sequence.load(Ordering::Relaxed) % 2, 0);
    let again = lock.read_consistent(Wait::Try, || copy(&data));
    assert!(matches!(again, Err(Error::Poisoned { .. })), "{again:?}");

    // Repaired and cleared: snapshots are whole again.
    let mut guard = lock
        .acquire(Wait::Timeout(BOUND), Poisoned::Accept)
        .expect("locking poisoned data");
    let [a, b] = words(&data);
    b.store(a.load(Ordering::Relaxed), Ordering::Relaxed);
    guard.clear_poison();
    drop(guard);
    let pair = lock
        .read_consistent(Wait::Try, || copy(&data))
        .expect("a snapshot after the repair");
    assert_eq!(pair, [1, 1]);
}

#[test]
fn a_panicking_holder_leaves_the_sequence_even_and_the_data_poisoned() {
    let dir = TempDir::new("panic");
    let (lock, data) = create(&dir.0);
    let panicked = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let _guard = lock.lock().expect("locking");
                write_half(&data);
                panic!("mid-write");
            })
            .join()
    });
    assert!(panicked.is_err());
    assert_eq!(lock.words().sequence.load(Ordering::Relaxed), 2);
    let result = lock.read_consistent(Wait::Try, || copy(&data));
    assert!(matches!(result, Err(Error::Poisoned { .. })), "{result:?}");
}

#[test]
fn a_holder_in_this_process_waits_for_its_snapshot_copies_only_once_they_are_read() {
    use std::sync::mpsc;

    let dir = TempDir::new("gate");
    let (lock, _data) = create(&dir.0);
    let gate = lock.gate();

    // No snapshot read in this process yet: a holder does not look at the
    // count (even a raised one, which no reader would raise while off).
    let reading = gate.enter();
    drop(lock.lock().expect("locking"));
    drop(reading);

    // The first snapshot opens the gate (its handshake takes the lock).
    lock.read_consistent(Wait::Try, || ()).expect("a snapshot");
    assert!(gate.is_on());

    // Now a holder waits, after making the word odd, until the copy in
    // flight is done, and only then writes.
    let reading = gate.enter();
    let (locked, holder) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let guard = lock.lock().expect("locking");
            locked.send(()).expect("the test waits");
            drop(guard);
        });
        let early = holder.recv_timeout(Duration::from_millis(50));
        assert_eq!(early, Err(mpsc::RecvTimeoutError::Timeout), "no wait");
        drop(reading);
        holder.recv_timeout(BOUND).expect("the holder got through");
    });
    assert_eq!(lock.words().sequence.load(Ordering::Relaxed) % 2, 0);
}
