//! [`LockWords`]: what an own lock keeps beside its mutex in a segment's
//! lock area, the poison word and the sequence word (the table is in
//! [`segment::header`](crate::segment::header#lock-modes)).

use std::sync::atomic::{AtomicU32, AtomicU64};

use super::seqlock::{Sequence, SnapshotGate};

use crate::segment::header::{LOCK_AREA_SIZE, POISON_OFFSET, SEQUENCE_OFFSET};

/// The words after an own lock's mutex, at [`POISON_OFFSET`] of the lock
/// area. Only atomics, so a shared reference to memory that other
/// processes change is sound.
#[repr(C)]
pub(crate) struct LockWords {
    /// 0 or 1: see [`super::poison`].
    pub(super) poison: AtomicU32,
    /// Zero.
    _reserved: AtomicU32,
    /// Odd while a holder may be writing: see [`super::seqlock`].
    pub(super) sequence: AtomicU64,
}

const _: () = assert!(std::mem::offset_of!(LockWords, poison) == 0);
const _: () = assert!(POISON_OFFSET + std::mem::offset_of!(LockWords, sequence) == SEQUENCE_OFFSET);
const _: () = assert!(POISON_OFFSET % std::mem::align_of::<LockWords>() == 0);
const _: () = assert!(POISON_OFFSET + std::mem::size_of::<LockWords>() <= LOCK_AREA_SIZE);

impl LockWords {
    /// The words of the lock area at `area`.
    ///
    /// # Safety
    ///
    /// `area` is the start of an own lock's area ([`LOCK_AREA_SIZE`] bytes,
    /// aligned to 64), zeroed by its creator, and stays mapped for `'a`;
    /// every process accesses the bytes at [`POISON_OFFSET`] onwards only
    /// atomically.
    #[inline]
    pub(crate) unsafe fn at_area<'a>(area: *const u8) -> &'a LockWords {
        let words = area.wrapping_add(POISON_OFFSET).cast::<LockWords>();
        debug_assert!(words.is_aligned());
        // SAFETY: inside the area (const-asserted above), aligned (the area
        // is 64-aligned and POISON_OFFSET a multiple of the words'
        // alignment), zeroes or values written atomically are valid
        // atomics, and it lives for 'a (the caller).
        unsafe { &*words }
    }

    /// The poison word, for the checks on open.
    pub(crate) fn poison(&self) -> &AtomicU32 {
        &self.poison
    }

    /// What a guard of the lock keeps: the poison word, and with
    /// `seqlock`, this process's snapshot gate of the lock, the sequence
    /// word (only for a lock that is not reentrant: a nested level would
    /// make the word even while the outer one still writes).
    #[inline]
    pub(crate) fn beside<'a>(&'a self, seqlock: Option<&'a SnapshotGate>) -> Beside<'a> {
        Beside {
            poison: &self.poison,
            sequence: seqlock.map(|gate| self.sequence(gate)),
        }
    }

    /// The sequence word, with this process's snapshot `gate` of the lock.
    pub(super) fn sequence<'a>(&'a self, gate: &'a SnapshotGate) -> Sequence<'a> {
        Sequence {
            word: &self.sequence,
            gate,
        }
    }
}

/// The words beside a lock that its guards maintain: the poison word
/// ([`super::poison`]) and, for a segment's own non-reentrant lock, the
/// sequence word ([`super::seqlock`]).
#[derive(Clone, Copy)]
pub(crate) struct Beside<'a> {
    pub(super) poison: &'a AtomicU32,
    pub(super) sequence: Option<Sequence<'a>>,
}

impl<'a> Beside<'a> {
    /// Only a poison word (a `Condition`'s lock).
    pub(crate) fn poison(poison: &'a AtomicU32) -> Beside<'a> {
        Beside {
            poison,
            sequence: None,
        }
    }
}
