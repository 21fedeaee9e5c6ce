//! `RawLock` and `RawRLock` across real processes: a holder killed with
//! `SIGKILL` is reported to the next locker, which repairs and carries on;
//! an unrepaired lock becomes not recoverable; locked increments from two
//! processes add up; timeouts are reported as such.

mod support;
mod sync_memory;

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmstruct::sync::{LockError, RawLock, RawRLock};
use shmstruct::Error;
use sync_memory::{hang, set_flag, wait_for_flag, Shared};

/// Where things live in the test mapping.
const LOCK: usize = 0;
const FLAG: usize = 128;
const FLAG2: usize = 132;
const DATA_A: usize = 256;
const DATA_B: usize = 264;
const COUNTER: usize = 512;

const CRASH_LOOPS: usize = 100;
const INCREMENTS: u64 = 20_000;

fn lock_in(shared: &Shared) -> &RawLock {
    // SAFETY: the parent initialised a RawLock at LOCK before starting any
    // child, and the mapping outlives the reference.
    unsafe { RawLock::from_ptr(shared.at(LOCK)) }
}

fn rlock_in(shared: &Shared) -> &RawRLock {
    // SAFETY: as in `lock_in`, for a RawRLock.
    unsafe { RawRLock::from_ptr(shared.at(LOCK)) }
}

fn new_lock(tag: &str) -> Shared {
    let shared = Shared::create(tag);
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawLock::init(shared.at(LOCK)) }.expect("init");
    shared
}

fn new_rlock(tag: &str) -> Shared {
    let shared = Shared::create(tag);
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawRLock::init(shared.at(LOCK)) }.expect("init");
    shared
}

/// Two words the lock guards; a holder writes A then B, so a holder killed
/// in between leaves A != B: the "repair" the next holder must do.
fn data(shared: &Shared) -> (&AtomicU64, &AtomicU64) {
    // SAFETY: in bounds, aligned, zero-initialised, used only as AtomicU64.
    let a = unsafe { AtomicU64::from_ptr(shared.at(DATA_A)) };
    // SAFETY: as above.
    let b = unsafe { AtomicU64::from_ptr(shared.at(DATA_B)) };
    (a, b)
}

/// Child: take the lock, half-update the data, say so, and wait for death.
fn child_lock_and_hang(recursive: bool) -> ! {
    let shared = Shared::open_from_arg();
    let (a, _) = data(&shared);
    if recursive {
        let lock = rlock_in(&shared);
        let outer = lock.lock().expect("child lock");
        let inner = lock.lock().expect("child relock");
        a.fetch_add(1, Ordering::Relaxed);
        set_flag(shared.flag(FLAG), 1);
        std::mem::forget((outer, inner));
    } else {
        let guard = lock_in(&shared).lock().expect("child lock");
        a.fetch_add(1, Ordering::Relaxed);
        set_flag(shared.flag(FLAG), 1);
        std::mem::forget(guard);
    }
    hang()
}

fn repair(shared: &Shared) {
    let (a, b) = data(shared);
    assert_ne!(
        a.load(Ordering::Relaxed),
        b.load(Ordering::Relaxed),
        "the dead holder left a half update"
    );
    b.store(a.load(Ordering::Relaxed), Ordering::Relaxed);
}

