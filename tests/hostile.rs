//! Segments made by someone else or damaged: every one is refused with a
//! clear error, never a crash of the process that meets it.
//!
//! The squatter is a child process (this test binary re-executed) that drops
//! its privileges to uid/gid 65534 before creating the segment, in a private
//! directory of this test. Sparse files are tried in a private, full 1 MiB
//! tmpfs. Without root these tests say they were skipped.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::os::unix::fs::FileExt;
use std::process::Command;

use shmstruct::{
    Array, Barrier, Condition, Error, Lock, RLock, SegmentInfo, SegmentOptions, Semaphore, Value,
};

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
        // Kept: the name stays squatted after the squatter exits.
        let squatter = Value::<u64>::builder(&support::arg("NAME"))
            .options(&options)
            .keep(true)
            .create(7)
            .expect("the squatter creates its segment");
        drop(squatter);
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
        let outcome = Value::<u64>::builder(&name).options(&options).open();
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

/// A private 1 MiB tmpfs mounted on a fresh directory, unmounted and
/// removed when dropped.
struct PrivateTmpfs(WorldWritableDir);

impl PrivateTmpfs {
    fn mount(tag: &str) -> PrivateTmpfs {
        PrivateTmpfs::mount_sized(tag, "1m")
    }

    fn mount_sized(tag: &str, size: &str) -> PrivateTmpfs {
        let dir = WorldWritableDir::new(tag);
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=1777"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("running mount");
        assert!(
            status.success(),
            "mounting a tmpfs on {}: {status}",
            dir.path().display()
        );
        PrivateTmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes a file until the file system is full.
    fn fill(&self) {
        let filler = std::fs::File::create(self.path().join("filler")).expect("creating filler");
        let page = [0xa5u8; 4096];
        let mut offset = 0;
        while filler.write_all_at(&page, offset).is_ok() {
            offset += page.len() as u64;
            assert!(offset <= 2 << 20, "a 1 MiB tmpfs took more than 2 MiB");
        }
    }
}

impl Drop for PrivateTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

/// Offsets of header fields (see `shmstruct::segment::header`).
const TOTAL_SIZE: u64 = 32;
const DESCRIPTOR_LEN: u64 = 56;

fn patch(path: &Path, offset: u64, value: u64) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("opening to patch");
    file.write_all_at(&value.to_ne_bytes(), offset)
        .expect("patching the header");
}

#[test]
fn descriptor_lengths_are_bounded_before_allocating() {
    let dir = WorldWritableDir::new("desclen");
    // Segments kept past their handles: the test drops them before it
    // reopens, patches or lists the files (the directory goes with it).
    let options = SegmentOptions::new().dir(dir.path()).unlink_on_drop(false);
    for (case, len) in [
        ("64 KiB + 1", 65537),
        ("2^40", 1 << 40),
        ("u64::MAX", u64::MAX),
    ] {
        let name = support::unique_name("desc");
        drop(
            Value::<u64>::builder(&name)
                .options(&options)
                .create(1)
                .expect("creating"),
        );
        patch(&dir.path().join(&name), DESCRIPTOR_LEN, len);
        let opened = Value::<u64>::builder(&name)
            .options(&options)
            .open()
            .map(|_| ());
        let inspected = SegmentInfo::open_with(&name, &options).map(|_| ());
        for (how, outcome) in [("Value::open", opened), ("SegmentInfo::open", inspected)] {
            assert!(
                matches!(outcome, Err(Error::CorruptHeader { .. })),
                "case descriptor_len {case}, {how}: expected CorruptHeader, got {outcome:?}"
            );
        }
    }
}

