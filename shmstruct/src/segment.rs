//! Named shared-memory segments that describe themselves.
//!
//! A segment named `demo` is the file `/dev/shm/demo` — the POSIX
//! shared-memory object `shm_open("/demo")`, which Python's
//! `multiprocessing.shared_memory.SharedMemory(name="demo")` opens too. It
//! starts with a [header] that says what it holds: the layout
//! descriptor of its data, who created it, where its lock area and its data
//! are. An opener checks all of that before it reads a byte of data.
//!
//! # The directory
//!
//! Segments live in `/dev/shm` unless the environment variable
//! `SHMSTRUCT_DIR` names another directory, or the caller does
//! ([`SegmentOptions::dir`]) — for tests, or for systems without `/dev/shm`.
//! Python only finds segments in `/dev/shm`.
//!
//! # Lifetime
//!
//! The handle that creates a segment owns its name, as `tempfile` does: when
//! the last clone of that handle drops, the name is unlinked, unless the
//! creator asked to keep it ([`SegmentOptions::unlink_on_drop`]`(false)`,
//! or `keep` on an object's builder or handle). Otherwise the name goes
//! with [`unlink`] by name or a handle's `unlink`. A process that only
//! opened a segment never removes it on its own. Mappings stay valid after
//! the name is gone.
//!
//! # Truncation after open
//!
//! Opening checks the file's size against its header, so a truncated file is
//! an [`Error::Truncated`], never a `SIGBUS`. But
//! like every memory map, a segment that another process truncates *after*
//! it was opened makes the next access to the lost pages raise `SIGBUS`.
//! Segments are created with mode `0600`, so only processes of the same user
//! (or root) can do that; there is no cheap guard against it (sealing is only
//! available to `memfd` files, which have no name).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memmap2::{MmapOptions, MmapRaw};
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{Error, Result};
use crate::layout::{Layout, LayoutDiff, StoredRoot};

pub mod header;
mod info;
mod locked;
#[cfg_attr(unix, path = "segment/unix.rs")]
mod os;
mod registry;
mod trust;

pub use info::{list, remove_stale, SegmentInfo, SegmentKind, SegmentState};
pub use locked::{read_locked, LockedCopy};

use header::{
    Header, Problem, SharedLockArea, HEADER_SIZE, LOCK_AREA_SIZE, LOCK_NONE, LOCK_OWN,
    LOCK_OWN_RECURSIVE, LOCK_SHARED, MAGIC, STATE_INITIALISING, STATE_READY,
};

/// The environment variable that changes the default directory.
pub const DIR_ENV: &str = "SHMSTRUCT_DIR";
/// The longest segment name (the macOS limit, 31 with the leading slash).
pub const MAX_NAME_LEN: usize = 30;
/// The largest data alignment a segment can honour: a mapping starts on a
/// page boundary, and pages are at least this large everywhere, so an offset
/// that is a multiple of it is aligned in every process whatever address its
/// mapping got. Beyond it, the offset alone promises nothing.
const MAX_DATA_ALIGN: usize = 4096;

/// The directory segments live in by default: `$SHMSTRUCT_DIR` if set and
/// not empty, else `/dev/shm`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os(DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(os::DEFAULT_DIR),
    }
}

/// Checks a segment name: 1 to [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._-]`,
/// not `.` or `..`.
///
/// # Errors
///
/// [`Error::InvalidName`] saying what is wrong.
///
/// # Examples
///
/// ```
/// assert!(shmstruct::segment::check_name("demo-1.v2").is_ok());
/// let error = shmstruct::segment::check_name("/demo").unwrap_err();
/// assert!(error.to_string().contains("without the leading slash"));
/// ```
pub fn check_name(name: &str) -> Result<()> {
    let invalid = |reason: String| {
        Err(Error::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return invalid("it is empty".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return invalid(format!("it is {} bytes long", name.len()));
    }
    if name == "." || name == ".." {
        return invalid("it names a directory".to_owned());
    }
    if name.starts_with('/') {
        return invalid("give it without the leading slash".to_owned());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return invalid(format!("it contains {bad:?}"));
    }
    Ok(())
}

/// Where and how to create or open a segment.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use shmstruct::SegmentOptions;
///
/// let options = SegmentOptions::new()
///     .mode(0o640)
///     .open_timeout(Duration::from_millis(100))
///     .unlink_on_drop(false);
/// assert_eq!(options.get_mode(), 0o640);
/// assert!(!options.get_unlink_on_drop());
/// ```
#[derive(Clone, Debug)]
pub struct SegmentOptions {
    dir: Option<PathBuf>,
    mode: u32,
    open_timeout: Duration,
    unlink_on_drop: bool,
    trusted_owners: Vec<u32>,
    trusted_groups: Vec<u32>,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions::new()
    }
}

impl SegmentOptions {
    /// The defaults: the [default directory](default_dir), mode `0600`, a
    /// one-second open timeout, and the creator's handle unlinking the name
    /// when it drops.
    pub fn new() -> SegmentOptions {
        SegmentOptions {
            dir: None,
            mode: 0o600,
            open_timeout: Duration::from_secs(1),
            unlink_on_drop: true,
            trusted_owners: Vec::new(),
            trusted_groups: Vec::new(),
        }
    }

    /// Uses `dir` instead of the default directory.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> SegmentOptions {
        self.dir = Some(dir.into());
        self
    }

    /// Creates segments with permission bits `mode` (default `0o600`: only
    /// this user). Applied exactly, whatever the process umask.
    pub fn mode(mut self, mode: u32) -> SegmentOptions {
        self.mode = mode & 0o7777;
        self
    }

    /// How long an opener waits for a segment whose creator is still
    /// initialising it (default one second).
    pub fn open_timeout(mut self, timeout: Duration) -> SegmentOptions {
        self.open_timeout = timeout;
        self
    }

    /// Whether the handle that *creates* the segment unlinks its name when
    /// the last clone of it drops (default `true`, as `tempfile` does; an
    /// early `?` return or a panic removes it too). `false` keeps the
    /// segment after its creator is gone, until something unlinks it.
    /// Openers never unlink, whatever this says.
    pub fn unlink_on_drop(mut self, unlink: bool) -> SegmentOptions {
        self.unlink_on_drop = unlink;
        self
    }

    /// Also opens segments owned by the user `uid`, for deployments that
    /// share segments between users on purpose. By default an opener
    /// accepts only files owned by its effective user or root: anyone else
    /// who can write a segment can truncate it or forge its locks, which
    /// would crash or hang this process.
    ///
    /// A trusted owner can still corrupt the *data*; the opener's checks
    /// keep its locks and mapping from crashing or hanging this process.
    pub fn trust_owner(mut self, uid: u32) -> SegmentOptions {
        self.trusted_owners.push(uid);
        self
    }

    /// Also opens segments that are writable by the group `gid` (mode
    /// `g+w`), trusting every member of it. By default a group-writable
    /// segment is refused; a segment writable by every user (`o+w`) is
    /// always refused.
    pub fn trust_group(mut self, gid: u32) -> SegmentOptions {
        self.trusted_groups.push(gid);
        self
    }

    /// The directory segments are created in and opened from.
    pub fn get_dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(default_dir)
    }

    /// The permission bits of created segments.
    pub fn get_mode(&self) -> u32 {
        self.mode
    }

    /// The open timeout.
    pub fn get_open_timeout(&self) -> Duration {
        self.open_timeout
    }

    /// Whether a creating handle unlinks the name when it drops.
    pub fn get_unlink_on_drop(&self) -> bool {
        self.unlink_on_drop
    }

    /// Removes the segment `name` from this options' directory. Processes
    /// that have it open keep their mapping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`], [`Error::NotFound`],
    /// [`Error::PermissionDenied`], or [`Error::Io`].
    pub fn unlink(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let path = self.get_dir().join(name);
        std::fs::remove_file(&path).map_err(|source| os_error(name, &path, "unlinking", source))
    }
}

