//! The fixed header at the start of every segment.
//!
//! A segment file is laid out as
//!
//! ```text
//! [0, 128)                         fixed header (this struct)
//! [128, 128 + descriptor_len)      the encoded layout descriptor (Layout::encode)
//! [lock_offset, +128)              lock area, 64-aligned, zero-initialised
//! [data_offset, +data_size)        the data, aligned to max(align_of::<T>(), 64)
//! ```
//!
//! and the fixed header, in the machine's byte order (a segment is shared
//! between processes of one machine), is:
//!
//! | offset | size | field                | meaning                                              |
//! |-------:|-----:|----------------------|------------------------------------------------------|
//! |      0 |    8 | `magic`              | `b"SHMSTRCT"`                                        |
//! |      8 |    4 | `version`            | format version, [`VERSION`] = 1                      |
//! |     12 |    4 | `state`              | [`STATE_INITIALISING`] (0) → [`STATE_READY`] (1), atomic |
//! |     16 |    4 | `creator_pid`        | pid of the creating process                          |
//! |     20 |    4 | `header_size`        | size of this fixed header, [`HEADER_SIZE`] = 128     |
//! |     24 |    8 | `creator_start_time` | its start time, clock ticks after boot (`/proc/<pid>/stat` field 22); 0 if unknown |
//! |     32 |    8 | `total_size`         | size of the whole segment in bytes                   |
//! |     40 |    8 | `fingerprint`        | `Layout::fingerprint` of the data's layout           |
//! |     48 |    8 | `descriptor_offset`  | where the encoded descriptor starts (128)            |
//! |     56 |    8 | `descriptor_len`     | its length in bytes                                  |
//! |     64 |    8 | `lock_offset`        | where the lock area starts (a multiple of 64)        |
//! |     72 |    8 | `lock_size`          | its size, [`LOCK_AREA_SIZE`] = 128                   |
//! |     80 |    8 | `data_offset`        | where the data starts (a multiple of `data_align`)   |
//! |     88 |    8 | `data_size`          | the data's size, `size_of::<T>()`                    |
//! |     96 |    8 | `data_align`         | the data's alignment, `max(align_of::<T>(), 64)`     |
//! |    104 |    4 | `lock_mode`          | who guards the data: see [Lock modes](#lock-modes)    |
//! |    108 |    4 | `reserved_word`      | zero                                                 |
//! |    112 |   16 | `reserved`           | zero                                                 |
//!
//! Every version keeps `magic`, `version` and `state` where they are.
//!
//! # Lock modes
//!
//! `lock_mode` says what the lock area holds (Python's `lock=` argument):
//!
//! | value | mode | the lock area holds |
//! |---:|---|---|
//! | [`LOCK_NONE`] (0) | none (`RawValue`, `RawArray`, `Semaphore`, ...) | zeroes |
//! | [`LOCK_OWN`] (1) | own lock (`Value`, `Array`, `Lock`) | a `RawLock` at offset 0, the poison word at [`POISON_OFFSET`] (64), the sequence word at [`SEQUENCE_OFFSET`] (72) |
//! | [`LOCK_OWN_RECURSIVE`] (2) | own recursive lock (`RLock`) | a `RawRLock` at offset 0, the poison word at [`POISON_OFFSET`] (64); the sequence word stays 0 |
//! | [`LOCK_SHARED`] (3) | the lock of another segment | that segment's name and identity: see below |
//!
//! The creator initialises the lock (or writes the name) before it
//! publishes the segment as ready; an opener checks the mode it expects.
//!
//! An own lock's area, in full:
//!
//! | offset | size | field      | meaning                                                    |
//! |-------:|-----:|------------|------------------------------------------------------------|
//! |      0 |   40 | `mutex`    | the robust `pthread_mutex_t` (48 bytes on aarch64 glibc)   |
//! |     64 |    4 | `poison`   | 0 while the data is sound, 1 once poisoned                 |
//! |     68 |    4 | `reserved` | zero                                                       |
//! |     72 |    8 | `sequence` | the seqlock word: odd while a holder may be writing        |
//! |     80 |   48 | `reserved` | zero                                                       |
//!
//! The poison word (read and written atomically) is 0 while the data is sound
//! and 1 once a holder died or panicked holding the lock, until a repairer
//! clears it under the lock (`crate::sync::poison`). An opener refuses any
//! other value as a corrupt lock.
//!
//! The sequence word (a `u64`, read and written atomically) lets readers copy
//! the data without the lock and know the copy is whole (a seqlock,
//! `crate::sync::seqlock`): every holder of the lock that may write the data
//! makes it odd right after locking and even (one more) right before
//! unlocking, so it only ever grows, and a reader that sees the same even
//! value before and after its copy saw no write. Any value is valid; one left
//! odd by a holder that died is made even again by the next locker, which
//! also poisons the data. A writer that takes the mutex without bumping the
//! word (a C or Python program) is invisible to lock-free readers: such
//! programs must bump it too, or the data must not be read lock-free.
//!
//! An own recursive lock (`RLock`) keeps the poison word too, but not the
//! sequence word: a nested level would make it even while an outer one
//! still writes. Objects with a shared lock use the lock segment's words.
//!
//! A shared lock's area (`SharedLockArea`) names the lock's segment, and
//! records which file that name meant when the object was created, so that
//! an opener can tell the lock segment was unlinked and created again under
//! the same name (its mutex is then another one than earlier handles use):
//!
//! | offset | size | field       | meaning                                            |
//! |-------:|-----:|-------------|----------------------------------------------------|
//! |      0 |    1 | `name_len`  | length of the name, 1 to 30                        |
//! |      1 |   30 | `name`      | the lock segment's name, zero-padded               |
//! |     31 |    1 | `pad`       | zero                                               |
//! |     32 |    8 | `device`    | the lock segment's file: `st_dev`                  |
//! |     40 |    8 | `inode`     | and `st_ino`                                       |
//! |     48 |   80 | `reserved`  | zero                                               |
//!
//! # Publication
//!
//! The creator writes, in this order: `creator_pid` and
//! `creator_start_time`; `magic` (an atomic store with `Release`, so that an
//! inspector that sees the magic sees who is creating the segment); the rest
//! of the header, the descriptor, the lock area and the data; and last
//! `state = STATE_READY` (an atomic store with `Release`). An opener loads
//! `state` with `Acquire` and reads nothing else before it is ready.