fn crash_loop(test: &str, recursive: bool) {
    let shared = if recursive {
        new_rlock("crr")
    } else {
        new_lock("crl")
    };
    for round in 0..CRASH_LOOPS {
        set_flag(shared.flag(FLAG), 0);
        let mut child = support::spawn_role(test, "holder", &[("PATH", shared.path())]);
        wait_for_flag(shared.flag(FLAG), 1);
        // `locked()` (Python's) sees another process's hold, and a holder
        // that died no longer holds it.
        let held = |shared: &Shared| {
            if recursive {
                rlock_in(shared).locked()
            } else {
                lock_in(shared).locked()
            }
        };
        assert!(held(&shared), "round {round}: the child holds the lock");
        child.kill();
        assert!(!held(&shared), "round {round}: a dead holder holds nothing");
        if recursive {
            let lock = rlock_in(&shared);
            let died = match lock.lock() {
                Err(LockError::OwnerDied(died)) => died,
                other => panic!("round {round}: expected owner died, got {other:?}"),
            };
            let mut guard = died.into_guard();
            assert!(!guard.is_consistent());
            repair(&shared);
            guard.mark_consistent().expect("mark consistent");
            assert!(guard.is_consistent());
            drop(guard);
            let again = lock.lock().expect("the lock works again");
            let nested = lock.try_lock().expect("and is reentrant");
            drop((nested, again));
        } else {
            let lock = lock_in(&shared);
            let died = match lock.lock() {
                Err(LockError::OwnerDied(died)) => died,
                other => panic!("round {round}: expected owner died, got {other:?}"),
            };
            let mut guard = died.into_guard();
            repair(&shared);
            guard.mark_consistent().expect("mark consistent");
            drop(guard);
            let again = lock.lock().expect("the lock works again");
            assert!(again.is_consistent());
            assert!(lock.locked(), "this thread holds it");
            drop(again);
            assert!(!lock.locked(), "released");
        }
        let (a, b) = data(&shared);
        assert_eq!(a.load(Ordering::Relaxed), round as u64 + 1);
        assert_eq!(b.load(Ordering::Relaxed), round as u64 + 1);
    }
}

#[test]
fn lock_holder_killed_is_reported_repaired_and_usable_100_times() {
    if support::role().is_some() {
        child_lock_and_hang(false);
    }
    crash_loop(
        "lock_holder_killed_is_reported_repaired_and_usable_100_times",
        false,
    );
}

#[test]
fn rlock_holder_killed_is_reported_repaired_and_usable_100_times() {
    if support::role().is_some() {
        child_lock_and_hang(true);
    }
    crash_loop(
        "rlock_holder_killed_is_reported_repaired_and_usable_100_times",
        true,
    );
}

/// A waiter (another process) is already blocked in `lock()` when the owner
/// dies: it wakes with owner-died, repairs, and the lock works for all.
#[test]
fn blocked_waiter_is_told_when_the_owner_dies() {
    const TEST: &str = "blocked_waiter_is_told_when_the_owner_dies";
    match support::role().as_deref() {
        Some("holder") => child_lock_and_hang(false),
        Some("waiter") => {
            let shared = Shared::open_from_arg();
            set_flag(shared.flag(FLAG2), 1);
            match lock_in(&shared).lock() {
                Err(LockError::OwnerDied(died)) => {
                    let mut guard = died.into_guard();
                    repair(&shared);
                    guard.mark_consistent().expect("mark consistent");
                    set_flag(shared.flag(FLAG2), 2);
                }
                other => panic!("waiter expected owner died, got {other:?}"),
            }
            return;
        }
        _ => {}
    }
    let shared = new_lock("bw");
    let _holder = support::spawn_role(TEST, "holder", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    let mut holder = _holder;
    let mut waiter = support::spawn_role(TEST, "waiter", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG2), 1);
    // Give the waiter time to block in lock(); the test is correct (only
    // less interesting) if it has not yet.
    std::thread::sleep(Duration::from_millis(100));
    holder.kill();
    assert!(waiter.wait_success(), "the waiter failed");
    wait_for_flag(shared.flag(FLAG2), 2);
    let guard = lock_in(&shared)
        .lock()
        .expect("usable after the waiter repaired it");
    assert!(guard.is_consistent());
}

/// The owner dies before anyone waits: the first `try_lock` (and likewise
/// `lock_timeout`) reports it.
#[test]
fn owner_dead_before_anyone_waits_is_reported_by_every_lock_form() {
    const TEST: &str = "owner_dead_before_anyone_waits_is_reported_by_every_lock_form";
    if support::role().is_some() {
        child_lock_and_hang(false);
    }
    let shared = new_lock("od");
    for attempt in 0..2 {
        set_flag(shared.flag(FLAG), 0);
        let mut child = support::spawn_role(TEST, "holder", &[("PATH", shared.path())]);
        wait_for_flag(shared.flag(FLAG), 1);
        child.kill();
        let lock = lock_in(&shared);
        let result = if attempt == 0 {
            lock.try_lock()
        } else {
            lock.lock_timeout(Duration::from_secs(10))
        };
        let mut guard = result
            .err()
            .and_then(LockError::owner_died)
            .expect("owner died")
            .into_guard();
        repair(&shared);
        guard.mark_consistent().expect("mark consistent");
    }
}