#[test]
fn sparse_files_are_refused_in_a_full_tmpfs() {
    if !running_as_root() {
        support::skipped("sparse_files_are_refused_in_a_full_tmpfs needs root to mount a tmpfs");
        return;
    }
    let fs = PrivateTmpfs::mount("sparse");
    // Segments kept past their handles: the test drops them before it
    // reopens, patches or lists the files (the directory goes with it).
    let options = SegmentOptions::new().dir(fs.path()).unlink_on_drop(false);
    // A valid segment whose data pages become holes.
    let holed = "holed";
    drop(
        Array::<u64>::builder(holed)
            .options(&options)
            .create(&[7; 8192])
            .expect("creating"),
    );
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(fs.path().join(holed))
        .expect("opening");
    punch_hole(&file, 16384, 32768);
    // A foreign file with a valid header whose size claims 1 TiB of holes.
    let foreign = "foreign";
    drop(
        Value::<u64>::builder(foreign)
            .options(&options)
            .create(1)
            .expect("creating"),
    );
    patch(&fs.path().join(foreign), TOTAL_SIZE, 1 << 40);
    patch(&fs.path().join(foreign), DESCRIPTOR_LEN, 1 << 39);
    std::fs::OpenOptions::new()
        .write(true)
        .open(fs.path().join(foreign))
        .and_then(|file| file.set_len(1 << 40))
        .expect("growing the foreign file");
    fs.fill();
    for name in [holed, foreign] {
        let opened = Array::<u64>::builder(name)
            .options(&options)
            .open()
            .map(|_| ());
        assert!(
            matches!(opened, Err(Error::Sparse { .. })),
            "case {name}, Array::open: expected Sparse, got {opened:?}"
        );
        let inspected = SegmentInfo::open_with(name, &options).map(|_| ());
        assert!(
            matches!(inspected, Err(Error::Sparse { .. })),
            "case {name}, SegmentInfo::open: expected Sparse, got {inspected:?}"
        );
    }
    let listed = shmstruct::segment::list(fs.path()).expect("listing");
    assert!(
        listed
            .iter()
            .all(|info| info.name() != holed && info.name() != foreign),
        "list returned a sparse file"
    );
}

fn punch_hole(file: &std::fs::File, offset: i64, len: i64) {
    use std::os::fd::AsRawFd;
    let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    // SAFETY: `fallocate` only reads its integer arguments; the descriptor
    // is open for as long as `file` is borrowed.
    let status = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) };
    assert_eq!(
        status,
        0,
        "punching a hole: {}",
        std::io::Error::last_os_error()
    );
}

/// The elements of the array the killed creator makes: 1 MiB.
const KILLED_LEN: usize = 1 << 17;

