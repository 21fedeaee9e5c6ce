//! Looking at segments without knowing their type: their header and
//! descriptor, the list of segments in a directory, and stale segments.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{check_name, os, LockMode, Probe, Segment, SegmentOptions};
use crate::error::{Error, Result};
use crate::layout::{Kind, Layout, Primitive};

/// Whether a segment's creator has finished writing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentState {
    /// The creator is still writing it (or died while doing so).
    Initialising,
    /// Completely written: its header, descriptor and data can be read.
    Ready,
}

/// What a segment's header and descriptor say, read without knowing the type
/// of its data — for tools, listings and other languages.
///
/// # Examples
///
/// ```
/// use shmstruct::{SegmentInfo, SegmentOptions, SegmentState, Value};
///
/// let dir = std::env::temp_dir().join(format!("shmstruct-doc-info-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let options = SegmentOptions::new().dir(&dir);
/// let value = Value::builder("info-demo").options(&options).create(7u32).unwrap();
///
/// let info = SegmentInfo::open_with("info-demo", &options).unwrap();
/// assert_eq!(info.state(), SegmentState::Ready);
/// assert_eq!(info.layout().unwrap().name(), "u32");
/// assert_eq!(info.lock_mode(), Some(&shmstruct::segment::LockMode::Own));
/// assert_eq!(info.creator_pid(), std::process::id());
/// assert!(!info.is_stale());
/// # drop(value);
/// # std::fs::remove_dir(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct SegmentInfo {
    name: String,
    path: PathBuf,
    file_size: u64,
    state: SegmentState,
    creator_pid: u32,
    creator_start_time: u64,
    identity: (u64, u64),
    owner: u32,
    ready: Option<Ready>,
}

/// What kind of object a segment holds, as [`SegmentInfo::kind`] tells it
/// from the stored descriptor and lock mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SegmentKind {
    /// A [`Value`](crate::Value): one value with a lock (its own or shared).
    Value,
    /// A [`RawValue`](crate::RawValue): one value without a lock.
    RawValue,
    /// An [`Array`](crate::Array): elements with a lock.
    Array,
    /// A [`RawArray`](crate::RawArray): elements without a lock.
    RawArray,
    /// A byte string, with a lock ([`SharedBytes`](crate::SharedBytes)) or
    /// without ([`RawBytes`](crate::RawBytes)).
    Bytes,
    /// A [`Lock`](crate::Lock).
    Lock,
    /// An [`RLock`](crate::RLock).
    RLock,
    /// A [`Semaphore`](crate::Semaphore).
    Semaphore,
    /// An [`Event`](crate::Event).
    Event,
    /// A [`Condition`](crate::Condition).
    Condition,
    /// A [`Barrier`](crate::Barrier).
    Barrier,
}

impl SegmentKind {
    /// The kind's name, as the type is named: `"RawArray"`.
    pub fn name(self) -> &'static str {
        match self {
            SegmentKind::Value => "Value",
            SegmentKind::RawValue => "RawValue",
            SegmentKind::Array => "Array",
            SegmentKind::RawArray => "RawArray",
            SegmentKind::Bytes => "Bytes",
            SegmentKind::Lock => "Lock",
            SegmentKind::RLock => "RLock",
            SegmentKind::Semaphore => "Semaphore",
            SegmentKind::Event => "Event",
            SegmentKind::Condition => "Condition",
            SegmentKind::Barrier => "Barrier",
        }
    }

    /// The kind of a segment holding `layout` guarded by `mode`.
    ///
    /// The primitives store a struct named after them: `Lock` and `RLock`
    /// an empty one (their state is the lock area), the others one field
    /// `state`, an opaque byte array. The header does not record whether a
    /// value was made as a `Value` or an `Array`, so a `Value` of an array
    /// type shows as an `Array`.
    pub(crate) fn of(layout: &Layout, mode: &LockMode) -> SegmentKind {
        let opaque = match layout.fields() {
            [] => true,
            [state] => {
                state.name() == "state"
                    && state.offset() == 0
                    && matches!(state.ty().kind(), Kind::Array { element, .. }
                        if *element.kind() == Kind::Primitive(Primitive::U8))
            }
            _ => false,
        };
        let is_struct = matches!(layout.kind(), Kind::Struct { .. });
        let primitive = match (&*layout.name(), mode) {
            _ if !is_struct || !opaque => None,
            ("Lock", LockMode::Own) if layout.size() == 0 => Some(SegmentKind::Lock),
            ("RLock", LockMode::OwnRecursive) if layout.size() == 0 => Some(SegmentKind::RLock),
            ("Semaphore", LockMode::None) => Some(SegmentKind::Semaphore),
            ("Event", LockMode::None) => Some(SegmentKind::Event),
            ("Condition", LockMode::None) => Some(SegmentKind::Condition),
            ("Barrier", LockMode::None) => Some(SegmentKind::Barrier),
            _ => None,
        };
        if let Some(kind) = primitive {
            return kind;
        }
        match (layout.kind(), mode) {
            (Kind::Bytes { .. }, _) => SegmentKind::Bytes,
            (Kind::Array { .. }, LockMode::None) => SegmentKind::RawArray,
            (Kind::Array { .. }, _) => SegmentKind::Array,
            (_, LockMode::None) => SegmentKind::RawValue,
            _ => SegmentKind::Value,
        }
    }
}

