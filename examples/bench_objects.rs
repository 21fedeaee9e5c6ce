//! Benchmarks of the Python-style objects and of segments, each figure
//! beside its baseline measured in the same run, with the ratio
//! (DESIGN.md §7).
//!
//! ```text
//! cargo run --release --example bench_objects
//! cargo run --release --example bench_objects -- increments  # sections whose name has it
//! ```
//!
//! The Python baselines come from `bench/python_objects.py`, run with the
//! machine's `python3`; without it, only the Rust figures and their Rust
//! baselines are printed. Every figure is the median of several repeats, and
//! the figures compared with each other take turns inside every repeat, so
//! that a busy machine slows them alike. Segments are created in `/dev/shm`
//! (or `$SHMSTRUCT_DIR`) under names with this process's id, and removed
//! again; the two-process figures re-execute this program as the second
//! process (`bench_objects child ...`), the snapshot figures as each of
//! their reader and writer processes.
//!
//! `SHMSTRUCT_BENCH_QUICK=1` shortens the snapshot figures' windows and
//! the uncontended increments, to check that they run; the figures are
//! then not worth comparing.

mod bench_common;

use std::ffi::CString;
use std::hint::black_box;
use std::ops::AddAssign;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench_common::{init_raw_robust, median, raw_lock, raw_unlock, Handshake, MappedFile};
use shmstruct::{Array, RawArray, SegmentOptions, SharedLayout, Value};

/// How many times each measurement is repeated; the median is reported.
const REPEATS: usize = 9;
/// Repeats of the two-process figures (each starts a process).
const PROCESS_REPEATS: usize = 9;
/// The bulk copy's size: 64 MiB of f64.
const BULK_BYTES: usize = 64 << 20;
/// Create/open/unlink cycles per repeat.
const CYCLES: usize = 500;
/// Opens per repeat in the open-time comparison.
const OPENS: usize = 500;
/// Points in the element-by-element array, as the Python script has.
const POINTS: usize = 1000;
/// Passes over the points per repeat (each a write and a read per element).
const POINT_PASSES: usize = 200;
/// Locked increments per process.
const INCREMENTS: u64 = 1_000_000;
/// The most reader processes of the snapshot figures.
const MAX_READERS: usize = 3;
/// How long each snapshot figure's readers read.
const READ_WINDOW: Duration = Duration::from_millis(200);

#[repr(C)]
#[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

/// Eight numbers: the leaf of a large descriptor.
#[repr(C)]
#[derive(SharedLayout, Clone, Copy)]
struct Leaf {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
    e: f64,
    f: f64,
    g: f64,
    h: f64,
}

/// Eight leaves.
#[repr(C)]
#[derive(SharedLayout, Clone, Copy)]
struct Branch {
    a: Leaf,
    b: Leaf,
    c: Leaf,
    d: Leaf,
    e: Leaf,
    f: Leaf,
    g: Leaf,
    h: Leaf,
}

/// Eight branches: 584 fields in all, every nested struct written out in
/// the descriptor (about 20 KB of it) for 4 KiB of data.
#[repr(C)]
#[derive(SharedLayout, Clone, Copy)]
struct Tree {
    a: Branch,
    b: Branch,
    c: Branch,
    d: Branch,
    e: Branch,
    f: Branch,
    g: Branch,
    h: Branch,
}

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return child(&args[2], Path::new(&args[3]), &args[4], args.get(5));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "shmstruct object benchmarks: medians of {REPEATS} repeats ({PROCESS_REPEATS} for two \
         processes), baselines from this run; load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if quick() {
        println!(
            "SHMSTRUCT_BENCH_QUICK: the snapshot and uncontended figures are one short repeat, \
             only to check that they run"
        );
    }
    // `bench_objects increments` runs only the sections whose name
    // contains "increments"; no argument runs them all.
    let only = args.get(1).map(String::as_str);
    let wanted = |section: &str| only.map_or(true, |only| section.contains(only));
    let python = if [
        "value_increments",
        "points_element_by_element",
        "segment_cycle",
    ]
    .into_iter()
    .any(wanted)
    {
        python_baselines()
    } else {
        Err("no chosen section compares with Python".to_owned())
    };
    let python = python.as_ref();
    type Section<'a> = (&'a str, &'a dyn Fn() -> Result<(), BoxError>);
    let sections: [Section; 7] = [
        ("value_increments", &|| value_increments(python)),
        ("uncontended_increments", &uncontended_increments),
        ("snapshot_reads", &snapshot_reads),
        ("points_element_by_element", &|| {
            points_element_by_element(python)
        }),
        ("bulk_copy", &bulk_copy),
        ("segment_cycle", &|| segment_cycle(python)),
        ("open_time", &open_time),
    ];
    if !sections.iter().any(|(section, _)| wanted(section)) {
        let names: Vec<&str> = sections.iter().map(|(section, _)| *section).collect();
        return Err(format!(
            "no section's name contains {:?}; the sections: {}",
            only.unwrap_or_default(),
            names.join(", ")
        )
        .into());
    }
    for (section, run) in sections {
        if wanted(section) {
            println!();
            run()?;
        }
    }
    if let Err(why) = python {
        println!();
        println!("Python baselines missing: {why}");
    }
    Ok(())
}

