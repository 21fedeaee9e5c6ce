//! `Array<T>` and `RawArray<T>`: a number of `T`s, chosen when the segment
//! is created, in a named, type-checked segment — Python's
//! `multiprocessing.Array` and `RawArray`.
//!
//! The copies in and out of the elements live in one place, [`Elements`]:
//! [`RawArray`] calls it directly, [`Array`] through it (and, once the
//! process-shared locks exist, under its lock), and so will a lock guard.

use std::fmt;
use std::iter::FusedIterator;
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{compiler_fence, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::atomic_copy;
use crate::error::{Error, Result};
use crate::layout::{Layout, SharedLayout, StoredRoot};
use crate::named::{expect_lock_mode, Lock, NamedLockGuard};
use crate::segment::{LockMode, LockPlan, Segment, SegmentOptions};
use crate::sync::poison::{Poisoned, Wait};
use crate::sync::DataGuard;
use crate::value::{open_lock, read_shared, shared_lock_plan, write_shared};

/// `len` elements of `T` side by side in shared memory, and every copy in
/// and out of them: the one place that touches an array's data.
///
/// Other processes may write these elements at any moment, so they are only
/// reached through raw pointers, copied word by word with relaxed atomic
/// loads and stores (`atomic_copy`, so a racing copy is no data race)
/// between compiler fences, as [`read_shared`] and [`write_shared`] do; no
/// `&T` or `&[T]` into them is ever made outside a held lock.
///
/// # Races
///
/// Two copies of the same element at the same time — from two processes,
/// or two threads with two handles — are not prevented here: a read racing
/// a write may see a mix of the old and new bytes, and two racing writes may
/// leave a mix of both, at word boundaries. Every mix is still a valid `T`
/// (`T: SharedLayout` promises that every bit pattern is), and the atomic
/// copies make the race defined, so a race tears values but never makes an
/// invalid one. Keeping writers apart is the lock's business
/// ([`Array`]'s, once it has one); [`RawArray`] has none, like Python's.
#[derive(Clone, Copy)]
pub(crate) struct Elements<'a, T> {
    first: NonNull<T>,
    len: usize,
    _segment: PhantomData<&'a Segment>,
}

impl<'a, T: SharedLayout> Elements<'a, T> {
    /// The `len` elements starting at `first`.
    ///
    /// # Safety
    ///
    /// `first` must be aligned for `T` and valid for reads and writes of
    /// `len * size_of::<T>()` bytes for `'a`, memory that no Rust reference
    /// points into (a segment's data, which is only reached through
    /// pointers).
    unsafe fn new(first: NonNull<T>, len: usize) -> Elements<'a, T> {
        debug_assert!(first.as_ptr().is_aligned());
        Elements {
            first,
            len,
            _segment: PhantomData,
        }
    }

    /// The elements of `segment`'s data, which must hold `len` `T`s.
    ///
    /// # Safety
    ///
    /// The segment's data area must be at least `len * size_of::<T>()`
    /// bytes, aligned for `T`: a segment created for, or opened and checked
    /// against, a layout of `len` `T`s.
    unsafe fn of(segment: &'a Segment, len: usize) -> Elements<'a, T> {
        // SAFETY: the data area is inside the mapping, which lives as long
        // as `segment` is borrowed; its size and alignment are the caller's
        // promise; nothing hands out references into it.
        unsafe { Elements::new(segment.data().cast::<T>(), len) }
    }

    /// The number of elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A pointer to element `index`, checked against the length.
    fn element(&self, index: usize) -> Result<*mut T> {
        if index >= self.len {
            return Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            });
        }
        Ok(self.first.as_ptr().wrapping_add(index))
    }

    /// A pointer to elements `start .. start + count`, checked.
    fn range(&self, start: usize, count: usize) -> Result<*mut T> {
        match start.checked_add(count) {
            Some(end) if end <= self.len => Ok(self.first.as_ptr().wrapping_add(start)),
            _ => Err(Error::LengthMismatch {
                len: self.len,
                slice_len: count,
            }),
        }
    }

    /// A copy of element `index`.
    pub(crate) fn get(&self, index: usize) -> Result<T> {
        let element = self.element(index)?;
        // SAFETY: `index < len` (checked by `element`), so `element` is one
        // of the `len` elements `Elements::new`'s caller vouched for: valid
        // for reads of a `T` and aligned (the first is, and `size_of::<T>()`
        // is a multiple of `align_of::<T>()`). Racing writers: see the type.
        Ok(unsafe { read_shared(element) })
    }

    /// Replaces element `index`.
    pub(crate) fn set(&self, index: usize, value: T) -> Result<()> {
        let element = self.element(index)?;
        // SAFETY: as in `get`, for writes.
        unsafe { write_shared(element, value) };
        Ok(())
    }

    /// Copies `source` into the elements from `start` on.
    pub(crate) fn write(&self, start: usize, source: &[T]) -> Result<()> {
        let destination = self.range(start, source.len())?;
        // SAFETY: `destination .. + source.len()` are elements in bounds
        // (checked by `range`), valid for writes and aligned (see `get`).
        // `source` is a Rust slice, which cannot overlap these elements: a
        // reference into a segment exists only while this thread holds the
        // segment's lock through a guard (`DataGuard`, or a `&mut` borrow
        // of a `NamedLockGuard`), and then every copy into the segment is
        // refused first (locking again is `WouldDeadlock`; the `_locked`
        // forms need that borrowed guard).
        // `T: SharedLayout` has no drop glue, so overwriting without
        // dropping and duplicating `source`'s bytes are both fine. Racing
        // writers tear values but make no invalid one: see the type.
        unsafe { atomic_copy::store(source.as_ptr(), destination, source.len()) };
        // Keeps the compiler from sinking the copy past later code or
        // dropping it as unobserved, as `write_shared` does.
        compiler_fence(Ordering::SeqCst);
        Ok(())
    }

    /// Copies the elements from `start` on into `destination`.
    pub(crate) fn read(&self, start: usize, destination: &mut [T]) -> Result<()> {
        let source = self.range(start, destination.len())?;
        // Keeps the compiler from reusing what an earlier copy read, as
        // `read_shared` does: another process may have written since.
        compiler_fence(Ordering::SeqCst);
        // SAFETY: `source .. + destination.len()` are elements in bounds
        // (checked by `range`), valid for reads and aligned (see `get`);
        // `destination` is a Rust slice, which cannot overlap them (see
        // `write`). Any bytes found are valid `T`s
        // (`T: SharedLayout`), and the overwritten ones need no drop.
        unsafe { atomic_copy::load(source, destination.as_mut_ptr(), destination.len()) };
        Ok(())
    }

    /// A copy of every element.
    pub(crate) fn to_vec(&self) -> Vec<T> {
        let mut copy = Vec::<T>::with_capacity(self.len);
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the `len` elements are valid for reads and aligned (see
        // `get`); `copy` is a fresh allocation with room for `len` of them,
        // so it is valid for writes and cannot overlap the segment.
        unsafe { atomic_copy::load(self.first.as_ptr(), copy.as_mut_ptr(), self.len) };
        // SAFETY: the first `len` elements of `copy` were written just
        // above, and any bytes are a valid `T` (`T: SharedLayout`).
        unsafe { copy.set_len(self.len) };
        copy
    }
}