impl std::fmt::Display for SegmentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What only a ready segment tells.
#[derive(Clone, Debug)]
struct Ready {
    version: u32,
    total_size: u64,
    fingerprint: u64,
    data_offset: u64,
    data_size: u64,
    lock_offset: u64,
    lock_size: u64,
    lock_mode: LockMode,
    layout: Layout,
}

impl SegmentInfo {
    /// Reads the header and descriptor of the segment `name` in the default
    /// directory, waiting up to a second for its creator to finish.
    ///
    /// # Errors
    ///
    /// As [`Value::open`](crate::Value::open), except that any layout is
    /// accepted: not found, permission denied, not a segment, unsupported
    /// version, truncated, corrupt header or descriptor, still initialising.
    pub fn open(name: &str) -> Result<SegmentInfo> {
        SegmentInfo::open_with(name, &SegmentOptions::new())
    }

    /// [`SegmentInfo::open`] in `options`' directory, with its timeout.
    ///
    /// # Errors
    ///
    /// As [`SegmentInfo::open`].
    pub fn open_with(name: &str, options: &SegmentOptions) -> Result<SegmentInfo> {
        let info = SegmentInfo::inspect(name, options, options.get_open_timeout())?;
        if info.state == SegmentState::Initialising {
            return Err(Error::StillInitialising {
                name: name.to_owned(),
                waited: options.get_open_timeout(),
            });
        }
        Ok(info)
    }

    /// Reads what there is to read now, possibly an initialising segment.
    fn inspect(name: &str, options: &SegmentOptions, timeout: Duration) -> Result<SegmentInfo> {
        match Segment::probe(name, options, timeout)? {
            Probe::Ready(segment) => {
                let header = *segment.header();
                let layout = Layout::decode(&segment.descriptor_bytes()).map_err(|source| {
                    Error::CorruptDescriptor {
                        name: name.to_owned(),
                        source,
                    }
                })?;
                segment.check_data_area(&layout)?;
                Ok(SegmentInfo {
                    name: name.to_owned(),
                    path: segment.path().to_owned(),
                    file_size: segment.map.len() as u64,
                    state: SegmentState::Ready,
                    creator_pid: header.creator_pid,
                    creator_start_time: header.creator_start_time,
                    identity: segment.identity,
                    owner: file_owner(segment.path()),
                    ready: Some(Ready {
                        version: header.version,
                        total_size: header.total_size,
                        fingerprint: header.fingerprint,
                        data_offset: header.data_offset,
                        data_size: header.data_size,
                        lock_offset: header.lock_offset,
                        lock_size: header.lock_size,
                        lock_mode: segment.lock_mode().clone(),
                        layout,
                    }),
                })
            }
            Probe::Initialising {
                creator_pid,
                creator_start_time,
                file_size,
                identity,
            } => Ok(SegmentInfo {
                name: name.to_owned(),
                path: options.get_dir().join(name),
                file_size,
                state: SegmentState::Initialising,
                creator_pid,
                creator_start_time,
                identity,
                owner: file_owner(&options.get_dir().join(name)),
                ready: None,
            }),
        }
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The uid of its file's owner, as it was when this info was read
    /// (`u32::MAX` if the file could not be examined).
    pub fn owner(&self) -> u32 {
        self.owner
    }

    /// Whether the calling user owns it: its file's owner is this
    /// process's effective uid. Only such stale segments are removed by
    /// [`remove_stale`].
    pub fn is_own(&self) -> bool {
        self.owner == effective_uid()
    }

    /// What kind of object it holds (`None` while initialising).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmstruct::segment::SegmentKind;
    /// use shmstruct::{Lock, SegmentInfo, SegmentOptions};
    ///
    /// let dir = std::env::temp_dir().join(format!("shmstruct-doc-kind-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let options = SegmentOptions::new().dir(&dir);
    /// let lock = Lock::create_with("kind-demo", &options).unwrap();
    /// let info = SegmentInfo::open_with("kind-demo", &options).unwrap();
    /// assert_eq!(info.kind(), Some(SegmentKind::Lock));
    /// # drop(lock);
    /// # std::fs::remove_dir(&dir).unwrap();
    /// ```
    pub fn kind(&self) -> Option<SegmentKind> {
        self.ready
            .as_ref()
            .map(|ready| SegmentKind::of(&ready.layout, &ready.lock_mode))
    }

    /// The size of its file in bytes.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Whether its creator has finished writing it. Only
    /// [`list`] reports initialising segments; the `open` functions wait for
    /// them.
    pub fn state(&self) -> SegmentState {
        self.state
    }

    /// The pid of the process that created it; 0 if not known yet (an
    /// initialising segment whose creator has not written it yet).
    pub fn creator_pid(&self) -> u32 {
        self.creator_pid
    }

    /// When that process started, in clock ticks after boot (Linux's
    /// `/proc/<pid>/stat` field 22); 0 if not known.
    pub fn creator_start_time(&self) -> u64 {
        self.creator_start_time
    }

    /// The header's format version (`None` while initialising).
    pub fn version(&self) -> Option<u32> {
        self.ready.as_ref().map(|ready| ready.version)
    }

    /// The segment's size in bytes as its header says (`None` while
    /// initialising).
    pub fn total_size(&self) -> Option<u64> {
        self.ready.as_ref().map(|ready| ready.total_size)
    }

    /// The fingerprint of its data's layout (`None` while initialising).
    pub fn fingerprint(&self) -> Option<u64> {
        self.ready.as_ref().map(|ready| ready.fingerprint)
    }

    /// The layout of its data, decoded from its header (`None` while
    /// initialising).
    pub fn layout(&self) -> Option<&Layout> {
        self.ready.as_ref().map(|ready| &ready.layout)
    }

    /// Where its data starts and how many bytes it has (`None` while
    /// initialising): what another language needs to read it.
    pub fn data(&self) -> Option<(u64, u64)> {
        self.ready
            .as_ref()
            .map(|ready| (ready.data_offset, ready.data_size))
    }

    /// Where its lock area starts and how many bytes it has (`None` while
    /// initialising).
    pub fn lock_area(&self) -> Option<(u64, u64)> {
        self.ready
            .as_ref()
            .map(|ready| (ready.lock_offset, ready.lock_size))
    }

    /// What guards its data (`None` while initialising): no lock, its own
    /// lock, or the lock of another segment, named.
    pub fn lock_mode(&self) -> Option<&LockMode> {
        self.ready.as_ref().map(|ready| &ready.lock_mode)
    }

    /// Whether its creator is gone: no process has its pid, the process
    /// that has it started at another time (the pid was reused), or it has
    /// exited and is a zombie waiting to be reaped.
    ///
    /// A segment its creator deliberately left behind is stale too once the
    /// creator has exited. An initialising segment whose creator is not
    /// known yet is not stale. A creator in another pid namespace (another
    /// container) cannot be recognised: its segments look stale, or alive
    /// when an unrelated local process has the same pid.
    pub fn is_stale(&self) -> bool {
        if self.creator_pid == 0 {
            return false;
        }
        let creator = crate::os::ProcessId {
            pid: self.creator_pid,
            start: self.creator_start_time,
        };
        !creator.is_alive()
    }

    /// Removes this segment's name if it still names the file this info was
    /// read from.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if the name is gone or now names another file;
    /// [`Error::PermissionDenied`] or [`Error::Io`] if removing fails.
    pub fn unlink(&self) -> Result<()> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(metadata) if os::identity(&metadata) == self.identity => {}
            Ok(_) | Err(_) => {
                return Err(Error::NotFound {
                    name: self.name.clone(),
                    path: self.path.clone(),
                })
            }
        }
        std::fs::remove_file(&self.path)
            .map_err(|source| super::os_error(&self.name, &self.path, "unlinking", source))
    }
}

