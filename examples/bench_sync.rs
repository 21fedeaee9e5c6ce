//! Benchmark of the process-shared locks against their baselines, in one
//! run (DESIGN.md §7). Run in release mode:
//!
//! ```text
//! cargo run --release --example bench_sync
//! ```
//!
//! Prints, for each figure, the median of several repeats beside its
//! baseline and the ratio: uncontended lock+unlock (`RawLock` vs a raw
//! robust pthread mutex vs `std::sync::Mutex`), two processes incrementing
//! one locked counter (`RawLock` vs the raw robust mutex), an Event
//! ping-pong round trip between two processes (`RawEvent` vs a raw futex),
//! and Python's `multiprocessing` figures measured by
//! `bench/python_sync.py`, which this program runs.
//!
//! The shared memory is a file under `/dev/shm`, mapped by this process and
//! by a child (this program re-executed with `child ...` arguments).

mod bench_common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use bench_common::{init_raw_robust, median, raw_lock, raw_unlock, Handshake, MappedFile};
use shmstruct::sync::{RawEvent, RawLock};

const REPEATS: usize = 7;
const UNCONTENDED_ITERS: u64 = 5_000_000;
const INCREMENTS: u64 = 1_000_000;
const ROUND_TRIPS: u64 = 20_000;

// Offsets in the shared file.
const LOCK: usize = 0;
const EVENT_PING: usize = 128;
const EVENT_PONG: usize = 192;
// The handshake's ready, go and done words: 256, 260, 264.
const HANDSHAKE: usize = 256;
const FUTEX: usize = 268;
const COUNTER: usize = 320;
const LEN: usize = 4096;

/// The benchmark's places in its shared `/dev/shm` file.
impl MappedFile {
    fn create_shared() -> MappedFile {
        let path = PathBuf::from(format!("/dev/shm/bench-sync-{}", std::process::id()));
        MappedFile::create(path, LEN).expect("creating the shared file")
    }

    fn counter(&self) -> &AtomicU64 {
        self.atomic_u64(COUNTER)
    }

    fn lock(&self) -> &RawLock {
        // SAFETY: the parent initialised a RawLock at LOCK before starting
        // a child; the mapping outlives the reference.
        unsafe { RawLock::from_ptr(self.at(LOCK)) }
    }

    fn raw_mutex(&self) -> *mut libc::pthread_mutex_t {
        self.at(LOCK)
    }

    fn events(&self) -> (&RawEvent, &RawEvent) {
        // SAFETY: the parent initialised both events before starting a
        // child; the mapping outlives the references.
        let ping = unsafe { RawEvent::from_ptr(self.at(EVENT_PING)) };
        // SAFETY: as above.
        let pong = unsafe { RawEvent::from_ptr(self.at(EVENT_PONG)) };
        (ping, pong)
    }

    fn handshake(&self) -> Handshake<'_> {
        Handshake::at(self, HANDSHAKE)
    }

    /// Zeroes the file, then initialises both locks' memory for `raw`
    /// (a raw robust pthread mutex) or a `RawLock`, and both events.
    fn reset(&self, raw: bool) {
        self.zero();
        if raw {
            init_raw_robust(self.raw_mutex());
        } else {
            // SAFETY: no child runs between measurements; in bounds and
            // aligned (checked by `at`).
            unsafe { RawLock::init(self.at(LOCK)) }.expect("init");
        }
        // SAFETY: as above.
        unsafe { RawEvent::init(self.at(EVENT_PING)) };
        // SAFETY: as above.
        unsafe { RawEvent::init(self.at(EVENT_PONG)) };
    }
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: a live, aligned 32-bit word; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: a live, aligned 32-bit word.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
}

fn ns_per_op(iters: u64, f: impl Fn()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / iters as f64
}

// ---- the child side ----

fn spawn_child(shared: &MappedFile, mode: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("own path"))
        .args(["child", mode, shared.path().to_str().expect("utf-8")])
        .stdin(Stdio::null())
        .spawn()
        .expect("starting the child")
}