#[test]
fn a_creator_killed_anywhere_leaves_the_name_usable() {
    if support::role().is_some() {
        // Create and remove the segment (as the handle drops) over and
        // over until killed.
        let options = SegmentOptions::new().dir(support::arg("DIR"));
        let elements = vec![3u64; KILLED_LEN];
        loop {
            drop(
                Array::builder(&support::arg("NAME"))
                    .options(&options)
                    .create(&elements)
                    .expect("creating"),
            );
        }
    }
    if !running_as_root() {
        support::skipped("a_creator_killed_anywhere_leaves_the_name_usable needs root for a tmpfs");
        return;
    }
    let fs = PrivateTmpfs::mount_sized("killed", "16m");
    let options = SegmentOptions::new().dir(fs.path());
    let name = "killed";
    let path = fs.path().join(name);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..100 {
        let mut child = support::spawn_role(
            "a_creator_killed_anywhere_leaves_the_name_usable",
            "creator",
            &[("DIR", fs.path().to_str().unwrap()), ("NAME", name)],
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !path.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the creator never created"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        // xorshift: a delay of 0 to 4 ms, a different point of create or
        // unlink in each round.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 4000));
        child.kill();
        let outcome = match Array::<u64>::builder(name).options(&options).open() {
            Ok(array) => {
                let data = array.to_vec().expect("reading");
                assert!(
                    data.len() == KILLED_LEN && data.iter().all(|&x| x == 3),
                    "round {round}: an open segment with other contents"
                );
                "complete"
            }
            Err(Error::NotFound { .. }) => "absent",
            Err(other) => panic!("round {round}: the name is left blocked: {other}"),
        };
        let _ = std::fs::remove_file(&path);
        // Removed again when `created` drops, as every creator's segment is.
        let created = Array::builder(name).options(&options).create(&[1u64]);
        assert!(
            created.is_ok(),
            "round {round} (name was {outcome}): create failed: {:?}",
            created.map(|_| ())
        );
        drop(created);
        let left: Vec<_> = std::fs::read_dir(fs.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            left.is_empty(),
            "round {round}: files left behind: {left:?}"
        );
    }
}

/// Offset of the header's `lock_offset` field, and of glibc's kind word in
/// a 64-bit `pthread_mutex_t`.
const LOCK_OFFSET: u64 = 64;
const MUTEX_KIND: u64 = 16;

/// A primitive whose mutex kind the test garbles: how to create and open
/// it, and which header field says where its mutex is.
struct Form {
    name: &'static str,
    create: fn(&str, &SegmentOptions) -> shmstruct::Result<()>,
    open: fn(&str, &SegmentOptions) -> shmstruct::Result<()>,
    area: u64,
}

const FORMS: [Form; 5] = [
    Form {
        name: "Value<u64> (own lock)",
        create: |n, o| Value::<u64>::builder(n).options(o).create(1).map(drop),
        open: |n, o| Value::<u64>::builder(n).options(o).open().map(drop),
        area: LOCK_OFFSET,
    },
    Form {
        name: "RLock",
        create: |n, o| RLock::create_with(n, o).map(drop),
        open: |n, o| RLock::open_with(n, o).map(drop),
        area: LOCK_OFFSET,
    },
    Form {
        name: "Semaphore",
        create: |n, o| Semaphore::create_with(n, 1, o).map(drop),
        open: |n, o| Semaphore::open_with(n, o).map(drop),
        area: DATA_OFFSET,
    },
    Form {
        name: "Condition",
        create: |n, o| Condition::create_with(n, o).map(drop),
        open: |n, o| Condition::open_with(n, o).map(drop),
        area: DATA_OFFSET,
    },
    Form {
        name: "Barrier",
        create: |n, o| Barrier::create_with(n, 2, o).map(drop),
        open: |n, o| Barrier::open_with(n, o).map(drop),
        area: DATA_OFFSET,
    },
];

#[test]
fn garbage_mutex_kinds_are_refused_before_the_first_lock() {
    let dir = WorldWritableDir::new("kind");
    // Segments kept past their handles: the test drops them before it
    // reopens, patches or lists the files (the directory goes with it).
    let options = SegmentOptions::new().dir(dir.path()).unlink_on_drop(false);
    // Zeroed (private, non-robust), normal/recursive/errorcheck without the
    // robust or shared bits, PRIO_PROTECT and PRIO_INHERIT kinds, and noise.
    let kinds: [u32; 12] = [
        0,
        1,
        2,
        3,
        0x10,
        0x80,
        0x90,
        0x91,
        0x92 | 0x40,
        0x92 | 0x20,
        0x7fff_ffff,
        0xffff_ffff,
    ];
    let mut cases = 0;
    for form in &FORMS {
        for kind in kinds {
            let name = support::unique_name("k");
            (form.create)(&name, &options).expect("creating");
            let path = dir.path().join(&name);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            let mut offset = [0u8; 8];
            file.read_exact_at(&mut offset, form.area).unwrap();
            let word = u64::from_ne_bytes(offset) + MUTEX_KIND;
            let mut original = [0u8; 4];
            file.read_exact_at(&mut original, word).unwrap();
            if u32::from_ne_bytes(original) == kind {
                continue; // the creator's own kind: not garbage
            }
            file.write_all_at(&kind.to_ne_bytes(), word).unwrap();
            let outcome = (form.open)(&name, &options);
            assert!(
                matches!(outcome, Err(Error::CorruptLock { .. })),
                "case {}, kind word {kind:#x}: expected CorruptLock, got {outcome:?}",
                form.name
            );
            cases += 1;
        }
    }
    assert!(
        cases >= FORMS.len() * (kinds.len() - 1),
        "only {cases} cases ran"
    );
}

/// Offset of the header's `data_offset` field.
const DATA_OFFSET: u64 = 80;

// A forged owner thread id in a semaphore's internal mutex (here pid 1's
// main thread, alive and never holding it): the bounded calls must return,
// as they would for a holder that is stopped. Run in a child so that a hang
// fails the test at the child's timeout instead of stalling it.
#[test]
fn bounded_semaphore_calls_stay_bounded_with_a_forged_internal_owner() {
    if support::role().is_some() {
        let options = SegmentOptions::new().dir(support::arg("DIR"));
        let semaphore = Semaphore::open_with(&support::arg("NAME"), &options).expect("opening");
        let tried = semaphore.try_acquire().map(|_| ());
        assert!(
            matches!(tried, Err(Error::WouldBlock { .. })),
            "case try_acquire: expected WouldBlock, got {tried:?}"
        );
        let timed = semaphore
            .acquire_timeout(Duration::from_millis(20))
            .map(|_| ());
        assert!(
            matches!(timed, Err(Error::TimedOut { .. })),
            "case acquire_timeout(20 ms): expected TimedOut, got {timed:?}"
        );
        return;
    }
    let dir = WorldWritableDir::new("forged");
    let options = SegmentOptions::new().dir(dir.path());
    let name = support::unique_name("sem");
    let _semaphore = Semaphore::create_with(&name, 1, &options).expect("creating");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path().join(&name))
        .unwrap();
    let mut offset = [0u8; 8];
    file.read_exact_at(&mut offset, DATA_OFFSET).unwrap();
    // The internal mutex is the semaphore's first field; its futex word
    // (the owner's thread id) is the mutex's first.
    file.write_all_at(&1u32.to_ne_bytes(), u64::from_ne_bytes(offset))
        .unwrap();
    let mut child = support::spawn_role(
        "bounded_semaphore_calls_stay_bounded_with_a_forged_internal_owner",
        "opener",
        &[("DIR", dir.path().to_str().unwrap()), ("NAME", &name)],
    );
    let status = child.wait_timeout(Duration::from_secs(30));
    assert!(status.success(), "the bounded calls failed: {status}");
}

