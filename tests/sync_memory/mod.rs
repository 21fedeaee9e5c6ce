//! Shared memory for the synchronisation tests, before named segments
//! exist: a file under `/dev/shm` with a unique name, mapped with
//! `MmapRaw` by the parent (which creates and removes it) and by children
//! (which open it by path). Primitives are placed at fixed offsets.
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memmap2::MmapRaw;

use crate::support::{self, RemoveOnDrop};

/// Bytes in every test mapping: room for a few primitives and flags.
pub const LEN: usize = 4096;

/// A mapping of a `/dev/shm` file, removed on drop if this process made it.
pub struct Shared {
    map: MmapRaw,
    path: String,
    _remove: Option<RemoveOnDrop>,
}

impl Shared {
    /// Creates a zeroed file of [`LEN`] bytes with a unique name and maps it.
    pub fn create(tag: &str) -> Shared {
        let name = support::unique_name(tag);
        let remove = RemoveOnDrop::shm(&name);
        let path = remove.0.to_str().expect("utf-8 path").to_owned();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .expect("creating the shared file");
        file.set_len(LEN as u64).expect("sizing the shared file");
        let map = MmapRaw::map_raw(&file).expect("mapping the shared file");
        Shared {
            map,
            path,
            _remove: Some(remove),
        }
    }

    /// Maps the file the parent passed as argument `PATH`.
    pub fn open_from_arg() -> Shared {
        let path = support::arg("PATH");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(Path::new(&path))
            .expect("opening the shared file");
        let map = MmapRaw::map_raw(&file).expect("mapping the shared file");
        assert_eq!(map.len(), LEN);
        Shared {
            map,
            path,
            _remove: None,
        }
    }

    /// The path to pass to a child.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A pointer to offset `offset` (a multiple of `T`'s alignment).
    pub fn at<T>(&self, offset: usize) -> *mut T {
        assert!(offset + std::mem::size_of::<T>() <= LEN);
        let ptr = self.map.as_mut_ptr().wrapping_add(offset).cast::<T>();
        assert!(ptr.is_aligned());
        ptr
    }

    /// The 32-bit flag at `offset` (the file starts zeroed).
    pub fn flag(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: in bounds and aligned (checked by `at`), zero-initialised
        // or written only as an AtomicU32 by the tests, and the mapping
        // lives as long as `self`.
        unsafe { AtomicU32::from_ptr(self.at(offset)) }
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