/// The descriptor of `len` elements of `T`, `[T; len]`; `None` if its size
/// overflows.
fn array_layout<T: SharedLayout>(len: usize) -> Option<Layout> {
    let size = T::LAYOUT.size().checked_mul(len)?;
    isize::try_from(size).ok()?;
    Some(Layout::array(T::LAYOUT, len))
}

/// The layout an opener of a segment holding `stored` expects: `[T; len]`
/// with the stored array's length, so that only the element type is
/// checked. A segment that holds something else is compared with as many
/// `T`s as fit in it, which the layout check then refuses with a message
/// that names both types.
fn expected_array<T: SharedLayout>(stored: StoredRoot) -> (Layout, usize) {
    let fitting = || stored.size().checked_div(T::LAYOUT.size()).unwrap_or(0);
    let len = match stored {
        StoredRoot::Array { len, .. } => len,
        _ => fitting(),
    };
    if let Some(layout) = array_layout::<T>(len) {
        return (layout, len);
    }
    // The stored length of smaller elements overflows in `T`s: the element
    // types differ, and any length shows it.
    let len = fitting();
    let layout = array_layout::<T>(len).expect("as many T as fit in a stored size");
    (layout, len)
}

/// The error for an array too large to describe.
fn too_large<T: SharedLayout>(name: &str, len: usize) -> Error {
    Error::InvalidInput {
        reason: format!(
            "segment \"{name}\" for {len} elements of `{}` ({} bytes each) would be larger \
             than this process can map",
            T::LAYOUT.name(),
            T::LAYOUT.size()
        ),
    }
}

/// `len` elements of `T` — numbers or `#[derive(SharedLayout)]` structs —
/// in a named shared-memory segment, with no lock: Python's
/// `multiprocessing.RawArray`, and the storage under [`Array`].
///
/// The length is chosen when the segment is created and never changes;
/// [`open`](RawArray::open) reads it from the segment, after checking that
/// the segment holds `T`s: the same element layout, field by field
/// (a mismatch is an [`Error::LayoutMismatch`] naming the differing
/// fields). The segment's descriptor is the array's, `[T; len]`, so Python
/// and C see a `T * len` array, and a [`Value<[T; N]>`](crate::Value) opens
/// it too.
///
/// Access is by copies only: [`get`](RawArray::get) and
/// [`set`](RawArray::set) one element, [`iter`](RawArray::iter) copies,
/// [`copy_from_slice`](RawArray::copy_from_slice),
/// [`copy_to_slice`](RawArray::copy_to_slice) and
/// [`to_vec`](RawArray::to_vec) all of them, word by word with relaxed
/// atomic loads and stores (close to `memcpy` speed). Other
/// processes may write the elements at any moment, so no `&T` or `&[T]`
/// into the segment is ever handed out.
///
/// # Concurrency
///
/// Nothing keeps two processes from copying the same element at once: a
/// read racing a write can see a mix of the old and the new value (always
/// a valid `T`; the copies are atomic word by word, so the race is not
/// undefined behaviour). Use [`Array`] when that matters.
///
/// # Lifetime
///
/// As for [`Value`](crate::Value): the segment lives until its name is
/// unlinked, explicitly ([`RawArray::unlink`], [`crate::unlink`]) or when
/// the creating handle drops if it was created with
/// [`SegmentOptions::unlink_on_drop`]. An opener never unlinks.
///
/// # Examples
///
/// ```
/// use shmstruct::{RawArray, SegmentOptions};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-rawarray-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir);
///
/// let squares = RawArray::create_with("squares", &[0u64, 1, 4, 9], &options)?;
/// // Another process would do this; it learns the length from the segment:
/// let other = RawArray::<u64>::open_with("squares", &options)?;
/// assert_eq!(other.len(), 4);
/// other.set(3, 16)?;
/// assert_eq!(squares.to_vec(), [0, 1, 4, 16]);
///
/// // Out of range is an error, with the index and the length.
/// let error = squares.get(4).unwrap_err();
/// assert_eq!(error.to_string(), "index 4 is out of range for an array of length 4");
///
/// squares.unlink()?;
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub struct RawArray<T: SharedLayout> {
    segment: Arc<Segment>,
    len: usize,
    created: bool,
    _type: PhantomData<T>,
}