use static_assertions::const_assert_eq;
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// The first eight bytes of every segment.
pub const MAGIC: [u8; 8] = *b"SHMSTRCT";
/// The header format this build writes and reads.
pub const VERSION: u32 = 1;
/// The size of the fixed header.
pub const HEADER_SIZE: usize = 128;
/// The size of the lock area the sync primitives live in.
pub const LOCK_AREA_SIZE: usize = 128;
/// Where the poison word lives in an own lock's area: a `u32` after the
/// `RawLock`, 0 (clear) or 1 (poisoned); see [Lock modes](self#lock-modes).
pub const POISON_OFFSET: usize = 64;
/// Where the sequence word lives in an own lock's area: a `u64`, odd while
/// a holder of the lock may be writing the data, bumped by every holder
/// (a seqlock for lock-free consistent reads); see
/// [Lock modes](self#lock-modes).
pub const SEQUENCE_OFFSET: usize = 72;
/// The alignment of the lock area and the least alignment of the data
/// (a cache line, so that the lock and the data do not share one with the
/// header).
pub const AREA_ALIGN: usize = 64;

/// `lock_mode`: no lock; the lock area is unused.
pub const LOCK_NONE: u32 = 0;
/// `lock_mode`: the segment's own `RawLock` at the start of the lock area.
pub const LOCK_OWN: u32 = 1;
/// `lock_mode`: the segment's own `RawRLock` at the start of the lock area.
pub const LOCK_OWN_RECURSIVE: u32 = 2;
/// `lock_mode`: the lock of another segment, whose name the lock area holds
/// (a length byte, then the name).
pub const LOCK_SHARED: u32 = 3;

