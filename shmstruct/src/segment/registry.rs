//! One mapping per segment per process.
//!
//! Every handle of a segment in this process shares one mapping, found by
//! the file's identity (device, inode): repeated opens map nothing new, and
//! a robust mutex is always at the same address in this process. A mapping
//! whose mutex a thread of this process still holds when its last handle
//! drops (a forgotten guard) is kept here for the rest of the process —
//! glibc and the kernel write through that address — but only once per
//! segment, however often it is opened and dropped again.
//!
//! An inode cannot be reused while a mapping of it exists, so the identity
//! names one file for as long as the mapping lives.
//!
//! Beside the mappings, each segment with live handles has one
//! [`SnapshotGate`] per process, also found by identity (not by mapping, so
//! that two mappings of one file, should a file change size, still share
//! it): the process-local half of the seqlock (see
//! [`crate::sync::seqlock`]).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use memmap2::MmapRaw;

use crate::sync::seqlock::SnapshotGate;

/// A file's (device, inode).
type Identity = (u64, u64);

#[derive(Default)]
struct Registry {
    /// The mapping of each segment that has live handles.
    live: HashMap<Identity, Weak<MmapRaw>>,
    /// Mappings kept because a mutex in them is held by this process.
    kept: HashMap<Identity, Arc<MmapRaw>>,
    /// The snapshot gate of each segment that has live handles.
    gates: HashMap<Identity, Weak<SnapshotGate>>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding it leaves the maps consistent (each operation
    // is a single insert or lookup), so poisoning can be ignored.
    REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The mapping of the file `identity`, `len` bytes long: this process's
/// existing one, or a new one made by `map`.
pub(super) fn shared<E>(
    identity: Identity,
    len: usize,
    map: impl FnOnce() -> Result<MmapRaw, E>,
) -> Result<Arc<MmapRaw>, E> {
    let mut registry = registry();
    if let Some(existing) = registry.live.get(&identity).and_then(Weak::upgrade) {
        if existing.len() == len {
            return Ok(existing);
        }
    }
    let mapping = Arc::new(map()?);
    registry.live.retain(|_, weak| weak.strong_count() > 0);
    registry.live.insert(identity, Arc::downgrade(&mapping));
    Ok(mapping)
}

/// Keeps `mapping` of `identity` mapped for the rest of the process.
pub(super) fn keep(identity: Identity, mapping: Arc<MmapRaw>) {
    registry().kept.insert(identity, mapping);
}

/// The snapshot gate of the file `identity` in this process: the one every
/// live handle of it shares, or a new one if there is none.
pub(super) fn gate(identity: Identity) -> Arc<SnapshotGate> {
    let mut registry = registry();
    if let Some(existing) = registry.gates.get(&identity).and_then(Weak::upgrade) {
        return existing;
    }
    let gate = Arc::new(SnapshotGate::default());
    registry.gates.retain(|_, weak| weak.strong_count() > 0);
    registry.gates.insert(identity, Arc::downgrade(&gate));
    gate
}
