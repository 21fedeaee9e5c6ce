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
//!
//! A `T` with `Atomic*` fields, or with padding, is copied field by field
//! instead, each field with one access of its own size (byte by byte where
//! a packed struct leaves it unaligned), on both sides, and its padding is
//! not touched: its atomics may change under a `&T` (the private side of a
//! copy, or the data itself through
//! [`as_atomic`](crate::Shared::as_atomic)), and the only accesses that may
//! race theirs are atomics of their own size; and padding may be
//! uninitialised, which no integer read may meet.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::layout::{has_atomic, is_dense, Kind, Layout, SharedLayout};

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

/// Copies one value described by `layout` field by field: each number,
/// atomic or not, with one atomic access of its size on both sides (byte by
/// byte where the layout does not promise alignment for that, as in a
/// packed struct); padding is skipped. `align` is the alignment both
/// addresses are known to have.
///
/// # Safety
///
/// `source` and `destination` are valid for `layout.size()` bytes (reads,
/// writes), laid out as `layout` says and aligned to `align`, do not overlap,
/// and every concurrent access to either is an atomic access of the same
/// field's size (every copy of this layout goes through here).
unsafe fn copy_fields(layout: &Layout, align: usize, source: *const u8, destination: *mut u8) {
    match layout.kind() {
        Kind::Primitive(number) | Kind::Atomic(number) => {
            let size = number.size();
            // The word depends only on the layout, so it is the same for
            // every copy of this field, whichever private side it has.
            match (size, align >= size) {
                // SAFETY: the number is inside both sides (caller), aligned
                // for the word, and every concurrent access to it is atomic
                // with its size (caller, and the choice above).
                (8, true) => unsafe { copy_one::<u64>(source, destination) },
                // SAFETY: as above.
                (4, true) => unsafe { copy_one::<u32>(source, destination) },
                // SAFETY: as above.
                (2, true) => unsafe { copy_one::<u16>(source, destination) },
                // SAFETY: as above, a byte at a time.
                _ => unsafe { copy_bytes(source, destination, size) },
            }
        }
        // SAFETY: the string's bytes are inside both sides (caller).
        Kind::Bytes { capacity } => unsafe { copy_bytes(source, destination, *capacity) },
        Kind::Array { element, len } => {
            for i in 0..*len {
                let at = i * element.size();
                let (from, to) = (source.wrapping_add(at), destination.wrapping_add(at));
                // SAFETY: element `i` is inside both sides and laid out as
                // `element` (caller), at an address aligned as computed.
                unsafe { copy_fields(element, aligned_at(align, at), from, to) };
            }
        }
        Kind::Struct { .. } => {
            for field in layout.fields() {
                let at = field.offset();
                let (from, to) = (source.wrapping_add(at), destination.wrapping_add(at));
                // SAFETY: the field is inside both sides and laid out as its
                // type (caller), at an address aligned as computed.
                unsafe { copy_fields(field.ty(), aligned_at(align, at), from, to) };
            }
        }
    }
}

/// The alignment known of an address `offset` bytes past one aligned to
/// `align` (a power of two).
fn aligned_at(align: usize, offset: usize) -> usize {
    if offset == 0 {
        align
    } else {
        align.min(1 << offset.trailing_zeros())
    }
}

/// Copies one `W` with an atomic access on each side.
///
/// # Safety
///
/// Both pointers are aligned for `W` and valid for it (reads, writes), and
/// every concurrent access to either is atomic with `W`'s size.
#[inline(always)]
unsafe fn copy_one<W: Word>(source: *const u8, destination: *mut u8) {
    // SAFETY: forwarded from the caller.
    let word = unsafe { W::load(source.cast()) };
    // SAFETY: forwarded from the caller.
    unsafe { W::store(destination.cast(), word) };
}

/// Copies `len` bytes one atomic byte at a time.
///
/// # Safety
///
/// As [`copy_one`], for `len` bytes accessed bytewise.
unsafe fn copy_bytes(source: *const u8, destination: *mut u8, len: usize) {
    for i in 0..len {
        // SAFETY: byte `i` of both ranges (caller).
        unsafe { copy_one::<u8>(source.wrapping_add(i), destination.wrapping_add(i)) };
    }
}

/// Copies `count` `T`s with the words [`word_size`] chooses for `T`, or
/// field by field for a `T` with atomics or padding (see the module).
///
/// # Safety
///
/// As [`copy_words`]; for a `T` with atomics, the side that is not shared
/// may be accessed concurrently, but only through its atomics.
#[inline(always)]
unsafe fn copy<T: SharedLayout>(
    source: *const T,
    destination: *mut T,
    count: usize,
    shared: Shared,
) {
    if const { has_atomic(T::LAYOUT) || !is_dense(T::LAYOUT) } {
        for i in 0..count {
            let (from, to) = (source.wrapping_add(i), destination.wrapping_add(i));
            // SAFETY: element `i` of both sides (caller), a `T` laid out as
            // `T::LAYOUT` says (`SharedLayout`, an unsafe trait, promises
            // it); every copy of this layout goes through `copy_fields`, and
            // other accesses are to its atomics (caller).
            unsafe { copy_fields(T::LAYOUT, align_of::<T>(), from.cast(), to.cast()) };
        }
        return;
    }
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
pub(crate) unsafe fn load<T: SharedLayout>(source: *const T, destination: *mut T, count: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { copy(source, destination, count, Shared::Source) }
}

/// Copies `count` `T`s from `source` into shared memory at `destination`.
///
/// # Safety
///
/// As [`load`], with the roles swapped: nothing accesses `source` for the
/// call (for a `T` with atomics: nothing but atomic accesses to them), and
/// `destination` is the shared side.
#[inline]
pub(crate) unsafe fn store<T: SharedLayout>(source: *const T, destination: *mut T, count: usize) {
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

    /// Atomics beside plain numbers, with padding between them.
    #[derive(crate::SharedLayout)]
    #[repr(C)]
    struct Counted {
        hits: std::sync::atomic::AtomicU32,
        tag: u8,
        total: u64,
    }

    #[test]
    fn a_type_with_atomics_is_copied_field_by_field_padding_untouched() {
        let source = Counted {
            hits: std::sync::atomic::AtomicU32::new(7),
            tag: 3,
            total: 1 << 40,
        };
        // The destination's bytes start as 0xaa, so that padding left alone
        // shows.
        let mut shared = std::mem::MaybeUninit::<Counted>::uninit();
        // SAFETY: a local of `Counted`'s size.
        unsafe {
            shared
                .as_mut_ptr()
                .cast::<u8>()
                .write_bytes(0xaa, size_of::<Counted>())
        };
        // SAFETY: two distinct locals, aligned; nothing else uses them.
        unsafe { store(&source, shared.as_mut_ptr(), 1) };
        let bytes = shared.as_ptr().cast::<u8>();
        // SAFETY: every byte of the local was written above.
        let padding = unsafe { bytes.wrapping_add(5).read() };
        assert_eq!(padding, 0xaa, "padding is not copied");
        // SAFETY: every field was copied in whole, so it is a valid `Counted`.
        let shared = unsafe { shared.assume_init() };
        let mut back = std::mem::MaybeUninit::<Counted>::uninit();
        // SAFETY: as above.
        unsafe { load(&shared, back.as_mut_ptr(), 1) };
        // SAFETY: every field was copied, and padding may stay uninitialised.
        let back = unsafe { back.assume_init() };
        assert_eq!(
            (back.hits.into_inner(), back.tag, back.total),
            (7, 3, 1 << 40)
        );
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
