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
//! - reader: `s1 = load(Acquire)` (`SeqCst` here, for the gate below),
//!   then the data reads (relaxed atomic loads, `atomic_copy`), then
//!   `fence(Acquire)`, then `s2 = load(Relaxed)`.
//!
//! If the reader's copy saw any write of a holder, the reader's acquire
//! fence synchronises with that holder's release fence, so `s2` sees the
//! holder's odd store or later: `s1 != s2`, and the copy is dropped. If
//! `s1` is the even value a holder's `end_write` stored, everything that
//! holder wrote (data and poison word) is visible from `s1`'s acquire load
//! on.
//!
//! # Readers and writers in one process
//!
//! The reader's loads are atomic, but a holder writes the data through a
//! `&mut T` (a `DataGuard`), with plain stores. Between processes the
//! compiler sees neither side, and the hardware guarantees what the
//! protocol above needs. Within one process, a copy racing a write through
//! a guard would be a data race in Rust's model, undefined behaviour even
//! though the copy is then thrown away (the classic seqlock problem: Boehm,
//! above). So within a process, readers and writers of one lock never
//! overlap at all: each process has a [`SnapshotGate`] per lock (per lock
//! segment, found by its identity in the segment registry, so every handle
//! and mapping of it in the process shares it), with
//!
//! - a state, [`OFF`] until a thread of this process first reads a
//!   snapshot of the lock, then [`ENABLING`], then [`ON`]; it never goes
//!   back;
//! - a count of the reader threads of this process inside a lock-free
//!   copy.
//!
//! The writer ([`begin_write`], every guard of the lock, right after the
//! odd store): if the state is `OFF` (a relaxed load of process-local
//! memory, the only cost for a process that never reads snapshots),
//! nothing more. Otherwise `fence(SeqCst)`, then wait while the count is
//! not zero, then `fence(Acquire)`, and only then write.
//!
//! The reader, the first time in this process ([`SnapshotGate::open`]):
//! sets the state to `ENABLING`, then takes the lock once and releases it
//! (a handshake, waiting as the caller said), then sets it `ON`; readers
//! copy lock-free only once it is `ON`. Each lock-free try
//! ([`try_read`]): skips the try if the word is odd; `count.fetch_add(1,
//! SeqCst)`; `s1 = word.load(SeqCst)`; if odd, gives up the try; copies;
//! `count.fetch_sub(1, Release)`; then checks as above.
//!
//! Why no copy races an in-process write, case by case:
//!
//! - **A writer whose guard was taken after the handshake.** The handshake's
//!   unlock synchronises with that writer's lock, and the state store is
//!   sequenced before the handshake, so the writer sees `ENABLING` or `ON`
//!   and takes the slow path. There, write `O` for its odd store, `X` for
//!   its `SeqCst` fence, `F` for its last load of the count (the one that
//!   saw zero). Take a reader's try with increment `I`, load `L` and
//!   decrement `D`, in which it copied (`L` saw an even value). Either `F`
//!   reads a value at or after `I` in the count's modification order, or
//!   before it.
//!   - At or after `I`: the count is zero there, and every reader's
//!     increment is followed by its decrement, so `D` comes before that
//!     value; every later change is a read-modify-write, so it lies in the
//!     release sequence headed by `D`, and the writer's acquire fence after
//!     `F` synchronises with `D`: the copy happens before every write of
//!     the writer.
//!   - Before `I`: `F` is coherence-ordered before `I`, and `X` is
//!     sequenced before `F`, so `X` precedes `I` in the single total order
//!     `S` of `SeqCst` operations and fences (C++20 \[atomics.order\]
//!     4.3; Rust's atomics follow C++20's model). If `L` read a value from before `O`, it would be
//!     coherence-ordered before `O`, which is sequenced before `X`, so `L`
//!     would precede `X` in `S` (4.2); but `I` is sequenced before `L`,
//!     both `SeqCst`, so `X < I < L < X`, a cycle. So `L` read `O` or a
//!     later value: odd (the reader does not copy), or the even value of
//!     this writer's `end_write` or a later holder's, a `Release` store
//!     that `L` acquires (a later holder locked after this writer
//!     unlocked): every write of this writer happens before the copy.
//!
//!   Either way the writer's stores and the copy are ordered: no race.
//! - **A writer whose guard was taken before the handshake** released the
//!   lock before the handshake took it, so its writes happen before the
//!   handshake's end, which happens before every copy of a reader that saw
//!   `ON` (a release store the reader acquires, or its own thread).
//! - **Writers through `set()`** copy with atomic stores, which race
//!   nothing; they take the guard, so they wait for readers as well.
//! - **The fallback under the lock** copies with the lock held, ordered
//!   with every writer by the mutex; so is the handshake.
//! - **Writers in other processes** never see this process's count: for
//!   them the seqlock protocol above is what makes a copy whole, and the
//!   plain stores of another process are outside this process's abstract
//!   machine.
//! - **A writer killed mid-write** leaves the word odd: readers skip their
//!   tries, fall back to the lock, and the owner-died recovery poisons the
//!   data ([`Error::Poisoned`](crate::Error::Poisoned)).
//! - **Several objects under one shared lock** all take the lock segment's
//!   guard, hence its sequence word and gate, whichever object they write.
//!
//! A writer waits only for copies in flight: readers do not start a try
//! while the word is odd, and give up one that finds it odd, so the count
//! drains within one copy, whatever the number of readers (a reader
//! descheduled mid-copy holds the writer until it runs again). A reader
//! never waits with the count raised, so no wait here closes a cycle.
//!
//! A process forked while another of its threads was inside a lock-free
//! copy inherits a count that no thread will lower: its writers of that
//! lock would wait for ever. Fork only to `exec`, as `std::process` does.

