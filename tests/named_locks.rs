//! Named primitives and locked objects across real processes: a `Value`'s
//! own lock, one standalone `Lock` shared by two values, `RLock`,
//! `Semaphore`, `Event`, `Barrier` and `Condition` opened by name, a lock
//! holder killed inside `Value::lock()`, and the checks that refuse the
//! wrong segment or the wrong guard; in-place access to several objects
//! under one guard of their shared lock (`get_mut_locked`,
//! `get_mut_locked`, `get_mut_locked`).
//!
//! Every segment has a unique name under `/dev/shm` guarded by
//! `RemoveOnDrop`; every child is killed and reaped when its guard drops.

mod support;

use std::time::Duration;

use shmstruct::segment::header::SEQUENCE_OFFSET;
use shmstruct::segment::LockMode;
use shmstruct::{
    Array, Barrier, Condition, Error, Event, Lock, LockError, RLock, RawBytes, RawValue,
    SegmentInfo, SegmentOptions, Semaphore, SharedBytes, Value,
};
use support::RemoveOnDrop;

const INCREMENTS: i64 = 20_000;
const TOTAL: i64 = 1_000_000;
const WAIT: Duration = Duration::from_secs(30);

fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

fn increment(value: &Value<i64>) {
    for _ in 0..INCREMENTS {
        let mut guard = value.lock().expect("locking the value");
        *guard += 1;
    }
}

#[test]
fn two_processes_increment_a_value_through_its_own_lock() {
    if let Some(role) = support::role() {
        assert_eq!(role, "incrementer");
        let value = Value::<i64>::open(&support::arg("NAME")).expect("opening the value");
        assert_eq!(value.get_lock().name(), value.name(), "its own lock");
        let start = Event::open(&support::arg("START")).expect("opening the event");
        start.wait_timeout(WAIT).expect("started");
        increment(&value);
        return;
    }
    let name = support::unique_name("own");
    let start_name = support::unique_name("own-start");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&start_name));
    let value = Value::create(&name, 0i64).expect("creating the value");
    let start = Event::create(&start_name).expect("creating the event");
    let info = SegmentInfo::open(&name).expect("inspecting");
    assert_eq!(info.lock_mode(), Some(&LockMode::Own));

    let mut child = support::spawn_role(
        "two_processes_increment_a_value_through_its_own_lock",
        "incrementer",
        &[("NAME", &name), ("START", &start_name)],
    );
    start.set();
    increment(&value);
    assert!(child.wait_success(), "the child failed");
    assert_eq!(value.get().expect("reading"), 2 * INCREMENTS);
    value.unlink().expect("unlinking");
    start.unlink().expect("unlinking");
}

/// Moves one unit from `a` to `b` `INCREMENTS` times under `lock`, checking
/// each time that `a + b` is still the total.
fn transfer(lock: &Lock, a: &Value<i64>, b: &Value<i64>) {
    for _ in 0..INCREMENTS {
        let guard = lock.lock().expect("locking the shared lock");
        let (x, y) = (
            a.get_locked(&guard).expect("a"),
            b.get_locked(&guard).expect("b"),
        );
        assert_eq!(x + y, TOTAL, "a torn transfer was seen");
        a.set_locked(&guard, x - 1).expect("a");
        // Let the other process run between the two writes if it can.
        std::thread::yield_now();
        b.set_locked(&guard, y + 1).expect("b");
    }
}

#[test]
fn one_standalone_lock_guards_two_values_across_processes() {
    if let Some(role) = support::role() {
        assert_eq!(role, "transfer");
        // The values find their lock through their headers; the lock opened
        // by name is another mapping of it, and its guards are accepted.
        let a = Value::<i64>::open(&support::arg("A")).expect("opening a");
        let b = Value::<i64>::open(&support::arg("B")).expect("opening b");
        assert_eq!(a.get_lock().name(), support::arg("LOCK"));
        let lock = Lock::open(&support::arg("LOCK")).expect("opening the lock");
        let start = Event::open(&support::arg("START")).expect("opening the event");
        start.wait_timeout(WAIT).expect("started");
        transfer(&lock, &a, &b);
        return;
    }
    let lock_name = support::unique_name("shl");
    let a_name = support::unique_name("shl-a");
    let b_name = support::unique_name("shl-b");
    let start_name = support::unique_name("shl-start");
    let _guards = [&lock_name, &a_name, &b_name, &start_name].map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating the lock");
    let a = Value::builder(&a_name)
        .lock(&lock)
        .create(TOTAL)
        .expect("creating a");
    // b shares a's lock through a's handle, as Python's `lock=a.get_lock()`.
    let b = Value::builder(&b_name)
        .lock(&a.get_lock())
        .create(0i64)
        .expect("creating b");
    let start = Event::create(&start_name).expect("creating the event");
    let info = SegmentInfo::open(&b_name).expect("inspecting");
    assert_eq!(
        info.lock_mode(),
        Some(&LockMode::Shared {
            lock: lock_name.clone()
        })
    );

    let mut child = support::spawn_role(
        "one_standalone_lock_guards_two_values_across_processes",
        "transfer",
        &[
            ("A", &a_name),
            ("B", &b_name),
            ("LOCK", &lock_name),
            ("START", &start_name),
        ],
    );
    start.set();
    transfer(&lock, &a, &b);
    assert!(child.wait_success(), "the child failed");
    assert_eq!(a.get().expect("a"), TOTAL - 2 * INCREMENTS);
    assert_eq!(b.get().expect("b"), 2 * INCREMENTS);
    drop((a, b, lock, start));
    for name in [&a_name, &b_name, &lock_name, &start_name] {
        assert_removed(name);
    }
}