/// Releasing without `mark_consistent` makes the lock unusable for good,
/// reported as `NotRecoverable` (distinct from owner died) by every form,
/// in every process.
#[test]
fn unrepaired_lock_becomes_not_recoverable() {
    const TEST: &str = "unrepaired_lock_becomes_not_recoverable";
    match support::role().as_deref() {
        Some("holder") => child_lock_and_hang(false),
        Some("other") => {
            let shared = Shared::open_from_arg();
            assert!(matches!(
                lock_in(&shared).lock(),
                Err(LockError::Failed(Error::NotRecoverable))
            ));
            return;
        }
        _ => {}
    }
    let shared = new_lock("nr");
    let mut child = support::spawn_role(TEST, "holder", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    child.kill();
    let lock = lock_in(&shared);
    let died = lock
        .lock()
        .err()
        .and_then(LockError::owner_died)
        .expect("owner died");
    drop(died); // released without repair
    assert!(matches!(
        lock.lock(),
        Err(LockError::Failed(Error::NotRecoverable))
    ));
    assert!(matches!(
        lock.try_lock(),
        Err(LockError::Failed(Error::NotRecoverable))
    ));
    assert!(matches!(
        lock.lock_timeout(Duration::from_millis(10)),
        Err(LockError::Failed(Error::NotRecoverable))
    ));
    let mut other = support::spawn_role(TEST, "other", &[("PATH", shared.path())]);
    assert!(
        other.wait_success(),
        "another process also sees NotRecoverable"
    );
    // `?` on an owner-died result is the same decision: converted to
    // `Error::OwnerDied`, the guard dropped unrepaired.
    let converted: Error = LockError::<()>::Failed(Error::NotRecoverable).into();
    assert!(matches!(converted, Error::NotRecoverable));
}

fn increment_with_lock(shared: &Shared) {
    // SAFETY: COUNTER is in bounds, aligned, zero-initialised, and every
    // process touches it only while holding the lock at LOCK.
    let counter = NonNull::new(shared.at::<u64>(COUNTER)).expect("non-null");
    let lock = lock_in(shared);
    for _ in 0..INCREMENTS {
        let guard = lock.lock().expect("lock");
        // SAFETY: see above: the counter is guarded by exactly this lock.
        let mut value = unsafe { guard.guarding(counter) };
        *value += 1;
    }
}

fn increment_with_rlock(shared: &Shared) {
    // SAFETY: in bounds, aligned, zero-initialised, used only as AtomicU64.
    let counter = unsafe { AtomicU64::from_ptr(shared.at(COUNTER)) };
    let lock = rlock_in(shared);
    for _ in 0..INCREMENTS {
        let _outer = lock.lock().expect("lock");
        let _inner = lock.lock().expect("relock");
        // A load and a store, not an atomic add: only the lock makes the
        // increment exact.
        let value = counter.load(Ordering::Relaxed);
        counter.store(value + 1, Ordering::Relaxed);
    }
}

fn two_process_count(test: &str, tag: &str, recursive: bool) {
    let shared = if recursive {
        new_rlock(tag)
    } else {
        new_lock(tag)
    };
    let mut child = support::spawn_role(test, "incrementer", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    set_flag(shared.flag(FLAG2), 1);
    if recursive {
        increment_with_rlock(&shared);
    } else {
        increment_with_lock(&shared);
    }
    assert!(child.wait_success());
    // SAFETY: both processes are done; in bounds and aligned.
    let total = unsafe { AtomicU64::from_ptr(shared.at(COUNTER)) }.load(Ordering::Relaxed);
    assert_eq!(total, 2 * INCREMENTS);
}

fn incrementer_child(recursive: bool) {
    let shared = Shared::open_from_arg();
    set_flag(shared.flag(FLAG), 1);
    wait_for_flag(shared.flag(FLAG2), 1);
    if recursive {
        increment_with_rlock(&shared);
    } else {
        increment_with_lock(&shared);
    }
}

#[test]
fn two_processes_lock_counter_is_exact() {
    if support::role().is_some() {
        return incrementer_child(false);
    }
    two_process_count("two_processes_lock_counter_is_exact", "cl", false);
}

#[test]
fn two_processes_rlock_counter_is_exact() {
    if support::role().is_some() {
        return incrementer_child(true);
    }
    two_process_count("two_processes_rlock_counter_is_exact", "cr", true);
}

/// Child: hold the lock until killed, not dying on its own.
fn child_hold(recursive: bool) -> ! {
    child_lock_and_hang(recursive)
}

fn assert_timed_out<G: std::fmt::Debug>(result: shmstruct::sync::LockResult<G>, started: Instant) {
    assert!(
        matches!(result, Err(LockError::Failed(Error::TimedOut { .. }))),
        "expected timed out, got {result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout took {:?}",
        started.elapsed()
    );
}

/// A held lock: `lock_timeout` reports timed out within bounded time,
/// `try_lock` would block; once the holder dies the same calls report
/// owner died instead.
#[test]
fn timeouts_are_reported_as_timed_out_not_owner_died() {
    const TEST: &str = "timeouts_are_reported_as_timed_out_not_owner_died";
    match support::role().as_deref() {
        Some("rlock") => child_hold(true),
        Some(_) => child_hold(false),
        None => {}
    }
    let shared = new_lock("to");
    let mut child = support::spawn_role(TEST, "lock", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    let lock = lock_in(&shared);
    let started = Instant::now();
    assert_timed_out(lock.lock_timeout(Duration::from_millis(50)), started);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(matches!(
        lock.try_lock(),
        Err(LockError::Failed(Error::WouldBlock { .. }))
    ));
    child.kill();
    let died = lock.lock_timeout(Duration::from_secs(10));
    let mut guard = died
        .err()
        .and_then(LockError::owner_died)
        .expect("owner died")
        .into_guard();
    guard.mark_consistent().expect("consistent");
    drop(guard);

    let shared = new_rlock("tr");
    let mut child = support::spawn_role(TEST, "rlock", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    let lock = rlock_in(&shared);
    let started = Instant::now();
    assert_timed_out(lock.lock_timeout(Duration::from_millis(50)), started);
    assert!(matches!(
        lock.try_lock(),
        Err(LockError::Failed(Error::WouldBlock { .. }))
    ));
    // Python's release() from a non-owner raises; here it is NotOwner.
    assert!(matches!(lock.release(), Err(Error::NotOwner { .. })));
    child.kill();
    let died = lock.lock_timeout(Duration::from_secs(10));
    assert!(matches!(died, Err(LockError::OwnerDied(_))));
}

/// Locking a (non-reentrant) lock twice from one thread is an error, not a
/// deadlock; a `RawRLock` level can only be released by its owner thread.
#[test]
fn relocking_and_foreign_release_are_errors() {
    let shared = new_lock("rl");
    let lock = lock_in(&shared);
    let guard = lock.lock().expect("lock");
    assert!(matches!(
        lock.lock(),
        Err(LockError::Failed(Error::WouldDeadlock))
    ));
    assert!(matches!(
        lock.try_lock(),
        Err(LockError::Failed(Error::WouldDeadlock))
    ));
    assert!(matches!(
        lock.lock_timeout(Duration::from_millis(10)),
        Err(LockError::Failed(Error::WouldDeadlock))
    ));
    drop(guard);

    let shared = new_rlock("rr");
    let lock = rlock_in(&shared);
    lock.lock().expect("lock").leak();
    std::thread::scope(|scope| {
        scope.spawn(|| assert!(matches!(lock.release(), Err(Error::NotOwner { .. }))));
    });
    lock.release().expect("the owner releases");
    assert!(matches!(lock.release(), Err(Error::NotOwner { .. })));
}
