//! What `list` and `show` read: one entry per file, its state and its lock,
//! and a segment's values, all without taking any lock.

use std::fs::File;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::Path;
use std::time::Duration;

use shmstruct::layout::DataValue;
use shmstruct::segment::header::POISON_OFFSET;
use shmstruct::segment::LockMode;
use shmstruct::{SegmentInfo, SegmentOptions, SegmentState};

/// One row of `list`.
pub struct Entry {
    pub name: String,
    pub kind: String,
    pub ty: String,
    pub size: Option<u64>,
    pub owner: Option<u32>,
    pub mode: Option<u32>,
    pub creator_pid: Option<u32>,
    /// `alive`, `stale`, `initialising`, `corrupt: <why>`, `untrusted: <why>`
    /// (owned or writable by a user this one does not trust) or
    /// `not a shmstruct segment`.
    pub state: String,
    pub lock: String,
}

/// Options that open segments in `dir` without waiting for initialising ones.
fn options(dir: &Path) -> SegmentOptions {
    SegmentOptions::new()
        .dir(dir)
        .open_timeout(Duration::from_millis(100))
}

/// Reads the segment `name` in `dir`.
pub fn open(dir: &Path, name: &str) -> shmstruct::Result<SegmentInfo> {
    SegmentInfo::open_with(name, &options(dir))
}