#[test]
fn a_named_rlock_guards_a_counter_across_processes() {
    fn count(lock: &RLock, counter: &RawValue<u64>) {
        for _ in 0..INCREMENTS {
            let outer = lock.lock().expect("locking");
            let inner = lock.lock().expect("locking again: reentrant");
            counter.set(counter.get() + 1);
            drop((inner, outer));
        }
    }
    if let Some(role) = support::role() {
        assert_eq!(role, "counter");
        let lock = RLock::open(&support::arg("LOCK")).expect("opening the rlock");
        let counter = RawValue::<u64>::open(&support::arg("COUNTER")).expect("opening");
        count(&lock, &counter);
        return;
    }
    let lock_name = support::unique_name("rl");
    let counter_name = support::unique_name("rl-count");
    let _guards = (
        RemoveOnDrop::shm(&lock_name),
        RemoveOnDrop::shm(&counter_name),
    );
    let lock = RLock::create(&lock_name).expect("creating the rlock");
    let counter = RawValue::create(&counter_name, 0u64).expect("creating the counter");
    assert_eq!(
        SegmentInfo::open(&lock_name)
            .expect("inspecting")
            .lock_mode(),
        Some(&LockMode::OwnRecursive)
    );
    let mut child = support::spawn_role(
        "a_named_rlock_guards_a_counter_across_processes",
        "counter",
        &[("LOCK", &lock_name), ("COUNTER", &counter_name)],
    );
    count(&lock, &counter);
    assert!(child.wait_success(), "the child failed");
    assert_eq!(counter.get(), 2 * INCREMENTS as u64);
    lock.unlink().expect("unlinking");
    counter.unlink().expect("unlinking");
}

#[test]
fn a_named_semaphore_passes_permits_between_processes() {
    if let Some(role) = support::role() {
        assert_eq!(role, "releaser");
        let semaphore = Semaphore::open(&support::arg("NAME")).expect("opening");
        for _ in 0..3 {
            semaphore.release().expect("releasing");
        }
        let bounded = Semaphore::open(&support::arg("BOUNDED")).expect("opening");
        let error = bounded.release().expect_err("over the bound");
        assert!(
            matches!(error, Error::OverRelease { bound: 1 }),
            "{error:?}"
        );
        return;
    }
    let name = support::unique_name("sem");
    let bounded_name = support::unique_name("sem-b");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&bounded_name));
    let semaphore = Semaphore::create(&name, 0).expect("creating");
    let bounded = Semaphore::create_bounded(&bounded_name, 1).expect("creating");
    let mut child = support::spawn_role(
        "a_named_semaphore_passes_permits_between_processes",
        "releaser",
        &[("NAME", &name), ("BOUNDED", &bounded_name)],
    );
    for _ in 0..3 {
        semaphore
            .acquire_timeout(WAIT)
            .expect("a permit from the child")
            .forget()
            .expect("keeping it");
    }
    assert!(child.wait_success(), "the child failed");
    assert_eq!(semaphore.value().expect("value"), 0);
    assert_eq!(bounded.value().expect("value"), 1);
    semaphore.unlink().expect("unlinking");
    bounded.unlink().expect("unlinking");
}

#[test]
fn a_named_event_wakes_another_process() {
    if let Some(role) = support::role() {
        assert_eq!(role, "waiter");
        let ping = Event::open(&support::arg("PING")).expect("opening ping");
        let pong = Event::open(&support::arg("PONG")).expect("opening pong");
        ping.wait_timeout(WAIT).expect("pinged");
        pong.set();
        return;
    }
    let ping_name = support::unique_name("ping");
    let pong_name = support::unique_name("pong");
    let _guards = (RemoveOnDrop::shm(&ping_name), RemoveOnDrop::shm(&pong_name));
    let ping = Event::create(&ping_name).expect("creating");
    let pong = Event::create(&pong_name).expect("creating");
    let mut child = support::spawn_role(
        "a_named_event_wakes_another_process",
        "waiter",
        &[("PING", &ping_name), ("PONG", &pong_name)],
    );
    assert!(!pong.is_set());
    ping.set();
    pong.wait_timeout(WAIT).expect("ponged");
    assert!(child.wait_success(), "the child failed");
    ping.unlink().expect("unlinking");
    pong.unlink().expect("unlinking");
}

#[test]
fn a_named_barrier_lets_two_processes_pass_together() {
    if let Some(role) = support::role() {
        assert_eq!(role, "party");
        let barrier = Barrier::open(&support::arg("NAME")).expect("opening");
        assert_eq!(barrier.parties(), 2);
        barrier.wait_timeout(WAIT).expect("passing");
        return;
    }
    let name = support::unique_name("bar");
    let _guard = RemoveOnDrop::shm(&name);
    let error = Barrier::create(&name, 0).expect_err("no parties");
    assert!(
        matches!(error, Error::InvalidSyncParameter { .. }),
        "{error:?}"
    );
    assert!(
        !std::path::Path::new("/dev/shm").join(&name).exists(),
        "a refused barrier leaves nothing behind"
    );
    let barrier = Barrier::create(&name, 2).expect("creating");
    let mut child = support::spawn_role(
        "a_named_barrier_lets_two_processes_pass_together",
        "party",
        &[("NAME", &name)],
    );
    let index = barrier.wait_timeout(WAIT).expect("passing");
    assert!(index < 2);
    assert!(child.wait_success(), "the child failed");
    barrier.unlink().expect("unlinking");
}

#[test]
fn a_named_condition_signals_another_process() {
    if let Some(role) = support::role() {
        assert_eq!(role, "waiter");
        let condition = Condition::open(&support::arg("NAME")).expect("opening");
        let flag = RawValue::<u32>::open(&support::arg("FLAG")).expect("opening");
        let guard = condition.lock().expect("locking");
        let (guard, result) = condition
            .wait_for_timeout(guard, WAIT, || flag.get() == 1)
            .expect("waiting");
        assert!(!result.timed_out(), "never notified");
        flag.set(2);
        condition.notify_all(&guard).expect("notifying");
        return;
    }
    let name = support::unique_name("cond");
    let flag_name = support::unique_name("cond-flag");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&flag_name));
    let condition = Condition::create(&name).expect("creating");
    // The flag is only touched with the condition's lock held.
    let flag = RawValue::create(&flag_name, 0u32).expect("creating");
    let mut child = support::spawn_role(
        "a_named_condition_signals_another_process",
        "waiter",
        &[("NAME", &name), ("FLAG", &flag_name)],
    );
    {
        let guard = condition.lock().expect("locking");
        flag.set(1);
        condition.notify_all(&guard).expect("notifying");
        let (_guard, result) = condition
            .wait_for_timeout(guard, WAIT, || flag.get() == 2)
            .expect("waiting for the answer");
        assert!(!result.timed_out(), "the child never answered");
    }
    assert!(child.wait_success(), "the child failed");
    condition.unlink().expect("unlinking");
    flag.unlink().expect("unlinking");
}