use std::sync::atomic::{fence, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use super::area::LockWords;
use super::poison::{self, Poisoned, Wait};
use super::RawLock;
use crate::segment::Segment;
use crate::Result;

/// How many lock-free copies a reader tries (while the word is odd or
/// changes under it) before it takes the lock instead: enough to ride out
/// a short write by a running holder, few enough that a stopped or dead
/// holder costs little.
const OPTIMISTIC_TRIES: u32 = 64;

/// How many times a writer spins on the readers' count before it yields
/// its processor between looks.
const WRITER_SPINS: u32 = 64;

/// The gate's state: no thread of this process reads snapshots of the lock.
const OFF: u8 = 0;
/// A reader has announced itself and is taking the handshake.
const ENABLING: u8 = 1;
/// The handshake is done: readers of this process copy lock-free.
const ON: u8 = 2;

/// The process-local half of a lock's seqlock: whether this process reads
/// snapshots of the lock, and how many of its threads are inside a
/// lock-free copy now (module docs, "Readers and writers in one
/// process"). One per lock segment per process, shared by every handle.
#[derive(Debug, Default)]
pub(crate) struct SnapshotGate {
    /// [`OFF`], [`ENABLING`] or [`ON`]; it only grows.
    state: AtomicU8,
    /// Reader threads of this process between their increment and
    /// decrement.
    readers: AtomicUsize,
}

impl SnapshotGate {
    /// The writer's side, with the lock held and the word just made odd:
    /// returns once no reader of this process is inside a copy.
    #[inline(always)]
    fn wait_for_readers(&self) {
        // Relaxed: a state stored before a handshake is seen here through
        // the mutex (the handshake's unlock synchronises with this
        // holder's lock); one stored later concerns readers that have not
        // started yet, which the sequence word keeps out (module docs).
        if self.state.load(Ordering::Relaxed) != OFF {
            self.drain();
        }
    }

    /// The slow path of [`wait_for_readers`](Self::wait_for_readers).
    #[cold]
    #[inline(never)]
    fn drain(&self) {
        // SeqCst: orders the odd store before the loads of the count, for
        // the Dekker argument of the module docs.
        fence(Ordering::SeqCst);
        let mut spins = 0;
        // Relaxed: the acquire fence below orders what follows.
        while self.readers.load(Ordering::Relaxed) != 0 {
            if spins < WRITER_SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // Acquire: synchronises with the decrement (Release) of every copy
        // the count included, so those copies happen before the writes.
        fence(Ordering::Acquire);
    }

    /// Whether lock-free copies may run: the handshake is done.
    #[inline]
    fn is_on(&self) -> bool {
        // Acquire: pairs with the Release store of `ON` after a handshake
        // in another thread, so that handshake happens before this
        // thread's copies.
        self.state.load(Ordering::Acquire) == ON
    }

    /// Turns the gate on, the first time: announces readers to every
    /// writer of this process, then lets `handshake` take and release the
    /// lock, so that every holder from now on sees the announcement and
    /// no holder from before is still writing.
    ///
    /// # Errors
    ///
    /// Those of `handshake`; the gate then stays `ENABLING` (writers wait
    /// for readers, readers do not copy lock-free) and the next reader
    /// tries again.
    #[inline]
    fn open(&self, handshake: impl FnOnce() -> Result<()>) -> Result<()> {
        if self.is_on() {
            return Ok(());
        }
        self.enable(handshake)
    }

    /// The first time of [`open`](Self::open), out of line.
    #[cold]
    #[inline(never)]
    fn enable(&self, handshake: impl FnOnce() -> Result<()>) -> Result<()> {
        // Relaxed: the handshake's lock and unlock that follow order it
        // before every later holder's load (module docs). `fetch_max`
        // never moves `ON` back.
        self.state.fetch_max(ENABLING, Ordering::Relaxed);
        handshake()?;
        // Release: readers that see `ON` see the handshake done.
        self.state.store(ON, Ordering::Release);
        Ok(())
    }

    /// Counts this thread as a reader inside a copy until the returned
    /// token drops.
    fn enter(&self) -> Reading<'_> {
        // SeqCst: the reader's half of the Dekker argument (module docs).
        self.readers.fetch_add(1, Ordering::SeqCst);
        Reading(&self.readers)
    }
}

/// A reader thread inside a lock-free copy; leaves on drop.
struct Reading<'a>(&'a AtomicUsize);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        // Release: a writer whose acquire fence sees this count (or a later
        // one) sees the copy finished (module docs).
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// A lock's sequence word, with this process's gate of the lock.
#[derive(Clone, Copy)]
pub(crate) struct Sequence<'a> {
    pub(super) word: &'a AtomicU64,
    pub(super) gate: &'a SnapshotGate,
}

