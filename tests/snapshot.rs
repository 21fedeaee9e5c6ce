//! Lock-free snapshots (`Value::snapshot`, `Array::snapshot`): never torn
//! by a writer in another process or in another thread of this one, with
//! an own or a shared lock, and `Poisoned` (not a half-written value) after
//! a writer is killed mid-write.
//!
//! Every writer here moves all the words of the data from `i` to `i + 1`
//! one word at a time, pausing between words, so a copy that overlapped a
//! write would show two different words. Every segment lives in a private
//! directory removed on drop; every child is killed and reaped when its
//! guard drops; every wait is bounded.

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use shmstruct::{Array, Error, Lock, RawValue, SegmentOptions, Value};
use support::TempDir;

/// The data: 64 bytes, eight words that are equal between writes.
type Words = [u64; 8];

/// The length of the array under a shared lock.
const ARRAY_LEN: usize = 24;

/// The bound on every wait.
const BOUND: Duration = Duration::from_secs(60);

/// How many different whole values a reader waits to have seen.
const DISTINCT: u64 = 200;

/// The value `v` in `dir`, created or opened.
fn create_value(dir: &Path, name: &str) -> Value<Words> {
    Value::<Words>::builder(name)
        .dir(dir)
        .create([0; 8])
        .expect("creating the value")
}

fn open_value(dir: &Path, name: &str) -> Value<Words> {
    Value::<Words>::builder(name)
        .dir(dir)
        .open()
        .expect("opening the value")
}

/// The flag a reader raises when it has seen enough, and a killed writer
/// when it is mid-write.
fn flag(dir: &Path, create: bool) -> RawValue<u64> {
    let builder = RawValue::<u64>::builder("flag").dir(dir);
    if create {
        builder.create(0).expect("creating the flag")
    } else {
        builder.open().expect("opening the flag")
    }
}

/// Moves every word of `words` to `next`, one at a time, pausing between.
fn write_slowly(words: &mut [u64], next: u64) {
    for word in words.iter_mut() {
        *word = next;
        for _ in 0..20 {
            std::hint::spin_loop();
        }
    }
}

/// Asserts that `words` is whole (all equal) and not older than `last`;
/// returns its value.
fn check_whole(words: &[u64], last: u64) -> u64 {
    let first = words[0];
    assert!(words.iter().all(|&w| w == first), "torn snapshot {words:?}");
    assert!(first >= last, "went back from {last} to {words:?}");
    first
}

/// Takes snapshots with `snapshot` until `DISTINCT` different whole values
/// were seen (or the bound passes); returns how many snapshots it took.
fn read_until_distinct(mut snapshot: impl FnMut() -> Vec<u64>) -> u64 {
    let deadline = Instant::now() + BOUND;
    let (mut snapshots, mut distinct, mut last) = (0, 0, 0);
    while distinct < DISTINCT {
        let seen = check_whole(&snapshot(), last);
        snapshots += 1;
        if seen != last {
            distinct += 1;
            last = seen;
        }
        assert!(Instant::now() < deadline, "the writer made no progress");
    }
    snapshots
}

/// In a child started by [`spawn_writer`]: runs `write` on the parent's
/// directory, then exits. In the parent: returns.
fn writer_role(write: fn(&Path)) {
    if let Some(role) = support::role() {
        assert_eq!(role, "writer");
        write(Path::new(&support::arg("DIR")));
        std::process::exit(0);
    }
}

/// This test binary again, as the writer of test `test` on `dir`.
fn spawn_writer(test: &str, dir: &Path) -> support::ChildGuard {
    support::spawn_role(test, "writer", &[("DIR", &path_str(dir))])
}

/// Runs `update(1)`, `update(2)`, ... until the reader raises the flag in
/// `dir` (or the bound passes).
fn update_until_done(dir: &Path, mut update: impl FnMut(u64)) {
    let done = flag(dir, false);
    let deadline = Instant::now() + BOUND;
    let mut next = 0;
    while done.get() == 0 && Instant::now() < deadline {
        next += 1;
        update(next);
    }
}