fn increment(shared: &MappedFile, raw: bool) {
    let counter = shared.counter();
    for _ in 0..INCREMENTS {
        if raw {
            raw_lock(shared.raw_mutex());
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            raw_unlock(shared.raw_mutex());
        } else {
            let _guard = shared.lock().lock().expect("lock");
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}

/// Waits while `word` holds `value`: `spin` re-reads, then futex sleeps.
fn futex_wait_while(word: &AtomicU32, value: u32, spin: u32) {
    for _ in 0..spin {
        if word.load(Ordering::Acquire) != value {
            return;
        }
        std::hint::spin_loop();
    }
    while word.load(Ordering::Acquire) == value {
        futex_wait(word, value);
    }
}

/// The spin `RawEvent::wait` does before sleeping, for the fair baseline.
const EVENT_SPIN: u32 = 100;

fn ping_pong_child(shared: &MappedFile, raw: bool, spin: u32) {
    if raw {
        let word = shared.atomic_u32(FUTEX);
        for _ in 0..ROUND_TRIPS {
            futex_wait_while(word, 0, spin);
            word.store(0, Ordering::Release);
            futex_wake(word);
        }
    } else {
        let (ping, pong) = shared.events();
        for _ in 0..ROUND_TRIPS {
            ping.wait();
            ping.clear();
            pong.set();
        }
    }
}

fn child(mode: &str, path: &Path) {
    let shared = MappedFile::open(path).expect("opening the shared file");
    shared.handshake().child(|| match mode {
        "incr-lock" => increment(&shared, false),
        "incr-raw" => increment(&shared, true),
        "pingpong-event" => ping_pong_child(&shared, false, 0),
        "pingpong-futex" => ping_pong_child(&shared, true, 0),
        "pingpong-futex-spin" => ping_pong_child(&shared, true, EVENT_SPIN),
        _ => panic!("unknown child mode {mode}"),
    });
}

// ---- the parent side ----

/// Two processes × INCREMENTS locked increments; ops per second.
fn two_process_increments(shared: &MappedFile, raw: bool) -> f64 {
    shared.reset(raw);
    let mut child = spawn_child(shared, if raw { "incr-raw" } else { "incr-lock" });
    let handshake = shared.handshake();
    let start = handshake.go();
    increment(shared, raw);
    handshake.wait_done();
    let elapsed = start.elapsed();
    assert!(child.wait().expect("child").success());
    assert_eq!(shared.counter().load(Ordering::Relaxed), 2 * INCREMENTS);
    (2 * INCREMENTS) as f64 / elapsed.as_secs_f64()
}

/// ROUND_TRIPS ping-pongs with a child; microseconds per round trip.
fn ping_pong(shared: &MappedFile, raw: bool, spin: u32) -> f64 {
    shared.reset(false);
    let mode = match (raw, spin) {
        (false, _) => "pingpong-event",
        (true, 0) => "pingpong-futex",
        (true, _) => "pingpong-futex-spin",
    };
    let mut child = spawn_child(shared, mode);
    let start = shared.handshake().go();
    if raw {
        let word = shared.atomic_u32(FUTEX);
        for _ in 0..ROUND_TRIPS {
            word.store(1, Ordering::Release);
            futex_wake(word);
            futex_wait_while(word, 1, spin);
        }
    } else {
        let (ping, pong) = shared.events();
        for _ in 0..ROUND_TRIPS {
            ping.set();
            pong.wait();
            pong.clear();
        }
    }
    let elapsed = start.elapsed();
    assert!(child.wait().expect("child").success());
    elapsed.as_secs_f64() * 1e6 / ROUND_TRIPS as f64
}

fn repeat(f: impl FnMut() -> f64) -> f64 {
    let mut f = f;
    median((0..REPEATS).map(|_| f()).collect())
}

fn python_figures() -> Vec<(String, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/python_sync.py");
    let output = match Command::new("python3").arg(&script).output() {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            eprintln!(
                "python3 {} failed:\n{}",
                script.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            return Vec::new();
        }
        Err(error) => {
            eprintln!("python3 not run: {error}");
            return Vec::new();
        }
    };
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn row(what: &str, value: f64, unit: &str, baseline: &str, base: f64, target: &str) {
    println!("{what:<44} {value:>12.1} {unit:<6} | {baseline:<36} {base:>12.1} | ratio {:>7.2} | {target}", value / base);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(&args[2], Path::new(&args[3]));
        return;
    }

    let shared = MappedFile::create_shared();

    // Uncontended lock+unlock.
    shared.reset(false);
    let lock = shared.lock();
    let ours = repeat(|| {
        ns_per_op(UNCONTENDED_ITERS, || {
            for _ in 0..UNCONTENDED_ITERS {
                drop(black_box(lock.lock().expect("lock")));
            }
        })
    });
    shared.reset(true);
    let mutex = shared.raw_mutex();
    let raw = repeat(|| {
        ns_per_op(UNCONTENDED_ITERS, || {
            for _ in 0..UNCONTENDED_ITERS {
                raw_lock(black_box(mutex));
                raw_unlock(mutex);
            }
        })
    });
    // The named Lock: the same RawLock in a segment, reached through the
    // handle (a pointer into the segment, then the guard).
    let named_lock = shmstruct::Lock::create(&format!("bench-sync-{}-lock", std::process::id()))
        .expect("creating the named lock");
    let named = repeat(|| {
        ns_per_op(UNCONTENDED_ITERS, || {
            for _ in 0..UNCONTENDED_ITERS {
                drop(black_box(named_lock.lock().expect("lock")));
            }
        })
    });
    drop(named_lock);
    let std_mutex = std::sync::Mutex::new(0u64);
    let std_ns = repeat(|| {
        ns_per_op(UNCONTENDED_ITERS, || {
            for _ in 0..UNCONTENDED_ITERS {
                drop(black_box(std_mutex.lock().expect("std lock")));
            }
        })
    });

    let incr_ours = repeat(|| two_process_increments(&shared, false));
    let incr_raw = repeat(|| two_process_increments(&shared, true));
    let rtt_event = repeat(|| ping_pong(&shared, false, 0));
    let rtt_futex = repeat(|| ping_pong(&shared, true, 0));
    let rtt_futex_spin = repeat(|| ping_pong(&shared, true, EVENT_SPIN));

    let python = python_figures();
    let py = |name: &str| python.iter().find(|(n, _)| n == name).map(|(_, v)| *v);

    println!(
        "medians of {REPEATS} repeats ({UNCONTENDED_ITERS} lock+unlock, 2 x {INCREMENTS} increments, {ROUND_TRIPS} round trips); Python: bench/python_sync.py"
    );
    println!("RawLock: {} bytes, align {}", RawLock::SIZE, RawLock::ALIGN);
    row(
        "RawLock lock+unlock (ns)",
        ours,
        "ns",
        "raw robust pthread mutex",
        raw,
        "target <= 1.05",
    );
    row(
        "named Lock lock+unlock (ns)",
        named,
        "ns",
        "raw robust pthread mutex",
        raw,
        "target <= 1.05",
    );
    row(
        "RawLock lock+unlock (ns)",
        ours,
        "ns",
        "std::sync::Mutex (in-process only)",
        std_ns,
        "for reference",
    );
    row(
        "two processes, locked increments",
        incr_ours,
        "ops/s",
        "raw robust pthread mutex",
        incr_raw,
        "target >= 0.95",
    );
    row(
        "RawEvent ping-pong round trip",
        rtt_event,
        "us",
        "raw futex ping-pong",
        rtt_futex,
        "target <= 1.0",
    );
    row(
        "RawEvent ping-pong round trip",
        rtt_event,
        "us",
        "raw futex ping-pong, same 100-read spin",
        rtt_futex_spin,
        "like for like",
    );
    if let Some(lock_py) = py("python_lock_ns") {
        row(
            "Python Lock acquire+release / RawLock",
            lock_py,
            "ns",
            "RawLock lock+unlock",
            ours,
            "target >= 10 (speed-up)",
        );
    }
    if let Some(incr_py) = py("python_incr_ops") {
        row(
            "RawLock increments / Python get_lock()",
            incr_ours,
            "ops/s",
            "Python with v.get_lock()",
            incr_py,
            "target >= 30",
        );
    }
    if let Some(rtt_py) = py("python_event_rtt_us") {
        row(
            "Python Event round trip / RawEvent",
            rtt_py,
            "us",
            "RawEvent ping-pong",
            rtt_event,
            "speed-up, for reference",
        );
    }
}