#[test]
fn a_condition_accepts_a_guard_taken_through_another_handle() {
    let name = support::unique_name("cond-h");
    let other_name = support::unique_name("cond-o");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&other_name));
    let created = Condition::create(&name).expect("creating");
    // Two more mappings of the same condition, as another part of the
    // program (or a library) would open it.
    let waiter = Condition::open(&name).expect("opening");
    let notifier = Condition::open(&name).expect("opening");
    let other = Condition::create(&other_name).expect("creating another");
    let flag = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let guard = created.lock().expect("locking through the creator");
        let waiting = scope.spawn(|| {
            let guard = notifier.lock().expect("locking through another handle");
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
            notifier.notify_all(&guard).expect("notifying");
        });
        // Waiting through one handle with the guard of another.
        let (guard, result) = waiter
            .wait_for_timeout(guard, WAIT, || {
                flag.load(std::sync::atomic::Ordering::Relaxed)
            })
            .expect("a guard of the same condition");
        assert!(!result.timed_out(), "never notified");
        waiter.notify_one(&guard).expect("the same condition");
        let (guard, result) = waiter
            .wait_timeout(guard, Duration::from_millis(1))
            .expect("waiting");
        assert!(result.timed_out());
        let error = other.notify_all(&guard).expect_err("another condition");
        assert!(matches!(error, Error::NotOwner { .. }), "{error:?}");
        drop(guard);
        waiting.join().expect("the notifier");
    });
    drop((created, waiter, notifier, other));
    for name in [&name, &other_name] {
        assert_removed(name);
    }
}

#[test]
fn a_value_whose_lock_holder_was_killed_is_repaired() {
    if let Some(role) = support::role() {
        assert_eq!(role, "holder");
        let pair = Value::<[i64; 2]>::open(&support::arg("NAME")).expect("opening");
        let held = Event::open(&support::arg("HELD")).expect("opening");
        let mut guard = pair.lock().expect("locking");
        // Half an update: the parent must repair the other half.
        guard[0] += 1;
        held.set();
        std::mem::forget(guard);
        hang();
    }
    let name = support::unique_name("died");
    let held_name = support::unique_name("died-held");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&held_name));
    let pair = Value::create(&name, [0i64; 2]).expect("creating");
    let held = Event::create(&held_name).expect("creating");
    for round in 1..=3 {
        held.clear();
        let mut child = support::spawn_role(
            "a_value_whose_lock_holder_was_killed_is_repaired",
            "holder",
            &[("NAME", &name), ("HELD", &held_name)],
        );
        held.wait_timeout(WAIT).expect("the child holds the lock");
        child.kill();
        let error = pair.lock().expect_err("poisoned");
        assert!(error.is_poisoned(), "round {round}: {error:?}");
        let mut guard = pair
            .lock_poisoned_timeout(WAIT)
            .expect("the guard of the poisoned value");
        assert!(guard.is_poisoned());
        assert!(guard.is_consistent(), "the library marked it consistent");
        assert_eq!(*guard, [round, round - 1], "the half update");
        guard[1] = guard[0];
        guard.clear_poison();
        drop(guard);
        assert_eq!(pair.get().expect("usable again"), [round, round]);
    }
    pair.unlink().expect("unlinking");
    held.unlink().expect("unlinking");
}

/// A lock left not recoverable through the in-place API (as an older
/// version of this crate or another program may leave it) is reported as
/// such by the poison-aware API, which cannot repair it.
#[test]
fn a_lock_left_not_recoverable_is_reported_as_such() {
    if let Some(role) = support::role() {
        assert_eq!(role, "holder");
        let value = Value::<i64>::open(&support::arg("NAME")).expect("opening");
        let held = Event::open(&support::arg("HELD")).expect("opening");
        std::mem::forget(value.lock().expect("locking"));
        held.set();
        hang();
    }
    let name = support::unique_name("unrec");
    let held_name = support::unique_name("unrec-held");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&held_name));
    let value = Value::create(&name, 5i64).expect("creating");
    let held = Event::create(&held_name).expect("creating");
    let mut child = support::spawn_role(
        "a_lock_left_not_recoverable_is_reported_as_such",
        "holder",
        &[("NAME", &name), ("HELD", &held_name)],
    );
    held.wait_timeout(WAIT).expect("the child holds the lock");
    child.kill();
    let lock = value.get_lock();
    match lock.raw().lock_timeout(WAIT) {
        // Dropped without `mark_consistent`: not recoverable from now on.
        Err(LockError::OwnerDied(died)) => drop(died.into_guard()),
        other => panic!("expected owner died, got {other:?}"),
    }
    for attempt in [value.get().map(drop), value.set(6), value.lock().map(drop)] {
        let error = attempt.expect_err("not recoverable");
        assert!(matches!(error, Error::NotRecoverable), "{error:?}");
        assert!(error.is_poisoned());
    }
    let error = value
        .lock_poisoned_timeout(WAIT)
        .expect_err("not even for repair");
    assert!(matches!(error, Error::NotRecoverable), "{error:?}");
    value.unlink().expect("unlinking");
    held.unlink().expect("unlinking");
}

