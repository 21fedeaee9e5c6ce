//! Segments across real processes: type-checked open, damaged files, a full
//! file system, permissions, races, stale segments.
//!
//! Each test is one function with a parent part and child roles (the test
//! binary re-executed, see `support`). Segments live in `/dev/shm` under
//! unique names guarded by `RemoveOnDrop`, or in a private directory removed
//! on drop.

mod support;

use std::os::unix::fs::{FileExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shmstruct::segment::{self, header};
use shmstruct::{Error, SegmentInfo, SegmentOptions, SegmentState, Value};
use support::{ChildGuard, RemoveOnDrop, TempDir};

/// Declares a `#[repr(C)]` struct and the `SharedLayout` impl the derive
/// would generate for it.
macro_rules! shared_struct {
    (struct $ty:ident { $($field:ident : $fty:ty),* $(,)? }) => {
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub(crate) struct $ty {
            $(pub(crate) $field: $fty),*
        }

        // SAFETY: `$ty` is `#[repr(C)]` and every field is a number, so
        // every bit pattern is valid and it holds no pointer and no drop
        // glue; the descriptor is built from the compiler's own size_of,
        // align_of and offset_of.
        unsafe impl shmstruct::SharedLayout for $ty {
            const LAYOUT: &'static shmstruct::Layout = {
                const FIELDS: &[shmstruct::Field] = &[$(
                    shmstruct::__private::field(
                        stringify!($field),
                        ::core::mem::offset_of!($ty, $field),
                        <$fty as shmstruct::SharedLayout>::LAYOUT,
                    )
                ),*];
                &shmstruct::__private::structure(
                    stringify!($ty),
                    ::core::mem::size_of::<$ty>(),
                    ::core::mem::align_of::<$ty>(),
                    None,
                    None,
                    FIELDS,
                )
            };
        }
    };
}

shared_struct!(
    struct Point {
        x: f64,
        y: f64,
    }
);

/// The same struct, declared again elsewhere: must be accepted.
mod elsewhere {
    shared_struct!(
        struct Point {
            x: f64,
            y: f64,
        }
    );
}
mod swapped {
    shared_struct!(
        struct Point {
            y: f64,
            x: f64,
        }
    );
}
mod retyped {
    shared_struct!(
        struct Point {
            x: f64,
            y: f32,
        }
    );
}
mod extended {
    shared_struct!(
        struct Point {
            x: f64,
            y: f64,
            z: f64,
        }
    );
}

/// Waits for a child and says how it ended, for assertion messages.
fn finish(child: &mut ChildGuard) -> Result<(), String> {
    let status = child.wait_timeout(Duration::from_secs(60));
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (_, Some(signal)) => Err(format!("child killed by signal {signal}")),
        (code, _) => Err(format!("child exited with {code:?}")),
    }
}

/// Options for segments in `dir` that outlive their handles: the tests
/// patch, list and reopen files after dropping the handles (the directory
/// goes with the test).
fn kept(dir: &TempDir) -> SegmentOptions {
    SegmentOptions::new().dir(&dir.0).unlink_on_drop(false)
}