fn gb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e9
}

fn micros_per(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / count as f64
}

/// A segment name unique to this process.
fn name(tag: &str) -> String {
    format!("bench-{}-{tag}", std::process::id())
}

/// One figure beside its baseline: `ratio` is how many times better the
/// figure is (whichever way "better" goes for its unit).
fn row(what: &str, value: f64, unit: &str, baseline: &str, base: f64, ratio: f64, target: &str) {
    println!(
        "  {what:<40} {value:>9.1} {unit:<5} | {baseline:<40} {base:>9.1} {unit:<5} | {ratio:>6.2}x {target}"
    );
}

// ---- two processes incrementing a locked Value<i32> ----

// Offsets in the control file of the two-process figures; the handshake's
// ready, go and done words are at 0, 4 and 8.
const HANDSHAKE: usize = 0;
const MUTEX: usize = 64;
const COUNTER: usize = 192;
const CONTROL_LEN: usize = 4096;

/// The control file: a plain `/dev/shm` file (or in `$SHMSTRUCT_DIR`),
/// mapped shared, with the start/stop words and the baseline's raw robust
/// mutex and counter.
impl MappedFile {
    fn create_control() -> Result<MappedFile, BoxError> {
        let path = SegmentOptions::new().get_dir().join(name("control"));
        Ok(MappedFile::create(path, CONTROL_LEN)?)
    }

    fn handshake(&self) -> Handshake<'_> {
        Handshake::at(self, HANDSHAKE)
    }

    fn counter(&self) -> &AtomicU64 {
        self.atomic_u64(COUNTER)
    }

    fn mutex(&self) -> *mut libc::pthread_mutex_t {
        self.at(MUTEX)
    }

    /// Zeroes the words and the counter and initialises the raw mutex; no
    /// child runs.
    fn reset(&self) {
        self.zero();
        init_raw_robust(self.mutex());
    }
}

/// INCREMENTS increments of the raw counter under the raw mutex.
fn increment_raw(control: &MappedFile) {
    let mutex = control.mutex();
    let counter = control.counter();
    for _ in 0..INCREMENTS {
        raw_lock(mutex);
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        raw_unlock(mutex);
    }
}

/// INCREMENTS increments of the value through `value.lock()`.
fn increment_value<T: SharedLayout + AddAssign + From<u8>>(
    value: &Value<T>,
) -> Result<(), BoxError> {
    for _ in 0..INCREMENTS {
        let mut guard = value.lock()?;
        *guard += T::from(1);
    }
    Ok(())
}

/// A process this program started: the second incrementing process, or a
/// reader or writer of the snapshot figures.
fn child(mode: &str, control: &Path, value: &str, slot: Option<&String>) -> Result<(), BoxError> {
    let control = MappedFile::open(control)?;
    if let Some(slot) = slot {
        let value = Value::<Eight>::open(value)?;
        return snapshot_child(mode, &control, &value, slot.parse()?);
    }
    increment_child(mode, &control, value)
}

/// The second incrementing process: opens the value, says it is ready,
/// waits for "go", increments, says it is done.
fn increment_child(mode: &str, control: &MappedFile, value: &str) -> Result<(), BoxError> {
    let value = match mode {
        "incr-value" => Some(Value::<i32>::open(value)?),
        "incr-raw" => None,
        _ => return Err(format!("unknown child mode {mode}").into()),
    };
    control.handshake().child(|| match &value {
        Some(value) => increment_value(value),
        None => {
            increment_raw(control);
            Ok(())
        }
    })
}

/// Kills and reaps the child if the parent gives up early.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// One run of two processes × INCREMENTS: ops per second.
fn two_processes(control: &MappedFile, value: Option<&Value<i32>>) -> Result<f64, BoxError> {
    control.reset();
    if let Some(value) = value {
        *value.lock()? = 0;
    }
    let mode = if value.is_some() {
        "incr-value"
    } else {
        "incr-raw"
    };
    let value_name = value.map_or("-", |value| value.name());
    let mut child = ChildGuard(
        Command::new(std::env::current_exe()?)
            .args(["child", mode])
            .arg(control.path())
            .arg(value_name)
            .stdin(Stdio::null())
            .spawn()?,
    );
    let handshake = control.handshake();
    let start = handshake.go();
    match value {
        Some(value) => increment_value(value)?,
        None => increment_raw(control),
    }
    handshake.wait_done();
    let elapsed = start.elapsed();
    if !child.0.wait()?.success() {
        return Err("the incrementing child failed".into());
    }
    let total = match value {
        Some(value) => u64::try_from(value.get()?)?,
        None => control.counter().load(Ordering::Relaxed),
    };
    assert_eq!(total, 2 * INCREMENTS, "every increment counted once");
    Ok((2 * INCREMENTS) as f64 / elapsed.as_secs_f64())
}

