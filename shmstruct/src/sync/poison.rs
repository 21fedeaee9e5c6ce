//! Poisoning, as [`std::sync::Mutex`] has it, but kept in shared memory so
//! that it outlives the process that caused it: a `u32` beside a lock that
//! says the data the lock guards may be half-written.
//!
//! The word is [`CLEAR`] (0) or [`POISONED`] (1). It is set when a lock
//! holder dies with its process (the next locker gets `EOWNERDEAD`) or
//! drops its guard while its thread panics, and cleared only by an explicit
//! [`Guard::clear_poison`](super::Guard::clear_poison) under the lock. Because the library marks an
//! owner-died mutex consistent at once and keeps this flag instead, the
//! mutex itself never becomes not recoverable through the poison-aware API.
//!
//! # Orderings
//!
//! Every store happens with the lock held, and every load that decides
//! anything (whether `lock()` reports [`Error::Poisoned`]) happens with the
//! lock held too; the mutex's acquire (lock) and release (unlock) order
//! them, so the word itself needs no ordering of its own: `Relaxed`.
//! Loads without the lock (checking the word on open, inspectors) are only
//! snapshots of a single word, for which `Relaxed` is all there is to have.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::area::Beside;
use super::os::{Acquired, Deadline};
use super::{seqlock, Guard, RawMutex};
use crate::segment::Segment;
use crate::{Error, Result};

/// The data is not poisoned.
pub(crate) const CLEAR: u32 = 0;
/// A holder died or panicked holding the lock; the data may be half-written.
pub(crate) const POISONED: u32 = 1;

/// Whether `word` says poisoned.
#[inline(always)]
pub(super) fn is_set(word: &AtomicU32) -> bool {
    // Relaxed: see the module docs (ordered by the lock held).
    word.load(Ordering::Relaxed) != CLEAR
}

/// Marks the data poisoned; the caller holds the lock.
#[inline]
pub(super) fn set(word: &AtomicU32) {
    // Relaxed: see the module docs (published by the unlock that follows).
    word.store(POISONED, Ordering::Relaxed);
}

/// Marks the data repaired; the caller holds the lock.
pub(super) fn clear(word: &AtomicU32) {
    // Relaxed: see the module docs (published by the unlock that follows).
    word.store(CLEAR, Ordering::Relaxed);
}

/// Whether a poison word read without the lock is one this crate writes;
/// on a corrupt word, the value found.
pub(crate) fn check_word(word: &AtomicU32) -> std::result::Result<(), u32> {
    // Relaxed: a snapshot of one word (module docs).
    match word.load(Ordering::Relaxed) {
        CLEAR | POISONED => Ok(()),
        found => Err(found),
    }
}

/// How long an acquisition may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Until the lock is free.
    Block,
    /// Not at all ([`Error::WouldBlock`]).
    Try,
    /// Up to this long ([`Error::TimedOut`]).
    Timeout(Duration),
}

/// Whether an acquisition hands over the guard of poisoned data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poisoned {
    /// No: report [`Error::Poisoned`] (the default API).
    Refuse,
    /// Yes: the caller means to repair it (`lock_poisoned`).
    Accept,
}