/// Every file in `dir`, sorted by name: segments and foreign files alike.
pub fn list(dir: &Path) -> Result<Vec<Entry>, super::Failure> {
    let segments = shmstruct::segment::list(dir)?;
    let mut entries: Vec<Entry> = segments.iter().map(segment_entry).collect();
    let read = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for file in read.flatten() {
        let name = file.file_name().to_string_lossy().into_owned();
        if segments.iter().any(|info| info.name() == name) {
            continue;
        }
        let metadata = file.metadata().ok();
        let state = match open(dir, &name) {
            Err(shmstruct::Error::NotASegment { .. })
            | Err(shmstruct::Error::InvalidName { .. }) => "not a shmstruct segment".to_owned(),
            Err(error @ shmstruct::Error::Untrusted { .. }) => format!("untrusted: {error}"),
            Err(error) => format!("corrupt: {error}"),
            Ok(_) => "alive".to_owned(),
        };
        entries.push(Entry {
            name,
            kind: "-".to_owned(),
            ty: "-".to_owned(),
            size: metadata.as_ref().map(|m| m.len()),
            owner: metadata.as_ref().map(|m| m.uid()),
            mode: metadata.as_ref().map(|m| m.mode() & 0o7777),
            creator_pid: None,
            state,
            lock: "-".to_owned(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn segment_entry(info: &SegmentInfo) -> Entry {
    let metadata = std::fs::symlink_metadata(info.path()).ok();
    let state = match (info.state(), info.is_stale()) {
        (SegmentState::Initialising, _) => "initialising",
        (_, true) => "stale",
        (_, false) => "alive",
    };
    Entry {
        name: info.name().to_owned(),
        kind: info.kind().map_or("-".to_owned(), |kind| kind.to_string()),
        ty: info
            .layout()
            .map_or("-".to_owned(), |layout| layout.name().into_owned()),
        size: Some(info.file_size()),
        owner: Some(info.owner()),
        mode: metadata.map(|m| m.mode() & 0o7777),
        creator_pid: Some(info.creator_pid()),
        state: state.to_owned(),
        lock: lock_state(info),
    }
}

/// glibc's robust mutex: the lock word at offset 0 holds the owner's tid
/// and the owner-died bit; the `__owner` field at offset 8 is
/// `PTHREAD_MUTEX_NOTRECOVERABLE` once the mutex cannot be used any more.
const TID_MASK: u32 = 0x3fff_ffff;
const OWNER_DIED: u32 = 0x4000_0000;
const NOT_RECOVERABLE: u32 = 0x7fff_ffff;

/// The state of a segment's own lock, read from its file without taking it:
/// `free`, `held by pid N`, `owner died`, `not recoverable`, or with
/// `, poisoned` after it when the poison word beside the lock is set; the
/// lock's name for a shared lock; `-` without one.
pub fn lock_state(info: &SegmentInfo) -> String {
    match info.lock_mode() {
        Some(LockMode::Own | LockMode::OwnRecursive) => {}
        Some(LockMode::Shared { lock }) => return format!("shared with {lock}"),
        Some(LockMode::None) | None => return "-".to_owned(),
    }
    let Some((offset, _)) = info.lock_area() else {
        return "-".to_owned();
    };
    let mut words = [0u8; POISON_OFFSET + 4];
    let read = File::open(info.path()).and_then(|file| file.read_exact_at(&mut words, offset));
    if read.is_err() {
        return "unreadable".to_owned();
    }
    let word =
        |at: usize| u32::from_ne_bytes([words[at], words[at + 1], words[at + 2], words[at + 3]]);
    let (lock, owner) = (word(0), word(8));
    let poisoned = if word(POISON_OFFSET) != 0 {
        ", poisoned"
    } else {
        ""
    };
    let state = if owner == NOT_RECOVERABLE {
        "not recoverable".to_owned()
    } else if lock & OWNER_DIED != 0 {
        "owner died".to_owned()
    } else if lock & TID_MASK != 0 {
        format!("held by pid {}", lock & TID_MASK)
    } else {
        "free".to_owned()
    };
    state + poisoned
}

/// What `show` prints.
pub struct Shown {
    pub info: SegmentInfo,
    pub state: String,
    pub lock: String,
    pub value: DataValue,
    /// How the values were read.
    pub read: Read,
}

/// How `show` read the values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Without taking the lock: maybe torn by a concurrent writer.
    Unlocked,
    /// Under the lock that guards the data.
    Locked,
    /// Under the lock, over poisoned data: a holder died or panicked
    /// holding the lock, and nobody has repaired the data since.
    Poisoned,
}

impl Read {
    /// The words `show` puts after "values".
    pub fn describe(self) -> &'static str {
        match self {
            Read::Unlocked => "read without the lock",
            Read::Locked => "read under the lock",
            Read::Poisoned => {
                "read under the lock, but poisoned: a holder died or panicked holding the lock, \
                 so they may be half-written; repair them with lock_poisoned() and \
                 clear_poison()"
            }
        }
    }
}

impl Shown {
    /// Reads the segment `name` and its values: under the lock that guards
    /// them if `lock` gives a timeout, without any lock otherwise.
    pub fn read(dir: &Path, name: &str, lock: Option<Duration>) -> Result<Shown, super::Failure> {
        let info = open(dir, name)?;
        let layout = info.layout().ok_or("the segment is still initialising")?;
        let (offset, size) = info.data().ok_or("the segment is still initialising")?;
        let (data, read) = match lock {
            Some(timeout) => {
                let copy = shmstruct::segment::read_locked(name, &options(dir), timeout)?;
                let read = if copy.poisoned {
                    Read::Poisoned
                } else {
                    Read::Locked
                };
                (copy.data, read)
            }
            None => {
                let mut data = vec![0u8; usize::try_from(size)?];
                File::open(info.path())
                    .and_then(|file| file.read_exact_at(&mut data, offset))
                    .map_err(|e| format!("cannot read the data of segment `{name}`: {e}"))?;
                (data, Read::Unlocked)
            }
        };
        let data = &data[..data.len().min(layout.size())];
        let value = layout.decode_data(data)?;
        let entry = segment_entry(&info);
        Ok(Shown {
            state: entry.state,
            lock: entry.lock,
            info,
            value,
            read,
        })
    }
}

/// Removes the segment `name`; a file that is not a segment only if `force`.
pub fn remove(dir: &Path, name: &str, force: bool) -> Result<(), super::Failure> {
    match open(dir, name) {
        Ok(info) => Ok(info.unlink()?),
        Err(error @ shmstruct::Error::NotFound { .. }) => Err(error.into()),
        Err(_) if force => {
            let path = dir.join(name);
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()).into())
        }
        Err(error) => Err(format!("{error}; not removed (use --force to remove it anyway)").into()),
    }
}