/// The lock area of a segment guarded by another segment's lock
/// ([`LOCK_SHARED`]); see [the table](self#lock-modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub(crate) struct SharedLockArea {
    pub name_len: u8,
    pub name: [u8; crate::segment::MAX_NAME_LEN],
    pub pad: u8,
    pub device: u64,
    pub inode: u64,
    pub reserved: [u8; 80],
}

const_assert_eq!(core::mem::size_of::<SharedLockArea>(), LOCK_AREA_SIZE);
const_assert_eq!(core::mem::offset_of!(SharedLockArea, name_len), 0);
const_assert_eq!(core::mem::offset_of!(SharedLockArea, name), 1);
const_assert_eq!(core::mem::offset_of!(SharedLockArea, pad), 31);
const_assert_eq!(core::mem::offset_of!(SharedLockArea, device), 32);
const_assert_eq!(core::mem::offset_of!(SharedLockArea, inode), 40);
const_assert_eq!(core::mem::offset_of!(SharedLockArea, reserved), 48);

impl SharedLockArea {
    /// The area naming the lock segment `name` (a checked segment name)
    /// whose file is `identity` (device, inode).
    pub(crate) fn new(name: &str, identity: (u64, u64)) -> SharedLockArea {
        let mut area = SharedLockArea::new_zeroed();
        area.name_len = u8::try_from(name.len()).expect("a checked name, at most 30 bytes");
        area.name[..name.len()].copy_from_slice(name.as_bytes());
        (area.device, area.inode) = identity;
        area
    }

    /// The lock segment's name, `None` if the bytes are not one.
    pub(crate) fn name(&self) -> Option<&str> {
        let name = self.name.get(..usize::from(self.name_len))?;
        std::str::from_utf8(name)
            .ok()
            .filter(|name| crate::segment::check_name(name).is_ok())
    }

    /// The lock segment's (device, inode) when the object was created.
    pub(crate) fn identity(&self) -> (u64, u64) {
        (self.device, self.inode)
    }
}

/// `state` of a segment whose creator is still writing it (a fresh,
/// zero-filled file reads as this).
pub const STATE_INITIALISING: u32 = 0;
/// `state` of a segment that is completely written.
pub const STATE_READY: u32 = 1;

/// Offset of the `magic` field (8-aligned, loaded as an `AtomicU64`).
pub const MAGIC_OFFSET: usize = 0;
/// Offset of the `state` word (4-aligned, an `AtomicU32`).
pub const STATE_OFFSET: usize = 12;

/// The fixed header; see the module docs for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub(crate) struct Header {
    pub magic: [u8; 8],
    pub version: u32,
    pub state: u32,
    pub creator_pid: u32,
    pub header_size: u32,
    pub creator_start_time: u64,
    pub total_size: u64,
    pub fingerprint: u64,
    pub descriptor_offset: u64,
    pub descriptor_len: u64,
    pub lock_offset: u64,
    pub lock_size: u64,
    pub data_offset: u64,
    pub data_size: u64,
    pub data_align: u64,
    pub lock_mode: u32,
    pub reserved_word: u32,
    pub reserved: [u64; 2],
}