#[test]
fn the_wrong_kind_of_segment_is_refused() {
    let sem_name = support::unique_name("kind-sem");
    let value_name = support::unique_name("kind-val");
    let raw_name = support::unique_name("kind-raw");
    let _guards = [&sem_name, &value_name, &raw_name].map(|n| RemoveOnDrop::shm(n));
    let semaphore = Semaphore::create(&sem_name, 1).expect("creating");
    let value = Value::create(&value_name, 1u64).expect("creating");
    let raw = RawValue::create(&raw_name, 1u64).expect("creating");

    let error = Lock::open(&sem_name).expect_err("a semaphore is no lock");
    assert!(matches!(error, Error::LayoutMismatch { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("holds `Semaphore`") && message.contains("but `Lock` (0 bytes)"),
        "{message}"
    );
    let error = Lock::open(&value_name).expect_err("a value is no lock");
    assert!(
        error
            .to_string()
            .contains("holds `u64` (8 bytes) but `Lock`"),
        "{error}"
    );
    let error = Event::open(&sem_name).expect_err("a semaphore is no event");
    assert!(error.to_string().contains("`Event`"), "{error}");

    // Locked and lock-free values do not open as each other.
    let error = Value::<u64>::open(&raw_name).expect_err("no lock");
    assert!(
        matches!(
            &error,
            Error::LockModeMismatch {
                found: LockMode::None,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("has no lock"), "{error}");
    let error = RawValue::<u64>::open(&value_name).expect_err("has a lock");
    assert!(
        matches!(
            &error,
            Error::LockModeMismatch {
                found: LockMode::Own,
                ..
            }
        ),
        "{error:?}"
    );
    // A value's own lock can guard another object, but a lock-free segment
    // cannot serve as a lock.
    let shared_name = support::unique_name("kind-shared");
    let _shared_guard = RemoveOnDrop::shm(&shared_name);
    let shared = Value::builder(&shared_name)
        .lock(&value.get_lock())
        .create(2u64)
        .expect("sharing");
    assert_eq!(shared.get_lock().name(), value_name);
    let reopened = Value::<u64>::open(&shared_name).expect("opening");
    drop(shared);
    assert_eq!(reopened.get().expect("reading"), 2);
    drop(reopened);
    drop((semaphore, value, raw));
    for name in [&sem_name, &value_name, &raw_name, &shared_name] {
        assert_removed(name);
    }
}

#[test]
fn a_replaced_shared_lock_is_refused_on_open() {
    let lock_name = support::unique_name("rp-lock");
    let value_name = support::unique_name("rp-value");
    let array_name = support::unique_name("rp-array");
    let bytes_name = support::unique_name("rp-bytes");
    let _guards = [&lock_name, &value_name, &array_name, &bytes_name].map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating the lock");
    let (value, array, bytes) = three_under(&lock, [&value_name, &array_name, &bytes_name]);
    // The original lock is still open here (as in a program whose earlier
    // handles still use it), so the new file cannot get its inode number.
    lock.unlink().expect("unlinking the lock");
    let replacement = Lock::create(&lock_name).expect("creating the lock again");

    let error = Value::<i32>::open(&value_name).expect_err("a replaced lock");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("\"{lock_name}\" was replaced")),
        "{message}"
    );
    assert!(message.contains("re-create"), "{message}");
    let error = Array::<u8>::open(&array_name).expect_err("a replaced lock");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    let error = SharedBytes::open(&bytes_name).expect_err("a replaced lock");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");

    // Handles opened before the replacement keep using the original lock,
    // and an object created with the new lock opens.
    assert_eq!(value.get().expect("reading"), 1);
    drop((value, array, bytes, lock));
    assert_removed(&value_name);
    let value = Value::builder(&value_name)
        .lock(&replacement)
        .create(2i32)
        .expect("creating");
    let reopened = Value::<i32>::open(&value_name).expect("the current lock");
    assert_eq!(reopened.get().expect("reading"), 2);
    drop((value, reopened, replacement));
    for name in [&lock_name, &value_name, &array_name, &bytes_name] {
        assert_removed(name);
    }
}

#[test]
fn a_guard_of_another_lock_is_refused() {
    let lock_name = support::unique_name("gd-lock");
    let other_name = support::unique_name("gd-other");
    let value_name = support::unique_name("gd-value");
    let _guards = [&lock_name, &other_name, &value_name].map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating");
    let other = Lock::create(&other_name).expect("creating");
    let value = Value::builder(&value_name)
        .lock(&lock)
        .create(1i32)
        .expect("creating");

    {
        let guard = other.lock().expect("locking the other lock");
        let error = value.get_locked(&guard).expect_err("the wrong guard");
        assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
        assert!(error.to_string().contains(&lock_name), "{error}");
        let error = value.set_locked(&guard, 2).expect_err("the wrong guard");
        assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    }
    // Another mapping of the right lock is the right lock.
    let reopened = Lock::open(&lock_name).expect("opening the lock again");
    {
        let guard = reopened.lock().expect("locking");
        value.set_locked(&guard, 3).expect("the right lock");
        assert_eq!(value.get_locked(&guard).expect("reading"), 3);
        // Locking the value while its lock is held by this thread is
        // refused, not a deadlock.
        let error = value.get().expect_err("already held");
        assert!(matches!(error, Error::WouldDeadlock), "{error:?}");
    }
    assert_eq!(value.get().expect("reading"), 3);
    drop((lock, other, value, reopened));
    for name in [&lock_name, &other_name, &value_name] {
        assert_removed(name);
    }
}

#[test]
fn a_raw_value_round_trips_between_processes() {
    if let Some(role) = support::role() {
        assert_eq!(role, "writer");
        let x = RawValue::<f64>::open(&support::arg("NAME")).expect("opening");
        x.set(x.get() * x.get());
        return;
    }
    let name = support::unique_name("raw");
    let _guard = RemoveOnDrop::shm(&name);
    let x = RawValue::create(&name, 1.0f64 / 3.0).expect("creating");
    assert_eq!(
        SegmentInfo::open(&name).expect("inspecting").lock_mode(),
        Some(&LockMode::None)
    );
    let mut child = support::spawn_role(
        "a_raw_value_round_trips_between_processes",
        "writer",
        &[("NAME", &name)],
    );
    assert!(child.wait_success(), "the child failed");
    assert_eq!(x.get(), 0.1111111111111111);
    x.unlink().expect("unlinking");
}

/// DESIGN §1: a byte string and an array guarded by one lock; the child
/// opens both by name, takes the lock once and updates both.
#[test]
fn a_byte_string_and_an_array_share_one_lock_across_processes() {
    use shmstruct::{RawArray, SegmentOptions};
    const POINTS: [[f64; 2]; 3] = [[1.875, -6.25], [-5.75, 2.0], [2.375, 9.5]];
    if let Some(role) = support::role() {
        assert_eq!(role, "updater");
        let options = SegmentOptions::new();
        let s = SharedBytes::builder(&support::arg("S"))
            .options(&options)
            .open()
            .expect("opening s");
        let a = Array::<[f64; 2]>::open(&support::arg("A")).expect("opening A");
        let lock = s.get_lock();
        assert_eq!(lock.name(), support::arg("LOCK"));
        let guard = lock.lock().expect("locking once");
        let upper = s.value_locked(&guard).expect("s").to_ascii_uppercase();
        s.set_value_locked(&guard, &upper).expect("s");
        let squared: Vec<[f64; 2]> = a
            .to_vec_locked(&guard)
            .expect("A")
            .iter()
            .map(|[x, y]| [x * x, y * y])
            .collect();
        a.copy_from_slice_locked(&guard, &squared).expect("A");
        return;
    }
    let lock_name = support::unique_name("p-lock");
    let s_name = support::unique_name("p-s");
    let a_name = support::unique_name("p-a");
    let raw_name = support::unique_name("p-raw");
    let _guards = [&lock_name, &s_name, &a_name, &raw_name].map(|n| RemoveOnDrop::shm(n));
    let options = SegmentOptions::new();
    let lock = Lock::create(&lock_name).expect("creating the lock");
    let s = SharedBytes::builder(&s_name)
        .options(&options)
        .lock(&lock)
        .create(b"hello world")
        .expect("creating s");
    let a = Array::builder(&a_name)
        .lock(&lock)
        .create(&POINTS)
        .expect("creating A");
    let mut child = support::spawn_role(
        "a_byte_string_and_an_array_share_one_lock_across_processes",
        "updater",
        &[("S", &s_name), ("A", &a_name), ("LOCK", &lock_name)],
    );
    assert!(child.wait_success(), "the child failed");
    assert_eq!(s.value().expect("s"), b"HELLO WORLD");
    assert_eq!(
        a.to_vec().expect("A"),
        [[3.515625, 39.0625], [33.0625, 4.0], [5.640625, 90.25]]
    );
    // The array's guard reads and writes the elements in place.
    a.lock().expect("locking")[0] = [0.0, 0.0];
    assert_eq!(a.get(0).expect("A[0]"), [0.0, 0.0]);

    // A lock-free array does not open as a locked one, nor the reverse.
    let raw = RawArray::create(&raw_name, &POINTS).expect("creating a raw array");
    let error = Array::<[f64; 2]>::open(&raw_name).expect_err("no lock");
    assert!(matches!(error, Error::LockModeMismatch { .. }), "{error:?}");
    let error = RawArray::<[f64; 2]>::open(&a_name).expect_err("has a lock");
    assert!(matches!(error, Error::LockModeMismatch { .. }), "{error:?}");
    drop((raw, s, a, lock));
    for name in [&lock_name, &s_name, &a_name, &raw_name] {
        assert_removed(name);
    }
}

const CELLS: usize = 8;
const ROUNDS: i64 = 5_000;

/// Under one acquisition of `lock` per round, `ROUNDS` times: checks that
/// `total` is the sum of `cells`, adds `i + 1` to cell `i` in place (letting
/// the other process run half way through), then adds the same to `total`
/// in place.
fn add_in_place(lock: &Lock, cells: &Array<i64>, total: &Value<i64>) {
    let added: i64 = (1..=CELLS as i64).sum();
    for _ in 0..ROUNDS {
        let mut guard = lock.lock().expect("locking the shared lock");
        let before = *total.get_mut_locked(&mut guard).expect("total");
        let slice = cells.get_mut_locked(&mut guard).expect("cells");
        assert_eq!(slice.iter().sum::<i64>(), before, "a torn update was seen");
        for (i, cell) in slice.iter_mut().enumerate() {
            *cell += i as i64 + 1;
            if i == CELLS / 2 {
                std::thread::yield_now();
            }
        }
        *total.get_mut_locked(&mut guard).expect("total") += added;
    }
}

#[test]
fn an_array_and_a_value_sharing_a_lock_are_updated_in_place_across_processes() {
    if let Some(role) = support::role() {
        assert_eq!(role, "adder");
        // The objects find their lock through their headers; this process
        // locks it through the array's handle, another mapping of it.
        let cells = Array::<i64>::open(&support::arg("CELLS")).expect("opening the cells");
        let total = Value::<i64>::open(&support::arg("TOTAL")).expect("opening the total");
        let lock = cells.get_lock();
        assert_eq!(lock.name(), support::arg("LOCK"));
        let start = Event::open(&support::arg("START")).expect("opening the event");
        start.wait_timeout(WAIT).expect("started");
        add_in_place(&lock, &cells, &total);
        return;
    }
    let lock_name = support::unique_name("ip-lock");
    let cells_name = support::unique_name("ip-cells");
    let total_name = support::unique_name("ip-total");
    let start_name = support::unique_name("ip-start");
    let _guards = [&lock_name, &cells_name, &total_name, &start_name].map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating the lock");
    let cells = Array::builder(&cells_name)
        .lock(&lock)
        .create(&[0i64; CELLS])
        .expect("creating");
    let total = Value::builder(&total_name)
        .lock(&lock)
        .create(0i64)
        .expect("creating");
    let start = Event::create(&start_name).expect("creating the event");

    let mut child = support::spawn_role(
        "an_array_and_a_value_sharing_a_lock_are_updated_in_place_across_processes",
        "adder",
        &[
            ("LOCK", &lock_name),
            ("CELLS", &cells_name),
            ("TOTAL", &total_name),
            ("START", &start_name),
        ],
    );
    start.set();
    add_in_place(&lock, &cells, &total);
    assert!(child.wait_success(), "the child failed");

    let expected: Vec<i64> = (1..=CELLS as i64).map(|i| 2 * ROUNDS * i).collect();
    assert_eq!(cells.to_vec().expect("cells"), expected);
    assert_eq!(total.get().expect("total"), expected.iter().sum::<i64>());
    drop((lock, cells, total, start));
    for name in [&lock_name, &cells_name, &total_name, &start_name] {
        assert_removed(name);
    }
}

#[test]
fn the_lock_guard_inside_a_data_guard_is_no_proof_for_locked_access() {
    // A `DataGuard` lends the data as `&T`/`&mut T`; its `lock_guard()`
    // must not let a `*_locked` call write under that borrow.
    let names = ["dg-lock", "dg-value", "dg-array", "dg-bytes", "dg-own"].map(support::unique_name);
    let _guards = names.each_ref().map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&names[0]).expect("creating");
    let (value, array, bytes) = three_under(&lock, [&names[1], &names[2], &names[3]]);
    let own = Value::create(&names[4], 7u64).expect("creating");

    let guard = own.lock().expect("locking");
    let seen: &u64 = &guard;
    let error = own.set_locked(guard.lock_guard(), 5).expect_err("no proof");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    assert_eq!(*seen, 7, "the borrowed value is unchanged");
    drop(guard);

    let guard = value.lock().expect("locking");
    let error = value
        .set_locked(guard.lock_guard(), 5)
        .expect_err("no proof");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    let error = array
        .set_locked(guard.lock_guard(), 0, 9)
        .expect_err("no proof");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    let error = array
        .copy_from_slice_locked(guard.lock_guard(), &[9, 9])
        .expect_err("no proof");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    let error = bytes
        .set_value_locked(guard.lock_guard(), b"zz")
        .expect_err("no proof");
    assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    assert_eq!(*guard, 1);
    drop(guard);
    assert_eq!(
        (
            array.to_vec().expect("reading"),
            bytes.value().expect("reading")
        ),
        (vec![1, 2], b"ab".to_vec()),
        "nothing was written"
    );
    drop((value, array, bytes, own, lock));
}

#[test]
fn in_place_access_refuses_the_guard_of_another_lock() {
    let lock_name = support::unique_name("ipw-lock");
    let other_name = support::unique_name("ipw-other");
    let value_name = support::unique_name("ipw-value");
    let array_name = support::unique_name("ipw-array");
    let bytes_name = support::unique_name("ipw-bytes");
    let raw_name = support::unique_name("ipw-raw");
    let names = [
        &lock_name,
        &other_name,
        &value_name,
        &array_name,
        &bytes_name,
        &raw_name,
    ];
    let _guards = names.map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating");
    let other = Lock::create(&other_name).expect("creating");
    let (value, array, bytes) = three_under(&lock, [&value_name, &array_name, &bytes_name]);
    let raw = RawBytes::builder(&raw_name)
        .capacity(3)
        .create(b"abc")
        .expect("creating");

    {
        let mut wrong = other.lock().expect("locking the other lock");
        let error = value
            .get_mut_locked(&mut wrong)
            .expect_err("the wrong guard");
        assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
        assert!(error.to_string().contains(&lock_name), "{error}");
        let error = array
            .get_mut_locked(&mut wrong)
            .expect_err("the wrong guard");
        assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
        assert!(error.to_string().contains(&lock_name), "{error}");
        let error = bytes
            .get_mut_locked(&mut wrong)
            .expect_err("the wrong guard");
        assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
    }
    // A lock-free byte string has no `get_mut_locked` to refuse a guard
    // with: that is a compile error (see `RawBytes`' docs).
    assert_eq!(raw.value(), b"abc");
    // Nothing was touched, and the lock is free again.
    assert_eq!(value.get().expect("value"), 1);
    assert_eq!(array.to_vec().expect("array"), [1, 2]);
    assert_eq!(bytes.value().expect("bytes"), b"ab");
    drop((lock, other, value, array, bytes, raw));
    for name in names {
        assert_removed(name);
    }
}

#[test]
fn objects_and_handles_under_one_guard_are_reached_in_turn() {
    let lock_name = support::unique_name("turn-lock");
    let value_name = support::unique_name("turn-value");
    let array_name = support::unique_name("turn-array");
    let own_name = support::unique_name("turn-own");
    let names = [&lock_name, &value_name, &array_name, &own_name];
    let _guards = names.map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating");
    let value = Value::builder(&value_name)
        .lock(&lock)
        .create([1.5f64, -2.0])
        .expect("creating");
    let array = Array::builder(&array_name)
        .lock(&lock)
        .create(&[1u32, 2, 3])
        .expect("creating");
    // Second handles: other mappings of the same segments.
    let value2 = Value::<[f64; 2]>::open(&value_name).expect("opening again");
    let array2 = Array::<u32>::open(&array_name).expect("opening again");

    {
        let mut guard = lock.lock().expect("locking once");
        for x in value.get_mut_locked(&mut guard).expect("value") {
            *x *= *x;
        }
        array.get_mut_locked(&mut guard).expect("array")[0] = 10;
        // The other mappings see the writes, in place and through copies.
        assert_eq!(
            *value2.get_mut_locked(&mut guard).expect("value2"),
            [2.25, 4.0]
        );
        let in_place = array2.get_mut_locked(&mut guard).expect("array2");
        assert_eq!(in_place, [10, 2, 3]);
        in_place[2] = 30;
        assert_eq!(array.to_vec_locked(&guard).expect("copy"), [10, 2, 30]);
        assert_eq!(value.get_locked(&guard).expect("copy"), [2.25, 4.0]);
        // No second guard of the lock in this thread, through any handle.
        let error = value.get().expect_err("already held");
        assert!(matches!(error, Error::WouldDeadlock), "{error:?}");
        let error = array2.lock().expect_err("already held");
        assert!(matches!(error, Error::WouldDeadlock));
        let reopened = Lock::open(&lock_name).expect("opening the lock again");
        let error = reopened.lock().expect_err("already held");
        assert!(matches!(error, Error::WouldDeadlock));
    }
    assert_eq!(array.to_vec().expect("array"), [10, 2, 30]);

    // An object's own lock: the guard of `get_lock()` is accepted by every
    // handle of that object, and refused by objects of another lock.
    let own = Value::create(&own_name, 7i32).expect("creating");
    let own2 = Value::<i32>::open(&own_name).expect("opening again");
    let own_lock = own2.get_lock();
    assert_eq!(own_lock.name(), own_name);
    {
        let mut guard = own_lock.lock().expect("locking the value's own lock");
        let n = own.get_mut_locked(&mut guard).expect("own");
        *n *= *n;
        *own2.get_mut_locked(&mut guard).expect("own2") += 1;
        let error = value.get_mut_locked(&mut guard).expect_err("another lock");
        assert!(matches!(error, Error::WrongLock { .. }), "{error:?}");
        let error = own.get().expect_err("already held");
        assert!(matches!(error, Error::WouldDeadlock), "{error:?}");
    }
    assert_eq!(own.get().expect("own"), 50);
    drop((lock, value, array, value2, array2, own, own2, own_lock));
    for name in names {
        assert_removed(name);
    }
}

#[test]
fn a_killed_holder_s_half_update_is_repaired_in_place() {
    if let Some(role) = support::role() {
        assert_eq!(role, "holder");
        let cells = Array::<i64>::open(&support::arg("CELLS")).expect("opening");
        let total = Value::<i64>::open(&support::arg("TOTAL")).expect("opening");
        let held = Event::open(&support::arg("HELD")).expect("opening");
        let lock = cells.get_lock();
        let mut guard = lock.lock().expect("locking");
        // Half an update: the cells change, the total does not.
        cells.get_mut_locked(&mut guard).expect("cells")[0] += 5;
        assert_eq!(total.get_locked(&guard).expect("total"), 3);
        held.set();
        std::mem::forget(guard);
        hang();
    }
    let lock_name = support::unique_name("rep-lock");
    let cells_name = support::unique_name("rep-cells");
    let total_name = support::unique_name("rep-total");
    let held_name = support::unique_name("rep-held");
    let names = [&lock_name, &cells_name, &total_name, &held_name];
    let _guards = names.map(|n| RemoveOnDrop::shm(n));
    let lock = Lock::create(&lock_name).expect("creating");
    let cells = Array::builder(&cells_name)
        .lock(&lock)
        .create(&[1i64, 2])
        .expect("creating");
    let total = Value::builder(&total_name)
        .lock(&lock)
        .create(3i64)
        .expect("creating");
    let held = Event::create(&held_name).expect("creating");
    let mut child = support::spawn_role(
        "a_killed_holder_s_half_update_is_repaired_in_place",
        "holder",
        &[
            ("CELLS", &cells_name),
            ("TOTAL", &total_name),
            ("HELD", &held_name),
        ],
    );
    held.wait_timeout(WAIT).expect("the child holds the lock");
    child.kill();

    let error = lock.lock().expect_err("poisoned");
    assert!(matches!(error, Error::Poisoned { .. }), "{error:?}");
    assert!(cells.get(0).expect_err("poisoned too").is_poisoned());
    let mut guard = lock
        .lock_poisoned_timeout(WAIT)
        .expect("the guard to repair with");
    assert!(guard.is_poisoned());
    // Repair in place under the poisoned guard: recompute the total.
    let sum: i64 = cells
        .get_mut_locked(&mut guard)
        .expect("cells")
        .iter()
        .sum();
    assert_eq!(sum, 8, "the child's half update");
    *total.get_mut_locked(&mut guard).expect("total") = sum;
    guard.clear_poison();
    drop(guard);
    assert_eq!(total.get().expect("usable again"), 8);
    assert_eq!(cells.to_vec().expect("usable again"), [6, 2]);
    drop((lock, cells, total, held));
    for name in names {
        assert_removed(name);
    }
}

/// Whether this process still maps the file at `path`.
fn maps_file(path: &std::path::Path) -> bool {
    support::mappings_of(path) > 0
}

// A guard given up without unlocking (`mem::forget`, `RLockGuard::leak`)
// leaves its robust mutex on this thread's robust list, which glibc and the
// kernel write through at the mutex's address (the next lock's enqueue,
// thread exit). Unmapping the segment then would let those writes land in
// unmapped memory or in whatever is mapped there next: the last handle must
// leave such a mapping in place. A lock nobody holds is unmapped as usual.
#[test]
fn a_lock_held_by_a_forgotten_guard_stays_mapped() {
    let lock_name = support::unique_name("fl");
    let _remove_lock = RemoveOnDrop::shm(&lock_name);
    let rlock_name = support::unique_name("fr");
    let _remove_rlock = RemoveOnDrop::shm(&rlock_name);
    let condition_name = support::unique_name("fc");
    let _remove_condition = RemoveOnDrop::shm(&condition_name);
    let free_name = support::unique_name("ff");
    let _remove_free = RemoveOnDrop::shm(&free_name);

    // Each in a thread of its own: its exit then finds the forgotten mutex
    // still mapped and marks it owner-died, as for any dead holder.
    let checked = std::thread::spawn(move || {
        // Kept past their handles, so that their files can be looked for
        // among the mappings after the handles drop.
        let kept = SegmentOptions::new().unlink_on_drop(false);
        let lock = Lock::create_with(&lock_name, &kept).expect("creating the lock");
        std::mem::forget(lock.lock().expect("locking"));
        let rlock = RLock::create_with(&rlock_name, &kept).expect("creating the rlock");
        rlock.lock().expect("locking the rlock").leak();
        let condition =
            Condition::create_with(&condition_name, &kept).expect("creating the condition");
        std::mem::forget(condition.lock().expect("locking the condition"));
        let free = Lock::create_with(&free_name, &kept).expect("creating the free lock");
        drop(free.lock().expect("locking the free lock"));
        let paths = [
            lock.path().to_owned(),
            rlock.path().to_owned(),
            condition.path().to_owned(),
            free.path().to_owned(),
        ];
        drop((lock, rlock, condition, free));
        for held in &paths[..3] {
            assert!(
                maps_file(held),
                "{} was unmapped while held",
                held.display()
            );
        }
        assert!(!maps_file(&paths[3]), "a lock nobody held stays mapped");
        // A robust mutex locked after the forgotten ones: its enqueue
        // writes into the one locked last before it, which is still there.
        let other = Lock::create(&support::unique_name("fo")).expect("creating another lock");
        drop(other.lock().expect("locking another lock"));
        other.unlink().expect("unlinking another lock");
    });
    checked.join().expect("the thread's checks passed");
}

/// Asserts that the segment `name` is gone: its creating handles, dropped,
/// removed it.
fn assert_removed(name: &str) {
    let error = shmstruct::unlink(name).expect_err("the creator removed it on drop");
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
}

/// A value (1), an array ([1, 2]) and a byte string (b"ab") named `names`,
/// all guarded by `lock`.
fn three_under(lock: &Lock, names: [&str; 3]) -> (Value<i32>, Array<u8>, SharedBytes) {
    let value = Value::builder(names[0])
        .lock(lock)
        .create(1)
        .expect("creating");
    let array = Array::builder(names[1])
        .lock(lock)
        .create(&[1, 2])
        .expect("creating");
    let bytes = SharedBytes::builder(names[2])
        .lock(lock)
        .create(b"ab")
        .expect("creating");
    (value, array, bytes)
}

/// The sequence word of the own lock of the segment at `path` (the
/// seqlock), read with `pread` as another program would.
fn sequence_word(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).expect("opening the segment file");
    let mut word = [0u8; 8];
    // The header's `lock_offset`, at offset 64.
    file.read_exact_at(&mut word, 64)
        .expect("reading the header");
    let lock_offset = u64::from_ne_bytes(word);
    file.read_exact_at(&mut word, lock_offset + SEQUENCE_OFFSET as u64)
        .expect("reading the lock area");
    u64::from_ne_bytes(word)
}