/// Two processes incrementing a locked `Value<i32>` through `value.lock()`,
/// against the raw robust pthread mutex on a plain counter and against
/// Python's `with v.get_lock(): v.value += 1`.
fn value_increments(python: Result<&Python, &String>) -> Result<(), BoxError> {
    let control = MappedFile::create_control()?;
    let value = Value::builder(&name("counter")).create(0i32)?;
    let (mut ours, mut raw) = (vec![], vec![]);
    for _ in 0..PROCESS_REPEATS {
        ours.push(two_processes(&control, Some(&value))?);
        raw.push(two_processes(&control, None)?);
    }
    let (ours, raw) = (median(ours), median(raw));
    println!("two processes x {INCREMENTS} locked increments of one counter (ops/s, in millions)");
    row(
        "Value<i32>: *value.lock()? += 1",
        ours / 1e6,
        "M/s",
        "raw robust pthread mutex, plain counter",
        raw / 1e6,
        ours / raw,
        "(target >= 0.95x)",
    );
    if let Ok(python) = python {
        row(
            "Value<i32>: *value.lock()? += 1",
            ours / 1e6,
            "M/s",
            "Python with v.get_lock(): v.value += 1",
            python.value_incr_ops_per_s / 1e6,
            ours / python.value_incr_ops_per_s,
            "(target >= 30x)",
        );
    }
    Ok(())
}

// ---- uncontended lock() increments ----

fn quick() -> bool {
    std::env::var_os("SHMSTRUCT_BENCH_QUICK").is_some()
}

/// One process incrementing a `Value<u64>` through `lock()`, against the
/// raw robust mutex on a plain counter: what the guard adds to the mutex,
/// the seqlock's sequence word included; and the same on a value whose
/// lock this process has read a snapshot of, whose every `lock()` then
/// also checks for snapshot copies in flight (none here).
fn uncontended_increments() -> Result<(), BoxError> {
    let control = MappedFile::create_control()?;
    control.reset();
    let plain = Value::builder(&name("incr-plain")).create(0u64)?;
    let gated = Value::builder(&name("incr-gated")).create(0u64)?;
    gated.snapshot()?;
    let repeats = if quick() { 1 } else { REPEATS };
    let per_op = |start: Instant| start.elapsed().as_nanos() as f64 / INCREMENTS as f64;
    let (mut raw, mut ours, mut ours_gated) = (vec![], vec![], vec![]);
    for _ in 0..repeats {
        let start = Instant::now();
        increment_raw(&control);
        raw.push(per_op(start));
        let start = Instant::now();
        increment_value(&plain)?;
        ours.push(per_op(start));
        let start = Instant::now();
        increment_value(&gated)?;
        ours_gated.push(per_op(start));
    }
    let expected = INCREMENTS * repeats as u64;
    assert_eq!((plain.get()?, gated.get()?), (expected, expected));
    let raw = median(raw);
    println!("one process, uncontended lock + increment + unlock (ns per increment)");
    for (what, ns) in [
        ("Value<u64>: *value.lock()? += 1", median(ours)),
        (
            "the same, snapshots read in this process",
            median(ours_gated),
        ),
    ] {
        row(
            what,
            ns,
            "ns",
            "raw robust pthread mutex, plain counter",
            raw,
            raw / ns,
            "(target >= 0.95x)",
        );
    }
    Ok(())
}

// ---- snapshot reads against lock()+copy ----

/// The snapshot figures' value: 64 bytes.
type Eight = [u64; 8];

// Offsets in the snapshot figures' control file: "go" and "stop", then a
// slot per child (readers 0..MAX_READERS, then the writer) with its
// "ready" and "done" words, its count of reads or writes and the
// nanoseconds it took.
const GO: usize = 0;
const STOP: usize = 4;
const SLOTS: usize = 64;
const SLOT_LEN: usize = 64;

fn slot(index: usize) -> usize {
    SLOTS + index * SLOT_LEN
}

fn raise(word: &std::sync::atomic::AtomicU32) {
    // Release: publishes this process's earlier writes (a child's count).
    word.store(1, Ordering::Release);
}

fn is_raised(word: &std::sync::atomic::AtomicU32) -> bool {
    // Acquire: pairs with `raise`.
    word.load(Ordering::Acquire) == 1
}