/// Another handle to the same mapping (no new mapping, no system call).
/// It counts as the creator if this one does; a segment created with
/// [`SegmentOptions::unlink_on_drop`](crate::SegmentOptions::unlink_on_drop)
/// is removed when the last of the clones drops.
impl<T: SharedLayout> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            segment: Arc::clone(&self.segment),
            len: self.len,
            created: self.created,
            _type: PhantomData,
        }
    }
}

impl<T: SharedLayout> RawArray<T> {
    /// Creates the segment `name` in the default directory (`/dev/shm`, or
    /// `$SHMSTRUCT_DIR`), with mode `0600`, holding a copy of `elements`.
    ///
    /// # Errors
    ///
    /// As [`Value::create`](crate::Value::create): invalid name, already
    /// exists, permission denied, no space (nothing is left behind), or
    /// another I/O error (also for an array too large to map).
    pub fn create(name: &str, elements: &[T]) -> Result<RawArray<T>> {
        RawArray::create_with(name, elements, &SegmentOptions::new())
    }

    /// [`RawArray::create`] with options: directory, mode, unlinking on drop.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_with(
        name: &str,
        elements: &[T],
        options: &SegmentOptions,
    ) -> Result<RawArray<T>> {
        RawArray::create_slice(name, elements, options, LockPlan::None)
    }

    /// Creates an array holding a copy of `elements`, with lock mode `mode`.
    pub(crate) fn create_slice(
        name: &str,
        elements: &[T],
        options: &SegmentOptions,
        mode: LockPlan,
    ) -> Result<RawArray<T>> {
        let layout = array_layout::<T>(elements.len())
            .ok_or_else(|| too_large::<T>(name, elements.len()))?;
        RawArray::create_described(name, &layout, elements.len(), options, mode, |_, data| {
            data.write(0, elements)
                .expect("the array is as long as the slice");
        })
    }

    /// Creates the segment `name` holding the elements `elements` yields:
    /// as many as its [`len`](ExactSizeIterator::len) says (an iterator
    /// that yields fewer leaves the rest zero, one that yields more is cut
    /// short).
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_from_iter<I>(name: &str, elements: I) -> Result<RawArray<T>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        RawArray::create_from_iter_with(name, elements, &SegmentOptions::new())
    }

    /// [`RawArray::create_from_iter`] with options.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_from_iter_with<I>(
        name: &str,
        elements: I,
        options: &SegmentOptions,
    ) -> Result<RawArray<T>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        RawArray::create_iter(name, elements.into_iter(), options, LockPlan::None)
    }

    /// Creates an array holding what `elements` yields, with lock mode
    /// `mode`.
    pub(crate) fn create_iter(
        name: &str,
        elements: impl ExactSizeIterator<Item = T>,
        options: &SegmentOptions,
        mode: LockPlan,
    ) -> Result<RawArray<T>> {
        let len = elements.len();
        let layout = array_layout::<T>(len).ok_or_else(|| too_large::<T>(name, len))?;
        RawArray::create_described(name, &layout, len, options, mode, |_, data| {
            for (index, element) in elements.take(len).enumerate() {
                data.set(index, element).expect("index < len");
            }
        })
    }

    /// Creates the segment `name` holding `len` elements whose bytes are
    /// all zero (a valid `T`, as for every `SharedLayout` type): Python's
    /// `RawArray(Point, 1000)`. Costs nothing per element: the file system
    /// hands out zeroed space.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_zeroed(name: &str, len: usize) -> Result<RawArray<T>> {
        RawArray::create_zeroed_with(name, len, &SegmentOptions::new())
    }

    /// [`RawArray::create_zeroed`] with options.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_zeroed_with(
        name: &str,
        len: usize,
        options: &SegmentOptions,
    ) -> Result<RawArray<T>> {
        RawArray::create_zeroed_mode(name, len, options, LockPlan::None)
    }

    /// Creates an array of `len` zeroed elements with lock mode `mode`.
    pub(crate) fn create_zeroed_mode(
        name: &str,
        len: usize,
        options: &SegmentOptions,
        mode: LockPlan,
    ) -> Result<RawArray<T>> {
        let layout = array_layout::<T>(len).ok_or_else(|| too_large::<T>(name, len))?;
        RawArray::create_described(name, &layout, len, options, mode, |_, _| {})
    }

    /// Opens the segment `name` in the default directory, checks that it
    /// holds an array of `T`s and takes its length from it, waiting up to a
    /// second for its creator to finish it.
    ///
    /// # Errors
    ///
    /// As [`Value::open`](crate::Value::open); a segment that holds other
    /// elements, or no array, is an
    /// [`Error::LayoutMismatch`] naming both types and the differing fields.
    pub fn open(name: &str) -> Result<RawArray<T>> {
        RawArray::open_with(name, &SegmentOptions::new())
    }

    /// [`RawArray::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`RawArray::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<RawArray<T>> {
        let raw = RawArray::open_described(name, options, expected_array::<T>)?;
        raw.expect_no_lock("a `RawArray` (which has no lock)")?;
        Ok(raw)
    }

    /// Checks that the segment has no lock, for the lock-free handles.
    pub(crate) fn expect_no_lock(&self, opened_as: &'static str) -> Result<()> {
        expect_lock_mode(&self.segment, |mode| *mode == LockMode::None, opened_as)
    }

    /// Creates a segment described by `layout`, whose data is `len` `T`s,
    /// and lets `init` fill them (and, through the segment, the lock area)
    /// before the segment is published. `layout`'s size must be
    /// `len * size_of::<T>()` and its alignment `align_of::<T>()`.
    pub(crate) fn create_described(
        name: &str,
        layout: &Layout,
        len: usize,
        options: &SegmentOptions,
        mode: LockPlan,
        init: impl FnOnce(&Segment, Elements<'_, T>),
    ) -> Result<RawArray<T>> {
        assert_eq!(Some(layout.size()), T::LAYOUT.size().checked_mul(len));
        assert_eq!(layout.align(), T::LAYOUT.align());
        let segment = Segment::create_locked(name, layout, options, mode, |segment| {
            // SAFETY: the segment was planned for `layout`: `len` `T`s
            // (asserted above), aligned to at least `align_of::<T>()`.
            let data = unsafe { Elements::of(segment, len) };
            init(segment, data);
            Ok(())
        })?;
        Ok(RawArray {
            segment: Arc::new(segment),
            len,
            created: true,
            _type: PhantomData,
        })
    }

    /// Opens a segment and checks it against the layout and length that
    /// `expected` makes of its stored descriptor; the layout must describe
    /// `len` `T`s, as for [`RawArray::create_described`].
    pub(crate) fn open_described(
        name: &str,
        options: &SegmentOptions,
        expected: impl FnOnce(StoredRoot) -> (Layout, usize),
    ) -> Result<RawArray<T>> {
        let mut len = 0;
        let segment = Segment::open_matching(name, options, |stored| {
            let (layout, count) = expected(stored);
            assert_eq!(Some(layout.size()), T::LAYOUT.size().checked_mul(count));
            assert_eq!(layout.align(), T::LAYOUT.align());
            len = count;
            layout
        })?;
        Ok(RawArray {
            segment: Arc::new(segment),
            len,
            created: false,
            _type: PhantomData,
        })
    }

    /// The elements, for the copies.
    pub(crate) fn elements(&self) -> Elements<'_, T> {
        // SAFETY: the segment was created for, or opened and checked
        // against, a layout of `self.len` `T`s (`create_described`,
        // `open_described`): its data area holds them, aligned.
        unsafe { Elements::of(&self.segment, self.len) }
    }

    /// The segment, for its lock.
    pub(crate) fn segment(&self) -> &Arc<Segment> {
        &self.segment
    }

    /// The elements as a slice pointer, for guards that hand out `&mut [T]`:
    /// `len` `T`s, aligned, mapped while `self` lives.
    pub(crate) fn data(&self) -> NonNull<[T]> {
        NonNull::slice_from_raw_parts(self.segment.data().cast::<T>(), self.len)
    }

    /// The number of elements, fixed when the segment was created.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of element `index`.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `index >= len()`.
    pub fn get(&self, index: usize) -> Result<T> {
        self.elements().get(index)
    }

    /// Replaces element `index`.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `index >= len()`; nothing is written.
    pub fn set(&self, index: usize, value: T) -> Result<()> {
        self.elements().set(index, value)
    }

    /// Copies of the elements, in order, each read when the iterator
    /// reaches it.
    pub fn iter(&self) -> ArrayIter<'_, T> {
        ArrayIter::new(self.elements())
    }

    /// A copy of every element, in one word-wise atomic copy.
    pub fn to_vec(&self) -> Vec<T> {
        self.elements().to_vec()
    }

    /// Replaces every element with `source`'s, in one word-wise atomic copy.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `source.len() == len()`; nothing is
    /// written.
    pub fn copy_from_slice(&self, source: &[T]) -> Result<()> {
        self.check_len(source.len())?;
        self.elements().write(0, source)
    }

    /// Copies every element into `destination`, in one word-wise atomic copy.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `destination.len() == len()`;
    /// `destination` is then unchanged.
    pub fn copy_to_slice(&self, destination: &mut [T]) -> Result<()> {
        self.check_len(destination.len())?;
        self.elements().read(0, destination)
    }

    pub(crate) fn check_len(&self, slice_len: usize) -> Result<()> {
        if slice_len != self.len {
            return Err(Error::LengthMismatch {
                len: self.len,
                slice_len,
            });
        }
        Ok(())
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.segment.name()
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        self.segment.path()
    }

    /// Whether this handle created the segment.
    pub fn is_creator(&self) -> bool {
        self.created
    }

    /// Removes the segment's name, as [`Value::unlink`](crate::Value::unlink).
    ///
    /// # Errors
    ///
    /// [`NotFound`](crate::Error::NotFound) if the name is already gone or
    /// names another segment now;
    /// [`PermissionDenied`](crate::Error::PermissionDenied) or
    /// [`Io`](crate::Error::Io) if removing it fails.
    pub fn unlink(&self) -> Result<()> {
        self.segment.unlink()
    }
}