const_assert_eq!(core::mem::size_of::<Header>(), HEADER_SIZE);
const_assert_eq!(core::mem::offset_of!(Header, magic), MAGIC_OFFSET);
const_assert_eq!(core::mem::offset_of!(Header, version), 8);
const_assert_eq!(core::mem::offset_of!(Header, state), STATE_OFFSET);
const_assert_eq!(core::mem::offset_of!(Header, creator_pid), 16);
const_assert_eq!(core::mem::offset_of!(Header, header_size), 20);
const_assert_eq!(core::mem::offset_of!(Header, creator_start_time), 24);
const_assert_eq!(core::mem::offset_of!(Header, total_size), 32);
const_assert_eq!(core::mem::offset_of!(Header, fingerprint), 40);
const_assert_eq!(core::mem::offset_of!(Header, descriptor_offset), 48);
const_assert_eq!(core::mem::offset_of!(Header, descriptor_len), 56);
const_assert_eq!(core::mem::offset_of!(Header, lock_offset), 64);
const_assert_eq!(core::mem::offset_of!(Header, lock_size), 72);
const_assert_eq!(core::mem::offset_of!(Header, data_offset), 80);
const_assert_eq!(core::mem::offset_of!(Header, data_size), 88);
const_assert_eq!(core::mem::offset_of!(Header, data_align), 96);
const_assert_eq!(core::mem::offset_of!(Header, lock_mode), 104);
const_assert_eq!(core::mem::offset_of!(Header, reserved_word), 108);
const_assert_eq!(core::mem::offset_of!(Header, reserved), 112);
// The atomic words: the mapping is page-aligned, so these offsets make them
// aligned for `AtomicU64` and `AtomicU32`.
const_assert_eq!(MAGIC_OFFSET % 8, 0);
const_assert_eq!(STATE_OFFSET % 4, 0);
const_assert_eq!(HEADER_SIZE % AREA_ALIGN, 0);

/// Rounds `value` up to a multiple of `align` (a power of two), `None` on
/// overflow.
fn align_up(value: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    Some(value.checked_add(align - 1)? & !(align - 1))
}

impl Header {
    /// The header of a new segment holding `data_size` bytes aligned to
    /// `data_align`, described by a descriptor of `descriptor_len` bytes;
    /// `None` if the sizes overflow. `state` is left initialising.
    pub(crate) fn plan(
        descriptor_len: usize,
        data_size: usize,
        data_align: usize,
        fingerprint: u64,
        creator_pid: u32,
        creator_start_time: u64,
    ) -> Option<Header> {
        let data_align = u64::try_from(data_align.max(AREA_ALIGN)).ok()?;
        if !data_align.is_power_of_two() {
            return None;
        }
        let descriptor_offset = HEADER_SIZE as u64;
        let descriptor_len = u64::try_from(descriptor_len).ok()?;
        let lock_offset = align_up(
            descriptor_offset.checked_add(descriptor_len)?,
            AREA_ALIGN as u64,
        )?;
        let lock_size = LOCK_AREA_SIZE as u64;
        let data_offset = align_up(lock_offset.checked_add(lock_size)?, data_align)?;
        let data_size = u64::try_from(data_size).ok()?;
        let total_size = data_offset.checked_add(data_size)?;
        // The whole segment must be addressable in this process.
        usize::try_from(total_size).ok()?;
        Some(Header {
            magic: MAGIC,
            version: VERSION,
            state: STATE_INITIALISING,
            creator_pid,
            header_size: HEADER_SIZE as u32,
            creator_start_time,
            total_size,
            fingerprint,
            descriptor_offset,
            descriptor_len,
            lock_offset,
            lock_size,
            data_offset,
            data_size,
            data_align,
            lock_mode: LOCK_NONE,
            reserved_word: 0,
            reserved: [0; 2],
        })
    }