/// Child: writes the value through `lock()` guards until the flag rises.
fn hammer_value(dir: &Path) {
    let value = open_value(dir, "v");
    update_until_done(dir, |next| {
        let mut guard = value.lock().expect("locking");
        write_slowly(&mut guard[..], next);
    });
}

#[test]
fn snapshots_in_one_process_are_never_torn_by_a_writer_in_another() {
    const TEST: &str = "snapshots_in_one_process_are_never_torn_by_a_writer_in_another";
    writer_role(hammer_value);
    let dir = TempDir::new("snapx");
    let value = create_value(&dir.0, "v");
    let done = flag(&dir.0, true);
    let mut writer = spawn_writer(TEST, &dir.0);
    let snapshots = read_until_distinct(|| value.snapshot().expect("a snapshot").to_vec());
    done.set(1);
    assert!(writer.wait_success(), "the writer failed");
    assert!(snapshots >= DISTINCT);
    let last = check_whole(&value.snapshot().expect("a snapshot"), 0);
    assert_eq!(value.get().expect("get"), [last; 8]);
}

#[test]
fn snapshots_are_never_torn_by_a_writer_thread_of_the_same_process() {
    let dir = TempDir::new("snapt");
    let value = create_value(&dir.0, "v");
    let stop = Arc::new(AtomicBool::new(false));
    let (finished, done) = mpsc::channel();
    // Two readers, started before and after the writer: the first one's
    // handshake may meet the writer mid-write. The writer alternates
    // writes through the guard and `set()`, which takes the guard too.
    let reader = |value: Value<Words>, finished: mpsc::Sender<&'static str>| {
        move || {
            read_until_distinct(|| value.snapshot().expect("a snapshot").to_vec());
            finished.send("reader").expect("the test waits");
        }
    };
    let first = std::thread::spawn(reader(value.clone(), finished.clone()));
    let writer = {
        let (value, stop, finished) = (value.clone(), Arc::clone(&stop), finished.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + BOUND;
            let mut next = 0;
            // Relaxed: only a request to stop, which carries no data.
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                next += 1;
                if next % 2 == 0 {
                    let mut guard = value.lock().expect("locking");
                    write_slowly(&mut guard[..], next);
                } else {
                    value.set([next; 8]).expect("set");
                }
            }
            finished.send("writer").expect("the test waits");
        })
    };
    let second = std::thread::spawn(reader(value.clone(), finished));
    let deadline = Instant::now() + BOUND;
    let mut readers = 0;
    while readers < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match done.recv_timeout(left) {
            Ok("reader") => readers += 1,
            Ok(other) => panic!("the {other} stopped before the readers were done"),
            Err(error) => panic!("a reader is stuck or failed: {error}"),
        }
    }
    // Relaxed: see the writer.
    stop.store(true, Ordering::Relaxed);
    let writer_done = done.recv_timeout(BOUND);
    assert_eq!(writer_done, Ok("writer"), "the writer is stuck or failed");
    for thread in [first, second, writer] {
        thread.join().expect("no thread panicked");
    }
    check_whole(&value.snapshot().expect("a snapshot"), 0);
}

/// Child: writes the value and the array under their shared lock, in
/// place, until the flag rises.
fn hammer_shared(dir: &Path) {
    let lock = Lock::open_with("lock", &SegmentOptions::new().dir(dir)).expect("the lock");
    let value = open_value(dir, "v");
    let array = Array::<u64>::builder("a")
        .dir(dir)
        .open()
        .expect("opening the array");
    update_until_done(dir, |next| {
        let mut guard = lock.lock().expect("locking");
        write_slowly(value.get_mut_locked(&mut guard).expect("the value"), next);
        write_slowly(array.get_mut_locked(&mut guard).expect("the array"), next);
        drop(guard);
        // Leaves the lock free for a moment, as a writer that does
        // something else between updates.
        for _ in 0..200 {
            std::hint::spin_loop();
        }
    });
}