impl<T: SharedLayout> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArray")
            .field("name", &self.name())
            .field("type", &T::LAYOUT.name())
            .field("len", &self.len)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl<'a, T: SharedLayout> IntoIterator for &'a RawArray<T> {
    type Item = T;
    type IntoIter = ArrayIter<'a, T>;

    fn into_iter(self) -> ArrayIter<'a, T> {
        self.iter()
    }
}

/// `len` elements of `T` in a named shared-memory segment, guarded by a
/// process-shared, robust lock: Python's `multiprocessing.Array`.
///
/// The same segment and descriptor as a [`RawArray`], with a lock, and the
/// same three meanings of Python's `lock=` as [`Value`](crate::Value): its
/// own lock ([`Array::create`] and the other `create` forms), no lock (use
/// [`RawArray`]; opening one's segment as an `Array`, or the reverse, is an
/// [`Error::LockModeMismatch`]), or a [`Lock`] shared with other objects
/// ([`Array::create_with_lock`]; [`Array::open`] opens that lock too).
///
/// Every operation takes the lock: [`get`](Array::get), [`set`](Array::set),
/// [`to_vec`](Array::to_vec), [`iter`](Array::iter) (a copy taken under
/// one acquisition) and the bulk [`copy_from_slice`](Array::copy_from_slice)
/// and [`copy_to_slice`](Array::copy_to_slice) close to `memcpy` speed.
/// [`lock`](Array::lock) returns a guard through which the elements are
/// read and written in place as a `[T]` until it drops. Under a shared lock
/// the caller already holds, the `_locked` forms check the guard and copy,
/// or, [`as_mut_slice_locked`](Array::as_mut_slice_locked), lend the
/// elements in place.
/// Out-of-range indices and slices of another length are errors that name
/// the index (or slice length) and the array's length.
///
/// When a lock holder dies or panics, see
/// [`Value`](crate::Value#when-a-lock-holder-dies): every operation that
/// takes the lock reports [`Error::Poisoned`] until the elements are
/// repaired through [`lock_poisoned`](Array::lock_poisoned).
///
/// # Examples
///
/// ```
/// use shmstruct::{Array, SegmentOptions, SharedLayout};
///
/// #[repr(C)]
/// #[derive(SharedLayout, Clone, Copy, Debug, PartialEq)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-array-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
///
/// let points = [Point { x: 1.875, y: -6.25 }, Point { x: -5.75, y: 2.0 }];
/// let a = Array::create_with("points", &points, &options)?;
///
/// // Another process, knowing only the element type, squares every point
/// // under one acquisition of the lock:
/// let b = Array::<Point>::open_with("points", &options)?;
/// for p in b.lock()?.iter_mut() {
///     *p = Point { x: p.x * p.x, y: p.y * p.y };
/// }
/// assert_eq!(a.get(0)?, Point { x: 3.515625, y: 39.0625 });
///
/// // Bulk copies need slices of the array's length.
/// let mut out = vec![Point { x: 0.0, y: 0.0 }; 3];
/// let error = a.copy_to_slice(&mut out).unwrap_err();
/// assert!(error.to_string().contains("3 elements"));
/// # drop((a, b));
/// # std::fs::remove_dir(&dir).unwrap();
/// # Ok::<(), shmstruct::Error>(())
/// ```
pub struct Array<T: SharedLayout> {
    raw: RawArray<T>,
    lock: Lock,
}