/// Removes the segment `name` from the [default directory](default_dir).
/// Processes that have it open keep their mapping.
///
/// # Errors
///
/// As [`SegmentOptions::unlink`].
pub fn unlink(name: &str) -> Result<()> {
    SegmentOptions::new().unlink(name)
}

/// Turns an error from opening, creating or removing `path` into the
/// matching [`Error`].
fn os_error(name: &str, path: &Path, doing: &str, source: std::io::Error) -> Error {
    use std::io::ErrorKind;
    match source.kind() {
        ErrorKind::NotFound => Error::NotFound {
            name: name.to_owned(),
            path: path.to_owned(),
        },
        ErrorKind::AlreadyExists => Error::AlreadyExists {
            name: name.to_owned(),
            path: path.to_owned(),
        },
        ErrorKind::PermissionDenied => Error::PermissionDenied {
            name: name.to_owned(),
            path: path.to_owned(),
            source,
        },
        _ if os::is_directory(&source) => not_a_segment(name, path, "it is a directory"),
        _ if os::is_symlink(&source) => not_a_segment(
            name,
            path,
            "it is a symbolic link, and segments are never opened through links",
        ),
        _ => Error::Io {
            context: format!("{doing} segment \"{name}\" ({}) failed", path.display()),
            source,
        },
    }
}

fn not_a_segment(name: &str, path: &Path, reason: &str) -> Error {
    Error::NotASegment {
        name: name.to_owned(),
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// What guards a segment's data: Python's `lock=` argument, recorded in
/// the segment's header (see [the header's lock modes](header#lock-modes))
/// and checked by every opener.
///
/// # Examples
///
/// ```
/// use shmstruct::segment::LockMode;
///
/// let shared = LockMode::Shared { lock: "the-lock".to_owned() };
/// assert_eq!(shared.to_string(), "the lock of segment \"the-lock\"");
/// assert_eq!(LockMode::None.to_string(), "no lock");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// No lock: `RawValue`, `RawArray`, and the primitives other than
    /// `Lock` and `RLock` (`lock=False`).
    None,
    /// Its own lock in its lock area: `Value`, `Array`, `Lock` (the
    /// default, `lock=True`).
    Own,
    /// Its own recursive lock in its lock area: `RLock`.
    OwnRecursive,
    /// The lock of another segment, in the same directory (`lock=lock`).
    Shared {
        /// The name of the segment whose own lock guards this one.
        lock: String,
    },
}

impl std::fmt::Display for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockMode::None => f.write_str("no lock"),
            LockMode::Own => f.write_str("its own lock"),
            LockMode::OwnRecursive => f.write_str("its own recursive lock"),
            LockMode::Shared { lock } => write!(f, "the lock of segment \"{lock}\""),
        }
    }
}

/// What will guard the data of a segment being created: a [`LockMode`],
/// and for a shared lock also the identity (device, inode) of the lock's
/// segment, which the lock area records next to its name (see
/// [`SharedLockArea`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LockPlan {
    /// [`LockMode::None`].
    None,
    /// [`LockMode::Own`].
    Own,
    /// [`LockMode::OwnRecursive`].
    OwnRecursive,
    /// [`LockMode::Shared`]: the lock of the segment `lock`, whose file is
    /// `identity`.
    Shared { lock: String, identity: (u64, u64) },
}

