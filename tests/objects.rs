//! The one object type behind `Value`, `RawValue`, `Array`, `RawArray`,
//! `SharedBytes` and `RawBytes`: its builder, `open_or_create` raced by
//! real processes, keeping a segment past its creator, the lazy iterators
//! and in-place indexing, atomic types shared in place without a lock, and
//! what each face refuses.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use shmstruct::segment::LockMode;
use shmstruct::{
    Array, Error, Lock, RawArray, RawBytes, RawValue, SegmentInfo, SegmentOptions, SharedBytes,
    Value,
};
use support::{ChildGuard, RemoveOnDrop, TempDir};

/// The exit code of a racer that opened the segment rather than created it.
const OPENED: i32 = 3;
const RACERS: usize = 8;

#[test]
fn racing_processes_open_or_create_one_segment() {
    if support::role().is_some() {
        let go = PathBuf::from(support::arg("GO"));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !go.exists() {
            assert!(std::time::Instant::now() < deadline, "never told to go");
            std::thread::sleep(Duration::from_micros(200));
        }
        // Kept: a creator that is done first must not take the segment
        // away from the racers still opening it.
        let counter = Value::<u64>::builder(&support::arg("NAME"))
            .dir(support::arg("DIR"))
            .keep(true)
            .open_or_create(1000)
            .expect("opened or created");
        *counter.lock().expect("locking") += 1;
        let created = counter.is_creator();
        drop(counter);
        std::process::exit(if created { 0 } else { OPENED });
    }
    let test = "racing_processes_open_or_create_one_segment";
    let dir = TempDir::new("ooc");
    let name = support::unique_name("ooc");
    let go = dir.0.join("go");
    let mut racers: Vec<ChildGuard> = (0..RACERS)
        .map(|_| {
            support::spawn_role(
                test,
                "racer",
                &[
                    ("NAME", &name),
                    ("DIR", dir.0.to_str().expect("utf-8")),
                    ("GO", go.to_str().expect("utf-8")),
                ],
            )
        })
        .collect();
    std::fs::write(&go, b"").expect("go");
    let codes: Vec<Option<i32>> = racers
        .iter_mut()
        .map(|racer| racer.wait_timeout(Duration::from_secs(60)).code())
        .collect();
    let created = codes.iter().filter(|&&code| code == Some(0)).count();
    let opened = codes.iter().filter(|&&code| code == Some(OPENED)).count();
    assert_eq!((created, opened), (1, RACERS - 1), "exit codes {codes:?}");
    // One segment, which every racer incremented once.
    let counter = Value::<u64>::builder(&name)
        .dir(&dir.0)
        .open()
        .expect("the segment");
    assert_eq!(counter.get().expect("reading"), 1000 + RACERS as u64);
}

#[test]
fn open_or_create_opens_what_exists_and_checks_it() {
    let dir = TempDir::new("ooc-check");
    let value = |name: &str| Value::<i32>::builder(name).dir(&dir.0);
    let n = value("n").open_or_create(7).expect("created");
    assert!(n.is_creator());
    let again = value("n").open_or_create(8).expect("opened");
    assert!(!again.is_creator());
    assert_eq!(again.get().expect("reading"), 7, "not overwritten");
    // Another type or lock choice is an error, not a second segment.
    let error = Value::<f32>::builder("n").dir(&dir.0).open_or_create(1.0);
    assert!(
        matches!(error, Err(Error::LayoutMismatch { .. })),
        "{error:?}"
    );
    let error = RawValue::<i32>::builder("n").dir(&dir.0).open_or_create(1);
    assert!(
        matches!(error, Err(Error::LockModeMismatch { .. })),
        "{error:?}"
    );
    // An array keeps its length, a byte string its capacity and value.
    let array = |name: &str| Array::<u16>::builder(name).dir(&dir.0);
    let a = array("a").open_or_create(&[1, 2, 3]).expect("a");
    let b = array("a").open_or_create(&[9]).expect("b");
    assert_eq!((b.len(), b.to_vec().expect("copying")), (3, vec![1, 2, 3]));
    let bytes = |name: &str| RawBytes::builder(name).dir(&dir.0);
    let s = bytes("s").open_or_create(b"hello").expect("s");
    let t = bytes("s").open_or_create(b"hi").expect("t");
    assert_eq!((t.capacity(), t.value()), (5, b"hello".to_vec()));
    drop((n, again, a, b, s, t));
    assert_eq!(std::fs::read_dir(&dir.0).expect("listing").count(), 0);
}

#[test]
fn the_builder_applies_every_option() {
    let dir = TempDir::new("build");
    let lock = Lock::create_with("lock", &SegmentOptions::new().dir(&dir.0)).expect("lock");

    let v = Value::<u64>::builder("v")
        .dir(&dir.0)
        .mode(0o640)
        .lock(&lock)
        .open_timeout(Duration::from_millis(10))
        .create(5)
        .expect("creating");
    let mode = std::fs::metadata(v.path())
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let info = SegmentInfo::open_with("v", &SegmentOptions::new().dir(&dir.0)).expect("info");
    assert_eq!(
        info.lock_mode(),
        Some(&LockMode::Shared {
            lock: "lock".into()
        })
    );
    assert_eq!(v.get_lock().name(), "lock");

    // A whole options value, as the named primitives take it; what is set
    // after it still applies.
    let options = SegmentOptions::new().dir(&dir.0).mode(0o600);
    let zeros = Array::<f64>::builder("zeros")
        .options(&options)
        .keep(true)
        .zeroed(4)
        .expect("z");
    assert_eq!(zeros.to_vec().expect("copying"), [0.0; 4]);
    drop(zeros);
    assert!(dir.0.join("zeros").exists(), "kept");

    // From an iterator: as many as it says it yields.
    let squares = RawArray::<u32>::builder("squares")
        .dir(&dir.0)
        .from_iter((0..5u32).map(|i| i * i))
        .expect("creating");
    assert_eq!(squares.to_vec(), [0, 1, 4, 9, 16]);

    // A shared lock must live where openers look for it.
    let elsewhere = TempDir::new("build-other");
    let error = Value::<u8>::builder("w")
        .dir(&elsewhere.0)
        .lock(&lock)
        .create(1)
        .unwrap_err();
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");

    // Debug says which face, and the builder which options.
    let debug = format!("{v:?}");
    assert!(
        debug.starts_with("Value { name: \"v\", type: \"u64\""),
        "{debug}"
    );
    assert!(format!("{squares:?}").starts_with("RawArray {"));
    let builder = format!("{:?}", RawBytes::builder("x").capacity(3));
    assert!(
        builder.contains("RawBytes") && builder.contains("Some(3)"),
        "{builder}"
    );
}

