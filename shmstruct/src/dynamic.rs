//! Segments whose layout is known only at run time: the layer under the
//! Python package, whose types are run-time descriptors (ctypes classes),
//! not Rust types.
//!
//! A [`DynamicSegment`] is what a `Value<T>`, `Array<T>` or byte string
//! segment is, without the `T`: the same header, descriptor, lock modes and
//! checks, so a segment made here opens as `Value::<T>::open` when its
//! descriptor is `T::LAYOUT`, and the reverse. Its data is reached through a
//! raw address ([`DynamicSegment::data`]); what may be done there is the
//! caller's business, as for any memory other processes write.
//!
//! Not a stable API: it exists for the Python package.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::named::Lock;
use crate::object::{lock_plan, open_lock, Locked, Unlocked};
use crate::segment::{LockMode, Segment, SegmentKind, SegmentOptions};

/// What guards the data of a segment being created: Python's `lock=`.
#[derive(Clone, Copy, Debug)]
pub enum DataLock<'a> {
    /// No lock (`lock=False`), as `RawValue` and `RawArray`.
    None,
    /// Its own lock, in its lock area (`lock=True`), as `Value` and `Array`.
    Own,
    /// The lock of another segment (`lock=some_lock`).
    Shared(&'a Lock),
}

/// A segment holding data described by a run-time [`Layout`], with the lock
/// that guards it (if any).
///
/// The segment is never unlinked by dropping the handle: the caller decides
/// ([`DynamicSegment::unlink`]).
#[derive(Debug)]
pub struct DynamicSegment {
    segment: Arc<Segment>,
    layout: Layout,
    lock: Option<Lock>,
}

impl DynamicSegment {
    /// Creates the segment `name` holding `init`, the bytes of a `layout`,
    /// guarded as `lock` says.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if `init` is not `layout.size()` bytes long;
    /// [`Error::WrongLock`] for a shared lock in another directory; as
    /// [`Value::create`](crate::Value::create) otherwise.
    pub fn create(
        name: &str,
        layout: &Layout,
        init: &[u8],
        lock: DataLock<'_>,
        options: &SegmentOptions,
    ) -> Result<DynamicSegment> {
        if init.len() != layout.size() {
            return Err(Error::InvalidInput {
                reason: format!(
                    "segment \"{name}\" for `{}` needs {} bytes of data, not {}",
                    layout.name(),
                    layout.size(),
                    init.len()
                ),
            });
        }
        let plan = match lock {
            DataLock::None => lock_plan::<Unlocked>(name, None, options)?,
            DataLock::Own => lock_plan::<Locked>(name, None, options)?,
            DataLock::Shared(lock) => lock_plan::<Locked>(name, Some(lock), options)?,
        };
        // The caller decides when the name goes (see the type).
        let options = &options.clone().unlink_on_drop(false);
        let segment = Segment::create_locked(name, layout, options, plan, |segment| {
            // SAFETY: the data area is `layout.size()` bytes inside the
            // mapping (Header::plan), `init` is a local slice of that many
            // bytes (checked above) and cannot overlap the fresh mapping;
            // u8 needs no alignment; no other process sees the segment
            // before it is published as ready, after this.
            unsafe {
                std::ptr::copy_nonoverlapping(init.as_ptr(), segment.data().as_ptr(), init.len())
            };
            Ok(())
        })?;
        let segment = Arc::new(segment);
        let lock = match lock {
            DataLock::None => None,
            DataLock::Own => Some(Lock::of_segment(segment.clone())),
            DataLock::Shared(lock) => Some(lock.clone()),
        };
        Ok(DynamicSegment {
            segment,
            layout: layout.clone(),
            lock,
        })
    }

    /// Opens the segment `name`, whatever it holds: its layout is read from
    /// its own descriptor, checked against the header's fingerprint and data
    /// area. Its lock (own or shared) is opened with it.
    ///
    /// # Errors
    ///
    /// As [`Value::open`](crate::Value::open);
    /// [`Error::LockModeMismatch`] for an `RLock`'s segment, whose recursive
    /// lock guards no data; [`Error::InvalidInput`] for the segment of
    /// another primitive (`Lock`, `Semaphore`, ...), whose state is not
    /// data.
    pub fn open(name: &str, options: &SegmentOptions) -> Result<DynamicSegment> {
        let segment = Segment::open_any(name, options)?;
        let stored = segment.descriptor_bytes();
        let layout = Layout::decode(&stored).map_err(|source| Error::CorruptDescriptor {
            name: name.to_owned(),
            source,
        })?;
        segment.check_layout(&layout, &stored)?;
        let segment = Arc::new(segment);
        let lock = match segment.lock_mode() {
            LockMode::None => None,
            _ => Some(open_lock(&segment, options, "an object of any type")?),
        };
        // A primitive's state is its own business: written as data, it
        // would break the primitive for every process.
        let kind = SegmentKind::of(&layout, segment.lock_mode());
        if !matches!(
            kind,
            SegmentKind::Value
                | SegmentKind::RawValue
                | SegmentKind::Array
                | SegmentKind::RawArray
                | SegmentKind::Bytes
        ) {
            return Err(Error::InvalidInput {
                reason: format!(
                    "segment \"{name}\" holds a {kind}, not a value, an array or a byte string: \
                     open it as a {kind}"
                ),
            });
        }
        Ok(DynamicSegment {
            segment,
            layout,
            lock,
        })
    }

