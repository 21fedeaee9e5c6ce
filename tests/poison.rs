//! Poisoning across real processes: a `Value`'s lock holder killed with
//! SIGKILL, or a thread that panics holding the guard, poisons the value
//! for every process, in the lock area; `get()`, `set()` and `lock()`
//! report `Poisoned` (and never leave the lock not recoverable) until
//! someone repairs the value through `lock_poisoned()` and clears it.
//!
//! Every segment has a unique name under `/dev/shm` guarded by
//! `RemoveOnDrop`; every child is killed and reaped when its guard drops;
//! every wait is bounded.

mod support;

use std::time::{Duration, Instant};

use shmstruct::{Error, Event, Value};
use support::RemoveOnDrop;

const WAIT: Duration = Duration::from_secs(30);

/// The roles children play; returns only in the parent.
fn child_roles() {
    let Some(role) = support::role() else { return };
    let value = Value::<[i64; 2]>::open(&support::arg("NAME")).expect("opening");
    match role.as_str() {
        // Half an update, then killed while holding the lock.
        "holder" => {
            let held = Event::open(&support::arg("HELD")).expect("opening");
            let mut guard = value.lock_timeout(WAIT).expect("locking");
            guard[0] += 1;
            held.set();
            std::mem::forget(guard);
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        // Checks that the value is sound, and what it holds.
        "reader" => {
            let expected: i64 = support::arg("EXPECTED").parse().expect("a number");
            assert_eq!(value.get().expect("not poisoned"), [expected; 2]);
            let guard = value.lock_timeout(WAIT).expect("not poisoned");
            assert!(!guard.is_poisoned());
        }
        // Sees the poison another process left, then repairs the value.
        "repairer" => {
            for error in [value.get().map(drop), value.set([0; 2])] {
                let error = error.expect_err("poisoned");
                assert!(matches!(error, Error::Poisoned { .. }), "{error:?}");
            }
            let error = value.lock_timeout(WAIT).expect_err("poisoned");
            assert!(error.is_poisoned(), "{error:?}");
            let mut guard = value.lock_poisoned_timeout(WAIT).expect("the guard");
            assert!(guard.is_poisoned());
            assert_eq!(*guard, [7, 0], "the panicking thread's half update");
            *guard = [7, 7];
            guard.clear_poison();
        }
        other => panic!("unknown role {other}"),
    }
    std::process::exit(0);
}

/// Waits until nobody holds the value's lock (a killed holder's lock is
/// free, its owner-died state kept for the next locker), so that the
/// blocking calls after it cannot block.
fn wait_until_free(value: &Value<[i64; 2]>) {
    let started = Instant::now();
    while value.get_lock().locked() {
        assert!(started.elapsed() < WAIT, "the lock is still held");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A value and the event its holder child sets, both removed on drop.
struct Fixture {
    value: Value<[i64; 2]>,
    held: Event,
    name: String,
    held_name: String,
    _guards: (RemoveOnDrop, RemoveOnDrop),
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let name = support::unique_name(tag);
        let held_name = support::unique_name(&format!("{tag}-held"));
        let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&held_name));
        Fixture {
            value: Value::create(&name, [0i64; 2]).expect("creating"),
            held: Event::create(&held_name).expect("creating"),
            name,
            held_name,
            _guards,
        }
    }

    /// Starts a child of `test` that takes the lock, half-updates the value
    /// and is killed holding it.
    fn kill_a_holder(&self, test: &str) {
        self.held.clear();
        let mut child = support::spawn_role(
            test,
            "holder",
            &[("NAME", &self.name), ("HELD", &self.held_name)],
        );
        self.held
            .wait_timeout(WAIT)
            .expect("the child holds the lock");
        child.kill();
        wait_until_free(&self.value);
    }

    /// Runs `role` in a child of `test` and checks that it succeeds.
    fn run(&self, test: &str, role: &str, extra: &[(&str, &str)]) {
        let mut args = vec![("NAME", self.name.as_str())];
        args.extend_from_slice(extra);
        let mut child = support::spawn_role(test, role, &args);
        assert!(child.wait_timeout(WAIT).success(), "the {role} failed");
    }
}