#[test]
fn a_child_opens_what_the_parent_created() {
    if let Some(role) = support::role() {
        let name = support::arg("NAME");
        match role.as_str() {
            "same" => {
                let value = Value::<Point>::open(&name).expect("opening with the same type");
                assert_eq!(value.get().expect("reading"), Point { x: 1.5, y: -2.25 });
                value.set(Point { x: 3.0, y: 4.0 }).expect("writing");
            }
            "elsewhere" => {
                let value = Value::<elsewhere::Point>::open(&name).expect("an identical struct");
                assert_eq!(
                    value.get().expect("reading"),
                    elsewhere::Point { x: 3.0, y: 4.0 }
                );
            }
            "mismatches" => {
                let head = format!("segment \"{name}\" holds `Point` (16 bytes) but `Point`");
                let error = Value::<swapped::Point>::open(&name).expect_err("swapped fields");
                assert!(matches!(error, Error::LayoutMismatch { .. }), "{error:?}");
                assert_eq!(
                    error.to_string(),
                    format!(
                        "{head} (16 bytes) was expected: \
                         field `y`: expected f64 at offset 0, found f64 at offset 8; \
                         field `x`: expected f64 at offset 8, found f64 at offset 0"
                    )
                );
                let error = Value::<retyped::Point>::open(&name).expect_err("a changed type");
                assert_eq!(
                    error.to_string(),
                    format!(
                        "{head} (16 bytes) was expected: \
                         field `y`: expected f32 at offset 8, found f64 at offset 8"
                    )
                );
                let error = Value::<extended::Point>::open(&name).expect_err("an extra field");
                assert_eq!(
                    error.to_string(),
                    format!(
                        "{head} (24 bytes) was expected: \
                         field `z`: expected f64 at offset 16, missing from the segment"
                    )
                );
                let error = Value::<f64>::open(&name).expect_err("a number");
                assert!(
                    error.to_string().contains(
                        "but `f64` (8 bytes) was expected: type: expected f64, found Point"
                    ),
                    "{error}"
                );
            }
            other => panic!("unknown role {other}"),
        }
        return;
    }

    let name = support::unique_name("open");
    let _guard = RemoveOnDrop::shm(&name);
    let value = Value::create(&name, Point { x: 1.5, y: -2.25 }).expect("creating");
    assert!(value.is_creator());
    let test = "a_child_opens_what_the_parent_created";
    for role in ["same", "elsewhere", "mismatches"] {
        let mut child = support::spawn_role(test, role, &[("NAME", &name)]);
        finish(&mut child).unwrap_or_else(|e| panic!("role {role}: {e}"));
        if role == "same" {
            assert_eq!(
                value.get().expect("reading"),
                Point { x: 3.0, y: 4.0 },
                "the child's write"
            );
        }
    }
    // The openers are gone; the segment is not.
    assert!(Path::new("/dev/shm").join(&name).exists());
    value.unlink().expect("unlinking");
    assert!(matches!(
        Value::<Point>::open(&name),
        Err(Error::NotFound { .. })
    ));
}

/// Opens `name` in a child and checks the error's variant and message.
fn child_expects(test: &str, name: &str, dir: &Path, variant: &str, text: &str) {
    let mut child = support::spawn_role(
        test,
        "open",
        &[
            ("NAME", name),
            ("DIR", dir.to_str().expect("utf-8")),
            ("VARIANT", variant),
            ("TEXT", text),
        ],
    );
    finish(&mut child).unwrap_or_else(|e| panic!("expecting {variant} for {name}: {e}"));
}

/// The child's side of `child_expects`: the open must fail as told, with no
/// signal.
fn open_expecting_error() {
    let name = support::arg("NAME");
    let options = SegmentOptions::new()
        .dir(support::arg("DIR"))
        .open_timeout(Duration::from_millis(50));
    let error = Value::<Point>::builder(&name)
        .options(&options)
        .open()
        .expect_err("a damaged segment");
    let variant = format!("{error:?}");
    assert!(variant.starts_with(&support::arg("VARIANT")), "{variant}");
    let text = support::arg("TEXT");
    assert!(
        error.to_string().contains(&text),
        "{error} does not contain {text}"
    );
    // Looking without a type fails the same way.
    let info = SegmentInfo::open_with(&name, &options).expect_err("a damaged segment");
    assert!(
        format!("{info:?}").starts_with(&support::arg("VARIANT")),
        "{info:?}"
    );
}