/// Makes the word odd: the holder may now write, once no reader of this
/// process is inside a copy. Called with the lock held, right after
/// locking.
#[inline(always)]
pub(super) fn begin_write(sequence: Sequence<'_>) {
    let word = sequence.word;
    // Relaxed load: only this holder writes the word, and the lock's
    // acquire ordered it after the previous holder's stores.
    let seen = word.load(Ordering::Relaxed);
    // Relaxed store: the release fence below orders it before every data
    // write that follows. `| 1` keeps a word already odd (left so by
    // another program) odd, rather than making it even under a writer.
    word.store(seen | 1, Ordering::Relaxed);
    fence(Ordering::Release);
    sequence.gate.wait_for_readers();
}

/// Makes the word even again: the holder's writes are complete. Called
/// with the lock held, right before unlocking.
#[inline(always)]
pub(super) fn end_write(word: &AtomicU64) {
    // Relaxed load: only this holder writes the word.
    let seen = word.load(Ordering::Relaxed);
    // Release: a reader that loads this value (Acquire) sees every write of
    // this holder, the data and the poison word. `(seen | 1) + 1` is the
    // next even value, whatever the word held; wrapping after 2^64 writes.
    word.store((seen | 1).wrapping_add(1), Ordering::Release);
}

/// Makes the word even after its holder died, possibly mid-write: part of
/// the owner-died recovery, with the lock held and the data just marked
/// poisoned.
pub(super) fn recover(word: &AtomicU64) {
    // Relaxed load: with the lock held, only this thread writes the word.
    let seen = word.load(Ordering::Relaxed);
    if seen & 1 == 1 {
        // Release: as `end_write`; the poison word stored before is
        // published with it.
        word.store(seen.wrapping_add(1), Ordering::Release);
    }
}