    /// Checks that the segment holds data described by `expected`, field
    /// by field, as a typed `open` does.
    ///
    /// # Errors
    ///
    /// [`Error::LayoutMismatch`] naming the differences.
    pub fn check_layout(&self, expected: &Layout) -> Result<()> {
        self.segment
            .check_layout(expected, &self.segment.descriptor_bytes())
    }

    /// The layout of the data, from the segment's descriptor.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The address of the data in this process's mapping, aligned to
    /// `layout().align()`, valid for `len()` bytes while this handle (or
    /// a clone) lives. Other processes may write it at any time.
    pub fn data(&self) -> NonNull<u8> {
        self.segment.data()
    }

    /// The size of the data in bytes.
    pub fn len(&self) -> usize {
        self.layout.size()
    }

    /// Whether the data is empty (a struct without fields).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lock that guards the data: its own or a shared one; `None` for
    /// a segment without a lock.
    pub fn lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
    }

    /// What guards the data, as the header records it.
    pub fn lock_mode(&self) -> &LockMode {
        self.segment.lock_mode()
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        self.segment.name()
    }

    /// Removes the segment's name if it still names this segment.
    ///
    /// # Errors
    ///
    /// As [`Value::unlink`](crate::Value::unlink).
    pub fn unlink(&self) -> Result<()> {
        self.segment.unlink()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SharedLayout, Value};

    /// A private segment directory, removed with what is left in it.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let dir = std::env::temp_dir()
                .join(format!("shmstruct-dynamic-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("creating the directory");
            Dir(dir)
        }

        fn options(&self) -> SegmentOptions {
            SegmentOptions::new().dir(&self.0)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_run_time_layout_is_a_typed_value_and_back() {
        let dir = Dir::new("typed");
        let options = dir.options();
        let layout = Layout::decode(&<[u32; 2]>::LAYOUT.encode()).expect("decodes");
        let init: Vec<u8> = [7u32, 9].iter().flat_map(|n| n.to_ne_bytes()).collect();
        let created =
            DynamicSegment::create("pair", &layout, &init, DataLock::Own, &options).unwrap();
        assert_eq!(created.len(), 8);
        let typed = Value::<[u32; 2]>::builder("pair")
            .options(&options)
            .open()
            .unwrap();
        assert_eq!(typed.get().unwrap(), [7, 9]);
        typed.set([1, 2]).unwrap();

        let opened = DynamicSegment::open("pair", &options).unwrap();
        assert_eq!(opened.layout(), <[u32; 2]>::LAYOUT);
        assert_eq!(opened.lock_mode(), &LockMode::Own);
        let guard = opened.lock().expect("its own lock").lock().unwrap();
        let mut bytes = [0u8; 8];
        // SAFETY: the data is 8 bytes in the mapping, which `opened` keeps;
        // this thread holds the lock that every writer takes.
        unsafe { std::ptr::copy_nonoverlapping(opened.data().as_ptr(), bytes.as_mut_ptr(), 8) };
        drop(guard);
        assert_eq!(bytes[..4], 1u32.to_ne_bytes());
        created.unlink().unwrap();
    }

    #[test]
    fn mismatches_and_bad_input_are_errors() {
        let dir = Dir::new("errors");
        let options = dir.options();
        let error = DynamicSegment::create("short", f64::LAYOUT, &[0; 4], DataLock::None, &options)
            .unwrap_err();
        assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        let raw =
            DynamicSegment::create("raw", f64::LAYOUT, &[0; 8], DataLock::None, &options).unwrap();
        assert!(raw.lock().is_none());
        let error = raw.check_layout(f32::LAYOUT).unwrap_err();
        assert!(error.is_layout(), "{error:?}");
        assert!(error.to_string().contains("holds `f64`"), "{error}");
        let lock = Lock::create_with("lock", &options).unwrap();
        let shared = DynamicSegment::create(
            "shared",
            u8::LAYOUT,
            &[1],
            DataLock::Shared(&lock),
            &options,
        )
        .unwrap();
        let opened = DynamicSegment::open("shared", &options).unwrap();
        assert_eq!(opened.lock().map(Lock::name), Some("lock"));
        // A primitive is not data to write.
        let semaphore = crate::Semaphore::create_with("semaphore", 1, &options).unwrap();
        for primitive in ["lock", "semaphore"] {
            let error = DynamicSegment::open(primitive, &options).unwrap_err();
            assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
        }
        assert!(DynamicSegment::open("semaphore", &options)
            .unwrap_err()
            .to_string()
            .contains("holds a Semaphore"));
        drop(semaphore);
        for segment in [raw.name(), shared.name(), lock.name()] {
            options.unlink(segment).unwrap();
        }
    }
}