impl LockPlan {
    /// The header's `lock_mode` word.
    fn code(&self) -> u32 {
        match self {
            LockPlan::None => LOCK_NONE,
            LockPlan::Own => LOCK_OWN,
            LockPlan::OwnRecursive => LOCK_OWN_RECURSIVE,
            LockPlan::Shared { .. } => LOCK_SHARED,
        }
    }

    /// The lock mode, and a shared lock's identity.
    fn split(self) -> (LockMode, Option<(u64, u64)>) {
        match self {
            LockPlan::None => (LockMode::None, None),
            LockPlan::Own => (LockMode::Own, None),
            LockPlan::OwnRecursive => (LockMode::OwnRecursive, None),
            LockPlan::Shared { lock, identity } => (LockMode::Shared { lock }, Some(identity)),
        }
    }
}

/// A mapped segment: the header, the encoded descriptor, the lock area and
/// the data, untyped. [`Value`](crate::Value) and the other typed handles are
/// built on it.
///
/// The memory is shared with other processes, which may write it at any
/// time: it is only ever reached through raw pointers (copies, volatile or
/// atomic accesses), never through `&[u8]` or `&mut [u8]`.
///
/// The mapping is dropped (unmapped) with the segment, unless a robust mutex
/// in it is still held by a thread of this process (see the `Drop` impl).
#[derive(Debug)]
pub(crate) struct Segment {
    map: std::sync::Arc<MmapRaw>,
    header: Header,
    name: String,
    path: PathBuf,
    identity: (u64, u64),
    lock_mode: LockMode,
    /// For [`LockMode::Shared`], the identity of the lock's segment when
    /// this one was created; `None` for the other modes.
    shared_lock_identity: Option<(u64, u64)>,
    /// Whether dropping this segment unlinks its name: set for a creator
    /// that did not ask to keep it, cleared by [`Segment::keep`]. Shared by
    /// every handle of the `Arc` the segment lives in.
    unlink_on_drop: AtomicBool,
    /// Whether the data starts with a robust mutex that callers may hold
    /// across calls (a `Condition`'s lock).
    mutex_in_data: bool,
    /// This process's snapshot gate of the segment's own lock, shared by
    /// every handle of the file in this process (see [`registry::gate`]).
    gate: std::sync::Arc<crate::sync::seqlock::SnapshotGate>,
}

/// An opened file whose header is ready, or the creator of one that is not.
enum Probe {
    Ready(Box<Segment>),
    Initialising {
        creator_pid: u32,
        creator_start_time: u64,
        file_size: u64,
        identity: (u64, u64),
    },
}