/// Another handle to the same mapping (no new mapping, no system call).
/// It counts as the creator if this one does; a segment created with
/// [`SegmentOptions::unlink_on_drop`](crate::SegmentOptions::unlink_on_drop)
/// is removed when the last of the clones drops.
impl<T: SharedLayout> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            raw: self.raw.clone(),
            lock: self.lock.clone(),
        }
    }
}

impl<T: SharedLayout> Array<T> {
    /// Creates the segment `name` in the default directory holding a copy
    /// of `elements`, with its own lock.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create(name: &str, elements: &[T]) -> Result<Array<T>> {
        Array::create_with(name, elements, &SegmentOptions::new())
    }

    /// [`Array::create`] with options: directory, mode, unlinking on drop.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_with(name: &str, elements: &[T], options: &SegmentOptions) -> Result<Array<T>> {
        RawArray::create_slice(name, elements, options, LockPlan::Own).map(Array::own)
    }

    /// Creates the segment `name` holding a copy of `elements`, guarded by
    /// `lock` (Python's `Array(..., lock=lock)`), as
    /// [`Value::create_with_lock`](crate::Value::create_with_lock).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if the lock is not in the array's directory;
    /// otherwise as [`RawArray::create`].
    pub fn create_with_lock(name: &str, elements: &[T], lock: &Lock) -> Result<Array<T>> {
        Array::create_with_lock_and_options(name, elements, lock, &SegmentOptions::new())
    }

    /// [`Array::create_with_lock`] with options.
    ///
    /// # Errors
    ///
    /// As [`Array::create_with_lock`].
    pub fn create_with_lock_and_options(
        name: &str,
        elements: &[T],
        lock: &Lock,
        options: &SegmentOptions,
    ) -> Result<Array<T>> {
        let plan = shared_lock_plan(name, lock, options)?;
        let raw = RawArray::create_slice(name, elements, options, plan)?;
        Ok(Array {
            raw,
            lock: lock.clone(),
        })
    }

    /// Creates the segment `name` holding what `elements` yields, as
    /// [`RawArray::create_from_iter`], with its own lock.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_from_iter<I>(name: &str, elements: I) -> Result<Array<T>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        Array::create_from_iter_with(name, elements, &SegmentOptions::new())
    }

    /// [`Array::create_from_iter`] with options.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_from_iter_with<I>(
        name: &str,
        elements: I,
        options: &SegmentOptions,
    ) -> Result<Array<T>>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        RawArray::create_iter(name, elements.into_iter(), options, LockPlan::Own).map(Array::own)
    }

    /// Creates the segment `name` holding `len` all-zero elements, with its
    /// own lock: Python's `Array(Point, 1000)`.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_zeroed(name: &str, len: usize) -> Result<Array<T>> {
        Array::create_zeroed_with(name, len, &SegmentOptions::new())
    }

    /// [`Array::create_zeroed`] with options.
    ///
    /// # Errors
    ///
    /// As [`RawArray::create`].
    pub fn create_zeroed_with(
        name: &str,
        len: usize,
        options: &SegmentOptions,
    ) -> Result<Array<T>> {
        RawArray::create_zeroed_mode(name, len, options, LockPlan::Own).map(Array::own)
    }

    /// Opens the segment `name`, checks that it holds an array of `T`s
    /// guarded by a lock and takes its length from it; a shared lock's
    /// segment is opened too.
    ///
    /// # Errors
    ///
    /// As [`RawArray::open`],
    /// [`LockModeMismatch`](crate::Error::LockModeMismatch) for a segment
    /// without a lock (a `RawArray`'s), and as [`Value::open`](crate::Value::open)
    /// for a shared lock's segment.
    pub fn open(name: &str) -> Result<Array<T>> {
        Array::open_with(name, &SegmentOptions::new())
    }

    /// [`Array::open`] with options: directory, timeout.
    ///
    /// # Errors
    ///
    /// As [`Array::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<Array<T>> {
        let raw = RawArray::open_described(name, options, expected_array::<T>)?;
        Array::from_raw(raw, options, "an `Array` (which needs a lock)")
    }

    /// An array created with its own lock.
    fn own(raw: RawArray<T>) -> Array<T> {
        let lock = Lock::of_segment(raw.segment().clone());
        Array { raw, lock }
    }

    /// An opened array with a lock, its own or a shared one.
    pub(crate) fn from_raw(
        raw: RawArray<T>,
        options: &SegmentOptions,
        opened_as: &'static str,
    ) -> Result<Array<T>> {
        let lock = open_lock(raw.segment(), options, opened_as)?;
        Ok(Array { raw, lock })
    }

    /// Locks this array's lock and wraps the guard into a guard of its
    /// elements.
    fn guard_data(&self, wait: Wait, poisoned: Poisoned) -> Result<DataGuard<'_, [T]>> {
        let guard = self.lock.acquire(wait, poisoned)?;
        // SAFETY: `raw.data()` is the segment's data area: `len` `T`s,
        // aligned (checked on open, planned on create), mapped while `self`
        // lives, which outlives the guard; any bytes there are valid `T`s
        // (`T: SharedLayout`); and the guard holds this array's lock, which
        // every access to the data takes: this type copies only under the
        // lock or with a guard checked to be of it, and its segment records
        // the lock mode, so no lock-free handle opens it.
        Ok(unsafe { guard.guarding(self.raw.data()) })
    }

    /// Blocks until this thread holds the array's lock; the guard reads and
    /// writes the elements in place, as a `[T]`, until it drops.
    ///
    /// # Errors
    ///
    /// As [`Value::lock`](crate::Value::lock): [`Error::Poisoned`] after a
    /// holder died or panicked, until repaired through
    /// [`lock_poisoned`](Array::lock_poisoned).
    pub fn lock(&self) -> Result<DataGuard<'_, [T]>> {
        self.guard_data(Wait::Block, Poisoned::Refuse)
    }

    /// Takes the array's lock if nobody holds it.
    ///
    /// # Errors
    ///
    /// As [`Value::try_lock`](crate::Value::try_lock).
    pub fn try_lock(&self) -> Result<DataGuard<'_, [T]>> {
        self.guard_data(Wait::Try, Poisoned::Refuse)
    }

    /// Blocks until this thread holds the array's lock or `timeout` passes.
    ///
    /// # Errors
    ///
    /// As [`Value::lock_timeout`](crate::Value::lock_timeout).
    pub fn lock_timeout(&self, timeout: Duration) -> Result<DataGuard<'_, [T]>> {
        self.guard_data(Wait::Timeout(timeout), Poisoned::Refuse)
    }

    /// Blocks until this thread holds the array's lock, poisoned or not, to
    /// repair the elements and then
    /// [`clear_poison`](DataGuard::clear_poison) (see
    /// [`Value::lock_poisoned`](crate::Value::lock_poisoned)).
    ///
    /// # Errors
    ///
    /// As [`Array::lock`], without [`Error::Poisoned`].
    pub fn lock_poisoned(&self) -> Result<DataGuard<'_, [T]>> {
        self.guard_data(Wait::Block, Poisoned::Accept)
    }

    /// [`Array::lock_poisoned`], giving up with [`Error::TimedOut`] after
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Array::lock_timeout`], without [`Error::Poisoned`].
    pub fn lock_poisoned_timeout(&self, timeout: Duration) -> Result<DataGuard<'_, [T]>> {
        self.guard_data(Wait::Timeout(timeout), Poisoned::Accept)
    }

    /// Runs `copy` on the elements with the lock held.
    fn locked<R>(&self, copy: impl FnOnce(Elements<'_, T>) -> Result<R>) -> Result<R> {
        let guard = self.lock()?;
        let result = copy(self.raw.elements());
        drop(guard);
        result
    }

    /// Runs `copy` on the elements under `guard`, checked to be of this
    /// array's lock.
    fn with_guard<R>(
        &self,
        guard: &NamedLockGuard<'_>,
        copy: impl FnOnce(Elements<'_, T>) -> Result<R>,
    ) -> Result<R> {
        self.check_guard(guard)?;
        copy(self.raw.elements())
    }

    /// Checks that `guard` holds this array's lock.
    fn check_guard(&self, guard: &NamedLockGuard<'_>) -> Result<()> {
        if guard.holds(self.lock.identity()) {
            Ok(())
        } else {
            Err(Error::WrongLock {
                name: self.name().to_owned(),
                reason: format!(
                    "the guard holds another lock than \"{}\", which guards this array",
                    self.lock.name()
                ),
            })
        }
    }

    /// The number of elements, fixed when the segment was created.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// A copy of element `index`, under the lock.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] if `index >= len()`; the lock errors of
    /// [`Value::get`](crate::Value::get).
    pub fn get(&self, index: usize) -> Result<T> {
        self.locked(|elements| elements.get(index))
    }

    /// Replaces element `index`, under the lock.
    ///
    /// # Errors
    ///
    /// As [`Array::get`]; nothing is written.
    pub fn set(&self, index: usize, value: T) -> Result<()> {
        self.locked(|elements| elements.set(index, value))
    }

    /// Copies of the elements, in order, taken under one acquisition of the
    /// lock (a snapshot: later changes are not seen).
    ///
    /// # Errors
    ///
    /// The lock errors of [`Value::get`](crate::Value::get).
    pub fn iter(&self) -> Result<std::vec::IntoIter<T>> {
        Ok(self.to_vec()?.into_iter())
    }

    /// A copy of every element, in one word-wise copy under the lock.
    ///
    /// # Errors
    ///
    /// The lock errors of [`Value::get`](crate::Value::get).
    pub fn to_vec(&self) -> Result<Vec<T>> {
        self.locked(|elements| Ok(elements.to_vec()))
    }

    /// Replaces every element with `source`'s, in one word-wise copy under the
    /// lock.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `source.len() == len()` (nothing is
    /// written); the lock errors of [`Value::get`](crate::Value::get).
    pub fn copy_from_slice(&self, source: &[T]) -> Result<()> {
        self.raw.check_len(source.len())?;
        self.locked(|elements| elements.write(0, source))
    }

    /// Copies every element into `destination`, in one word-wise copy under the
    /// lock.
    ///
    /// # Errors
    ///
    /// [`Error::LengthMismatch`] unless `destination.len() == len()`
    /// (`destination` is then unchanged); the lock errors of
    /// [`Value::get`](crate::Value::get).
    pub fn copy_to_slice(&self, destination: &mut [T]) -> Result<()> {
        self.raw.check_len(destination.len())?;
        self.locked(|elements| elements.read(0, destination))
    }

    /// A copy of element `index`, under a lock the caller already holds
    /// (several objects guarded by one lock).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock (compared
    /// by the lock segment's identity); [`Error::IndexOutOfRange`].
    pub fn get_locked(&self, guard: &NamedLockGuard<'_>, index: usize) -> Result<T> {
        self.with_guard(guard, |elements| elements.get(index))
    }

    /// Replaces element `index` under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// As [`Array::get_locked`]; nothing is written.
    pub fn set_locked(&self, guard: &NamedLockGuard<'_>, index: usize, value: T) -> Result<()> {
        self.with_guard(guard, |elements| elements.set(index, value))
    }

    /// A copy of every element under a lock the caller already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock.
    pub fn to_vec_locked(&self, guard: &NamedLockGuard<'_>) -> Result<Vec<T>> {
        self.with_guard(guard, |elements| Ok(elements.to_vec()))
    }

    /// Replaces every element with `source`'s under a lock the caller
    /// already holds.
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock;
    /// [`Error::LengthMismatch`] unless `source.len() == len()`.
    pub fn copy_from_slice_locked(&self, guard: &NamedLockGuard<'_>, source: &[T]) -> Result<()> {
        self.raw.check_len(source.len())?;
        self.with_guard(guard, |elements| elements.write(0, source))
    }

    /// The elements in place, read and written under a lock the caller
    /// already holds: Python's `for a in A: a.x **= 2` inside `with lock:`,
    /// for several objects guarded by one lock (or for this array's own
    /// lock, taken through [`get_lock`](Array::get_lock)).
    ///
    /// The slice borrows `guard` mutably, so it is the only reference made
    /// through that guard until it is dropped; objects that share the lock
    /// are reached one after the other (see
    /// [`NamedLockGuard`](NamedLockGuard#in-place-access) for why that
    /// makes it sound, and [`Value::get_mut_locked`](crate::Value::get_mut_locked)).
    /// A guard of poisoned data ([`Lock::lock_poisoned`](crate::Lock::lock_poisoned))
    /// is accepted, to repair the elements before
    /// [`clear_poison`](NamedLockGuard::clear_poison).
    ///
    /// # Errors
    ///
    /// [`Error::WrongLock`] if `guard` is not of this array's lock (compared
    /// by the lock segment's identity, so any handle of the lock will do).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::{Array, Lock, SegmentOptions, SharedBytes};
    ///
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-slicemut-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let options = SegmentOptions::new().dir(&dir).unlink_on_drop(true);
    /// let lock = Lock::create_with("lock", &options)?;
    /// let a = Array::create_with_lock_and_options("A", &[1.5f64, -2.0, 3.0], &lock, &options)?;
    /// let s = SharedBytes::create_with_lock_and_options("s", b"hello", &lock, &options)?;
    ///
    /// // with lock: for a in A: a **= 2; s.value = s.value.upper()
    /// let mut guard = lock.lock()?;
    /// for x in a.as_mut_slice_locked(&mut guard)? {
    ///     *x *= *x;
    /// }
    /// s.as_mut_bytes_locked(&mut guard)?.make_ascii_uppercase();
    /// drop(guard);
    ///
    /// assert_eq!(a.to_vec()?, [2.25, 4.0, 9.0]);
    /// assert_eq!(s.value()?, b"HELLO");
    /// # drop((a, s, lock));
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    pub fn as_mut_slice_locked<'g>(
        &'g self,
        guard: &'g mut NamedLockGuard<'_>,
    ) -> Result<&'g mut [T]> {
        self.check_guard(guard)?;
        let mut elements = self.raw.data();
        // SAFETY: as in `Value::get_mut_locked`: `elements` are this
        // array's `len` `T`s, aligned (checked on open, planned on create),
        // inside one mapping (so at most `isize::MAX` bytes), any bytes
        // valid (`T: SharedLayout`), mapped for 'g (`&'g self`);
        // `guard` holds this array's lock (checked) for all of 'g, since it
        // is borrowed mutably for 'g; other threads and processes wait for
        // the lock, this thread cannot take a second guard of it (an
        // error-checking mutex: `WouldDeadlock`), and every other use of
        // `guard` — a copy through `&guard`, another in-place borrow —
        // waits for this borrow to end, whichever handle of the array (or
        // other object under the lock) it goes through.
        Ok(unsafe { elements.as_mut() })
    }

    /// The lock that guards this array (Python's `get_lock()`): its own,
    /// or the shared one.
    pub fn get_lock(&self) -> Lock {
        self.lock.clone()
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.raw.name()
    }

    /// The segment's file.
    pub fn path(&self) -> &Path {
        self.raw.path()
    }

    /// Whether this handle created the segment.
    pub fn is_creator(&self) -> bool {
        self.raw.is_creator()
    }

    /// Removes the segment's name, as [`Value::unlink`](crate::Value::unlink).
    ///
    /// # Errors
    ///
    /// As [`RawArray::unlink`].
    pub fn unlink(&self) -> Result<()> {
        self.raw.unlink()
    }
}

