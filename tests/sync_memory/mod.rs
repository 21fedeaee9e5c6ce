//! Shared memory for the synchronisation tests, before named segments
//! exist: a file under `/dev/shm` with a unique name, mapped by the parent
//! (which creates and removes it) and by children (which open it by path).
//! Primitives are placed at fixed offsets.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support;

// The same mapped file as the benchmark programs' (one copy of the code).
#[path = "../../examples/bench_common/mapped_file.rs"]
mod mapped_file;

use mapped_file::MappedFile;

/// Bytes in every test mapping: room for a few primitives and flags.
pub const LEN: usize = 4096;

/// A mapping of a `/dev/shm` file, removed on drop if this process made it.
pub struct Shared {
    file: MappedFile,
}

impl Shared {
    /// Creates a zeroed file of [`LEN`] bytes with a unique name and maps it.
    pub fn create(tag: &str) -> Shared {
        let path = Path::new("/dev/shm").join(support::unique_name(tag));
        let file = MappedFile::create(path, LEN).expect("creating the shared file");
        Shared { file }
    }

    /// Maps the file the parent passed as argument `PATH`.
    pub fn open_from_arg() -> Shared {
        let path = support::arg("PATH");
        let file = MappedFile::open(Path::new(&path)).expect("opening the shared file");
        Shared { file }
    }

    /// The path to pass to a child.
    pub fn path(&self) -> &str {
        self.file.path().to_str().expect("utf-8 path")
    }

    /// A pointer to offset `offset` (a multiple of `T`'s alignment).
    pub fn at<T>(&self, offset: usize) -> *mut T {
        self.file.at(offset)
    }

    /// The 32-bit flag at `offset` (the file starts zeroed).
    pub fn flag(&self, offset: usize) -> &AtomicU32 {
        self.file.atomic_u32(offset)
    }
}

/// Waits (at most 20 s) until `flag` holds `value`.
pub fn wait_for_flag(flag: &AtomicU32, value: u32) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // Acquire: pairs with the Release store of the process that set it.
    while flag.load(Ordering::Acquire) != value {
        assert!(Instant::now() < deadline, "flag never became {value}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Sets `flag` to `value` (Release: publishes what this process did before).
pub fn set_flag(flag: &AtomicU32, value: u32) {
    flag.store(value, Ordering::Release);
}

/// Blocks this process until it is killed.
pub fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}