/// A reader or writer process of the snapshot figures: reads with `mode`
/// (`snapshot` or `get`), or writes (`write`), from "go" until "stop",
/// then reports its count and time in its slot.
fn snapshot_child(
    mode: &str,
    control: &MappedFile,
    value: &Value<Eight>,
    index: usize,
) -> Result<(), BoxError> {
    let at = slot(index);
    // Decided once, so that the loop times the reads, not string compares.
    let (writes, snapshots) = (mode == "write", mode == "snapshot");
    let read = |value: &Value<Eight>| {
        if snapshots {
            value.snapshot()
        } else {
            value.get()
        }
    };
    // One read first: the first snapshot in a process opens its gate.
    read(value)?;
    raise(control.atomic_u32(at));
    while !is_raised(control.atomic_u32(GO)) {
        std::thread::yield_now();
    }
    let start = Instant::now();
    let mut count = 0u64;
    let mut next = 0u64;
    while !is_raised(control.atomic_u32(STOP)) {
        for _ in 0..64 {
            if writes {
                next += 1;
                *value.lock()? = [next; 8];
            } else {
                let seen = black_box(read(value)?);
                assert_eq!(seen[0], seen[7], "a whole value");
            }
        }
        count += 64;
    }
    let nanos = u64::try_from(start.elapsed().as_nanos())?;
    // Relaxed: published by the Release of "done".
    control.atomic_u64(at + 8).store(count, Ordering::Relaxed);
    control.atomic_u64(at + 16).store(nanos, Ordering::Relaxed);
    raise(control.atomic_u32(at + 4));
    Ok(())
}

/// One run: `readers` processes reading `value` with `mode` for
/// `READ_WINDOW`, beside a writer process if `writer`; the readers' reads
/// per second, summed.
fn snapshot_run(
    control: &MappedFile,
    value: &Value<Eight>,
    mode: &str,
    readers: usize,
    writer: bool,
) -> Result<f64, BoxError> {
    control.zero();
    let mut children = vec![];
    let roles = (0..readers)
        .map(|index| (mode, index))
        .chain(writer.then_some(("write", MAX_READERS)));
    for (role, index) in roles {
        children.push(ChildGuard(
            Command::new(std::env::current_exe()?)
                .args(["child", role])
                .arg(control.path())
                .arg(value.name())
                .arg(index.to_string())
                .stdin(Stdio::null())
                .spawn()?,
        ));
    }
    let indexes: Vec<usize> = (0..readers).chain(writer.then_some(MAX_READERS)).collect();
    let wait_all = |offset: usize| -> Result<(), BoxError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        for &index in &indexes {
            while !is_raised(control.atomic_u32(slot(index) + offset)) {
                if Instant::now() > deadline {
                    return Err("a snapshot child did not answer".into());
                }
                std::thread::yield_now();
            }
        }
        Ok(())
    };
    wait_all(0)?;
    raise(control.atomic_u32(GO));
    let window = if quick() {
        READ_WINDOW / 10
    } else {
        READ_WINDOW
    };
    std::thread::sleep(window);
    raise(control.atomic_u32(STOP));
    wait_all(4)?;
    for mut child in children {
        if !child.0.wait()?.success() {
            return Err("a snapshot child failed".into());
        }
    }
    let rate = |index: usize| {
        // Relaxed: ordered after the child's writes by `wait_all`'s Acquire.
        let count = control.atomic_u64(slot(index) + 8).load(Ordering::Relaxed);
        let nanos = control.atomic_u64(slot(index) + 16).load(Ordering::Relaxed);
        count as f64 * 1e9 / nanos.max(1) as f64
    };
    Ok((0..readers).map(rate).sum())
}

/// Reads of a 64-byte `Value<[u64; 8]>` by 1 to 3 reader processes, with
/// `snapshot()` and with `get()` (lock() + copy), with no writer and with
/// one writer process updating it through `lock()` continuously.
fn snapshot_reads() -> Result<(), BoxError> {
    let control = MappedFile::create_control()?;
    let value = Value::builder(&name("snapshot")).create([0u64; 8])?;
    let repeats = if quick() { 1 } else { PROCESS_REPEATS };
    for writer in [false, true] {
        // [readers - 1] -> (snapshot samples, get samples)
        let mut samples: Vec<(Vec<f64>, Vec<f64>)> = vec![(vec![], vec![]); MAX_READERS];
        for _ in 0..repeats {
            for (readers, (snapshot, get)) in (1..=MAX_READERS).zip(samples.iter_mut()) {
                snapshot.push(snapshot_run(&control, &value, "snapshot", readers, writer)?);
                get.push(snapshot_run(&control, &value, "get", readers, writer)?);
            }
        }
        println!(
            "reads of a 64-byte Value<[u64; 8]> by reader processes, {} (reads/s summed, \
             in millions)",
            if writer {
                "one writer process updating it through lock() all along"
            } else {
                "no writer"
            }
        );
        let mut one_reader = None;
        for (readers, (snapshot, get)) in (1..=MAX_READERS).zip(samples) {
            let (snapshot, get) = (median(snapshot), median(get));
            let plural = if readers == 1 { "" } else { "s" };
            row(
                &format!("snapshot(), {readers} reader{plural}"),
                snapshot / 1e6,
                "M/s",
                &format!("get() (lock()+copy), {readers} reader{plural}"),
                get / 1e6,
                snapshot / get,
                "(target >= 2x)",
            );
            let one = *one_reader.get_or_insert(snapshot);
            if readers > 1 {
                row(
                    &format!("snapshot(), {readers} readers"),
                    snapshot / 1e6,
                    "M/s",
                    "snapshot(), 1 reader",
                    one / 1e6,
                    snapshot / one,
                    "(scaling; the machine's cores bound it)",
                );
            }
        }
    }
    Ok(())
}

