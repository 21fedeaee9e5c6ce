//! What the `shmstruct` command reads from the library: the kind of every
//! segment, and `remove_stale` leaving other users' segments alone.

use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;

use shmstruct::segment::{self, SegmentKind};
use shmstruct::{Array, Barrier, Condition, Event, Lock, RLock, RawArray, RawValue, Semaphore};
use shmstruct::{RawBytes, SegmentInfo, SegmentOptions, SharedBytes, Value};

/// A directory of segments for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("shmstruct-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }

    fn options(&self) -> SegmentOptions {
        SegmentOptions::new().dir(&self.0)
    }

    /// Makes the segment `name` look stale: its creator's start time no
    /// longer matches ours, as if the pid had been reused.
    fn make_stale(&self, name: &str) {
        let info = SegmentInfo::open_with(name, &self.options()).expect("info");
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(self.0.join(name))
            .expect("open");
        file.write_all_at(&(info.creator_start_time() + 1).to_ne_bytes(), 24)
            .expect("write");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn every_kind_of_segment_is_recognised() {
    let dir = TempDir::new("kinds");
    let options = dir.options();
    let _value = Value::builder("value")
        .options(&options)
        .create(7u32)
        .expect("value");
    let _raw_value = RawValue::builder("raw-value")
        .options(&options)
        .create(1.5f64)
        .expect("raw value");
    let _array = Array::builder("array")
        .options(&options)
        .create(&[1i16, 2, 3])
        .expect("array");
    let _raw_array = RawArray::builder("raw-array")
        .options(&options)
        .create(&[1u8, 2])
        .expect("raw array");
    let _bytes = SharedBytes::builder("bytes")
        .options(&options)
        .create(b"hello")
        .expect("bytes");
    let _raw_bytes = RawBytes::builder("raw-bytes")
        .options(&options)
        .create(b"hi")
        .expect("raw bytes");
    let _lock = Lock::create_with("lock", &options).expect("lock");
    let _rlock = RLock::create_with("rlock", &options).expect("rlock");
    let _semaphore = Semaphore::create_with("semaphore", 2, &options).expect("semaphore");
    let _event = Event::create_with("event", &options).expect("event");
    let _condition = Condition::create_with("condition", &options).expect("condition");
    let _barrier = Barrier::create_with("barrier", 2, &options).expect("barrier");

    let kinds: Vec<(String, Option<SegmentKind>)> = segment::list(&dir.0)
        .expect("list")
        .iter()
        .map(|info| (info.name().to_owned(), info.kind()))
        .collect();
    let expected = [
        ("array", SegmentKind::Array),
        ("barrier", SegmentKind::Barrier),
        ("bytes", SegmentKind::Bytes),
        ("condition", SegmentKind::Condition),
        ("event", SegmentKind::Event),
        ("lock", SegmentKind::Lock),
        ("raw-array", SegmentKind::RawArray),
        ("raw-bytes", SegmentKind::Bytes),
        ("raw-value", SegmentKind::RawValue),
        ("rlock", SegmentKind::RLock),
        ("semaphore", SegmentKind::Semaphore),
        ("value", SegmentKind::Value),
    ]
    .map(|(name, kind)| (name.to_owned(), Some(kind)));
    assert_eq!(kinds, expected);
    assert_eq!(SegmentKind::RawArray.to_string(), "RawArray");
}

#[test]
fn remove_stale_removes_only_the_callers_segments() {
    let dir = TempDir::new("stale-owner");
    let options = SegmentOptions::new().dir(&dir.0);
    // Kept: they outlive their handles, as a dead creator's would.
    for (name, value) in [("mine", 1u32), ("theirs", 2)] {
        let kept = Value::builder(name).options(&options).keep(true);
        drop(kept.create(value).expect("create"));
    }
    dir.make_stale("mine");
    dir.make_stale("theirs");
    let me = SegmentInfo::open_with("mine", &options)
        .expect("info")
        .owner();
    // SAFETY: `geteuid` has no preconditions and always succeeds.
    assert_eq!(me, unsafe { libc::geteuid() });

    // Only root can give a file away; otherwise check the caller's own.
    let other = me.wrapping_add(4242);
    let chowned = std::os::unix::fs::chown(dir.0.join("theirs"), Some(other), None).is_ok();
    let removed = segment::remove_stale(&dir.0).expect("remove_stale");
    if chowned {
        assert_eq!(removed, ["mine"]);
        assert!(
            dir.0.join("theirs").exists(),
            "another user's segment was removed"
        );
        let info = SegmentInfo::open_with("theirs", &options);
        // An untrusted owner may be refused by the opener; if not, it is stale.
        if let Ok(info) = info {
            assert_eq!(info.owner(), other);
            assert!(info.is_stale());
        }
    } else {
        assert_eq!(removed, ["mine", "theirs"]);
    }
    assert!(!dir.0.join("mine").exists());
}