impl<T: SharedLayout> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("name", &self.name())
            .field("type", &T::LAYOUT.name())
            .field("len", &self.len())
            .field("lock", &self.lock.name())
            .field("created", &self.is_creator())
            .finish_non_exhaustive()
    }
}

/// An iterator over copies of a [`RawArray`]'s elements, from
/// [`RawArray::iter`]. Each element is copied out when
/// the iterator reaches it.
pub struct ArrayIter<'a, T> {
    elements: Elements<'a, T>,
    front: usize,
    back: usize,
}

impl<'a, T: SharedLayout> ArrayIter<'a, T> {
    pub(crate) fn new(elements: Elements<'a, T>) -> ArrayIter<'a, T> {
        ArrayIter {
            front: 0,
            back: elements.len(),
            elements,
        }
    }
}

impl<T: SharedLayout> Iterator for ArrayIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.front == self.back {
            return None;
        }
        let element = self.elements.get(self.front).ok()?;
        self.front += 1;
        Some(element)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back - self.front;
        (left, Some(left))
    }
}

impl<T: SharedLayout> DoubleEndedIterator for ArrayIter<'_, T> {
    fn next_back(&mut self) -> Option<T> {
        if self.front == self.back {
            return None;
        }
        let element = self.elements.get(self.back - 1).ok()?;
        self.back -= 1;
        Some(element)
    }
}