// ---- Array<Point> element by element ----

/// Writing then reading every `Point` of a 1000-element `Array`, one
/// element at a time: with `get`/`set` (each takes the lock, as every
/// access to Python's synchronized array does) and with one `lock()` guard
/// held for the whole loop; `RawArray` (no lock) for reference; against
/// Python's `Array(Point, 1000)`.
fn points_element_by_element(python: Result<&Python, &String>) -> Result<(), BoxError> {
    let points = Array::<Point>::builder(&name("points")).zeroed(POINTS)?;
    let raw_points = RawArray::<Point>::builder(&name("rawpoints")).zeroed(POINTS)?;
    let expected: f64 = (0..POINTS).map(|i| i as f64 * 0.25).sum();
    let per_element =
        |start: Instant| start.elapsed().as_nanos() as f64 / (POINTS * POINT_PASSES) as f64;
    let (mut each, mut guarded, mut unlocked) = (vec![], vec![], vec![]);
    for _ in 0..REPEATS {
        let start = Instant::now();
        set_get_passes(|i, p| points.set(i, p), |i| points.get(i), expected)?;
        each.push(per_element(start));

        let start = Instant::now();
        for _ in 0..POINT_PASSES {
            let mut guard = points.lock()?;
            for (i, slot) in guard.iter_mut().enumerate() {
                *slot = point(i);
            }
            // The reads below must read the memory, not the values just
            // written.
            black_box(&mut *guard);
            let mut total = 0.0;
            for i in 0..POINTS {
                let p = guard[black_box(i)];
                total += p.x + p.y;
            }
            assert_eq!(black_box(total), expected);
        }
        guarded.push(per_element(start));

        let start = Instant::now();
        set_get_passes(|i, p| raw_points.set(i, p), |i| raw_points.get(i), expected)?;
        unlocked.push(per_element(start));
    }
    let (each, guarded, unlocked) = (median(each), median(guarded), median(unlocked));
    println!(
        "write then read each Point of an Array of {POINTS}, one element at a time \
         (ns per element: one write and one read)"
    );
    let lines = [
        ("Array get/set (lock per access)", each),
        ("Array, one lock() guard for the loop", guarded),
        ("RawArray get/set (no lock, reference)", unlocked),
    ];
    for (what, ns) in lines {
        match python {
            Ok(python) => row(
                what,
                ns,
                "ns",
                "Python Array(Point) element-wise",
                python.array_points_ns_per_element,
                python.array_points_ns_per_element / ns,
                "faster",
            ),
            Err(_) => println!("  {what:<40} {ns:>9.1} ns"),
        }
    }
    Ok(())
}

/// POINT_PASSES passes over the points, each writing every point with
/// `set`, then reading every one back with `get` and checking their sum.
fn set_get_passes(
    set: impl Fn(usize, Point) -> shmstruct::Result<()>,
    get: impl Fn(usize) -> shmstruct::Result<Point>,
    expected: f64,
) -> Result<(), BoxError> {
    for _ in 0..POINT_PASSES {
        for i in 0..POINTS {
            set(i, point(i))?;
        }
        let mut total = 0.0;
        for i in 0..POINTS {
            let p = get(black_box(i))?;
            total += p.x + p.y;
        }
        assert_eq!(black_box(total), expected);
    }
    Ok(())
}

/// The Python script's values.
fn point(i: usize) -> Point {
    let i = i as f64;
    Point {
        x: i * 0.5,
        y: -i * 0.25,
    }
}

// ---- bulk copies ----

/// Bulk copies of a 64 MiB `Array<f64>` in and out, against `memcpy`
/// between two `Vec`s of the same size.
fn bulk_copy() -> Result<(), BoxError> {
    let len = BULK_BYTES / size_of::<f64>();
    let array = Array::<f64>::builder(&name("bulk")).zeroed(len)?;
    let source: Vec<f64> = (0..len).map(|i| i as f64).collect();
    let mut destination = vec![0.0f64; len];
    // Fault every page in once, so that no repeat pays for it.
    array.copy_from_slice(&source)?;
    array.copy_to_slice(&mut destination)?;
    destination.copy_from_slice(&source);

    let (mut memcpy, mut copy_in, mut copy_out) = (vec![], vec![], vec![]);
    for _ in 0..REPEATS {
        let start = Instant::now();
        destination.copy_from_slice(black_box(&source));
        black_box(&mut destination);
        memcpy.push(gb_per_s(BULK_BYTES, start.elapsed()));

        let start = Instant::now();
        array.copy_from_slice(black_box(&source))?;
        copy_in.push(gb_per_s(BULK_BYTES, start.elapsed()));

        let start = Instant::now();
        array.copy_to_slice(black_box(&mut destination))?;
        black_box(&mut destination);
        copy_out.push(gb_per_s(BULK_BYTES, start.elapsed()));
    }
    assert_eq!(destination, source, "the round trip kept every value");
    let memcpy = median(memcpy);
    println!("bulk copy of a 64 MiB Array<f64> (GB/s)");
    for (what, rate) in [
        ("copy_from_slice (into the segment)", median(copy_in)),
        ("copy_to_slice (out of the segment)", median(copy_out)),
    ] {
        row(
            what,
            rate,
            "GB/s",
            "memcpy (Vec::copy_from_slice) of 64 MiB",
            memcpy,
            rate / memcpy,
            "(target >= 0.95x)",
        );
    }
    Ok(())
}