#[test]
fn keep_on_a_handle_lets_the_segment_outlive_its_creator() {
    if support::role().is_some() {
        // Creates, keeps through a clone, and exits.
        let s = SharedBytes::builder(&support::arg("NAME"))
            .create(b"left for you")
            .expect("s");
        s.clone().keep();
        return;
    }
    let name = support::unique_name("keep");
    let _guard = RemoveOnDrop::shm(&name);
    let mut child = support::spawn_role(
        "keep_on_a_handle_lets_the_segment_outlive_its_creator",
        "creator",
        &[("NAME", &name)],
    );
    assert!(child.wait_success(), "the creator failed");
    let s = SharedBytes::open(&name).expect("kept after its creator exited");
    assert!(!s.is_creator());
    assert_eq!(s.value().expect("reading"), b"left for you");
    drop(s);
    assert!(
        Value::<u8>::open(&name).is_err(),
        "still there, and not a Value"
    );
    shmstruct::unlink(&name).expect("an opener's drop left it");
}

#[test]
fn guards_index_and_iterate_in_place_and_raw_arrays_lazily() {
    let dir = TempDir::new("iter");
    let a = Array::<i64>::builder("a")
        .dir(&dir.0)
        .create(&[1, 2, 3, 4])
        .expect("a");
    {
        let mut guard = a.lock().expect("locking");
        guard[0] = 10;
        guard[3] *= 10;
        assert_eq!(guard.iter().sum::<i64>(), 10 + 2 + 3 + 40);
        assert_eq!(guard.len(), 4);
    }
    assert_eq!(a.to_vec().expect("copying"), [10, 2, 3, 40]);

    let raw_array = || RawArray::<i64>::builder("raw").dir(&dir.0);
    let raw = raw_array().create(&[1, 2, 3]).expect("raw");
    let other = raw_array().open().expect("opened");
    let mut iter = raw.iter();
    assert_eq!(iter.next(), Some(1));
    // Lazy: an element is copied when the iterator reaches it, so a write
    // made before then is seen.
    other.set(2, 30).expect("in range");
    assert_eq!(iter.len(), 2);
    assert_eq!(iter.next_back(), Some(30));
    assert_eq!(iter.next(), Some(2));
    assert_eq!(iter.next(), None);
    assert_eq!((&raw).into_iter().rev().collect::<Vec<_>>(), [30, 2, 1]);
}

/// Two words of shared statistics, made only of atomics.
#[derive(shmstruct::SharedLayout)]
#[repr(C)]
struct Stats {
    hits: AtomicU64,
    per_worker: [AtomicU32; 2],
}

const ATOMIC_ADDS: u32 = 50_000;

#[test]
fn atomic_types_are_shared_in_place_without_a_lock() {
    let stats = || RawValue::<Stats>::builder(&support::arg("NAME")).dir(support::arg("DIR"));
    if let Some(role) = support::role() {
        let worker: usize = role.parse().expect("a worker number");
        let stats = stats().open().expect("opened");
        let stats = stats.as_atomic();
        for _ in 0..ATOMIC_ADDS {
            stats.hits.fetch_add(1, Ordering::Relaxed);
            stats.per_worker[worker].fetch_add(1, Ordering::Relaxed);
        }
        std::process::exit(0);
    }
    let test = "atomic_types_are_shared_in_place_without_a_lock";
    let dir = TempDir::new("atomic");
    let name = support::unique_name("atomic");
    let zero = Stats {
        hits: AtomicU64::new(0),
        per_worker: [AtomicU32::new(0), AtomicU32::new(0)],
    };
    let created = RawValue::<Stats>::builder(&name)
        .dir(&dir.0)
        .create(zero)
        .expect("created");
    let args = [
        ("NAME", name.as_str()),
        ("DIR", dir.0.to_str().expect("utf-8")),
    ];
    let mut workers: Vec<ChildGuard> = ["0", "1"]
        .iter()
        .map(|worker| support::spawn_role(test, worker, &args))
        .collect();
    for worker in &mut workers {
        assert!(worker.wait_success(), "a worker failed");
    }
    // No add was lost, though no lock was taken.
    let stats = created.as_atomic();
    assert_eq!(
        stats.hits.load(Ordering::Relaxed),
        2 * u64::from(ATOMIC_ADDS)
    );
    for worker in &stats.per_worker {
        assert_eq!(worker.load(Ordering::Relaxed), ATOMIC_ADDS);
    }
    // The handle's copy sees the same numbers.
    assert_eq!(created.get().hits.into_inner(), 2 * u64::from(ATOMIC_ADDS));
}