/// Every guard that reaches data under a segment's lock, through the lock
/// or through the objects it guards (own lock or shared), makes the lock's
/// sequence word odd while it lives and even (higher) once it is dropped.
#[test]
fn every_guard_of_a_segment_lock_bumps_its_sequence_word() {
    let [lock_name, value_name, shared_name, array_name, bytes_name] =
        ["sq-lock", "sq-value", "sq-shared", "sq-array", "sq-bytes"].map(support::unique_name);
    let _guards = [
        &lock_name,
        &value_name,
        &shared_name,
        &array_name,
        &bytes_name,
    ]
    .map(|name| RemoveOnDrop::shm(name));
    let lock = Lock::create(&lock_name).expect("creating the lock");
    let value = Value::create(&value_name, 1u64).expect("creating the value");
    let shared = Value::builder(&shared_name)
        .lock(&lock)
        .create(2u64)
        .expect("creating");
    let array = Array::create(&array_name, &[1u32, 2, 3]).expect("creating the array");
    let bytes = SharedBytes::builder(&bytes_name)
        .lock(&lock)
        .create(b"ab")
        .expect("creating");

    let mut last = sequence_word(lock.path());
    assert_eq!(last, 0, "a new lock's sequence word is zero");
    let mut check = |held: bool| {
        let now = sequence_word(lock.path());
        assert_eq!(now % 2 == 1, held, "sequence {now} while held: {held}");
        assert!(now > last, "{now} after {last}");
        last = now;
    };
    let guard = lock.lock().expect("locking the lock");
    check(true);
    drop(guard);
    check(false);
    let guard = shared.lock().expect("locking the shared value");
    check(true);
    drop(guard);
    check(false);
    shared.set(3).expect("setting under the shared lock");
    check(false);
    bytes.set_value(b"cd").expect("setting the bytes");
    check(false);

    let start = sequence_word(value.path());
    let guard = value.lock().expect("locking the value");
    assert_eq!(sequence_word(value.path()), start + 1);
    drop(guard);
    value.set(4).expect("setting the value");
    assert_eq!(sequence_word(value.path()), start + 4);

    let start = sequence_word(array.path());
    let guard = array.lock().expect("locking the array");
    assert_eq!(sequence_word(array.path()), start + 1);
    drop(guard);
    assert_eq!(sequence_word(array.path()), start + 2);
}