// ---- the segment cycle ----

/// The steps of one cycle, timed separately for the breakdown.
const STEPS: [&str; 6] = [
    "create (open, reserve, map, header)",
    "type-checked open (open, check, map)",
    "first write through the opener",
    "drop the opener (unmap)",
    "unlink (check identity, unlink)",
    "drop the creator (unmap, frees it)",
];

/// One shmstruct cycle: create + type-checked open + a write + unlink of
/// a 4 KiB `Array<u8>` (with its own lock); the time of each step is added
/// to `steps` when given.
fn shmstruct_cycle(name: &str, steps: Option<&mut [Duration; 6]>) -> Result<(), BoxError> {
    let mut stamps = [Instant::now(); 7];
    let created = Array::<u8>::builder(name).zeroed(4096)?;
    stamps[1] = Instant::now();
    let opened = Array::<u8>::open(name)?;
    stamps[2] = Instant::now();
    opened.set(0, 1)?;
    stamps[3] = Instant::now();
    drop(opened);
    stamps[4] = Instant::now();
    created.unlink()?;
    stamps[5] = Instant::now();
    drop(created);
    stamps[6] = Instant::now();
    if let Some(steps) = steps {
        for (step, pair) in steps.iter_mut().zip(stamps.windows(2)) {
            *step += pair[1] - pair[0];
        }
    }
    Ok(())
}

/// `mmap` of `len` bytes of the open file `fd`, read-write and shared,
/// wherever the kernel places it: the bare calls' mapping.
fn bare_map(fd: libc::c_int, len: usize) -> *mut u8 {
    let protection = libc::PROT_READ | libc::PROT_WRITE;
    // SAFETY: a new shared mapping of an open file, placed by the kernel.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            protection,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED);
    map.cast::<u8>()
}

/// The same cycle as bare system calls, without shmstruct, for a file of
/// `size` bytes whose data starts at `data_offset`: the floor under it.
/// Create: `open(O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)`,
/// `fstat` (the identity), `posix_fallocate`, `mmap`, `close`, writing 128
/// header bytes; open: `open(O_NOFOLLOW | O_CLOEXEC)`, `fstat` (the size),
/// `mmap`, `close`, reading the 128 bytes back; a write; `munmap`;
/// `lstat` + `unlink`; `munmap`.
fn raw_cycle(path: &CString, size: usize, data_offset: usize, steps: Option<&mut [Duration; 6]>) {
    let mut stamps = [Instant::now(); 7];
    let header = [7u8; 128];
    let flags = libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `path` is a NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CREAT | libc::O_EXCL, 0o600) };
    assert!(
        fd >= 0,
        "creating {path:?}: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `stat` is writable.
    assert_eq!(unsafe { libc::fstat(fd, &mut stat) }, 0);
    let identity = (stat.st_dev, stat.st_ino);
    // SAFETY: plain integer arguments on an open descriptor.
    let status = unsafe { libc::posix_fallocate(fd, 0, size as libc::off_t) };
    assert_eq!(status, 0);
    let created = bare_map(fd, size);
    // SAFETY: `fd` is open and no longer used.
    unsafe { libc::close(fd) };
    // SAFETY: the mapping is `size` >= 128 bytes, only this process maps it.
    unsafe { std::ptr::copy_nonoverlapping(header.as_ptr(), created, header.len()) };
    stamps[1] = Instant::now();

    // SAFETY: `path` is a NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), flags) };
    assert!(fd >= 0);
    // SAFETY: `fd` is open and `stat` is writable.
    assert_eq!(unsafe { libc::fstat(fd, &mut stat) }, 0);
    let len = usize::try_from(stat.st_size).expect("a size");
    assert!(len >= size);
    let opened = bare_map(fd, len);
    // SAFETY: `fd` is open and no longer used.
    unsafe { libc::close(fd) };
    let mut read = [0u8; 128];
    // SAFETY: the mapping is `len` >= 128 bytes; `read` is a local buffer.
    unsafe { std::ptr::copy_nonoverlapping(opened, read.as_mut_ptr(), read.len()) };
    assert_eq!(black_box(read), header);
    stamps[2] = Instant::now();
    let data = opened.wrapping_add(data_offset);
    // SAFETY: `data_offset` < `size` <= `len`: inside the mapping, which only
    // this process maps.
    unsafe { data.write_volatile(1) };
    stamps[3] = Instant::now();
    // SAFETY: the opener's mapping, not used again.
    assert_eq!(unsafe { libc::munmap(opened.cast(), len) }, 0);
    stamps[4] = Instant::now();
    // SAFETY: `path` is a NUL-terminated string; `stat` is writable.
    assert_eq!(unsafe { libc::lstat(path.as_ptr(), &mut stat) }, 0);
    assert_eq!((stat.st_dev, stat.st_ino), identity, "still our file");
    // SAFETY: `path` is a NUL-terminated string.
    assert_eq!(unsafe { libc::unlink(path.as_ptr()) }, 0);
    stamps[5] = Instant::now();
    // SAFETY: the creator's mapping, not used again.
    assert_eq!(unsafe { libc::munmap(created.cast(), size) }, 0);
    stamps[6] = Instant::now();
    if let Some(steps) = steps {
        for (step, pair) in steps.iter_mut().zip(stamps.windows(2)) {
            *step += pair[1] - pair[0];
        }
    }
}