impl Segment {
    /// Creates the segment `name` for data described by `layout`, lets
    /// `init` write the data (and the lock area) through the segment's
    /// pointers, then publishes it as ready.
    ///
    /// If anything fails, the file is removed again.
    ///
    /// The lock mode is recorded in the header: for
    /// [`LockPlan::Own`] and [`LockPlan::OwnRecursive`] the lock is
    /// initialised in the lock area, for [`LockPlan::Shared`] the lock's
    /// name and identity are written there, before `init` runs. An error from `init` (or
    /// from initialising the lock) removes the file again.
    pub(crate) fn create_locked(
        name: &str,
        layout: &Layout,
        options: &SegmentOptions,
        lock_plan: LockPlan,
        init: impl FnOnce(&Segment) -> Result<()>,
    ) -> Result<Segment> {
        check_name(name)?;
        if let LockPlan::Shared { lock, .. } = &lock_plan {
            check_name(lock)?;
        }
        if layout.align() > MAX_DATA_ALIGN {
            return Err(too_aligned(name, layout));
        }
        let dir = options.get_dir();
        let path = dir.join(name);
        let descriptor = layout.encode();
        let creator = crate::os::ProcessId::current();
        let mut header = Header::plan(
            descriptor.len(),
            layout.size(),
            layout.align(),
            layout.fingerprint(),
            creator.pid,
            creator.start,
        )
        .ok_or_else(|| Error::InvalidInput {
            reason: format!(
                "segment \"{name}\" for `{}` ({} bytes) would be larger than this process can map",
                layout.name(),
                layout.size()
            ),
        })?;
        header.lock_mode = lock_plan.code();
        let (lock_mode, shared_lock_identity) = lock_plan.split();

        let creating_error = |source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::Io {
                    context: format!(
                        "creating segment \"{name}\" failed: the directory {} does not exist",
                        dir.display()
                    ),
                    source,
                }
            } else {
                os_error(name, &path, "creating", source)
            }
        };
        // Fail early, and cheaply, when the name is visibly taken; the link
        // below is what decides a race.
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(Error::AlreadyExists {
                name: name.to_owned(),
                path,
            });
        }
        // Build the segment in an unnamed file and link it into place when
        // it is complete. Where O_TMPFILE is missing, create the name at
        // once (an opener then sees it initialising, as before).
        let (file, named_now) = match os::create_unnamed(&dir, options.mode) {
            Ok(file) => (file, false),
            Err(source) if os::is_unsupported(&source) => (
                os::create_file(&path, options.mode).map_err(creating_error)?,
                true,
            ),
            Err(source) => return Err(creating_error(source)),
        };
        // From here on a named file is ours: remove it again if we fail.
        let mut cleanup = RemoveOnFailure(named_now.then_some(path.as_path()));
        let io = |doing: &str, source| Error::Io {
            context: format!("{doing} segment \"{name}\" ({}) failed", path.display()),
            source,
        };
        let metadata = file.metadata().map_err(|e| io("inspecting", e))?;
        // The umask may have cleared bits of the mode: set it exactly, but
        // spare the system call when it did not.
        if os::mode(&metadata) != options.mode {
            os::set_mode(&file, options.mode).map_err(|e| io("setting the mode of", e))?;
        }
        let identity = os::identity(&metadata);
        os::allocate(&file, header.total_size).map_err(|source| {
            if os::is_no_space(&source) {
                Error::NoSpace {
                    name: name.to_owned(),
                    dir: dir.clone(),
                    size: header.total_size,
                    source,
                }
            } else {
                io("reserving space for", source)
            }
        })?;
        let map = registry::shared(identity, header.total_size as usize, || {
            MmapOptions::new()
                .len(header.total_size as usize)
                .map_raw(&file)
                .map_err(|e| io("mapping", e))
        })?;
        let segment = Segment {
            map,
            header,
            name: name.to_owned(),
            path: path.clone(),
            identity,
            lock_mode,
            shared_lock_identity,
            unlink_on_drop: AtomicBool::new(false),
            mutex_in_data: false,
            gate: registry::gate(identity),
        };
        segment.write_header(&descriptor);
        segment.init_lock_area()?;
        init(&segment)?;
        // Release: everything written above (header, descriptor, lock
        // area, data) happens-before an opener's Acquire load that sees
        // READY.
        segment.state().store(STATE_READY, Ordering::Release);
        if !named_now {
            os::link_into(&file, &path).map_err(creating_error)?;
        }
        cleanup.0 = None;
        // Relaxed: nothing else has seen the segment yet.
        segment
            .unlink_on_drop
            .store(options.unlink_on_drop, Ordering::Relaxed);
        Ok(segment)
    }

    /// Opens the segment `name`, whatever its layout: for a segment whose
    /// lock guards another (the caller checks its lock mode).
    pub(crate) fn open_any(name: &str, options: &SegmentOptions) -> Result<Segment> {
        match Segment::probe(name, options, options.open_timeout)? {
            Probe::Ready(segment) => Ok(*segment),
            Probe::Initialising { .. } => Err(Error::StillInitialising {
                name: name.to_owned(),
                waited: options.open_timeout,
            }),
        }
    }

    /// Opens the segment `name` and checks that it holds data described by
    /// `expected`.
    pub(crate) fn open(name: &str, expected: &Layout, options: &SegmentOptions) -> Result<Segment> {
        let segment = match Segment::probe(name, options, options.open_timeout)? {
            Probe::Ready(segment) => *segment,
            Probe::Initialising { .. } => {
                return Err(Error::StillInitialising {
                    name: name.to_owned(),
                    waited: options.open_timeout,
                })
            }
        };
        segment.check_layout(expected, &segment.descriptor_bytes())?;
        Ok(segment)
    }

    /// Opens the segment `name` and checks that it holds data described by
    /// the layout `expected` makes of the root of the stored descriptor:
    /// for handles whose length is chosen by the creator (arrays, byte
    /// strings), which take the length from the segment and check
    /// everything else.
    ///
    /// The root is read from the fixed places of the encoding; the whole
    /// stored encoding is then compared with `expected`'s, as
    /// [`Segment::open`] does, so the descriptor is decoded only when they
    /// differ (to say how) or when the root cannot be read. A descriptor
    /// that does not decode is an [`Error::CorruptDescriptor`].
    pub(crate) fn open_matching(
        name: &str,
        options: &SegmentOptions,
        expected: impl FnOnce(StoredRoot) -> Layout,
    ) -> Result<Segment> {
        let segment = match Segment::probe(name, options, options.open_timeout)? {
            Probe::Ready(segment) => *segment,
            Probe::Initialising { .. } => {
                return Err(Error::StillInitialising {
                    name: name.to_owned(),
                    waited: options.open_timeout,
                })
            }
        };
        let stored = segment.descriptor_bytes();
        let root = match StoredRoot::peek(&stored) {
            Some(root) => root,
            None => StoredRoot::of(&Layout::decode(&stored).map_err(|source| {
                Error::CorruptDescriptor {
                    name: name.to_owned(),
                    source,
                }
            })?),
        };
        segment.check_layout(&expected(root), &stored)?;
        Ok(segment)
    }

    /// Opens `name` and waits up to `timeout` for its header to be ready;
    /// checks the size, magic, version and header consistency, not the
    /// layout.
    fn probe(name: &str, options: &SegmentOptions, timeout: Duration) -> Result<Probe> {
        check_name(name)?;
        let path = options.get_dir().join(name);
        let file =
            os::open_file(&path).map_err(|source| os_error(name, &path, "opening", source))?;
        let io = |doing: &str, source| Error::Io {
            context: format!("{doing} segment \"{name}\" ({}) failed", path.display()),
            source,
        };
        let started = Instant::now();
        loop {
            let metadata = file.metadata().map_err(|e| io("inspecting", e))?;
            if !metadata.is_file() {
                return Err(not_a_segment(name, &path, "it is not a regular file"));
            }
            let ownership = os::ownership(&metadata);
            if let Some(reason) = trust::distrust(ownership, os::effective_uid(), options) {
                return Err(Error::Untrusted {
                    name: name.to_owned(),
                    path,
                    uid: ownership.uid,
                    reason: reason.into(),
                });
            }
            let identity = os::identity(&metadata);
            let size = metadata.len();
            let mut creator = (0, 0);
            if size >= HEADER_SIZE as u64 {
                // The file is at least a header long. Read the header with
                // pread, never through a mapping: a hole in a foreign sparse
                // file reads as zeros here instead of raising SIGBUS.
                let header = read_header(&file).map_err(|e| io("reading", e))?;
                let magic = header.magic;
                let state = header.state;
                if magic == MAGIC {
                    if state == STATE_READY {
                        let allocated = os::allocated_bytes(&metadata);
                        if allocated < size {
                            return Err(Error::Sparse {
                                name: name.to_owned(),
                                path,
                                size,
                                allocated,
                            });
                        }
                        let segment = Segment::from_ready(name, &path, &file, identity, size)?;
                        return Ok(Probe::Ready(Box::new(segment)));
                    }
                    if state != STATE_INITIALISING {
                        return Err(Error::CorruptHeader {
                            name: name.to_owned(),
                            reason: format!("unknown state {state:#x}"),
                        });
                    }
                    creator = (header.creator_pid, header.creator_start_time);
                } else if magic != [0; 8] || state != STATE_INITIALISING {
                    return Err(not_a_segment(
                        name,
                        &path,
                        "its first bytes are not the shmstruct magic",
                    ));
                }
            } else if size > 0 {
                // Too short for a header. The creator reserves the whole
                // size at once, so this is damage, not work in progress.
                let mut prefix = [0; 8];
                let len = (size as usize).min(prefix.len());
                file.read_exact_at(&mut prefix[..len], 0)
                    .map_err(|e| io("reading", e))?;
                if prefix[..len] != MAGIC[..len] {
                    return Err(not_a_segment(
                        name,
                        &path,
                        "its first bytes are not the shmstruct magic",
                    ));
                }
                return Err(Error::Truncated {
                    name: name.to_owned(),
                    size,
                    expected: HEADER_SIZE as u64,
                });
            }
            // Still initialising (an empty file is one whose creator has not
            // reserved its space yet).
            let waited = started.elapsed();
            if waited >= timeout {
                return Ok(Probe::Initialising {
                    creator_pid: creator.0,
                    creator_start_time: creator.1,
                    file_size: size,
                    identity,
                });
            }
            std::thread::sleep((timeout - waited).min(Duration::from_millis(1)));
        }
    }

    /// Maps a segment whose header was seen ready and whose file is fully
    /// allocated, then reads and checks its header.
    fn from_ready(
        name: &str,
        path: &Path,
        file: &std::fs::File,
        identity: (u64, u64),
        size: u64,
    ) -> Result<Segment> {
        let io = |doing: &str, source| Error::Io {
            context: format!("{doing} segment \"{name}\" ({}) failed", path.display()),
            source,
        };
        let len = usize::try_from(size).map_err(|_| Error::CorruptHeader {
            name: name.to_owned(),
            reason: format!("the file's size {size} is not addressable"),
        })?;
        let map = registry::shared(identity, len, || {
            MmapOptions::new()
                .len(len)
                .map_raw(file)
                .map_err(|e| io("mapping", e))
        })?;
        // Acquire: pairs with the creator's Release store of READY, after
        // which the whole header, descriptor and lock area are written; the
        // header is read again below, after this load.
        if state_word(&map).load(Ordering::Acquire) != STATE_READY {
            return Err(Error::CorruptHeader {
                name: name.to_owned(),
                reason: "its state left ready".to_owned(),
            });
        }
        let header = read_header(file).map_err(|e| io("reading", e))?;
        if header.version != header::VERSION {
            return Err(Error::UnsupportedVersion {
                name: name.to_owned(),
                found: header.version,
                supported: header::VERSION,
            });
        }
        match header.check(size) {
            Ok(()) => {}
            Err(Problem::Truncated { size, expected }) => {
                return Err(Error::Truncated {
                    name: name.to_owned(),
                    size,
                    expected,
                })
            }
            Err(Problem::Corrupt(reason)) => {
                return Err(Error::CorruptHeader {
                    name: name.to_owned(),
                    reason,
                })
            }
        }
        let mut segment = Segment {
            map,
            header,
            name: name.to_owned(),
            path: path.to_owned(),
            identity,
            lock_mode: LockMode::None,
            shared_lock_identity: None,
            unlink_on_drop: AtomicBool::new(false),
            mutex_in_data: false,
            gate: registry::gate(identity),
        };
        (segment.lock_mode, segment.shared_lock_identity) = segment.read_lock_mode()?;
        segment.check_own_lock()?;
        Ok(segment)
    }

    /// Decodes the header's lock mode (and a shared lock's name and
    /// identity from the lock area) of a ready segment whose header was
    /// checked.
    fn read_lock_mode(&self) -> Result<(LockMode, Option<(u64, u64)>)> {
        let corrupt = |reason: String| Error::CorruptHeader {
            name: self.name.clone(),
            reason,
        };
        match self.header.lock_mode {
            LOCK_NONE => Ok((LockMode::None, None)),
            LOCK_OWN => Ok((LockMode::Own, None)),
            LOCK_OWN_RECURSIVE => Ok((LockMode::OwnRecursive, None)),
            LOCK_SHARED => {
                let mut bytes = [0u8; LOCK_AREA_SIZE];
                // SAFETY: Header::check put the lock area, at least
                // LOCK_AREA_SIZE bytes, inside the mapping; `bytes` is a
                // local buffer of that size; u8 needs no alignment. A
                // shared segment's lock area is not written after it is
                // ready.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.lock_area().as_ptr(),
                        bytes.as_mut_ptr(),
                        bytes.len(),
                    )
                };
                let area = SharedLockArea::read_from_bytes(&bytes).expect("LOCK_AREA_SIZE bytes");
                let lock = area.name().ok_or_else(|| {
                    corrupt("the shared lock's name is not a segment name".into())
                })?;
                let mode = LockMode::Shared {
                    lock: lock.to_owned(),
                };
                Ok((mode, Some(area.identity())))
            }
            mode => Err(corrupt(format!("unknown lock mode {mode}"))),
        }
    }

    /// Initialises the lock area as the lock mode says (it is zeroed).
    fn init_lock_area(&self) -> Result<()> {
        match &self.lock_mode {
            LockMode::None => Ok(()),
            LockMode::Own => {
                // SAFETY: the lock area is LOCK_AREA_SIZE bytes, 64-aligned,
                // inside the mapping (Header::plan), which is at least
                // RawLock::SIZE bytes aligned to RawLock::ALIGN
                // (const-asserted in `sync::named`); nobody else sees the
                // segment before it is ready.
                unsafe { crate::sync::RawLock::init(self.lock_area().cast().as_ptr()) }
            }
            LockMode::OwnRecursive => {
                // SAFETY: as for `Own`, for a RawRLock (also const-asserted).
                unsafe { crate::sync::RawRLock::init(self.lock_area().cast().as_ptr()) }
            }
            LockMode::Shared { lock } => {
                let identity = self
                    .shared_lock_identity
                    .expect("a shared lock mode comes with the lock's identity");
                let area = SharedLockArea::new(lock, identity);
                self.write_bytes(self.header.lock_offset as usize, area.as_bytes());
                Ok(())
            }
        }
    }

    /// Checks the kind word of the segment's own robust mutex, if it has
    /// one, before anyone locks it (see [`RobustMutex::check_kind`]).
    ///
    /// [`RobustMutex::check_kind`]: crate::sync::RobustMutex::check_kind
    fn check_own_lock(&self) -> Result<()> {
        use crate::sync::{MutexKind, RobustMutex};
        let kind = match self.lock_mode {
            LockMode::Own => MutexKind::ErrorCheck,
            LockMode::OwnRecursive => MutexKind::Recursive,
            LockMode::None | LockMode::Shared { .. } => return Ok(()),
        };
        let mutex = self.lock_area().cast::<RobustMutex>().as_ptr();
        // SAFETY: the lock area is LOCK_AREA_SIZE bytes, 64-aligned, inside
        // the mapping (Header::check), large and aligned enough for a
        // RobustMutex (const-asserted in `named`); the mapping outlives the
        // call, and other processes touch the mutex only through pthread
        // calls.
        let checked = unsafe { RobustMutex::check_kind(mutex, kind) };
        checked.map_err(|found| self.corrupt_lock(found, kind))
    }

    /// Checks the kind word of the error-checking robust mutex a named
    /// primitive keeps at the start of its data, before anyone locks it.
    pub(crate) fn check_mutex_at_data(&self) -> Result<()> {
        use crate::sync::{MutexKind, RobustMutex};
        let size = std::mem::size_of::<RobustMutex>() as u64;
        let align = std::mem::align_of::<RobustMutex>() as u64;
        if self.header.data_size < size || self.header.data_offset % align != 0 {
            return Err(Error::CorruptLock {
                name: self.name.clone(),
                reason: "its data cannot hold the primitive's mutex".to_owned(),
            });
        }
        let mutex = self.data().cast::<RobustMutex>().as_ptr();
        // SAFETY: the data area is inside the mapping (Header::check), at
        // least a RobustMutex long and aligned for one (checked above); the
        // mapping outlives the call, and other processes touch the mutex
        // only through pthread calls.
        let checked = unsafe { RobustMutex::check_kind(mutex, MutexKind::ErrorCheck) };
        checked.map_err(|found| self.corrupt_lock(found, MutexKind::ErrorCheck))
    }

    fn corrupt_lock(&self, found: i32, kind: crate::sync::MutexKind) -> Error {
        Error::CorruptLock {
            name: self.name.clone(),
            reason: format!(
                "its mutex's kind word is {found:#x}, not that of the {kind:?} robust \
                 process-shared mutex shmstruct creates"
            ),
        }
    }

    /// What guards this segment's data.
    pub(crate) fn lock_mode(&self) -> &LockMode {
        &self.lock_mode
    }

    /// The file's (device, inode): the same for every mapping of one
    /// segment, in every process.
    #[inline]
    pub(crate) fn identity(&self) -> (u64, u64) {
        self.identity
    }

    /// This process's snapshot gate of the segment's own lock: the same
    /// for every handle of the file in this process.
    #[inline]
    pub(crate) fn snapshot_gate(&self) -> &crate::sync::seqlock::SnapshotGate {
        &self.gate
    }

    /// For a segment guarded by another segment's lock
    /// ([`LockMode::Shared`]), that lock segment's (device, inode) when
    /// this segment was created; `None` for the other lock modes.
    pub(crate) fn shared_lock_identity(&self) -> Option<(u64, u64)> {
        self.shared_lock_identity
    }

    /// Checks that the segment, whose encoded descriptor is `stored` (a
    /// copy), holds data described by `expected`: the fingerprint and the
    /// encoded descriptor must match (one walk over `expected`, comparing as
    /// it encodes, no allocation); otherwise the stored descriptor is
    /// decoded and compared field by field.
    pub(crate) fn check_layout(&self, expected: &Layout, stored: &[u8]) -> Result<()> {
        if expected.align() > MAX_DATA_ALIGN {
            return Err(too_aligned(&self.name, expected));
        }
        let (fingerprint, same_bytes) = expected.fingerprint_and_match(stored);
        if self.header.fingerprint != fingerprint || !same_bytes {
            let found = Layout::decode(stored).map_err(|source| Error::CorruptDescriptor {
                name: self.name.clone(),
                source,
            })?;
            let diff = LayoutDiff::new(expected, &found);
            if !diff.is_empty() || self.header.fingerprint != fingerprint {
                return Err(Error::LayoutMismatch {
                    name: self.name.clone(),
                    diff: Box::new(diff),
                });
            }
        }
        self.check_data_area(expected)
    }

    /// Checks that the header's data area holds exactly a `layout`, aligned:
    /// the header's `data_size` must agree with the descriptor.
    pub(crate) fn check_data_area(&self, expected: &Layout) -> Result<()> {
        if self.header.data_size != expected.size() as u64
            || self.header.data_offset % expected.align() as u64 != 0
        {
            return Err(Error::CorruptHeader {
                name: self.name.clone(),
                reason: format!(
                    "{} data bytes at offset {} cannot hold `{}` ({} bytes, aligned to {})",
                    self.header.data_size,
                    self.header.data_offset,
                    expected.name(),
                    expected.size(),
                    expected.align()
                ),
            });
        }
        Ok(())
    }

    /// Writes the header (state excepted: the file is zero-filled, so it
    /// reads as initialising), the descriptor, and zeroes the lock area.
    fn write_header(&self, descriptor: &[u8]) {
        let header = self.header.as_bytes();
        // The creator's identity first, then the magic with Release, so an
        // inspector that sees the magic (Acquire) knows who is creating it.
        let creator = core::mem::offset_of!(Header, creator_pid);
        self.write_bytes(creator, &header[creator..creator + 4]);
        let start_time = core::mem::offset_of!(Header, creator_start_time);
        self.write_bytes(start_time, &header[start_time..start_time + 8]);
        magic_word(&self.map).store(u64::from_ne_bytes(MAGIC), Ordering::Release);
        let version = core::mem::offset_of!(Header, version);
        self.write_bytes(version, &header[version..header::STATE_OFFSET]);
        // The rest, around the creator's fields: an inspector that saw the
        // magic may be reading those right now (`read_creator`), so they
        // are not written again (not even with the same bytes: that would
        // be a data race).
        let header_size = core::mem::offset_of!(Header, header_size);
        self.write_bytes(header_size, &header[header_size..header_size + 4]);
        let total_size = core::mem::offset_of!(Header, total_size);
        self.write_bytes(total_size, &header[total_size..]);
        self.write_bytes(self.header.descriptor_offset as usize, descriptor);
        let lock = self.lock_area();
        // SAFETY: the lock area is LOCK_AREA_SIZE bytes inside the mapping
        // (Header::plan put it there) and nobody else writes it before the
        // segment is ready.
        unsafe { std::ptr::write_bytes(lock.as_ptr(), 0, LOCK_AREA_SIZE) };
    }

    /// Copies `bytes` into the segment at `offset`.
    fn write_bytes(&self, offset: usize, bytes: &[u8]) {
        assert!(
            offset + bytes.len() <= self.map.len(),
            "write inside the segment"
        );
        let destination = self.map.as_mut_ptr().wrapping_add(offset);
        // SAFETY: `destination .. + bytes.len()` is inside the mapping
        // (asserted above), which cannot overlap `bytes`, a Rust slice of
        // this process's own memory; u8 needs no alignment. Only the
        // creator writes, before the segment is ready.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), destination, bytes.len()) };
    }

    /// A copy of the encoded descriptor.
    pub(crate) fn descriptor_bytes(&self) -> Vec<u8> {
        let len = self.header.descriptor_len as usize;
        let mut bytes = vec![0; len];
        let source = self
            .map
            .as_mut_ptr()
            .wrapping_add(self.header.descriptor_offset as usize);
        // SAFETY: Header::check put the descriptor inside the mapping;
        // `bytes` is a fresh buffer of `len` bytes; u8 needs no alignment.
        // The descriptor is not written after the segment is ready.
        unsafe { std::ptr::copy_nonoverlapping(source, bytes.as_mut_ptr(), len) };
        bytes
    }

    /// The state word, an atomic in the mapping.
    fn state(&self) -> &AtomicU32 {
        state_word(&self.map)
    }

    /// The segment's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The segment's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The segment's header.
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The first byte of the data: `data_size` bytes aligned to
    /// `data_align` (at least the alignment of the type the layout check
    /// accepted).
    #[inline]
    pub(crate) fn data(&self) -> NonNull<u8> {
        let data = self
            .map
            .as_mut_ptr()
            .wrapping_add(self.header.data_offset as usize);
        NonNull::new(data).expect("a mapping is never at address 0")
    }

    /// The lock area: [`LOCK_AREA_SIZE`] bytes, 64-aligned, zeroed by the
    /// creator before `init` runs; the sync primitives live here.
    #[inline]
    pub(crate) fn lock_area(&self) -> NonNull<u8> {
        let lock = self
            .map
            .as_mut_ptr()
            .wrapping_add(self.header.lock_offset as usize);
        NonNull::new(lock).expect("a mapping is never at address 0")
    }

    /// Keeps the name when this segment drops, though this process created
    /// it: it then lives until something unlinks it.
    pub(crate) fn keep(&self) {
        // Relaxed: a flag read only by `drop`, which runs after every other
        // handle of the `Arc` is gone (the `Arc` orders that).
        self.unlink_on_drop.store(false, Ordering::Relaxed);
    }

    /// Unlinks the segment's name if it still names this segment.
    pub(crate) fn unlink(&self) -> Result<()> {
        let not_found = || Error::NotFound {
            name: self.name.clone(),
            path: self.path.clone(),
        };
        match std::fs::symlink_metadata(&self.path) {
            Ok(metadata) if os::identity(&metadata) == self.identity => {}
            Ok(_) => return Err(not_found()),
            Err(source) => return Err(os_error(&self.name, &self.path, "unlinking", source)),
        }
        std::fs::remove_file(&self.path)
            .map_err(|source| os_error(&self.name, &self.path, "unlinking", source))?;
        // Gone already: nothing left for the drop to do.
        self.keep();
        Ok(())
    }
}