// Dropping a handle while this process holds its lock keeps the mapping
// (the robust list points into it), but handles share one mapping per
// segment, so opening and dropping again and again keeps only that one.
#[test]
fn opening_and_dropping_while_holding_keeps_one_mapping() {
    let dir = WorldWritableDir::new("leak");
    // Segments kept past their handles: the test drops them before it
    // reopens, patches or lists the files (the directory goes with it).
    let options = SegmentOptions::new().dir(dir.path()).unlink_on_drop(false);
    let name = support::unique_name("leak");
    let path = dir.path().join(&name);
    let counted = std::thread::spawn(move || {
        let lock = Lock::create_with(&name, &options).expect("creating");
        std::mem::forget(lock.lock().expect("locking"));
        drop(lock);
        for _ in 0..2000 {
            drop(Lock::open_with(&name, &options).expect("opening"));
        }
        support::mappings_of(&path)
    })
    .join()
    .expect("the thread's opens");
    assert_eq!(
        counted, 1,
        "mappings of a segment held while its handles dropped"
    );
}

/// The header's fields (see `shmstruct::segment::header`): name, offset and
/// width in bytes. `magic` is tried byte by byte below.
const HEADER_FIELDS: [(&str, u64, u8); 17] = [
    ("version", 8, 4),
    ("state", 12, 4),
    ("creator_pid", 16, 4),
    ("header_size", 20, 4),
    ("creator_start_time", 24, 8),
    ("total_size", 32, 8),
    ("fingerprint", 40, 8),
    ("descriptor_offset", 48, 8),
    ("descriptor_len", 56, 8),
    ("lock_offset", 64, 8),
    ("lock_size", 72, 8),
    ("data_offset", 80, 8),
    ("data_size", 88, 8),
    ("data_align", 96, 8),
    ("lock_mode", 104, 4),
    ("reserved_word", 108, 4),
    ("reserved", 112, 8),
];

/// The value the `Value` template holds, and the `Array` template's items.
const TEMPLATE_VALUE: u64 = 0x1122_3344_5566_7788;
const TEMPLATE_ITEMS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// One damaged header: a template file with `width` bytes at `offset` set to
/// `value`.
struct HeaderCase {
    template: &'static str,
    field: &'static str,
    offset: u64,
    width: u8,
    value: u64,
}

impl std::fmt::Display for HeaderCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} template, {} (offset {}, {} bytes) = {:#x}",
            self.template, self.field, self.offset, self.width, self.value
        )
    }
}

/// Boundary values for every header field of `template` (a segment file of
/// `file_len` bytes): 0, 1, the extremes, the original value and its
/// neighbours (misaligned offsets), sizes around the file's end, lengths
/// past 64 KiB, and the values of the other offset fields (overlapping
/// areas).
fn header_cases(template: &'static str, header: &[u8], file_len: u64) -> Vec<HeaderCase> {
    let read = |offset: u64, width: u8| {
        let mut bytes = [0u8; 8];
        let at = offset as usize;
        bytes[..usize::from(width)].copy_from_slice(&header[at..at + usize::from(width)]);
        u64::from_ne_bytes(bytes)
    };
    let offsets: Vec<u64> = [48, 64, 80].iter().map(|&at| read(at, 8)).collect();
    let mut cases = Vec::new();
    for (field, offset, width) in HEADER_FIELDS {
        let max = if width == 4 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        let original = read(offset, width);
        let mut values = vec![
            0,
            1,
            2,
            3,
            4,
            5,
            max - 1,
            max,
            max / 2 + 1,
            original.wrapping_add(1) & max,
            original.wrapping_sub(1) & max,
            original.wrapping_add(8) & max,
            original.wrapping_add(64) & max,
            file_len - 1,
            file_len,
            file_len + 1,
            file_len + 4096,
            0xffff,
            0x1_0000,
            0x1_0001,
            1 << 31,
        ];
        if width == 8 {
            values.extend([1 << 32, 1 << 40, 1 << 62]);
            values.extend(&offsets);
        }
        values.sort_unstable();
        values.dedup();
        for value in values.into_iter().filter(|&value| value != original) {
            cases.push(HeaderCase {
                template,
                field,
                offset,
                width,
                value,
            });
        }
    }
    for byte in 0..8u64 {
        cases.push(HeaderCase {
            template,
            field: "magic",
            offset: byte,
            width: 1,
            value: u64::from(header[byte as usize] ^ 0x20),
        });
    }
    cases
}