/// Create + type-checked open + one write + unlink of a 4 KiB segment,
/// against the bare system calls of the same cycle and against Python's
/// `SharedMemory` create/attach/write/close/unlink; then where the time
/// goes, step by step.
fn segment_cycle(python: Result<&Python, &String>) -> Result<(), BoxError> {
    let name = name("cycle");
    let dir = SegmentOptions::new().get_dir();
    let _cleanup = RemoveOnDrop(dir.join(&name));
    let raw_path = dir.join(format!("{name}-raw"));
    let _raw_cleanup = RemoveOnDrop(raw_path.clone());
    let raw_path = CString::new(raw_path.into_os_string().into_encoded_bytes())?;
    // The raw cycle uses the segment's own size and data offset.
    let (size, data_offset) = {
        let created = Array::<u8>::builder(&name).zeroed(4096)?;
        let size = std::fs::metadata(dir.join(&name))?.size() as usize;
        created.unlink()?;
        (size, size - 4096)
    };
    let (mut ours, mut raw) = (vec![], vec![]);
    let (mut our_steps, mut raw_steps) = ([Duration::ZERO; 6], [Duration::ZERO; 6]);
    for _ in 0..REPEATS {
        let start = Instant::now();
        for _ in 0..CYCLES {
            shmstruct_cycle(&name, None)?;
        }
        ours.push(micros_per(start.elapsed(), CYCLES));
        let start = Instant::now();
        for _ in 0..CYCLES {
            raw_cycle(&raw_path, size, data_offset, None);
        }
        raw.push(micros_per(start.elapsed(), CYCLES));
        for _ in 0..CYCLES {
            shmstruct_cycle(&name, Some(&mut our_steps))?;
            raw_cycle(&raw_path, size, data_offset, Some(&mut raw_steps));
        }
    }
    let (ours, raw) = (median(ours), median(raw));
    println!(
        "create + type-checked open + write + unlink of a 4 KiB segment (us per cycle; \
         Array<u8> of 4096 with its lock, {size} bytes in all)"
    );
    row(
        "shmstruct",
        ours,
        "us",
        "bare system calls (the floor)",
        raw,
        raw / ours,
        "(1x = at the floor)",
    );
    match python {
        Ok(python) => {
            row(
                "shmstruct",
                ours,
                "us",
                "Python SharedMemory (resource tracker)",
                python.shm_cycle_us,
                python.shm_cycle_us / ours,
                "faster (target >= 5x)",
            );
            row(
                "shmstruct",
                ours,
                "us",
                "Python SharedMemory, tracker no-ops",
                python.shm_cycle_untracked_us,
                python.shm_cycle_untracked_us / ours,
                "faster (reference)",
            );
            row(
                "bare system calls (best possible)",
                raw,
                "us",
                "Python SharedMemory (resource tracker)",
                python.shm_cycle_us,
                python.shm_cycle_us / raw,
                "faster (the most any library gets)",
            );
        }
        Err(_) => println!("  (Python baselines missing)"),
    }
    let count = (REPEATS * CYCLES) as f64;
    println!(
        "  where the time goes (mean us per step over {} cycles, timed one by one):",
        REPEATS * CYCLES
    );
    for ((step, our), bare) in STEPS.iter().zip(our_steps).zip(raw_steps) {
        let (our, bare) = (
            our.as_secs_f64() * 1e6 / count,
            bare.as_secs_f64() * 1e6 / count,
        );
        println!(
            "    {step:<40} shmstruct {our:>6.2} us   bare {bare:>6.2} us   +{:>5.2} us",
            our - bare
        );
    }
    Ok(())
}

// ---- open time against data and descriptor size ----

