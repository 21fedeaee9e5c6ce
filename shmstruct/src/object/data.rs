//! The one place that touches an object's data: pointers into the mapping,
//! word-wise copies in and out, guards over it, and the in-place borrows
//! under a lock. Everything `unsafe` in the object layer is in this file.
//!
//! Other processes may write an object's data at any moment, so it is only
//! reached through raw pointers, copied word by word with relaxed atomic
//! loads and stores (`atomic_copy`, so a racing copy is no data race)
//! between compiler fences. A `&T` or `&[T]` into it is made only while a
//! lock that every access takes is held: by a [`DataGuard`], or by a borrow
//! of a [`NamedLockGuard`] checked to hold the object's lock.

use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ptr::NonNull;
use std::sync::atomic::{compiler_fence, Ordering};

use crate::atomic_copy;
use crate::error::{Error, Result};
use crate::layout::{Layout, SharedLayout};
use crate::named::NamedLockGuard;
use crate::segment::{LockPlan, Segment, SegmentOptions};
use crate::sync::poison::{Poisoned, Wait};
use crate::sync::DataGuard;

use super::{LockChoice, Locked, One, Shape, Shared, Unlocked};

/// `len` elements of `T` side by side in shared memory, and every copy in
/// and out of them.
///
/// # Races
///
/// Two copies of the same element at the same time — from two processes,
/// or two threads with two handles — are not prevented here: a read racing
/// a write may see a mix of the old and new bytes, and two racing writes may
/// leave a mix of both, at word boundaries. Every mix is still a valid `T`
/// (`T: SharedLayout` promises that every bit pattern is), and the atomic
/// copies make the race defined, so a race tears values but never makes an
/// invalid one. Keeping writers apart is the lock's business, for the
/// objects that have one.
#[derive(Clone, Copy)]
pub(crate) struct Place<'a, T> {
    first: NonNull<T>,
    len: usize,
    _segment: PhantomData<&'a Segment>,
}

