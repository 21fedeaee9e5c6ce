//! A file mapped shared by several processes, with values at fixed offsets:
//! the process that creates it picks the path and removes the file again
//! on drop; the others open it by that path. Used by the benchmark
//! programs (`examples/bench_common`) and by the synchronisation tests
//! (`tests/sync_memory`), which place raw primitives and flags in it.

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64};

use memmap2::MmapRaw;

/// A shared mapping of a whole file; the creator removes the file on drop.
pub struct MappedFile {
    map: MmapRaw,
    path: PathBuf,
    owner: bool,
}

impl MappedFile {
    /// Creates a zeroed file of `len` bytes at `path`, which must not exist
    /// yet, and maps it. The file is removed again if sizing or mapping
    /// fails.
    pub fn create(path: PathBuf, len: usize) -> io::Result<MappedFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        match file
            .set_len(len as u64)
            .and_then(|()| MmapRaw::map_raw(&file))
        {
            Ok(map) => Ok(MappedFile {
                map,
                path,
                owner: true,
            }),
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(error)
            }
        }
    }

    /// Maps the whole file another process created at `path`.
    pub fn open(path: &Path) -> io::Result<MappedFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(MappedFile {
            map: MmapRaw::map_raw(&file)?,
            path: path.to_owned(),
            owner: false,
        })
    }

    /// The path to pass to another process.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A pointer to `offset`, which must leave room for a `T` and be a
    /// multiple of `T`'s alignment (both asserted).
    pub fn at<T>(&self, offset: usize) -> *mut T {
        assert!(offset + size_of::<T>() <= self.map.len());
        let ptr = self.map.as_mut_ptr().wrapping_add(offset).cast::<T>();
        assert!(ptr.is_aligned());
        ptr
    }

    /// The 32-bit atomic at `offset`.
    pub fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: in bounds and aligned (checked by `at`); the file starts
        // zeroed and the processes sharing it use these bytes only as an
        // AtomicU32; the mapping lives as long as `self`.
        unsafe { AtomicU32::from_ptr(self.at(offset)) }
    }

    /// The 64-bit atomic at `offset`.
    pub fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: as in `atomic_u32`, for an AtomicU64.
        unsafe { AtomicU64::from_ptr(self.at(offset)) }
    }

    /// Zeroes the whole file. Only while no other process has it mapped:
    /// between measurements, before a child starts.
    pub fn zero(&self) {
        // SAFETY: the range is the mapping itself; no other process uses
        // the file now (the caller's rule above).
        unsafe { self.map.as_mut_ptr().write_bytes(0, self.map.len()) };
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        if self.owner {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