/// An `RLock` holder killed at depth two poisons it for every process, as
/// a `Lock`'s does; the lock stays usable, and repairing it (at any depth)
/// and clearing the poison makes it usable again in another process.
#[test]
fn an_rlock_holder_killed_poisons_it_for_every_process() {
    const TEST: &str = "an_rlock_holder_killed_poisons_it_for_every_process";
    if let Some(role) = support::role() {
        let rlock = RLock::open(&support::arg("NAME")).expect("opening");
        if role == "checker" {
            let guard = rlock.lock().expect("repaired in another process");
            assert!(!guard.is_poisoned());
            return;
        }
        let held = Event::open(&support::arg("HELD")).expect("opening");
        let outer = rlock.lock().expect("locking");
        let inner = rlock.lock().expect("locking again");
        std::mem::forget((outer, inner));
        held.set();
        hang();
    }
    let name = support::unique_name("rpoison");
    let held_name = support::unique_name("rpoison-held");
    let _guards = (RemoveOnDrop::shm(&name), RemoveOnDrop::shm(&held_name));
    let rlock = RLock::create(&name).expect("creating");
    let held = Event::create(&held_name).expect("creating");
    let mut holder = support::spawn_role(TEST, "holder", &[("NAME", &name), ("HELD", &held_name)]);
    held.wait_timeout(WAIT).expect("the child holds the lock");
    holder.kill();

    for _ in 0..2 {
        let error = rlock.lock().expect_err("poisoned");
        assert!(error.is_poisoned(), "{error:?}");
    }
    assert!(!rlock.locked(), "released again after the refusal");
    let mut outer = rlock.lock_poisoned().expect("locking poisoned");
    assert!(outer.is_poisoned() && outer.is_consistent());
    let inner = rlock.lock_poisoned().expect("locking again");
    drop(inner);
    outer.clear_poison();
    drop(outer);
    let mut checker = support::spawn_role(TEST, "checker", &[("NAME", &name)]);
    assert!(checker.wait_success(), "the checker failed");
    rlock.unlink().expect("unlinking");
    held.unlink().expect("unlinking");
}