impl<T: SharedLayout> ExactSizeIterator for ArrayIter<'_, T> {}

impl<T: SharedLayout> FusedIterator for ArrayIter<'_, T> {}

impl<T: SharedLayout> fmt::Debug for ArrayIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArrayIter")
            .field("type", &T::LAYOUT.name())
            .field("left", &(self.back - self.front))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_layouts_describe_len_elements() {
        let layout = array_layout::<f64>(3).expect("small");
        assert_eq!(layout, *<[f64; 3]>::LAYOUT);
        assert_eq!(layout.name(), "[f64; 3]");
        assert_eq!(layout.encode(), <[f64; 3]>::LAYOUT.encode());
        assert!(array_layout::<u64>(usize::MAX / 4).is_none());
        assert_eq!(array_layout::<u32>(0).expect("empty").size(), 0);
    }

    #[test]
    fn handles_can_move_between_threads_like_values() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<RawArray<f64>>();
        send_sync::<Array<f64>>();
        send_sync::<crate::Value<f64>>();
    }

    #[test]
    fn openers_expect_the_stored_length() {
        let (layout, len) = expected_array::<u32>(StoredRoot::of(<[u32; 5]>::LAYOUT));
        assert_eq!((layout.size(), len), (20, 5));
        // Another element type: the stored length, so the diff is about
        // the elements only.
        let (layout, len) = expected_array::<u64>(StoredRoot::of(<[u32; 5]>::LAYOUT));
        assert_eq!(
            (layout.name().into_owned(), len),
            ("[u64; 5]".to_owned(), 5)
        );
        // Not an array: as many as fit.
        let (layout, len) = expected_array::<u32>(StoredRoot::of(u64::LAYOUT));
        assert_eq!(
            (layout.name().into_owned(), len),
            ("[u32; 2]".to_owned(), 2)
        );
        // A length that overflows in the expected elements.
        let huge = Layout::array(u8::LAYOUT, usize::MAX / 2);
        let (layout, len) = expected_array::<u64>(StoredRoot::of(&huge));
        assert_eq!(len, usize::MAX / 2 / 8);
        assert_eq!(layout.size(), len * 8);
    }
}