#[test]
fn damaged_files_are_errors_not_signals() {
    if support::role().is_some() {
        open_expecting_error();
        return;
    }
    let test = "damaged_files_are_errors_not_signals";
    let dir = TempDir::new("damaged");
    let options = kept(&dir);
    let path = |name: &str| dir.0.join(name);
    let write_at = |name: &str, bytes: &[u8], offset: u64| {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path(name))
            .expect("open");
        file.write_all_at(bytes, offset).expect("write");
    };

    // Truncated inside the data, and inside the header.
    drop(
        Value::builder("cut")
            .options(&options)
            .create(Point { x: 1.0, y: 2.0 })
            .expect("create"),
    );
    let total = std::fs::metadata(path("cut")).expect("stat").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path("cut"))
        .expect("open");
    file.set_len(total - 8).expect("truncate");
    child_expects(
        test,
        "cut",
        &dir.0,
        "Truncated",
        &format!(
            "is truncated: the file has {} bytes but needs {total}",
            total - 8
        ),
    );
    file.set_len(40).expect("truncate");
    child_expects(
        test,
        "cut",
        &dir.0,
        "Truncated",
        "has 40 bytes but needs 128",
    );

    // Random bytes.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(path("noise"), &noise).expect("write");
    child_expects(
        test,
        "noise",
        &dir.0,
        "NotASegment",
        "is not a shmstruct segment",
    );

    // A valid header, a corrupt descriptor: whether the fingerprint still
    // matches or not.
    drop(
        Value::builder("garbled")
            .options(&options)
            .create(Point { x: 1.0, y: 2.0 })
            .expect("create"),
    );
    let info = SegmentInfo::open_with("garbled", &options).expect("info");
    let (lock_offset, _) = info.lock_area().expect("ready");
    let garbage = vec![0xa5; lock_offset as usize - header::HEADER_SIZE];
    write_at("garbled", &garbage, header::HEADER_SIZE as u64);
    child_expects(
        test,
        "garbled",
        &dir.0,
        "CorruptDescriptor",
        "corrupt layout descriptor",
    );
    write_at("garbled", &0x1234_u64.to_ne_bytes(), 40);
    child_expects(
        test,
        "garbled",
        &dir.0,
        "CorruptDescriptor",
        "corrupt layout descriptor",
    );

    // Another format version.
    drop(
        Value::builder("future")
            .options(&options)
            .create(Point { x: 1.0, y: 2.0 })
            .expect("create"),
    );
    write_at("future", &99_u32.to_ne_bytes(), 8);
    child_expects(
        test,
        "future",
        &dir.0,
        "UnsupportedVersion",
        "has format version 99",
    );

    // A header whose data runs past its end.
    drop(
        Value::builder("liar")
            .options(&options)
            .create(Point { x: 1.0, y: 2.0 })
            .expect("create"),
    );
    write_at("liar", &(1u64 << 20).to_ne_bytes(), 88);
    child_expects(
        test,
        "liar",
        &dir.0,
        "CorruptHeader",
        "has a corrupt header: data",
    );

    // A creator that never finishes: the opener gives up after its timeout.
    drop(
        Value::builder("stuck")
            .options(&options)
            .create(Point { x: 1.0, y: 2.0 })
            .expect("create"),
    );
    write_at("stuck", &header::STATE_INITIALISING.to_ne_bytes(), 12);
    child_expects(
        test,
        "stuck",
        &dir.0,
        "StillInitialising",
        "still being initialised after waiting 50ms",
    );
}

#[test]
fn open_waits_a_bounded_time_for_ready() {
    let dir = TempDir::new("wait");
    let options = kept(&dir);
    drop(
        Value::builder("slow")
            .options(&options)
            .create(5u32)
            .expect("create"),
    );
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.0.join("slow"))
        .expect("open");
    file.write_all_at(&header::STATE_INITIALISING.to_ne_bytes(), 12)
        .expect("write");
    let started = Instant::now();
    let error = Value::<u32>::builder("slow")
        .options(&options.clone().open_timeout(Duration::from_millis(200)))
        .open()
        .expect_err("never ready");
    assert!(
        matches!(error, Error::StillInitialising { .. }),
        "{error:?}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(200),
        "gave up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");
    // It is listed as initialising, with its (living) creator.
    let listed = segment::list(&dir.0).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state(), SegmentState::Initialising);
    assert_eq!(listed[0].creator_pid(), std::process::id());
    assert!(!listed[0].is_stale());
}

#[test]
fn a_full_file_system_is_no_space_and_leaves_nothing() {
    let dir = TempDir::new("full");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&dir.0)
        .output();
    match mounted {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            support::skipped(&format!(
                "a_full_file_system_is_no_space_and_leaves_nothing: cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
            return;
        }
        Err(error) => {
            support::skipped(&format!(
                "a_full_file_system_is_no_space_and_leaves_nothing: no mount: {error}"
            ));
            return;
        }
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&dir.0);

    let options = kept(&dir);
    // 2 MiB of data does not fit in 1 MiB. Built on a big stack: the value
    // is passed by value.
    let result = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            Value::builder("big")
                .options(&options)
                .create([0u64; 1 << 18])
                .map(drop)
        })
        .expect("thread")
        .join()
        .expect("no panic");
    let error = result.expect_err("2 MiB in a 1 MiB tmpfs");
    assert!(matches!(error, Error::NoSpace { .. }), "{error:?}");
    assert!(
        error.to_string().contains("no space for segment \"big\""),
        "{error}"
    );
    assert!(std::error::Error::source(&error).is_some());
    let left: Vec<_> = std::fs::read_dir(&dir.0).expect("read_dir").collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A small one still fits.
    let small = Value::builder("small")
        .options(&kept(&dir))
        .create(1u8)
        .expect("a small segment");
    small.unlink().expect("unlink");
}