/// Locks `mutex`, the lock of `segment`, with poisoning through the
/// words `beside` it, and makes the sequence word among them, if any, odd
/// for as long as the guard lives ([`super::seqlock`]).
///
/// If the previous holder died holding the lock, marks the data poisoned,
/// the sequence word even and the mutex consistent before anything else,
/// so that no path, including an early return of the caller, leaves the
/// mutex not recoverable or lock-free readers waiting for a dead writer.
/// Then, with `Poisoned::Refuse`, poisoned data is [`Error::Poisoned`] and
/// the lock is released at once.
///
/// # Errors
///
/// [`Error::Poisoned`] as above; [`Error::NotRecoverable`] for a mutex
/// already left in that state (by an older version of this crate, or
/// another program); [`Error::WouldBlock`], [`Error::TimedOut`] and
/// [`Error::WouldDeadlock`] as [`RawMutex`] says.
#[inline(always)]
pub(crate) fn lock<'a, M: RawMutex + ?Sized>(
    mutex: &'a M,
    beside: Beside<'a>,
    segment: &'a Segment,
    wait: Wait,
    poisoned: Poisoned,
) -> Result<Guard<'a, M>> {
    let acquired = match wait {
        Wait::Block => mutex.acquire(),
        Wait::Try => mutex.try_acquire(),
        Wait::Timeout(timeout) => mutex.acquire_until(&Deadline::after(timeout)),
    };
    // Checks first, on the mutex alone, and the guard built once, last: a
    // guard passed from step to step inside `Result`s, each as large as an
    // `Error`, is copied through memory at every step, which cost more
    // than the mutex itself (BENCHMARKS.md, "The lock path").
    if acquired? == Acquired::OwnerDied {
        recover(mutex, beside)?;
    }
    // SAFETY: this thread has just locked `mutex` (one level of it), and
    // no guard holds that level (`recover` gave its guard up); the guard
    // is made below only if `refuse` returns `Ok`.
    unsafe { refuse(mutex, beside, segment, poisoned) }?;
    Ok(Guard::poisoning(mutex, beside, segment))
}

/// The owner-died recovery of a poisoning lock: `guard` was just taken
/// from a dead holder; marks the data poisoned, the sequence word even and
/// the mutex consistent, and gives the guard back consistent.
///
/// # Errors
///
/// As [`Guard::mark_consistent`] (not expected: the mutex is held, robust
/// and inconsistent); the guard is then dropped unrepaired, which makes the
/// mutex not recoverable, as every later locker is told (holding it forever
/// would hang them instead).
pub(crate) fn recovered<'a, M: RawMutex + ?Sized>(
    mut guard: Guard<'a, M>,
    beside: Beside<'_>,
) -> Result<Guard<'a, M>> {
    set(beside.poison);
    if let Some(sequence) = beside.sequence {
        seqlock::recover(sequence.word);
    }
    guard.mark_consistent()?;
    Ok(guard)
}

/// [`recovered`] for `mutex`, just locked from a dead holder, which it
/// leaves held without a guard: the rare path of [`lock`], kept out of
/// line so that taking a sound lock stays short.
#[cold]
#[inline(never)]
fn recover<M: RawMutex + ?Sized>(mutex: &M, beside: Beside<'_>) -> Result<()> {
    recovered(Guard::new(mutex, true), beside)?.into_held();
    Ok(())
}

/// With `Poisoned::Refuse` and data poisoned as the words `beside` it say,
/// releases `mutex`, the lock of `segment`, and says why
/// ([`Error::Poisoned`]).
///
/// # Safety
///
/// This thread holds one level of `mutex` that no guard holds (one given
/// up with [`Guard::into_held`] counts as none), and on an `Err` relies on
/// that level no more: it is released here.
#[inline(always)]
pub(crate) unsafe fn refuse<M: RawMutex + ?Sized>(
    mutex: &M,
    beside: Beside<'_>,
    segment: &Segment,
    poisoned: Poisoned,
) -> Result<()> {
    if poisoned == Poisoned::Refuse && is_set(beside.poison) {
        // SAFETY: forwarded from the caller.
        return Err(unsafe { refused(mutex, segment) });
    }
    Ok(())
}

/// Releases the lock of poisoned data and says why: the rare path of
/// [`refuse`], kept out of line so that taking a sound lock stays short.
///
/// # Safety
///
/// As [`refuse`].
#[cold]
#[inline(never)]
unsafe fn refused<M: RawMutex + ?Sized>(mutex: &M, segment: &Segment) -> Error {
    // SAFETY: the caller holds the mutex and relies on it no more; the
    // release cannot fail for a holder.
    let _ = unsafe { mutex.release() };
    poisoned_error(segment)
}

/// [`Error::Poisoned`] for the lock of `segment`.
#[cold]
pub(crate) fn poisoned_error(segment: &Segment) -> Error {
    Error::Poisoned {
        lock: segment.name().to_owned(),
    }
}