/// Type-checked open (+ drop) of arrays with small and large data and
/// small and large descriptors: the check reads the header and the
/// descriptor, never the data.
fn open_time() -> Result<(), BoxError> {
    let small = Array::<f64>::builder(&name("open-small")).zeroed(4096 / 8)?;
    let large = Array::<f64>::builder(&name("open-large")).zeroed(BULK_BYTES / 8)?;
    let point = Array::<Point>::builder(&name("open-point")).zeroed(256)?;
    let tree = Array::<Tree>::builder(&name("open-tree")).zeroed(1)?;
    fn time_opens<T: SharedLayout>(name: &str) -> Result<f64, BoxError> {
        let start = Instant::now();
        for _ in 0..OPENS {
            drop(black_box(Array::<T>::open(name)?));
        }
        Ok(micros_per(start.elapsed(), OPENS))
    }
    /// The bare system calls of an open + drop: `open`, `fstat`, `mmap`
    /// of the whole file, reading the first 128 bytes, `munmap`.
    fn time_bare_opens(path: &Path) -> Result<f64, BoxError> {
        let path = CString::new(path.as_os_str().as_encoded_bytes())?;
        let start = Instant::now();
        for _ in 0..OPENS {
            // SAFETY: `path` is a NUL-terminated string.
            let fd = unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_RDWR | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            };
            assert!(fd >= 0);
            // SAFETY: an all-zero `stat` is a valid value of this C struct.
            let mut stat: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: `fd` is open and `stat` is writable.
            assert_eq!(unsafe { libc::fstat(fd, &mut stat) }, 0);
            let len = usize::try_from(stat.st_size)?;
            let map = bare_map(fd, len);
            // SAFETY: `fd` is open and no longer used.
            unsafe { libc::close(fd) };
            let mut header = [0u8; 128];
            // SAFETY: the file is longer than 128 bytes; `header` is local.
            unsafe { std::ptr::copy_nonoverlapping(map, header.as_mut_ptr(), 128) };
            black_box(header);
            // SAFETY: this loop's own mapping, not used again.
            assert_eq!(unsafe { libc::munmap(map.cast(), len) }, 0);
        }
        Ok(micros_per(start.elapsed(), OPENS))
    }
    let mut samples = [vec![], vec![], vec![], vec![], vec![], vec![]];
    for _ in 0..REPEATS {
        samples[0].push(time_opens::<f64>(small.name())?);
        samples[1].push(time_opens::<f64>(large.name())?);
        samples[2].push(time_opens::<Point>(point.name())?);
        samples[3].push(time_opens::<Tree>(tree.name())?);
        samples[4].push(time_bare_opens(small.path())?);
        samples[5].push(time_bare_opens(large.path())?);
    }
    let [small_us, large_us, point_us, tree_us, bare_small, bare_large] = samples.map(median);
    let descriptor = |layout: &shmstruct::Layout| layout.encode().len();
    println!("type-checked open + drop of an Array (us): data size against descriptor size");
    row(
        "Array<f64>, 64 MiB of data",
        large_us,
        "us",
        "Array<f64>, 4 KiB of data",
        small_us,
        small_us / large_us,
        "(1x = independent of the data size)",
    );
    row(
        "bare open+fstat+mmap+munmap, 64 MiB",
        bare_large,
        "us",
        "bare open+fstat+mmap+munmap, 4 KiB",
        bare_small,
        bare_small / bare_large,
        "(the kernel's share)",
    );
    row(
        "Array<f64> 64 MiB, above the bare calls",
        large_us - bare_large,
        "us",
        "Array<f64> 4 KiB, above the bare calls",
        small_us - bare_small,
        (small_us - bare_small) / (large_us - bare_large),
        "(shmstruct's own share)",
    );
    row(
        &format!(
            "Array<Tree>, {} B descriptor",
            descriptor(<[Tree; 1]>::LAYOUT)
        ),
        tree_us,
        "us",
        &format!(
            "Array<Point>, {} B descriptor",
            descriptor(<[Point; 256]>::LAYOUT)
        ),
        point_us,
        point_us / tree_us,
        "(grows with the descriptor)",
    );
    Ok(())
}

// ---- Python ----

/// The medians `bench/python_objects.py` prints.
struct Python {
    value_incr_ops_per_s: f64,
    array_points_ns_per_element: f64,
    shm_cycle_us: f64,
    shm_cycle_untracked_us: f64,
}

/// Runs the Python baselines, or says why they are missing.
fn python_baselines() -> Result<Python, String> {
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "bench",
        "python_objects.py",
    ]
    .iter()
    .collect();
    let output = Command::new("python3")
        .arg(&script)
        .args(["--repeats", "5"])
        .output()
        .map_err(|error| format!("could not run python3: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("{} printed no JSON: {error}", script.display()))?;
    let number = |key: &str| {
        json.get(key)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| format!("{} printed no `{key}`", script.display()))
    };
    Ok(Python {
        value_incr_ops_per_s: number("value_incr_ops_per_s")?,
        array_points_ns_per_element: number("array_points_ns_per_element")?,
        shm_cycle_us: number("shm_cycle_us")?,
        shm_cycle_untracked_us: number("shm_cycle_untracked_us")?,
    })
}

/// Removes a segment file left behind if the benchmark stops early.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