impl<'a, T: SharedLayout> Place<'a, T> {
    /// The first `len` `T`s of `segment`'s data.
    ///
    /// # Safety
    ///
    /// The segment's data area must hold at least `len` `T`s, aligned for
    /// `T`: a segment created for, or opened and checked against, a layout
    /// of `len` `T`s. Its memory is only ever reached through pointers,
    /// except under its lock (see the module).
    unsafe fn of(segment: &'a Segment, len: usize) -> Place<'a, T> {
        let first = segment.data().cast::<T>();
        debug_assert!(first.as_ptr().is_aligned());
        Place {
            first,
            len,
            _segment: PhantomData,
        }
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

    /// [`Error::IndexOutOfRange`] unless `index < len`.
    fn check_index(&self, index: usize) -> Result<()> {
        if index < self.len {
            Ok(())
        } else {
            Err(Error::IndexOutOfRange {
                index,
                len: self.len,
            })
        }
    }

    /// A copy of element `index`.
    pub(crate) fn get(&self, index: usize) -> Result<T> {
        self.check_index(index)?;
        let mut value = MaybeUninit::<T>::uninit();
        self.read(index, std::slice::from_mut(&mut value))?;
        // SAFETY: `read` wrote every byte of `value` (it returned `Ok`), and
        // any bytes are a valid `T` (`T: SharedLayout`).
        Ok(unsafe { value.assume_init() })
    }

    /// Replaces element `index`.
    pub(crate) fn set(&self, index: usize, value: &T) -> Result<()> {
        self.check_index(index)?;
        self.write(index, std::slice::from_ref(value))
    }

    /// Copies `source` into the elements from `start` on.
    pub(crate) fn write(&self, start: usize, source: &[T]) -> Result<()> {
        let destination = self.range(start, source.len())?;
        // SAFETY: `destination .. + source.len()` are elements in bounds
        // (checked by `range`) of the data `Place::of`'s caller vouched
        // for: valid for writes and aligned (the first is, and
        // `size_of::<T>()` is a multiple of `align_of::<T>()`). `source` is
        // a Rust slice, which cannot overlap them: a reference into a
        // segment exists only while this thread holds the segment's lock
        // through a guard, and then every copy into the segment is refused
        // first (locking again is `WouldDeadlock`; the `_locked` forms need
        // the borrowed guard). `T: SharedLayout` has no drop glue, so
        // overwriting without dropping and duplicating `source`'s bytes are
        // both fine. Racing writers tear values but make no invalid one:
        // see the type.
        unsafe { atomic_copy::store(source.as_ptr(), destination, source.len()) };
        // Keeps the compiler from sinking the copy past later code or
        // dropping it as unobserved: another process reads it.
        compiler_fence(Ordering::SeqCst);
        Ok(())
    }

    /// Copies the elements from `start` on into `destination`, which may be
    /// uninitialised; on `Ok`, every element of it is written.
    fn read(&self, start: usize, destination: &mut [MaybeUninit<T>]) -> Result<()> {
        let source = self.range(start, destination.len())?;
        // Keeps the compiler from reusing what an earlier copy read: another
        // process may have written since.
        compiler_fence(Ordering::SeqCst);
        // SAFETY: `source .. + destination.len()` are elements in bounds
        // (checked by `range`), valid for reads and aligned (see `write`);
        // `destination` is a Rust slice, which cannot overlap them (see
        // `write`), aligned for `T` (`MaybeUninit<T>` has `T`'s layout).
        // Any bytes found are valid `T`s (`T: SharedLayout`), and the
        // overwritten ones need no drop.
        unsafe { atomic_copy::load(source, destination.as_mut_ptr().cast(), destination.len()) };
        Ok(())
    }

    /// Copies every element into `destination`.
    pub(crate) fn read_into(&self, destination: &mut [T]) -> Result<()> {
        // SAFETY: `[T]` and `[MaybeUninit<T>]` have the same layout, and
        // `read` writes only initialised `T`s (any bytes are a valid `T`),
        // so `destination` stays initialised.
        let destination = unsafe { &mut *(destination as *mut [T] as *mut [MaybeUninit<T>]) };
        self.read(0, destination)
    }

    /// A copy of every element.
    pub(crate) fn to_vec(&self) -> Vec<T> {
        let copied: Result<Vec<T>> = self.to_vec_through(|copy| {
            copy();
            Ok(())
        });
        copied.expect("a copy without a lock does not fail")
    }

    /// A copy of every element, made by `through`, which is handed the
    /// copy of all of them into the new vector and runs it at least once
    /// before it returns `Ok` (several times are fine, the last one counts:
    /// a seqlock read).
    pub(crate) fn to_vec_through(
        &self,
        through: impl FnOnce(&mut dyn FnMut()) -> Result<()>,
    ) -> Result<Vec<T>> {
        let mut copy = Vec::<T>::with_capacity(self.len);
        let room = &mut copy.spare_capacity_mut()[..self.len];
        let mut copied = false;
        through(&mut || {
            self.read(0, room).expect("a place is as long as itself");
            copied = true;
        })?;
        // A check, not an assumption: what `through` did decides whether
        // the elements are initialised.
        assert!(copied, "`to_vec_through` returned Ok without copying");
        // SAFETY: `read` wrote the first `len` elements of `copy` (it ran,
        // see the assertion), which has room for them.
        unsafe { copy.set_len(self.len) };
        Ok(copy)
    }
}

/// Creates the segment `name` described by `layout`, whose data is `len`
/// `Element`s of `D`, and lets `init` fill them before the segment is
/// published. `layout` must describe exactly that (asserted).
pub(super) fn create_segment<D: Shape + ?Sized>(
    name: &str,
    layout: &Layout,
    len: usize,
    options: &SegmentOptions,
    plan: LockPlan,
    init: impl FnOnce(Place<'_, D::Element>) -> Result<()>,
) -> Result<Segment> {
    check_describes::<D::Element>(layout, len);
    Segment::create_locked(name, layout, options, plan, |segment| {
        // SAFETY: the segment was planned for `layout`: `len` elements
        // (checked above), aligned to at least their alignment; only this
        // process writes it before it is published as ready.
        init(unsafe { Place::of(segment, len) })
    })
}

/// Asserts that `layout` describes `len` `T`s: what the pointers of
/// [`Place`] and [`Shape::target`] are computed from.
pub(super) fn check_describes<T: SharedLayout>(layout: &Layout, len: usize) {
    assert_eq!(Some(layout.size()), T::LAYOUT.size().checked_mul(len));
    assert_eq!(layout.align(), T::LAYOUT.align());
}

impl<D: Shape + ?Sized, L: LockChoice> Shared<D, L> {
    /// The elements, for the copies.
    pub(super) fn place(&self) -> Place<'_, D::Element> {
        // SAFETY: a `Shared`'s segment was created for, or opened and
        // checked against, a layout of `self.len` elements of `D`
        // (`create_segment`, `shape::open`; `check_describes`).
        unsafe { Place::of(&self.segment, self.len) }
    }

    /// The data as `D`'s target, for the guards: `len` elements, aligned,
    /// mapped while `self` lives.
    #[inline]
    fn target(&self) -> NonNull<D::Target> {
        D::target(self.segment.data().cast(), self.len)
    }
}

impl<D: Shape + ?Sized> Shared<D, Unlocked> {
    /// The data in place, for a type made only of `Atomic*` integers (and
    /// arrays and structs of them): every access is an atomic operation,
    /// so no lock is needed, and other processes see each one.
    ///
    /// ```
    /// # use std::sync::atomic::{AtomicU64, Ordering};
    /// # use shmstruct::{RawValue, SharedLayout};
    /// #[derive(SharedLayout)]
    /// #[repr(C)]
    /// struct Stats {
    ///     hits: AtomicU64,
    ///     misses: AtomicU64,
    /// }
    /// # let dir = std::env::temp_dir().join(format!("shmstruct-doc-atomic-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// let zero = Stats { hits: AtomicU64::new(0), misses: AtomicU64::new(0) };
    /// let stats = RawValue::<Stats>::builder("stats").dir(&dir).create(zero)?;
    /// stats.as_atomic().hits.fetch_add(1, Ordering::Relaxed);
    /// assert_eq!(stats.get().hits.into_inner(), 1);
    /// # drop(stats);
    /// # std::fs::remove_dir(&dir).unwrap();
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    ///
    /// Any other type is refused when the program is compiled:
    ///
    /// ```compile_fail,E0080
    /// let counter = shmstruct::RawValue::<u64>::create("counter", 0)?;
    /// let plain: &u64 = counter.as_atomic(); // error: u64 is not an atomic
    /// # Ok::<(), shmstruct::Error>(())
    /// ```
    ///
    /// Only lock-free objects have it: a locked one hands out `&mut` to
    /// the same bytes under its guard, which no `&T` may outlive. The
    /// copies (`get`, `set`, and a `&T` passed to another object's
    /// `copy_from_slice`) go field by field for such a type, each atomic
    /// with an access of its own size, so they may race the atomics' own
    /// operations (Rust leaves racing accesses of mixed sizes undefined).
    pub fn as_atomic(&self) -> &D::Target {
        const {
            assert!(
                crate::layout::is_all_atomic(<D::Element as SharedLayout>::LAYOUT),
                "as_atomic() needs a type made only of Atomic* integers"
            )
        };
        // SAFETY: the data is `len` elements of `D`, aligned (checked on
        // open, planned on create) and mapped while `self` lives, which the
        // borrow outlives. Every byte of it that holds data belongs to an
        // atomic (asserted above from the element's descriptor, which
        // `SharedLayout`, an unsafe trait, promises is exact), and atomics
        // are interior-mutable, so a shared reference stays sound while
        // other processes, or these handles' word-wise copies, change them.
        // No `&mut` to these bytes exists: an unlocked object has no guard,
        // and its segment records no lock, so no locked handle opens it.
        unsafe { self.target().as_ref() }
    }
}

impl<D: Shape + ?Sized> Shared<D, Locked> {
    /// Locks this object's lock and wraps the guard into a guard of its
    /// data.
    #[inline(always)]
    pub(super) fn guard_data(
        &self,
        wait: Wait,
        poisoned: Poisoned,
    ) -> Result<DataGuard<'_, D::Target>> {
        let target = self.target();
        self.lock.acquire(wait, poisoned).map(|guard| {
            // SAFETY: `target()` is the segment's data: `len` elements of `D`,
            // aligned (checked on open, planned on create), mapped while `self`
            // lives, which outlives the guard; any bytes there are valid
            // (`Element: SharedLayout`); and the guard holds this object's
            // lock, which every access to the data takes: a locked object
            // copies only under its lock or with a guard checked to be of it,
            // and its segment records the lock mode, so no lock-free handle
            // opens it.
            unsafe { guard.guarding(target) }
        })
    }

    /// The data in place under `guard`, checked to hold this object's lock.
    pub(super) fn borrow_locked<'g>(
        &'g self,
        guard: &'g mut NamedLockGuard<'_>,
    ) -> Result<&'g mut D::Target> {
        self.check_guard(guard)?;
        let mut target = self.target();
        // SAFETY: the data is `len` elements of `D`, aligned (checked on
        // open, planned on create), inside one mapping (so at most
        // `isize::MAX` bytes), any bytes valid (`Element: SharedLayout`),
        // mapped for 'g (`&'g self` keeps the segment alive). The `&mut` is
        // exclusive for 'g:
        // - `guard` holds this object's lock (checked: same lock segment,
        //   hence the same mutex), and keeps holding it for 'g, since it is
        //   borrowed mutably for 'g and so cannot be dropped (unlocked) or
        //   moved meanwhile. Every access to the data takes that lock (the
        //   segment records the lock mode, so no lock-free handle opens
        //   it), so no other thread or process touches the data meanwhile.
        // - In this thread, no other guard of the lock exists: it is a
        //   non-recursive, error-checking mutex, so a second `lock()`
        //   through any handle of it fails with `WouldDeadlock` instead of
        //   handing out a second guard, and no `DataGuard` of it can exist
        //   beside `guard`. What remains is `guard` itself, borrowed
        //   mutably for 'g: the copying `_locked` forms need `&guard` and
        //   this one `&mut guard`, so none runs until this reference is
        //   dropped, whichever handle (or object sharing the lock) it goes
        //   through.
        // - `NamedLockGuard` is neither `Send` nor `Sync`, so `guard` is
        //   used, and the lock released, only by this thread.
        Ok(unsafe { target.as_mut() })
    }
}

impl<T: SharedLayout, L: LockChoice> Shared<One<T>, L> {
    /// A copy of the value. For a locked value, the caller holds its lock.
    pub(super) fn load(&self) -> T {
        let mut value = MaybeUninit::<T>::uninit();
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the data is one `T` (the segment was created for, or
        // checked against, `T`'s layout), aligned and mapped while `self`
        // lives; every concurrent access to it goes through `atomic_copy`
        // or is kept apart by the lock (see `Place`); it cannot overlap
        // `value`, a local.
        unsafe { atomic_copy::load(self.target().as_ptr(), value.as_mut_ptr(), 1) };
        // SAFETY: every byte of `value` was written above, and any bytes are
        // a valid `T` (`T: SharedLayout`).
        unsafe { value.assume_init() }
    }

    /// Replaces the value. For a locked value, the caller holds its lock.
    pub(super) fn store(&self, value: T) {
        let value = ManuallyDrop::new(value);
        // SAFETY: as in `load`, for writes; `ManuallyDrop<T>` has `T`'s
        // layout, and the old value needs no drop (`T: SharedLayout` has no
        // drop glue).
        unsafe { atomic_copy::store(&*value, self.target().as_ptr(), 1) };
        compiler_fence(Ordering::SeqCst);
    }
}