impl Segment {
    /// Records that the data starts with a robust mutex that callers may
    /// hold across calls (a `Condition`'s lock), for the `Drop` impl.
    pub(crate) fn mark_mutex_in_data(&mut self) {
        self.mutex_in_data = true;
    }

    /// Whether a thread of this process holds a robust mutex of this
    /// segment's: its own lock in the lock area, or a lock at the start of
    /// the data.
    fn holds_robust_mutex(&self) -> bool {
        let own_lock = matches!(self.lock_mode, LockMode::Own | LockMode::OwnRecursive);
        let held = |place: NonNull<u8>| {
            // SAFETY: `place` is the lock area (64-aligned, LOCK_AREA_SIZE
            // bytes) or the data of a segment that holds a mutex there
            // (aligned for it, at least its size), inside the mapping, which
            // outlives this borrow; so it is 4-aligned and valid for a u32.
            // It is a glibc mutex's futex word, which every process
            // accesses atomically once the segment is ready (the pthread
            // functions and the kernel), or zeroes written before it.
            let word = unsafe { AtomicU32::from_ptr(place.cast::<u32>().as_ptr()) };
            crate::sync::robust_mutex_held_in_this_process(word)
        };
        (own_lock && held(self.lock_area())) || (self.mutex_in_data && held(self.data()))
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if *self.unlink_on_drop.get_mut() {
            // Nothing to report to: a segment already gone is fine.
            let _ = self.unlink();
        }
        // A robust mutex held by a thread of this process — through a guard
        // given up with `mem::forget` or `RLockGuard::leak`, since a live
        // guard borrows a handle — is on that thread's robust list, which
        // glibc (the next lock's enqueue, the unlock's dequeue) and the
        // kernel (at thread exit) write through at the mutex's address in
        // this mapping. Unmapping it would send those writes to unmapped
        // memory, or into whatever is mapped there next: keep the mapping
        // instead, once per segment (every handle shares it), as a leaked
        // guard leaks its lock.
        if self.holds_robust_mutex() {
            registry::keep(self.identity, self.map.clone());
        }
    }
}