    /// Checks that a version-1 header read from a ready segment of
    /// `file_size` bytes is consistent: every area inside the segment, in
    /// order, aligned. The version must have been checked first.
    pub(crate) fn check(&self, file_size: u64) -> Result<(), Problem> {
        if file_size < self.total_size {
            return Err(Problem::Truncated {
                size: file_size,
                expected: self.total_size,
            });
        }
        let corrupt = |reason: String| Err(Problem::Corrupt(reason));
        if self.header_size as usize != HEADER_SIZE {
            return corrupt(format!(
                "header size {} instead of {HEADER_SIZE}",
                self.header_size
            ));
        }
        if usize::try_from(self.total_size).is_err() {
            return corrupt(format!("total size {} is not addressable", self.total_size));
        }
        let end = |offset: u64, len: u64| {
            offset
                .checked_add(len)
                .filter(|&end| end <= self.total_size)
        };
        let areas = [
            (
                "descriptor",
                self.descriptor_offset,
                self.descriptor_len,
                HEADER_SIZE as u64,
            ),
            (
                "lock area",
                self.lock_offset,
                self.lock_size,
                AREA_ALIGN as u64,
            ),
            ("data", self.data_offset, self.data_size, self.data_align),
        ];
        let mut previous_end = HEADER_SIZE as u64;
        for (what, offset, len, align) in areas {
            if align == 0 || !align.is_power_of_two() {
                return corrupt(format!("{what} alignment {align} is not a power of two"));
            }
            if offset < previous_end || offset % align != 0 {
                return corrupt(format!(
                    "{what} offset {offset} overlaps the previous area or is not aligned to {align}"
                ));
            }
            let Some(area_end) = end(offset, len) else {
                return corrupt(format!(
                    "{what} [{offset}, +{len}) does not fit in {} bytes",
                    self.total_size
                ));
            };
            previous_end = area_end;
        }
        if self.descriptor_len > crate::layout::Layout::MAX_ENCODED_LEN as u64 {
            return corrupt(format!(
                "descriptor of {} bytes, more than the {} a descriptor may have",
                self.descriptor_len,
                crate::layout::Layout::MAX_ENCODED_LEN
            ));
        }
        if self.lock_size < LOCK_AREA_SIZE as u64 {
            return corrupt(format!(
                "lock area of {} bytes, less than {LOCK_AREA_SIZE}",
                self.lock_size
            ));
        }
        if self.lock_mode > LOCK_SHARED {
            return corrupt(format!("unknown lock mode {}", self.lock_mode));
        }
        if self.data_align < AREA_ALIGN as u64 {
            return corrupt(format!(
                "data alignment {} below {AREA_ALIGN}",
                self.data_align
            ));
        }
        Ok(())
    }
}

/// What [`Header::check`] found wrong.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The file is shorter than the header says.
    Truncated { size: u64, expected: u64 },
    /// The header contradicts itself.
    Corrupt(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_header_is_consistent() {
        let header = Header::plan(40, 24, 8, 7, 1, 2).expect("fits");
        assert_eq!(header.descriptor_offset, 128);
        assert_eq!(header.lock_offset, 192);
        assert_eq!(header.data_offset, 320);
        assert_eq!(header.total_size, 344);
        assert_eq!(header.check(344), Ok(()));
        assert_eq!(
            header.check(300),
            Err(Problem::Truncated {
                size: 300,
                expected: 344
            })
        );
    }

    #[test]
    fn big_alignment_is_honoured() {
        let header = Header::plan(10, 4096, 4096, 0, 1, 2).expect("fits");
        assert_eq!(header.data_offset % 4096, 0);
        assert_eq!(header.check(header.total_size), Ok(()));
    }

    #[test]
    fn overflow_is_refused() {
        assert_eq!(Header::plan(10, usize::MAX - 10, 8, 0, 1, 2), None);
    }

    #[test]
    fn a_shared_lock_area_round_trips() {
        let area = SharedLockArea::new("the-lock", (7, 42));
        let bytes = area.as_bytes();
        assert_eq!(bytes[0], 8);
        assert_eq!(&bytes[1..9], b"the-lock");
        assert_eq!(&bytes[32..40], &7u64.to_ne_bytes());
        assert_eq!(&bytes[40..48], &42u64.to_ne_bytes());
        let read = SharedLockArea::read_from_bytes(bytes).expect("128 bytes");
        assert_eq!(read.name(), Some("the-lock"));
        assert_eq!(read.identity(), (7, 42));
        let mut corrupt = read;
        corrupt.name_len = 31;
        assert_eq!(corrupt.name(), None);
        corrupt.name_len = 0;
        assert_eq!(corrupt.name(), None);
    }

    #[test]
    fn inconsistent_offsets_are_corrupt() {
        let mut header = Header::plan(40, 24, 8, 7, 1, 2).expect("fits");
        header.data_offset = 64;
        assert!(matches!(header.check(344), Err(Problem::Corrupt(_))));
        let mut header = Header::plan(40, 24, 8, 7, 1, 2).expect("fits");
        header.descriptor_len = u64::MAX;
        assert!(matches!(header.check(344), Err(Problem::Corrupt(_))));
    }
}