#[test]
fn permissions_and_links_are_enforced() {
    if let Some(role) = support::role() {
        let name = support::arg("NAME");
        match role.as_str() {
            "nobody" => {
                // SAFETY: setgid only changes this process's credentials.
                let gid = unsafe { libc::setgid(65534) };
                // SAFETY: as above, for the user id.
                let uid = unsafe { libc::setuid(65534) };
                if gid != 0 || uid != 0 {
                    std::process::exit(77);
                }
                let error = Value::<u32>::open(&name).expect_err("another user's segment");
                assert!(matches!(error, Error::PermissionDenied { .. }), "{error:?}");
                assert!(error.to_string().contains("permission denied"), "{error}");
            }
            "umask" => {
                // SAFETY: umask only changes this process's file mode mask.
                unsafe { libc::umask(0o077) };
                let options = SegmentOptions::new().mode(0o644);
                let value = Value::builder(&name)
                    .options(&options)
                    .create(1u32)
                    .expect("create");
                let mode = std::fs::metadata(value.path())
                    .expect("stat")
                    .permissions()
                    .mode();
                assert_eq!(
                    mode & 0o777,
                    0o644,
                    "umask 077 must not clear the asked-for bits"
                );
            }
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let test = "permissions_and_links_are_enforced";

    // Default mode 0600.
    let name = support::unique_name("perm");
    let _guard = RemoveOnDrop::shm(&name);
    let value = Value::create(&name, 7u32).expect("create");
    let mode = std::fs::metadata(value.path())
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Another uid cannot open it.
    let mut child = support::spawn_role(test, "nobody", &[("NAME", &name)]);
    let status = child.wait_timeout(Duration::from_secs(60));
    if status.code() == Some(77) {
        support::skipped(&format!(
            "{test}/nobody: cannot change to uid 65534 (not root)"
        ));
    } else {
        assert!(status.success(), "nobody: {status}");
    }

    // An asked-for mode is applied exactly, whatever the umask.
    let umask_name = support::unique_name("umask");
    let _umask_guard = RemoveOnDrop::shm(&umask_name);
    let mut child = support::spawn_role(test, "umask", &[("NAME", &umask_name)]);
    finish(&mut child).expect("umask");
    assert!(
        !Path::new("/dev/shm").join(&umask_name).exists(),
        "the creator unlinks on drop"
    );

    // A symbolic link planted at the name: create refuses, open refuses,
    // and the link's target is untouched.
    let link = support::unique_name("link");
    let target = support::unique_name("target");
    let _link_guard = RemoveOnDrop::shm(&link);
    let _target_guard = RemoveOnDrop::shm(&target);
    std::fs::write(Path::new("/dev/shm").join(&target), b"precious").expect("target");
    std::os::unix::fs::symlink(
        Path::new("/dev/shm").join(&target),
        Path::new("/dev/shm").join(&link),
    )
    .expect("symlink");
    let error = Value::create(&link, 1u32).expect_err("create through a link");
    assert!(matches!(error, Error::AlreadyExists { .. }), "{error:?}");
    let error = Value::<u32>::open(&link).expect_err("open through a link");
    assert!(matches!(error, Error::NotASegment { .. }), "{error:?}");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert_eq!(
        std::fs::read(Path::new("/dev/shm").join(&target)).expect("read"),
        b"precious"
    );

    // Invalid names never reach the file system.
    let error = Value::create("../etc/passwd", 1u32).expect_err("a path");
    assert!(matches!(error, Error::InvalidName { .. }), "{error:?}");
    value.unlink().expect("unlink");
}

#[test]
fn eight_creators_race_and_one_wins() {
    const ALREADY_EXISTS: i32 = 17;
    if support::role().is_some() {
        let name = support::arg("NAME");
        let go = PathBuf::from(support::arg("GO"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !go.exists() {
            assert!(Instant::now() < deadline, "never told to go");
            std::thread::sleep(Duration::from_micros(200));
        }
        // Kept: the winner's segment outlives it, for the parent to read.
        match Value::builder(&name)
            .keep(true)
            .create(u64::from(std::process::id()))
        {
            Ok(_) => {}
            Err(Error::AlreadyExists { .. }) => std::process::exit(ALREADY_EXISTS),
            Err(error) => panic!("{error}"),
        }
        return;
    }
    let test = "eight_creators_race_and_one_wins";
    let name = support::unique_name("race");
    let _guard = RemoveOnDrop::shm(&name);
    let dir = TempDir::new("go");
    let go = dir.0.join("go");
    let mut children: Vec<ChildGuard> = (0..8)
        .map(|_| {
            support::spawn_role(
                test,
                "creator",
                &[("NAME", &name), ("GO", go.to_str().expect("utf-8"))],
            )
        })
        .collect();
    let pids: Vec<u32> = children.iter().map(ChildGuard::pid).collect();
    std::fs::write(&go, b"").expect("go");
    let codes: Vec<Option<i32>> = children
        .iter_mut()
        .map(|child| child.wait_timeout(Duration::from_secs(60)).code())
        .collect();
    let winners: Vec<usize> = (0..8).filter(|&i| codes[i] == Some(0)).collect();
    assert_eq!(winners.len(), 1, "exit codes {codes:?}");
    assert_eq!(
        codes
            .iter()
            .filter(|&&code| code == Some(ALREADY_EXISTS))
            .count(),
        7,
        "exit codes {codes:?}"
    );
    let value = Value::<u64>::open(&name).expect("the winner's segment");
    assert_eq!(value.get().expect("reading"), u64::from(pids[winners[0]]));
}

/// Large enough that writing it takes a while.
type Big = [u64; 1 << 17];
const PATTERN: u64 = 0x5a5a_1234_a5a5_4321;

#[test]
fn openers_never_see_half_initialised_data() {
    if support::role().is_some() {
        let name = support::arg("NAME");
        std::fs::write(support::arg("READY"), b"").expect("ready marker");
        let checked = std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                let (mut absent, mut initialising) = (0u32, 0u32);
                loop {
                    assert!(Instant::now() < deadline, "never opened");
                    match Value::<Big>::open(&name) {
                        Ok(value) => {
                            let data = value.get().expect("reading");
                            let wrong = data.iter().filter(|&&word| word != PATTERN).count();
                            assert_eq!(wrong, 0, "{wrong} words not yet written");
                            return (absent, initialising);
                        }
                        Err(Error::NotFound { .. }) => absent += 1,
                        Err(Error::StillInitialising { .. }) => initialising += 1,
                        Err(error) => panic!("{error}"),
                    }
                }
            })
            .expect("thread")
            .join()
            .expect("checked");
        println!(
            "opener: {} times absent, {} times still initialising",
            checked.0, checked.1
        );
        return;
    }
    let test = "openers_never_see_half_initialised_data";
    let name = support::unique_name("half");
    let _guard = RemoveOnDrop::shm(&name);
    let dir = TempDir::new("ready");
    let markers: Vec<PathBuf> = (0..4).map(|i| dir.0.join(format!("ready-{i}"))).collect();
    let mut children: Vec<ChildGuard> = markers
        .iter()
        .map(|marker| {
            support::spawn_role(
                test,
                "opener",
                &[("NAME", &name), ("READY", marker.to_str().expect("utf-8"))],
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !markers.iter().all(|marker| marker.exists()) {
        assert!(Instant::now() < deadline, "openers did not start");
        std::thread::sleep(Duration::from_millis(1));
    }
    let created = std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || {
            // Kept: an opener may get there after this handle is gone.
            Value::builder(&name)
                .keep(true)
                .create([PATTERN; 1 << 17])
                .map(drop)
        })
        .expect("thread")
        .join()
        .expect("no panic");
    created.expect("create");
    for child in &mut children {
        finish(child).expect("opener");
    }
}

#[test]
fn stale_segments_are_found_and_removed() {
    if support::role().is_some() {
        let options = SegmentOptions::new().dir(support::arg("DIR"));
        // Created, kept and left behind by a process that then exits.
        let kept = Value::builder("orphan").options(&options).keep(true);
        drop(kept.create(1u32).expect("create"));
        return;
    }
    let test = "stale_segments_are_found_and_removed";
    let dir = TempDir::new("stale");
    let options = kept(&dir);
    let mut child =
        support::spawn_role(test, "creator", &[("DIR", dir.0.to_str().expect("utf-8"))]);
    finish(&mut child).expect("creator");
    let live = Value::builder("live")
        .options(&options)
        .create(2u32)
        .expect("create");
    drop(
        Value::builder("reused")
            .options(&options)
            .create(3u32)
            .expect("create"),
    );
    // Our pid, but another start time: the pid was reused.
    let info = SegmentInfo::open_with("reused", &options).expect("info");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.0.join("reused"))
        .expect("open");
    file.write_all_at(&(info.creator_start_time() + 1).to_ne_bytes(), 24)
        .expect("write");
    std::fs::write(dir.0.join("not-a-segment"), b"hello").expect("write");

    let listed = segment::list(&dir.0).expect("list");
    let names: Vec<&str> = listed.iter().map(SegmentInfo::name).collect();
    assert_eq!(names, ["live", "orphan", "reused"]);
    let stale: Vec<bool> = listed.iter().map(SegmentInfo::is_stale).collect();
    assert_eq!(stale, [false, true, true]);
    let live_info = &listed[0];
    assert_eq!(
        live_info.layout().map(|layout| layout.name().into_owned()),
        Some("u32".into())
    );
    assert_eq!(live_info.creator_pid(), std::process::id());
    assert_eq!(live_info.version(), Some(header::VERSION));

    let removed = segment::remove_stale(&dir.0).expect("remove_stale");
    assert_eq!(removed, ["orphan", "reused"]);
    assert!(dir.0.join("live").exists());
    assert!(dir.0.join("not-a-segment").exists());
    assert_eq!(live.get().expect("reading"), 2);
}

#[test]
fn lifetime_and_odd_paths() {
    let dir = TempDir::new("life");
    let options = kept(&dir);
    let path = dir.0.join("kept");

    // By default the creating handle removes the name when its last clone
    // drops; an opener never does.
    let dropping = SegmentOptions::new().dir(&dir.0);
    let created = Value::builder("temp")
        .options(&dropping)
        .create(1u16)
        .expect("create");
    let clone = created.clone();
    drop(
        Value::<u16>::builder("temp")
            .options(&dropping)
            .open()
            .expect("open"),
    );
    assert!(dir.0.join("temp").exists(), "an opener unlinked");
    drop(created);
    assert!(dir.0.join("temp").exists(), "unlinked while a clone lives");
    drop(clone);
    assert!(!dir.0.join("temp").exists(), "the creator did not unlink");

    // Also on a panic (and so on an early `?` return, which drops alike).
    let panicked = std::panic::catch_unwind(|| {
        let _value = Value::builder("panic")
            .options(&dropping)
            .create(1u16)
            .expect("create");
        panic!("on purpose, holding the creating handle");
    });
    assert!(panicked.is_err());
    assert!(!dir.0.join("panic").exists(), "a panic left the segment");

    // Kept: by the builder, by the handle, or by the options.
    let created = Value::builder("kept")
        .options(&dropping)
        .keep(true)
        .create(1u16)
        .expect("create");
    let opened = Value::<u16>::builder("kept")
        .options(&dropping)
        .open()
        .expect("open");
    assert!(created.is_creator() && !opened.is_creator());
    drop(opened);
    drop(created);
    assert!(path.exists());
    let error = Value::builder("kept")
        .options(&options)
        .create(2u16)
        .expect_err("taken");
    assert!(matches!(error, Error::AlreadyExists { .. }), "{error:?}");
    assert!(error.to_string().contains("already exists"), "{error}");
    options.unlink("kept").expect("unlink by name");
    let error = Value::<u16>::builder("kept")
        .options(&options)
        .open()
        .expect_err("gone");
    assert_eq!(
        error.to_string(),
        format!(
            "segment \"kept\" does not exist (looked for {}): create it first, \
             or check its name and the directory (SHMSTRUCT_DIR)",
            path.display()
        )
    );
    let created = Value::builder("kept")
        .options(&dropping)
        .create(3u16)
        .expect("create");
    created.clone().keep();
    drop(created);
    assert!(path.exists(), "kept through a clone of the handle");
    options.unlink("kept").expect("unlink by name");
    drop(
        Value::builder("kept")
            .options(&options)
            .create(4u16)
            .expect("create"),
    );
    assert!(path.exists(), "kept by the options");
    options.unlink("kept").expect("unlink by name");

    // A handle whose name now belongs to another segment leaves it alone.
    let first = Value::builder("reborn")
        .options(&dropping)
        .create(1u16)
        .expect("create");
    first.unlink().expect("unlink");
    let second = Value::builder("reborn")
        .options(&dropping)
        .create(2u16)
        .expect("create again");
    drop(first);
    assert_eq!(
        Value::<u16>::builder("reborn")
            .options(&options)
            .open()
            .expect("open")
            .get()
            .expect("reading"),
        2
    );
    drop(second);
    assert!(!dir.0.join("reborn").exists());

    // A directory at the name, and a missing directory.
    std::fs::create_dir(dir.0.join("sub")).expect("mkdir");
    let error = Value::<u16>::builder("sub")
        .options(&options)
        .open()
        .expect_err("a directory");
    assert!(error.to_string().contains("is a directory"), "{error}");
    let missing = SegmentOptions::new().dir(dir.0.join("missing"));
    let error = Value::builder("x")
        .options(&missing)
        .create(1u16)
        .expect_err("no directory");
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("does not exist"), "{error}");
}

/// Aligned to more than a page: a mapping is only page-aligned, so no
/// offset inside it can promise this alignment in every process.
#[derive(shmstruct::SharedLayout, Clone, Copy)]
#[repr(C, align(8192))]
struct OverAligned {
    x: u64,
}

#[test]
fn data_aligned_beyond_a_page_is_refused() {
    let dir = TempDir::new("align");
    let options = kept(&dir);
    let error = Value::builder("over")
        .options(&options)
        .create(OverAligned { x: 1 })
        .map(|_| ())
        .expect_err("more than a page of alignment");
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
    assert!(error.is_invalid_input(), "{error:?}");
    assert!(error.to_string().contains("8192"), "{error}");
    let error = shmstruct::RawArray::builder("over")
        .options(&options)
        .create(&[OverAligned { x: 1 }])
        .map(|_| ())
        .expect_err("more than a page of alignment");
    assert!(error.to_string().contains("8192"), "{error}");
    assert!(
        !dir.0.join("over").exists(),
        "a refused segment was left behind"
    );
    // A page exactly is fine.
    let paged = Value::builder("paged")
        .options(&options)
        .create(Paged { x: 7 })
        .expect("a page of alignment");
    assert_eq!(paged.get().expect("reading").x, 7);
}

#[derive(shmstruct::SharedLayout, Clone, Copy)]
#[repr(C, align(4096))]
struct Paged {
    x: u64,
}

/// A cloned handle shares the mapping; a creator unlinks the name when the
/// last clone drops (the default), for every object type.
#[test]
fn clones_share_the_mapping_and_the_last_one_unlinks() {
    use shmstruct::{Array, RawArray, RawValue, SharedBytes};
    let dir = TempDir::new("clone");
    let options = SegmentOptions::new().dir(&dir.0);
    let exists = |name: &str| dir.0.join(name).exists();

    let value = Value::builder("v")
        .options(&options)
        .create(1u32)
        .expect("value");
    let clone = value.clone();
    drop(value);
    assert!(exists("v"), "a clone still holds the segment");
    clone.set(2).expect("set through the clone");
    assert_eq!(clone.get().expect("get"), 2);
    assert!(clone.is_creator());
    drop(clone);
    assert!(!exists("v"), "the last clone unlinked it");

    let raw = RawValue::builder("rv")
        .options(&options)
        .create(3u64)
        .expect("raw value");
    let raw_clone = raw.clone();
    drop(raw);
    assert_eq!(raw_clone.get(), 3);
    drop(raw_clone);
    assert!(!exists("rv"));

    let array = Array::builder("a")
        .options(&options)
        .create(&[1u8, 2])
        .expect("array");
    let array_clone = array.clone();
    drop(array);
    assert_eq!(array_clone.to_vec().expect("to_vec"), [1, 2]);
    drop(array_clone);
    assert!(!exists("a"));

    let raw_array = RawArray::builder("ra")
        .options(&options)
        .create(&[4u16])
        .expect("raw array");
    let raw_array_clone = raw_array.clone();
    drop(raw_array);
    assert_eq!(raw_array_clone.to_vec(), [4]);
    drop(raw_array_clone);
    assert!(!exists("ra"));

    let bytes = SharedBytes::builder("b")
        .options(&options)
        .create(b"hi")
        .expect("bytes");
    let bytes_clone = bytes.clone();
    drop(bytes);
    assert_eq!(bytes_clone.value().expect("value"), b"hi");
    drop(bytes_clone);
    assert!(!exists("b"));
}
