//! Copies between shared memory and private memory that are never data
//! races: the shared side is read and written only with relaxed atomic
//! loads and stores.
//!
//! Other processes and threads write a lock-free object's data at any
//! moment. A plain `memcpy` racing such a write is undefined behaviour in
//! Rust's memory model, whatever the bytes; atomic accesses are not. Each
//! copy still tears at word boundaries (a racing reader may see some words
//! old and some new, each a valid `T` since `T: SharedLayout`), which is
//! what Python's `lock=False` objects do too.
//!
//! The word size is chosen from `T` alone (the largest of 8, 4, 2, 1 bytes
//! that divides `size_of::<T>()` and is at most `align_of::<T>()`), so all
//! copies of one object's data, whole or element by element, access every
//! byte with the same size at the same address: the memory model forbids
//! racing atomic accesses of mixed sizes.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// An unsigned integer that is copied with one atomic access.
trait Word: Copy {
    /// Loads `*ptr` atomically.
    ///
    /// # Safety
    ///
    /// `ptr` is aligned, valid for reads of `Self` for the call, and every
    /// concurrent access to it is atomic.
    unsafe fn load(ptr: *const Self) -> Self;

    /// Stores `value` at `ptr` atomically.
    ///
    /// # Safety
    ///
    /// As [`Word::load`], for writes.
    unsafe fn store(ptr: *mut Self, value: Self);
}

macro_rules! word {
    ($word:ty, $atomic:ty) => {
        impl Word for $word {
            #[inline(always)]
            unsafe fn load(ptr: *const Self) -> Self {
                // SAFETY: aligned, valid and only accessed atomically (the
                // caller); the atomic type has the integer's size and
                // alignment.
                let atomic = unsafe { <$atomic>::from_ptr(ptr.cast_mut()) };
                // Relaxed: a copy publishes nothing by itself.
                atomic.load(Ordering::Relaxed)
            }

            #[inline(always)]
            unsafe fn store(ptr: *mut Self, value: Self) {
                // SAFETY: as in `load`.
                let atomic = unsafe { <$atomic>::from_ptr(ptr) };
                // Relaxed: as in `load`.
                atomic.store(value, Ordering::Relaxed);
            }
        }
    };
}

word!(u64, AtomicU64);
word!(u32, AtomicU32);
word!(u16, AtomicU16);
word!(u8, AtomicU8);

/// The size of the words that copies of `T`s use.
const fn word_size<T>() -> usize {
    let (size, align) = (size_of::<T>(), align_of::<T>());
    let mut word = 8;
    while word > 1 && (size % word != 0 || align < word) {
        word /= 2;
    }
    word
}

/// Which side of a copy is shared memory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shared {
    /// Loading out of shared memory.
    Source,
    /// Storing into shared memory.
    Destination,
}

/// Copies `count` `T`s word by word with `W`, accessing the `shared` side
/// atomically.
///
/// # Safety
///
/// As [`load`] or [`store`] (by `shared`), with `W` of
/// [`word_size::<T>()`](word_size) bytes.
#[inline(always)]
unsafe fn copy_words<T, W: Word>(
    source: *const T,
    destination: *mut T,
    count: usize,
    shared: Shared,
) {
    let words = count * (size_of::<T>() / size_of::<W>());
    let (from, to) = (source.cast::<W>(), destination.cast::<W>());
    for i in 0..words {
        // Word `i` lies inside the `count` `T`s on both sides (the words
        // tile them exactly), aligned since `T`'s alignment is at least
        // `W`'s; the shared side is only accessed atomically (caller), the
        // private side by nothing else during the call.
        if shared == Shared::Source {
            // SAFETY: see above; `from` is the shared side.
            let word = unsafe { W::load(from.wrapping_add(i)) };
            // SAFETY: see above; `to` is private.
            unsafe { to.wrapping_add(i).write(word) };
        } else {
            // SAFETY: see above; `from` is private.
            let word = unsafe { from.wrapping_add(i).read() };
            // SAFETY: see above; `to` is the shared side.
            unsafe { W::store(to.wrapping_add(i), word) };
        }
    }
}

/// Copies `count` `T`s with the words [`word_size`] chooses for `T`.
///
/// # Safety
///
/// As [`copy_words`].
#[inline(always)]
unsafe fn copy<T>(source: *const T, destination: *mut T, count: usize, shared: Shared) {
    match word_size::<T>() {
        // SAFETY: forwarded from the caller, with `word_size`'s choice of
        // word (as in every arm).
        8 => unsafe { copy_words::<T, u64>(source, destination, count, shared) },
        // SAFETY: as above.
        4 => unsafe { copy_words::<T, u32>(source, destination, count, shared) },
        // SAFETY: as above.
        2 => unsafe { copy_words::<T, u16>(source, destination, count, shared) },
        // SAFETY: as above.
        _ => unsafe { copy_words::<T, u8>(source, destination, count, shared) },
    }
}

/// Copies `count` `T`s out of shared memory at `source` into `destination`.
///
/// # Safety
///
/// `source` and `destination` are aligned for `T` and valid for `count`
/// `T`s (reads, writes), do not overlap, and for the call nothing accesses
/// `destination` and everything that accesses `source` concurrently does so
/// through this module, with the same `T`.
#[inline]
pub(crate) unsafe fn load<T>(source: *const T, destination: *mut T, count: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { copy(source, destination, count, Shared::Source) }
}

/// Copies `count` `T`s from `source` into shared memory at `destination`.
///
/// # Safety
///
/// As [`load`], with the roles swapped: nothing accesses `source` for the
/// call, and `destination` is the shared side.
#[inline]
pub(crate) unsafe fn store<T>(source: *const T, destination: *mut T, count: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { copy(source, destination, count, Shared::Destination) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_sizes_follow_size_and_alignment() {
        assert_eq!(word_size::<f64>(), 8);
        assert_eq!(word_size::<[u32; 3]>(), 4);
        assert_eq!(word_size::<[u16; 4]>(), 2);
        assert_eq!(word_size::<[u8; 3]>(), 1);
        assert_eq!(word_size::<(u64, u8)>(), 8);
    }

    #[test]
    fn copies_round_trip() {
        let source = [1.5f64, -2.0, 3.25];
        let mut shared = [0f64; 3];
        let mut back = [0f64; 3];
        // SAFETY: three distinct local arrays, aligned, nothing else uses them.
        unsafe { store(source.as_ptr(), shared.as_mut_ptr(), 3) };
        // SAFETY: as above.
        unsafe { load(shared.as_ptr(), back.as_mut_ptr(), 3) };
        assert_eq!(back, source);
        let bytes = *b"abc";
        let mut copy = [0u8; 3];
        // SAFETY: as above.
        unsafe { load(bytes.as_ptr(), copy.as_mut_ptr(), 3) };
        assert_eq!(&copy, b"abc");
    }
}