#[test]
fn snapshots_under_a_shared_lock_are_never_torn() {
    const TEST: &str = "snapshots_under_a_shared_lock_are_never_torn";
    writer_role(hammer_shared);
    let dir = TempDir::new("snaps");
    let options = SegmentOptions::new().dir(&dir.0);
    let lock = Lock::create_with("lock", &options).expect("creating the lock");
    let value = Value::<Words>::builder("v")
        .dir(&dir.0)
        .lock(&lock)
        .create([0; 8])
        .expect("creating the value");
    let array = Array::<u64>::builder("a")
        .dir(&dir.0)
        .lock(&lock)
        .zeroed(ARRAY_LEN)
        .expect("creating the array");
    let done = flag(&dir.0, true);
    let mut writer = spawn_writer(TEST, &dir.0);
    // The value and the array, one after the other, each whole; an array
    // snapshot into a buffer of the wrong length is refused.
    read_until_distinct(|| value.snapshot().expect("a value snapshot").to_vec());
    let mut buffer = vec![0; ARRAY_LEN];
    read_until_distinct(|| {
        array.snapshot_into(&mut buffer).expect("an array snapshot");
        buffer.clone()
    });
    read_until_distinct(|| array.snapshot().expect("an array snapshot"));
    let error = array
        .snapshot_into(&mut [0; ARRAY_LEN - 1])
        .expect_err("wrong length");
    assert!(matches!(error, Error::LengthMismatch { .. }), "{error:?}");
    done.set(1);
    assert!(writer.wait_success(), "the writer failed");
}

#[test]
fn a_writer_killed_mid_write_makes_snapshots_poisoned_until_repaired() {
    const TEST: &str = "a_writer_killed_mid_write_makes_snapshots_poisoned_until_repaired";
    if let Some(role) = support::role() {
        assert_eq!(role, "dies-writing");
        let dir = PathBuf::from(support::arg("DIR"));
        let value = open_value(&dir, "v");
        let mut guard = value.lock().expect("locking");
        guard[..4].copy_from_slice(&[1; 4]);
        std::mem::forget(guard);
        flag(&dir, false).set(1);
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    let dir = TempDir::new("snapk");
    let value = create_value(&dir.0, "v");
    let mid_write = flag(&dir.0, true);
    // A first snapshot, so that this process's gate is open before the
    // writer dies.
    assert_eq!(value.snapshot().expect("a snapshot"), [0; 8]);
    let mut writer = support::spawn_role(TEST, "dies-writing", &[("DIR", &path_str(&dir.0))]);
    let deadline = Instant::now() + BOUND;
    while mid_write.get() == 0 {
        assert!(Instant::now() < deadline, "the writer never wrote");
        std::thread::sleep(Duration::from_millis(1));
    }
    writer.kill();

    // Bounded: the snapshot runs in a thread that must answer in time.
    let (answer, answered) = mpsc::channel();
    let reader = value.clone();
    std::thread::spawn(move || {
        let _ = answer.send(reader.snapshot());
    });
    let result = answered.recv_timeout(BOUND).expect("the snapshot returns");
    assert!(matches!(result, Err(Error::Poisoned { .. })), "{result:?}");
    let again = value.snapshot();
    assert!(matches!(again, Err(Error::Poisoned { .. })), "{again:?}");

    let mut guard = value.lock_poisoned_timeout(BOUND).expect("the guard");
    assert_eq!(*guard, [1, 1, 1, 1, 0, 0, 0, 0], "the half-written value");
    *guard = [2; 8];
    guard.clear_poison();
    drop(guard);
    assert_eq!(
        value.snapshot().expect("a snapshot after the repair"),
        [2; 8]
    );
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}
