//! Helpers for tests that span processes: unique segment names, children
//! that are the test binary itself re-executed, and guards that clean up.
//!
//! A cross-process test is one `#[test]` function with two roles:
//!
//! ```ignore
//! #[test]
//! fn child_sees_parent_value() {
//!     if let Some(role) = support::role() {
//!         // in the child: do the child's part, then return (exit 0)
//!         return;
//!     }
//!     let name = support::unique_name("sees");
//!     let mut child = support::spawn_role("child_sees_parent_value", "reader", &[("NAME", &name)]);
//!     assert!(child.wait_success());
//! }
//! ```
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ROLE_VAR: &str = "SHMSTRUCT_TEST_ROLE";

/// A segment name no other test, run or process uses: `t<pid>-<n>-<tag>`,
/// at most 30 bytes.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Relaxed: the counter only has to hand out distinct numbers.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = format!("t{}-{}-{}", std::process::id(), n, tag);
    name.truncate(30);
    name
}

/// The role this process was started with, `None` in the parent.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// An argument the parent passed to this child with [`spawn_role`].
pub fn arg(key: &str) -> String {
    std::env::var(format!("SHMSTRUCT_TEST_ARG_{key}"))
        .unwrap_or_else(|_| panic!("child started without argument {key}"))
}

/// Starts this test binary again, running only `test` (the test function's
/// name, without its module path is fine only when it is unique), with
/// `role` and the given arguments. The child is killed and reaped when the
/// returned guard drops.
pub fn spawn_role(test: &str, role: &str, args: &[(&str, &str)]) -> ChildGuard {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .stdin(Stdio::null())
        // The child is a whole test binary: its harness would print a second
        // "test result" line into the parent's output. Failures go to stderr.
        .stdout(Stdio::null());
    for (key, value) in args {
        command.env(format!("SHMSTRUCT_TEST_ARG_{key}"), value);
    }
    let child = command.spawn().expect("re-executing the test binary");
    ChildGuard { child: Some(child) }
}

/// A child process that is killed and reaped when dropped, so that a
/// failing test leaves no process behind.
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("child").id()
    }

    /// Waits for the child to exit, at most `timeout`; kills it past that.
    pub fn wait_timeout(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("child");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the child") {
                self.child = None;
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let status = child.wait().expect("reaping the child");
                self.child = None;
                panic!("child did not exit within {timeout:?}; killed it ({status})");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits (at most 60 s) and says whether the child exited with status 0.
    pub fn wait_success(&mut self) -> bool {
        self.wait_timeout(Duration::from_secs(60)).success()
    }

    /// Sends `SIGKILL` and reaps the child.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("child");
        let _ = child.kill();
        child.wait().expect("reaping the child")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Removes a file when dropped (a segment a test created), so that a failing
/// test leaves nothing in `/dev/shm`.
pub struct RemoveOnDrop(pub std::path::PathBuf);

impl RemoveOnDrop {
    /// Guards `/dev/shm/<name>`.
    pub fn shm(name: &str) -> Self {
        RemoveOnDrop(Path::new("/dev/shm").join(name))
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Says, visibly even when the test harness captures output, that part of a
/// test was skipped and why.
pub fn skipped(why: &str) {
    use std::io::Write;
    // Written to the stderr handle itself: the harness only captures the
    // print macros.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// How many mappings of the file at `path` this process has, recognised by
/// device and inode: a segment is built in an unnamed file and linked to its
/// name afterwards, so its mapping does not show the name.
pub fn mappings_of(path: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).expect("the segment's file");
    let device = format!(
        "{:02x}:{:02x}",
        libc::major(metadata.dev()),
        libc::minor(metadata.dev())
    );
    let inode = metadata.ino().to_string();
    let maps = std::fs::read_to_string("/proc/self/maps").expect("reading /proc/self/maps");
    // Fields: address, permissions, offset, device, inode, path.
    maps.lines()
        .filter(|line| {
            let mut fields = line.split_ascii_whitespace().skip(3);
            fields.next() == Some(device.as_str()) && fields.next() == Some(inode.as_str())
        })
        .count()
}

/// A private directory for segments, removed with its contents on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(unique_name(tag));
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