#[test]
fn a_killed_holder_poisons_the_value_until_it_is_repaired() {
    const TEST: &str = "a_killed_holder_poisons_the_value_until_it_is_repaired";
    child_roles();
    let fixture = Fixture::new("poison-kill");
    let value = &fixture.value;
    fixture.kill_a_holder(TEST);

    for _ in 0..2 {
        let error = value.get().expect_err("poisoned");
        assert!(matches!(error, Error::Poisoned { .. }), "{error:?}");
        assert!(error.is_poisoned());
        assert!(error.to_string().contains(&fixture.name), "{error}");
    }
    let error = value.lock().expect_err("poisoned");
    assert!(matches!(error, Error::Poisoned { .. }), "{error:?}");
    assert!(
        !value.get_lock().locked(),
        "a poisoned lock() releases the lock"
    );

    let mut guard = value.lock_poisoned_timeout(WAIT).expect("the guard");
    assert!(guard.is_poisoned() && guard.is_consistent());
    assert_eq!(*guard, [1, 0], "the half update");
    guard[1] = guard[0];
    guard.clear_poison();
    assert!(!guard.is_poisoned());
    drop(guard);

    fixture.run(TEST, "reader", &[("EXPECTED", "1")]);
    assert_eq!(value.get().expect("repaired"), [1, 1]);
}

#[test]
fn a_thread_that_panics_holding_the_guard_poisons_the_value_for_other_processes() {
    const TEST: &str =
        "a_thread_that_panics_holding_the_guard_poisons_the_value_for_other_processes";
    child_roles();
    let fixture = Fixture::new("poison-panic");
    let value = &fixture.value;
    let joined = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut guard = value.lock_timeout(WAIT).expect("locking");
                guard[0] = 7;
                panic!("a half update (this panic is expected)");
            })
            .join()
    });
    assert!(joined.is_err(), "the thread panicked");
    assert!(!value.get_lock().locked(), "the lock was released");

    fixture.run(TEST, "repairer", &[]);
    assert_eq!(value.get().expect("repaired by the other process"), [7, 7]);
}

#[test]
fn a_hundred_kills_never_leave_the_lock_not_recoverable() {
    const TEST: &str = "a_hundred_kills_never_leave_the_lock_not_recoverable";
    child_roles();
    let fixture = Fixture::new("poison-rounds");
    let value = &fixture.value;
    for round in 1..=100i64 {
        fixture.kill_a_holder(TEST);
        // Each default call in turn is the first to find the owner died.
        let first = match round % 3 {
            0 => value.get().map(drop),
            1 => value.set([-1; 2]),
            _ => value.lock().map(drop),
        };
        for result in [first, value.get().map(drop), value.lock().map(drop)] {
            let error = result.expect_err("poisoned");
            assert!(
                matches!(error, Error::Poisoned { .. }),
                "round {round}: {error:?}"
            );
        }
        let mut guard = value.lock_poisoned_timeout(WAIT).expect("the guard");
        assert_eq!(*guard, [round, round - 1], "round {round}: nothing written");
        guard[1] = round;
        guard.clear_poison();
        drop(guard);
        assert_eq!(value.get().expect("repaired"), [round; 2]);
    }
}

/// The poison word is 0 or 1; anything else is a damaged segment, refused
/// on open before anyone locks.
#[test]
fn a_corrupt_poison_word_is_refused_on_open() {
    use std::io::{Read, Seek, SeekFrom, Write};
    child_roles();
    let name = support::unique_name("poison-corrupt");
    let _guard = RemoveOnDrop::shm(&name);
    let value = Value::create(&name, 1u32).expect("creating");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(value.path())
        .expect("the segment's file");
    // The header's `lock_offset` field, at offset 64.
    let mut offset = [0u8; 8];
    file.seek(SeekFrom::Start(64)).expect("seeking");
    file.read_exact(&mut offset).expect("reading the header");
    let word = u64::from_ne_bytes(offset) + 64;
    file.seek(SeekFrom::Start(word)).expect("seeking");
    file.write_all(&2u32.to_ne_bytes()).expect("writing");
    let error = Value::<u32>::open(&name).expect_err("a corrupt lock");
    assert!(matches!(error, Error::CorruptLock { .. }), "{error:?}");
    assert!(error.to_string().contains("poison word is 2"), "{error}");
}