/// A holder of a `Condition`'s lock killed while another process waits on
/// it: the waiter returns `Poisoned` (not a guard of half-written data, not
/// a hang), so does every later `lock()`, and the repair clears it.
#[test]
fn a_condition_holder_killed_poisons_it_for_its_waiters() {
    const TEST: &str = "a_condition_holder_killed_poisons_it_for_its_waiters";
    if let Some(role) = support::role() {
        let condition = Condition::open(&support::arg("NAME")).expect("opening");
        let event = Event::open(&support::arg("EVENT")).expect("opening");
        let guard = condition.lock().expect("locking");
        if role == "waiter" {
            event.set();
            let error = condition
                .wait_timeout(guard, WAIT)
                .expect_err("a holder died while this one waited");
            assert!(error.is_poisoned(), "{error:?}");
            return;
        }
        condition.notify_all(&guard).expect("notifying");
        std::mem::forget(guard);
        event.set();
        hang();
    }
    let [name, waiting_name, held_name] =
        ["cpoison", "cpoison-w", "cpoison-h"].map(support::unique_name);
    let _guards = [&name, &waiting_name, &held_name].map(|name| RemoveOnDrop::shm(name));
    let condition = Condition::create(&name).expect("creating");
    let waiting = Event::create(&waiting_name).expect("creating");
    let held = Event::create(&held_name).expect("creating");
    let mut waiter =
        support::spawn_role(TEST, "waiter", &[("NAME", &name), ("EVENT", &waiting_name)]);
    waiting.wait_timeout(WAIT).expect("the waiter locked");
    // The waiter set the event under the lock; once this process has the
    // lock, the waiter is inside `wait`.
    drop(condition.lock().expect("locking"));
    let mut holder = support::spawn_role(TEST, "holder", &[("NAME", &name), ("EVENT", &held_name)]);
    held.wait_timeout(WAIT).expect("the holder holds the lock");
    holder.kill();
    assert!(waiter.wait_success(), "the waiter failed");

    let error = condition.lock().expect_err("poisoned");
    assert!(error.is_poisoned(), "{error:?}");
    let mut guard = condition.lock_poisoned().expect("locking poisoned");
    assert!(guard.is_poisoned());
    guard.clear_poison();
    drop(guard);
    let guard = condition.lock().expect("repaired");
    let (_guard, result) = condition
        .wait_timeout(guard, Duration::from_millis(1))
        .expect("waiting on repaired data");
    assert!(result.timed_out());
    for name in [&name, &waiting_name, &held_name] {
        shmstruct::unlink(name).expect("unlinking");
    }
}