/// The shmstruct segments in `dir`, ready or still initialising, sorted by
/// name. Files that are not shmstruct segments, cannot be opened by this
/// process, or are damaged (truncated, corrupt) are skipped silently; open
/// them by name to see why.
///
/// # Errors
///
/// [`Error::Io`] if `dir` cannot be read.
pub fn list(dir: impl AsRef<Path>) -> Result<Vec<SegmentInfo>> {
    let dir = dir.as_ref();
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        context: format!("listing segments in {} failed", dir.display()),
        source,
    })?;
    let options = SegmentOptions::new().dir(dir);
    let mut segments = Vec::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if !is_file || check_name(&name).is_err() {
            continue;
        }
        if let Ok(info) = SegmentInfo::inspect(&name, &options, Duration::ZERO) {
            segments.push(info);
        }
    }
    segments.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(segments)
}

/// Removes every [stale](SegmentInfo::is_stale) segment in `dir` that the
/// calling user owns (its file's owner is this process's effective uid),
/// and returns their names.
///
/// Other users' stale segments are left alone, even when this process could
/// remove them (as root, or in a directory without the sticky bit): their
/// creators may mean to come back to them.
///
/// # Errors
///
/// [`Error::Io`] if `dir` cannot be read. Segments that cannot be removed
/// are left and not returned.
pub fn remove_stale(dir: impl AsRef<Path>) -> Result<Vec<String>> {
    Ok(list(dir)?
        .into_iter()
        .filter(|info| info.is_stale() && info.is_own() && info.unlink().is_ok())
        .map(|info| info.name)
        .collect())
}

/// The uid that owns the file at `path`; `u32::MAX` (no user) if it cannot
/// be examined.
fn file_owner(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::symlink_metadata(path).map_or(u32::MAX, |metadata| metadata.uid())
}

/// This process's effective uid, which owns the files it creates.
fn effective_uid() -> u32 {
    // SAFETY: `geteuid` takes no arguments, touches no memory of ours and
    // always succeeds (POSIX: "shall always be successful").
    unsafe { libc::geteuid() }
}