/// One lock-free attempt: the copy `read` made, if no holder wrote meanwhile.
#[inline]
fn try_read<R>(sequence: Sequence<'_>, read: &mut impl FnMut() -> R) -> Option<R> {
    let word = sequence.word;
    // Relaxed: only a hint, so that readers do not raise the count while a
    // writer waits for it to drain; the load below decides.
    if word.load(Ordering::Relaxed) & 1 == 1 {
        return None;
    }
    let reading = sequence.gate.enter();
    // SeqCst: the reader's half of the Dekker argument (module docs); as
    // an acquire load it also pairs with the Release of the `end_write`
    // that stored it.
    let before = word.load(Ordering::SeqCst);
    if before & 1 == 1 {
        return None;
    }
    let copy = read();
    drop(reading);
    // Acquire fence: pairs with a writer's release fence in `begin_write`
    // if `read` saw any of that writer's stores (module docs).
    fence(Ordering::Acquire);
    // Relaxed: ordered after the copy by the fence above.
    let after = word.load(Ordering::Relaxed);
    (before == after).then_some(copy)
}

impl RawLock {
    /// A copy of the data this lock guards, made by `read` without taking
    /// the lock when possible, never torn by a writer: the seqlock read
    /// (module docs). `words` are the words beside this lock in its lock
    /// area, `gate` this process's snapshot gate of it, `segment` the
    /// segment it lives in.
    ///
    /// `read` copies the data with relaxed atomic loads
    /// (`crate::atomic_copy`), never plain reads: it runs while writers may
    /// be writing, and a copy made while one did is thrown away. It may run
    /// several times. If the lock-free copies keep failing (a holder is
    /// writing for long, or died mid-write), it takes the lock, waiting as
    /// `wait` says, and runs `read` once under it. The first read in this
    /// process also takes and releases the lock once, waiting as `wait`
    /// says, to open `gate` (module docs).
    ///
    /// # Errors
    ///
    /// [`Poisoned`](crate::Error::Poisoned) if the data is poisoned, as
    /// `get()` reports it; the errors of taking the lock
    /// ([`TimedOut`](crate::Error::TimedOut),
    /// [`WouldBlock`](crate::Error::WouldBlock),
    /// [`WouldDeadlock`](crate::Error::WouldDeadlock), ...) if the
    /// lock-free path gave up.
    #[inline]
    pub(crate) fn read_consistent<R>(
        &self,
        words: &LockWords,
        gate: &SnapshotGate,
        segment: &Segment,
        wait: Wait,
        mut read: impl FnMut() -> R,
    ) -> Result<R> {
        gate.open(|| {
            // Poisoned or not: only the lock's order matters here.
            let beside = words.beside(Some(gate));
            drop(poison::lock(self, beside, segment, wait, Poisoned::Accept)?);
            Ok(())
        })?;
        // The common case inline: the first lock-free try succeeds.
        match try_read(words.sequence(gate), &mut read) {
            Some(copy) => unpoisoned(words, segment, copy),
            None => self.read_contended(words, gate, segment, wait, read),
        }
    }

    /// The rest of [`read_consistent`](Self::read_consistent), out of line:
    /// more lock-free tries, then the lock.
    #[inline(never)]
    fn read_contended<R>(
        &self,
        words: &LockWords,
        gate: &SnapshotGate,
        segment: &Segment,
        wait: Wait,
        mut read: impl FnMut() -> R,
    ) -> Result<R> {
        let sequence = words.sequence(gate);
        for _ in 1..OPTIMISTIC_TRIES {
            std::hint::spin_loop();
            if let Some(copy) = try_read(sequence, &mut read) {
                return unpoisoned(words, segment, copy);
            }
        }
        let beside = words.beside(Some(gate));
        let guard = poison::lock(self, beside, segment, wait, Poisoned::Refuse)?;
        let copy = read();
        drop(guard);
        Ok(copy)
    }
}

/// A lock-free `copy`, unless the data is poisoned
/// ([`Poisoned`](crate::Error::Poisoned)).
#[inline]
fn unpoisoned<R>(words: &LockWords, segment: &Segment, copy: R) -> Result<R> {
    // Ordered after the acquire load of the even sequence value, so a
    // poisoning published with it is seen (module docs).
    if poison::is_set(&words.poison) {
        return Err(poison::poisoned_error(segment));
    }
    Ok(copy)
}

#[cfg(test)]
mod tests;
