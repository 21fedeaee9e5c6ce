//! The operating-system calls segments need, for Unix (Linux first).
//!
//! Everything the portable segment code asks of the platform goes through
//! here: where segments live, how their files are created and opened, how
//! space is reserved, and how a process is recognised again.

use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Where POSIX shared-memory objects live: `shm_open("/demo")` is this
/// directory's file `demo`.
pub(super) const DEFAULT_DIR: &str = "/dev/shm";

/// Creates `path` exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC`,
/// read-write) with `mode` as far as the process umask lets it: follow with
/// [`set_mode`].
pub(super) fn create_file(path: &Path, mode: u32) -> io::Result<File> {
    // std's `open` always adds O_CLOEXEC; `create_new` is O_CREAT | O_EXCL,
    // which also refuses a symbolic link planted at the path.
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Creates an unnamed file in `dir` (`O_TMPFILE | O_RDWR | O_CLOEXEC`) with
/// `mode` as far as the umask lets it: a segment is built there complete
/// and [linked](link_into) to its name only then, so nobody ever sees it
/// half-made and a creator killed on the way leaves nothing behind.
///
/// Fails with [`is_unsupported`] where the file system or kernel has no
/// `O_TMPFILE`.
pub(super) fn create_unnamed(dir: &Path, mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .mode(mode)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
}

/// Whether `error` says `O_TMPFILE` is not available here (old kernels
/// report `EISDIR` or `EINVAL`, file systems without it `EOPNOTSUPP`).
pub(super) fn is_unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    )
}

/// Gives the unnamed `file` the name `path`, failing with `EEXIST` if the
/// name is taken: `linkat` of `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW`,
/// which, unlike `AT_EMPTY_PATH`, needs no privilege.
pub(super) fn link_into(file: &File, path: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let from =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a number");
    let to = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: both paths are NUL-terminated strings that live until the
    // call returns; `linkat` only reads them.
    let status = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives `file` exactly `mode` (`fchmod`), whatever the umask cleared.
pub(super) fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(mode))
}

/// Opens an existing `path` read-write, refusing a symbolic link
/// (`O_RDWR | O_NOFOLLOW | O_CLOEXEC`).
pub(super) fn open_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Reserves `len` bytes for `file` (`posix_fallocate`), so that a full file
/// system is an error now and not a `SIGBUS` when the memory is touched.
pub(super) fn allocate(file: &File, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    // SAFETY: `posix_fallocate` only reads its integer arguments; the file
    // descriptor is open for as long as `file` is borrowed.
    let status = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    // posix_fallocate returns the error number instead of setting errno.
    match status {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// Whether `error` says the file system is full.
pub(super) fn is_no_space(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Whether `error` says the path names a directory.
pub(super) fn is_directory(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EISDIR)
}

/// Whether `error` is `O_NOFOLLOW` refusing a symbolic link.
pub(super) fn is_symlink(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

/// A file's permission bits (`st_mode & 0o7777`).
pub(super) fn mode(metadata: &std::fs::Metadata) -> u32 {
    metadata.mode() & 0o7777
}

/// Who owns a file and its permission bits.
pub(super) fn ownership(metadata: &std::fs::Metadata) -> super::trust::Ownership {
    super::trust::Ownership {
        uid: metadata.uid(),
        gid: metadata.gid(),
        mode: mode(metadata),
    }
}

/// How many bytes of storage the file system has allocated to a file
/// (`st_blocks` counts 512-byte units whatever the block size): less than
/// its size means holes, whose pages a full file system may be unable to
/// supply when they are touched (`SIGBUS`).
pub(super) fn allocated_bytes(metadata: &std::fs::Metadata) -> u64 {
    metadata.blocks().saturating_mul(512)
}

/// This process's effective user id.
pub(super) fn effective_uid() -> u32 {
    // SAFETY: `geteuid` takes no arguments, touches no memory of ours and
    // cannot fail (POSIX).
    unsafe { libc::geteuid() }
}

/// A file's identity (device and inode), to tell whether a path still names
/// the file this process created.
pub(super) fn identity(metadata: &std::fs::Metadata) -> (u64, u64) {
    (metadata.dev(), metadata.ino())
}