/// Opens the damaged segment `name` every way a process can meet it and
/// says what happened, or panics on an inconsistent success.
fn meet_damaged(name: &str, template: &str, options: &SegmentOptions, dir: &Path) -> String {
    let value = Value::<u64>::builder(name)
        .options(options)
        .open()
        .map(|value| value.get());
    if let Ok(read) = &value {
        assert!(
            template != "value" || matches!(read, Ok(TEMPLATE_VALUE)),
            "Value::open succeeded but read {read:?}"
        );
    }
    let array = Array::<u64>::builder(name)
        .options(options)
        .open()
        .map(|array| array.to_vec());
    if let Ok(read) = &array {
        assert!(
            template != "array" || matches!(read, Ok(items) if items[..] == TEMPLATE_ITEMS),
            "Array::open succeeded but read {read:?}"
        );
    }
    let info = SegmentInfo::open_with(name, options).map(|info| info.is_stale());
    let listed = shmstruct::segment::list(dir).map(|infos| infos.len());
    format!(
        "Value::open {value:?}, Array::open {array:?}, SegmentInfo::open {info:?}, list {listed:?}"
    )
}

// Hundreds of boundary-value headers, met in a child process so that a
// signal or a hang is caught and reported with the case that caused it.
// The child writes each case to a progress file before trying it.
#[test]
fn boundary_value_headers_give_clean_errors_or_consistent_successes() {
    if support::role().is_some() {
        let dir = PathBuf::from(support::arg("DIR"));
        let progress = dir.join("progress");
        let options = SegmentOptions::new()
            .dir(&dir)
            .open_timeout(Duration::from_millis(1));
        let mut count = 0;
        for template in ["value", "array"] {
            let bytes = std::fs::read(dir.join(template)).expect("reading the template");
            for case in header_cases(template, &bytes[..128], bytes.len() as u64) {
                std::fs::write(&progress, case.to_string()).expect("writing progress");
                let path = dir.join("case");
                std::fs::copy(dir.join(template), &path).expect("copying the template");
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .expect("opening the case");
                let width = usize::from(case.width);
                file.write_all_at(&case.value.to_ne_bytes()[..width], case.offset)
                    .expect("damaging the header");
                drop(file);
                let outcome = meet_damaged("case", template, &options, &dir);
                std::fs::write(&progress, format!("{case}: {outcome}")).expect("writing progress");
                std::fs::remove_file(&path).expect("removing the case");
                count += 1;
            }
        }
        std::fs::write(dir.join("done"), count.to_string()).expect("writing the count");
        return;
    }
    let dir = WorldWritableDir::new("bounds");
    // Segments kept past their handles: the test drops them before it
    // reopens, patches or lists the files (the directory goes with it).
    let options = SegmentOptions::new().dir(dir.path()).unlink_on_drop(false);
    drop(
        Value::builder("value")
            .options(&options)
            .create(TEMPLATE_VALUE)
            .expect("creating"),
    );
    drop(
        Array::builder("array")
            .options(&options)
            .create(&TEMPLATE_ITEMS)
            .expect("creating"),
    );
    let mut child = support::spawn_role(
        "boundary_value_headers_give_clean_errors_or_consistent_successes",
        "meeter",
        &[("DIR", dir.path().to_str().unwrap())],
    );
    let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child.wait_timeout(Duration::from_secs(60))
    }));
    let last = std::fs::read_to_string(dir.path().join("progress")).unwrap_or_default();
    let status = match status {
        Ok(status) => status.to_string(),
        Err(_) => "a hang (killed after 60 s)".to_string(),
    };
    let done = std::fs::read_to_string(dir.path().join("done"))
        .unwrap_or_else(|_| panic!("case {last}: the child ended with {status}"));
    let count: usize = done.parse().expect("a count");
    assert!(count >= 300, "only {count} cases ran");
}

