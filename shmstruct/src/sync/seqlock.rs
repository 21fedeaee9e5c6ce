//! The seqlock of an own lock: a sequence word in the lock area that lets a
//! reader copy the data without taking the lock and still know the copy is
//! whole, never torn by a concurrent writer.
//!
//! # Protocol
//!
//! Every holder of the lock that reaches the data through this library (the
//! guard of a named `Lock`, and the guards of `Value`, `Array` and byte
//! strings, with their own or a shared lock) calls [`begin_write`] right
//! after locking and [`end_write`] right before unlocking: the word is odd
//! exactly while a holder may be writing, and it only grows. A reader
//! ([`RawLock::read_consistent`]) loads the word, copies the data, loads it
//! again, and keeps the copy only if both loads saw the same even value.
//!
//! A holder killed mid-write leaves the word odd. Readers then give up on
//! the lock-free path after a few tries and take the lock, with a bound on
//! the wait; whoever next takes the lock finds the owner dead, poisons the
//! data and makes the word even again ([`recover`]) before anything else.
//!
//! # Orderings
//!
//! The holder is the only writer of the word (the lock excludes the
//! others), so its updates are plain loads and stores, no read-modify-write.
//! Following Boehm, "Can seqlocks get along with programming language
//! memory models?" (2012):
//!
//! - writer: `store(odd, Relaxed)`, then `fence(Release)`, then the data
//!   writes; last `store(even, Release)`;
//! - reader: `s1 = load(Acquire)`, then the data reads (relaxed atomic
//!   loads, `atomic_copy`), then `fence(Acquire)`, then `s2 =
//!   load(Relaxed)`.
//!
//! If the reader's copy saw any write of a holder, the reader's acquire
//! fence synchronises with that holder's release fence, so `s2` sees the
//! holder's odd store or later: `s1 != s2`, and the copy is dropped. If
//! `s1` is the even value a holder's `end_write` stored, everything that
//! holder wrote (data and poison word) is visible from `s1`'s acquire load
//! on.
//!
//! # What the reader's copy races with
//!
//! The reader's loads are atomic, but a holder writes the data through a
//! `&mut T` (a `DataGuard`), with plain stores. Between processes the
//! compiler sees neither side, and the hardware guarantees what the
//! protocol needs. Within one process, a snapshot taken by one thread while
//! another writes through its guard is, in Rust's model, a data race even
//! though the copy is then thrown away (the classic seqlock problem: Boehm,
//! above; crossbeam's `AtomicCell` fallback has the same). Making it
//! race-free would need every write under the lock to be atomic too, which
//! a `&mut T` cannot promise; the objects that offer snapshots should say
//! so, or write through `atomic_copy` in `set()` and document that in-place
//! writes through the guard do not mix with snapshots in one process.

use std::sync::atomic::{fence, AtomicU64, Ordering};

use super::area::LockWords;
use super::poison::{self, Poisoned, Wait};
use super::RawLock;
use crate::{Error, Result};

/// How many lock-free copies a reader tries (while the word is odd or
/// changes under it) before it takes the lock instead: enough to ride out
/// a short write by a running holder, few enough that a stopped or dead
/// holder costs little.
const OPTIMISTIC_TRIES: u32 = 64;

/// Makes the word odd: the holder may now write. Called with the lock held,
/// right after locking.
pub(super) fn begin_write(sequence: &AtomicU64) {
    // Relaxed load: only this holder writes the word, and the lock's
    // acquire ordered it after the previous holder's stores.
    let seen = sequence.load(Ordering::Relaxed);
    // Relaxed store: the release fence below orders it before every data
    // write that follows. `| 1` keeps a word already odd (left so by
    // another program) odd, rather than making it even under a writer.
    sequence.store(seen | 1, Ordering::Relaxed);
    fence(Ordering::Release);
}

/// Makes the word even again: the holder's writes are complete. Called
/// with the lock held, right before unlocking.
pub(super) fn end_write(sequence: &AtomicU64) {
    // Relaxed load: only this holder writes the word.
    let seen = sequence.load(Ordering::Relaxed);
    // Release: a reader that loads this value (Acquire) sees every write of
    // this holder, the data and the poison word. `(seen | 1) + 1` is the
    // next even value, whatever the word held; wrapping after 2^64 writes.
    sequence.store((seen | 1).wrapping_add(1), Ordering::Release);
}

/// Makes the word even after its holder died, possibly mid-write: part of
/// the owner-died recovery, with the lock held and the data just marked
/// poisoned.
pub(super) fn recover(sequence: &AtomicU64) {
    // Relaxed load: with the lock held, only this thread writes the word.
    let seen = sequence.load(Ordering::Relaxed);
    if seen & 1 == 1 {
        // Release: as `end_write`; the poison word stored before is
        // published with it.
        sequence.store(seen.wrapping_add(1), Ordering::Release);
    }
}

/// One lock-free attempt: the copy `read` made, if no holder wrote meanwhile.
fn try_read<R>(sequence: &AtomicU64, read: &mut impl FnMut() -> R) -> Option<R> {
    // Acquire: pairs with the Release of the `end_write` that stored it.
    let before = sequence.load(Ordering::Acquire);
    if before & 1 == 1 {
        return None;
    }
    let copy = read();
    // Acquire fence: pairs with a writer's release fence in `begin_write`
    // if `read` saw any of that writer's stores (module docs).
    fence(Ordering::Acquire);
    // Relaxed: ordered after the copy by the fence above.
    let after = sequence.load(Ordering::Relaxed);
    (before == after).then_some(copy)
}

impl RawLock {
    /// A copy of the data this lock guards, made by `read` without taking
    /// the lock when possible, never torn by a writer: the seqlock read
    /// (module docs). `words` are the words beside this lock in its lock
    /// area, `name` names it in errors.
    ///
    /// `read` copies the data with relaxed atomic loads
    /// (`crate::atomic_copy`), never plain reads: it runs while writers may
    /// be writing, and a copy made while one did is thrown away. It may run
    /// several times. If the lock-free copies keep failing (a holder is
    /// writing for long, or died mid-write), it takes the lock, waiting as
    /// `wait` says, and runs `read` once under it.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`] if the data is poisoned, as `get()` reports it;
    /// the errors of taking the lock ([`Error::TimedOut`],
    /// [`Error::WouldBlock`], [`Error::WouldDeadlock`], ...) if the
    /// lock-free path gave up.
    pub(crate) fn read_consistent<R>(
        &self,
        words: &LockWords,
        name: &str,
        wait: Wait,
        mut read: impl FnMut() -> R,
    ) -> Result<R> {
        for _ in 0..OPTIMISTIC_TRIES {
            if let Some(copy) = try_read(&words.sequence, &mut read) {
                // Ordered after the acquire load of the even sequence value,
                // so a poisoning published with it is seen (module docs).
                if poison::is_set(&words.poison) {
                    return Err(Error::Poisoned {
                        lock: name.to_owned(),
                    });
                }
                return Ok(copy);
            }
            std::hint::spin_loop();
        }
        let guard = poison::lock(self, words.beside(true), name, wait, Poisoned::Refuse)?;
        let copy = read();
        drop(guard);
        Ok(copy)
    }
}

#[cfg(test)]
mod tests;