/// The error for a layout aligned beyond [`MAX_DATA_ALIGN`].
fn too_aligned(name: &str, layout: &Layout) -> Error {
    Error::InvalidInput {
        reason: format!(
            "segment \"{name}\" cannot hold `{}`: it is aligned to {} bytes, more than the \
             {MAX_DATA_ALIGN} a shared mapping guarantees in every process",
            layout.name(),
            layout.align()
        ),
    }
}

/// Removes a freshly created file unless disarmed (`.0 = None`).
struct RemoveOnFailure<'a>(Option<&'a Path>);

impl Drop for RemoveOnFailure<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The header's magic as an atomic word.
fn magic_word(map: &MmapRaw) -> &AtomicU64 {
    assert!(map.len() >= HEADER_SIZE);
    let magic = map
        .as_mut_ptr()
        .wrapping_add(header::MAGIC_OFFSET)
        .cast::<u64>();
    // SAFETY: the mapping is page-aligned and at least a header long
    // (asserted), so `magic` is 8-aligned and valid for as long as `map` is
    // borrowed. Every access through a mapping is atomic (the creator's one
    // `store`), as `from_ptr` requires; openers read the header with
    // `pread`, outside the memory model.
    unsafe { AtomicU64::from_ptr(magic) }
}

/// The header's state as an atomic word.
fn state_word(map: &MmapRaw) -> &AtomicU32 {
    assert!(map.len() >= HEADER_SIZE);
    let state = map
        .as_mut_ptr()
        .wrapping_add(header::STATE_OFFSET)
        .cast::<u32>();
    // SAFETY: as for `magic_word`: 4-aligned, inside the mapping, and
    // every write is atomic (the creator never writes it non-atomically: it
    // is zero from posix_fallocate until the Release store of READY, which
    // is its only write); openers read it with this atomic `load` or with
    // `pread`.
    unsafe { AtomicU32::from_ptr(state) }
}

/// Reads the header with `pread`: whatever the file holds, this never
/// touches unbacked memory.
fn read_header(file: &std::fs::File) -> std::io::Result<Header> {
    let mut bytes = [0u8; HEADER_SIZE];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(Header::read_from_bytes(&bytes).expect("HEADER_SIZE bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "demo", "A.b_c-9", &"x".repeat(30), "..."] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for (bad, reason) in [
            ("", "empty"),
            (&"x".repeat(31) as &str, "31 bytes"),
            (".", "directory"),
            ("..", "directory"),
            ("a/b", "'/'"),
            ("/demo", "leading slash"),
            ("dé", "'é'"),
            ("a b", "' '"),
        ] {
            let message = check_name(bad).expect_err(bad).to_string();
            assert!(message.contains(reason), "{bad}: {message}");
        }
    }

    #[test]
    fn the_environment_changes_the_default_dir() {
        // Read only: setting the variable would race other tests.
        let expected = std::env::var_os(DIR_ENV)
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from);
        assert_eq!(default_dir(), expected);
        assert_eq!(
            SegmentOptions::new().dir("/tmp/x").get_dir(),
            Path::new("/tmp/x")
        );
    }
}