/// Sends `signal` to `pid`.
fn signal(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("a pid");
    // SAFETY: `kill` sends a signal to our own child; it touches no memory.
    let status = unsafe { libc::kill(pid, signal) };
    assert_eq!(status, 0, "kill({pid}, {signal})");
}

/// Whether `pid` is stopped (state `T` in `/proc/<pid>/stat`).
fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_ascii_whitespace()
                .next()
                .map(|state| state == "T")
        })
        .unwrap_or(false)
}

/// A stopped child, continued when dropped (and by a watchdog thread after
/// `STOP`), so that neither a failing assertion nor an unbounded call
/// leaves it stopped.
struct Stopped {
    done: Option<std::sync::mpsc::Sender<()>>,
    watchdog: Option<std::thread::JoinHandle<()>>,
}

/// How long a stop lasts at most: far longer than the bound asserted.
const STOP: Duration = Duration::from_secs(3);

impl Stopped {
    fn stop(pid: u32) -> Stopped {
        signal(pid, libc::SIGSTOP);
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let _ = wait.recv_timeout(STOP);
            signal(pid, libc::SIGCONT);
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !is_stopped(pid) {
            assert!(std::time::Instant::now() < deadline, "{pid} did not stop");
            std::thread::sleep(Duration::from_micros(200));
        }
        Stopped {
            done: Some(done),
            watchdog: Some(watchdog),
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
    }
}

// A user of the semaphore stopped (SIGSTOP) at a moment it holds the
// semaphore's internal mutex, for up to 3 s: the bounded calls of another
// process return within 1 s, a bound far above 20 ms plus scheduling
// noise and far below the stop.
#[test]
fn bounded_semaphore_calls_stay_bounded_while_a_user_is_stopped() {
    if support::role().is_some() {
        let options = SegmentOptions::new().dir(support::arg("DIR"));
        let semaphore = Semaphore::open_with(&support::arg("NAME"), &options).expect("opening");
        loop {
            if let Ok(permit) = semaphore.try_acquire() {
                drop(permit);
            }
        }
    }
    let dir = WorldWritableDir::new("stopped");
    let options = SegmentOptions::new().dir(dir.path());
    let name = support::unique_name("sem");
    let semaphore = Semaphore::create_with(&name, 1, &options).expect("creating");
    let file = std::fs::File::open(dir.path().join(&name)).expect("opening the file");
    let mut offset = [0u8; 8];
    file.read_exact_at(&mut offset, DATA_OFFSET).unwrap();
    // The internal mutex is the semaphore's first field; its futex word
    // (the owner's thread id) is the mutex's first.
    let owner_word = u64::from_ne_bytes(offset);
    let mut user = support::spawn_role(
        "bounded_semaphore_calls_stay_bounded_while_a_user_is_stopped",
        "user",
        &[("DIR", dir.path().to_str().unwrap()), ("NAME", &name)],
    );
    let mut measured = 0;
    for attempt in 0..2000 {
        if measured == 5 {
            break;
        }
        let stopped = Stopped::stop(user.pid());
        let mut owner = [0u8; 4];
        file.read_exact_at(&mut owner, owner_word).unwrap();
        if u32::from_ne_bytes(owner) & 0x3fff_ffff == 0 {
            drop(stopped);
            continue; // stopped outside the internal mutex: try again
        }
        let started = std::time::Instant::now();
        let tried = semaphore.try_acquire().map(drop);
        let try_took = started.elapsed();
        let started = std::time::Instant::now();
        let timed = semaphore
            .acquire_timeout(Duration::from_millis(20))
            .map(drop);
        let timed_took = started.elapsed();
        drop(stopped);
        for (how, outcome, took) in [
            ("try_acquire", tried, try_took),
            ("acquire_timeout(20 ms)", timed, timed_took),
        ] {
            assert!(
                took < Duration::from_secs(1),
                "case attempt {attempt}, {how} with the internal mutex's holder stopped: \
                 took {took:?} ({outcome:?})"
            );
            assert!(
                matches!(
                    outcome,
                    Ok(()) | Err(Error::WouldBlock { .. } | Error::TimedOut { .. })
                ),
                "case attempt {attempt}, {how}: unexpected {outcome:?}"
            );
        }
        measured += 1;
    }
    user.kill();
    assert_eq!(
        measured, 5,
        "the user was never stopped inside the internal mutex"
    );
}
