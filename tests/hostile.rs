//! Segments made by someone else: a name squatted by another user must be
//! refused with a clear error, never opened and trusted.
//!
//! The squatter is a child process (this test binary re-executed) that drops
//! its privileges to uid/gid 65534 before creating the segment, in a private
//! directory of this test. Without root the test says it was skipped.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use shmstruct::{Error, SegmentOptions, Value};

/// The unprivileged user the squatter becomes ("nobody").
const SQUATTER: u32 = 65534;

/// A private directory every user may create files in (mode 1777, like
/// `/dev/shm`), removed with everything in it when dropped.
struct WorldWritableDir(PathBuf);

impl WorldWritableDir {
    fn new(tag: &str) -> WorldWritableDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(support::unique_name(tag));
        std::fs::create_dir(&dir).expect("creating the test directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777))
            .expect("making the test directory world-writable");
        WorldWritableDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorldWritableDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn running_as_root() -> bool {
    // SAFETY: `geteuid` takes no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    euid == 0
}

/// In the child: become uid/gid 65534 for good.
fn drop_privileges() {
    // SAFETY: `setgid` only changes this process's credentials; the group
    // goes first, while the process may still change it.
    let group = unsafe { libc::setgid(SQUATTER) };
    assert_eq!(group, 0, "setgid: {}", std::io::Error::last_os_error());
    // SAFETY: as above, for the user id.
    let user = unsafe { libc::setuid(SQUATTER) };
    assert_eq!(user, 0, "setuid: {}", std::io::Error::last_os_error());
}

/// Has a child running as uid 65534 create `name` in `dir` with `mode`.
fn squat(dir: &Path, name: &str, mode: &str) {
    let mut child = support::spawn_role(
        "squatted_names_are_refused",
        "squatter",
        &[
            ("DIR", dir.to_str().unwrap()),
            ("NAME", name),
            ("MODE", mode),
        ],
    );
    let status = child.wait_timeout(Duration::from_secs(30));
    assert!(status.success(), "the squatter failed: {status}");
}

#[test]
fn squatted_names_are_refused() {
    if support::role().is_some() {
        drop_privileges();
        let mode = u32::from_str_radix(&support::arg("MODE"), 8).unwrap();
        let options = SegmentOptions::new().dir(support::arg("DIR")).mode(mode);
        // Not unlinked on drop (the default): the name stays squatted.
        Value::<u64>::create_with(&support::arg("NAME"), 7, &options)
            .expect("the squatter creates its segment");
        return;
    }
    if !running_as_root() {
        support::skipped("squatted_names_are_refused needs root to start a uid-65534 child");
        return;
    }
    let dir = WorldWritableDir::new("squat");
    let options = SegmentOptions::new().dir(dir.path());
    for (case, mode, trusted, want_open) in [
        ("mode 0666, default trust", "666", false, false),
        ("mode 0600, default trust", "600", false, false),
        ("mode 0666, owner trusted", "666", true, false),
        ("mode 0600, owner trusted", "600", true, true),
    ] {
        let name = format!("svc-{mode}-{trusted}");
        squat(dir.path(), &name, mode);
        let options = if trusted {
            options.clone().trust_owner(SQUATTER)
        } else {
            options.clone()
        };
        let outcome = Value::<u64>::open_with(&name, &options);
        match (outcome, want_open) {
            (Ok(value), true) => assert_eq!(value.get().unwrap(), 7, "case {case}"),
            (Err(Error::Untrusted { uid, reason, .. }), false) => {
                assert_eq!(uid, SQUATTER, "case {case}: {reason}");
            }
            (outcome, _) => panic!(
                "case {case}: expected {}, got {:?}",
                if want_open {
                    "an open segment"
                } else {
                    "Error::Untrusted"
                },
                outcome.map(|_| "an open segment")
            ),
        }
    }
}
