//! `RawSemaphore`, `RawCondition`, `RawBarrier` and `RawEvent` across real
//! processes: a process killed while holding a permit, waiting on a
//! condition or waiting at a barrier leaves the others able to proceed;
//! `Semaphore(1)` makes two processes' increments exact; timeouts are
//! reported as timed out.

mod support;
mod sync_memory;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shmstruct::sync::{RawBarrier, RawCondition, RawEvent, RawSemaphore};
use shmstruct::Error;
use sync_memory::{hang, set_flag, wait_for_flag, Shared};

const PRIMITIVE: usize = 0;
const SECOND: usize = 1024;
const FLAG: usize = 2048;
const FLAG2: usize = 2052;
const COUNTER: usize = 3072;

const INCREMENTS: u64 = 10_000;
/// Generous upper bound for "returns within": timeouts of 50 ms must
/// return well before this even on a loaded machine.
const BOUND: Duration = Duration::from_secs(5);

fn semaphore(shared: &Shared) -> &RawSemaphore {
    // SAFETY: the parent initialised a RawSemaphore at PRIMITIVE before
    // starting any child; the mapping outlives the reference.
    unsafe { RawSemaphore::from_ptr(shared.at(PRIMITIVE)) }
}

fn condition(shared: &Shared) -> &RawCondition {
    // SAFETY: as in `semaphore`, for a RawCondition.
    unsafe { RawCondition::from_ptr(shared.at(PRIMITIVE)) }
}

fn barrier(shared: &Shared) -> &RawBarrier {
    // SAFETY: as in `semaphore`, for a RawBarrier.
    unsafe { RawBarrier::from_ptr(shared.at(PRIMITIVE)) }
}

/// A fresh mapping with a barrier of `parties` at `PRIMITIVE`.
fn new_barrier(tag: &str, parties: u32) -> Shared {
    let shared = Shared::create(tag);
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawBarrier::init(shared.at(PRIMITIVE), parties) }.expect("init");
    shared
}

fn events(shared: &Shared) -> (&RawEvent, &RawEvent) {
    // SAFETY: as in `semaphore`, for two RawEvents.
    let first = unsafe { RawEvent::from_ptr(shared.at(PRIMITIVE)) };
    // SAFETY: as above.
    let second = unsafe { RawEvent::from_ptr(shared.at(SECOND)) };
    (first, second)
}

fn counter(shared: &Shared) -> &AtomicU64 {
    // SAFETY: in bounds, aligned, zero-initialised, used only as AtomicU64.
    unsafe { AtomicU64::from_ptr(shared.at(COUNTER)) }
}

fn new_semaphore(tag: &str, value: u32, bounded: bool) -> Shared {
    let shared = Shared::create(tag);
    let ptr = shared.at(PRIMITIVE);
    if bounded {
        // SAFETY: fresh mapping, aligned, nobody else has it yet.
        unsafe { RawSemaphore::init_bounded(ptr, value) }.expect("init");
    } else {
        // SAFETY: as above.
        unsafe { RawSemaphore::init(ptr, value) }.expect("init");
    }
    shared
}

fn assert_timed_out<T: std::fmt::Debug>(result: Result<T, Error>, started: Instant) {
    assert!(
        matches!(result, Err(Error::TimedOut { .. })),
        "expected timed out, got {result:?}"
    );
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
}

/// Child: take a permit, say so, wait to be killed.
fn child_take_permit() -> ! {
    let shared = Shared::open_from_arg();
    let permit = semaphore(&shared).acquire().expect("child acquire");
    set_flag(shared.flag(FLAG), 1);
    std::mem::forget(permit); // held until death, as by a crash
    hang()
}

/// A holder killed with its permit: a later `try_acquire`, and an
/// `acquire` already blocked when it dies, both get the permit back.
#[test]
fn semaphore_permit_of_a_killed_holder_is_reclaimed() {
    const TEST: &str = "semaphore_permit_of_a_killed_holder_is_reclaimed";
    if support::role().is_some() {
        child_take_permit();
    }
    let shared = new_semaphore("sk", 1, true);
    let sem = semaphore(&shared);

    // Killed before anyone waits.
    let mut child = support::spawn_role(TEST, "holder", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    assert!(matches!(sem.try_acquire(), Err(Error::WouldBlock { .. })));
    child.kill();
    let permit = sem
        .try_acquire()
        .expect("the dead holder's permit came back");
    assert!(matches!(sem.try_acquire(), Err(Error::WouldBlock { .. })));
    drop(permit);
    assert_eq!(sem.value().expect("value"), 1, "never above the bound");

    // Killed while another process (here a thread of this one) is blocked.
    set_flag(shared.flag(FLAG), 0);
    let mut child = support::spawn_role(TEST, "holder", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let permit = sem.acquire_timeout(Duration::from_secs(30));
            permit.map(drop)
        });
        std::thread::sleep(Duration::from_millis(50));
        child.kill();
        waiter
            .join()
            .expect("waiter")
            .expect("the blocked acquirer proceeds");
    });
    assert_eq!(sem.value().expect("value"), 1);
}

fn increment_with_semaphore(shared: &Shared) {
    let sem = semaphore(shared);
    let counter = counter(shared);
    for _ in 0..INCREMENTS {
        let _permit = sem.acquire().expect("acquire");
        // Not an atomic add: only the semaphore makes it exact.
        let value = counter.load(Ordering::Relaxed);
        counter.store(value + 1, Ordering::Relaxed);
    }
}

#[test]
fn two_processes_semaphore_counter_is_exact() {
    if support::role().is_some() {
        let shared = Shared::open_from_arg();
        set_flag(shared.flag(FLAG), 1);
        wait_for_flag(shared.flag(FLAG2), 1);
        increment_with_semaphore(&shared);
        return;
    }
    let shared = new_semaphore("sc", 1, false);
    let mut child = support::spawn_role(
        "two_processes_semaphore_counter_is_exact",
        "incrementer",
        &[("PATH", shared.path())],
    );
    wait_for_flag(shared.flag(FLAG), 1);
    set_flag(shared.flag(FLAG2), 1);
    increment_with_semaphore(&shared);
    assert!(child.wait_success());
    assert_eq!(counter(&shared).load(Ordering::Relaxed), 2 * INCREMENTS);
}

#[test]
fn semaphore_timeouts_bounds_and_python_style_release() {
    let shared = new_semaphore("st", 1, true);
    let sem = semaphore(&shared);
    let permit = sem.acquire().expect("acquire");
    let started = Instant::now();
    assert_timed_out(sem.acquire_timeout(Duration::from_millis(50)), started);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert!(matches!(sem.try_acquire(), Err(Error::WouldBlock { .. })));
    permit.forget().expect("forget");
    // The permit is untracked now; releasing it once is fine, twice is
    // over the bound.
    sem.release().expect("release");
    assert!(matches!(
        sem.release(),
        Err(Error::OverRelease { bound: 1 })
    ));
    assert_eq!(sem.value().expect("value"), 1);
}

/// A process killed while waiting on a condition: notifying does not hang,
/// the lock is not poisoned, and another waiter is woken normally.
#[test]
fn condition_waiter_killed_leaves_others_working() {
    const TEST: &str = "condition_waiter_killed_leaves_others_working";
    match support::role().as_deref() {
        Some("victim") => {
            let shared = Shared::open_from_arg();
            let cond = condition(&shared);
            let mut guard = cond.lock().expect("lock");
            set_flag(shared.flag(FLAG), 1);
            loop {
                guard = cond.wait(guard).expect("wait");
            }
        }
        Some("waiter") => {
            let shared = Shared::open_from_arg();
            let cond = condition(&shared);
            let guard = cond.lock().expect("lock");
            set_flag(shared.flag(FLAG2), 1);
            let counter = counter(&shared);
            let guard = cond
                .wait_for(guard, || counter.load(Ordering::Relaxed) == 1)
                .expect("wait_for");
            counter.store(2, Ordering::Relaxed);
            drop(guard);
            return;
        }
        _ => {}
    }
    let shared = Shared::create("cw");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawCondition::init(shared.at(PRIMITIVE)) }.expect("init");
    let cond = condition(&shared);

    let mut victim = support::spawn_role(TEST, "victim", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    // Holding the lock proves the victim is inside `wait` (it set the flag
    // under the lock and only `wait` releases it).
    let guard = cond.lock().expect("the victim released the lock in wait");
    victim.kill();
    cond.notify_all(&guard).expect("notify with a dead waiter");
    drop(guard);

    let mut waiter = support::spawn_role(TEST, "waiter", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG2), 1);
    // The flag was set under the lock; once we hold it, the waiter sleeps.
    let guard = cond.lock().expect("lock");
    counter(&shared).store(1, Ordering::Relaxed);
    cond.notify_one(&guard).expect("notify");
    drop(guard);
    assert!(waiter.wait_success(), "the live waiter was woken");
    let guard = cond.lock().expect("not poisoned by the victim");
    assert!(guard.is_consistent());
    assert_eq!(counter(&shared).load(Ordering::Relaxed), 2);
}

#[test]
fn condition_timeouts_are_reported() {
    let shared = Shared::create("ct");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawCondition::init(shared.at(PRIMITIVE)) }.expect("init");
    let cond = condition(&shared);
    let started = Instant::now();
    let guard = cond.lock().expect("lock");
    let (guard, result) = cond
        .wait_timeout(guard, Duration::from_millis(50))
        .expect("wait");
    assert!(result.timed_out());
    let (guard, result) = cond
        .wait_for_timeout(guard, Duration::from_millis(50), || false)
        .expect("wait_for");
    assert!(result.timed_out());
    let (guard, result) = cond
        .wait_for_timeout(guard, Duration::from_millis(50), || true)
        .expect("wait_for");
    assert!(!result.timed_out());
    assert!(started.elapsed() < BOUND);
    // The lock is held again after each wait.
    assert!(cond.raw_lock().try_lock().is_err());
    drop(guard);

    // A guard of another lock is refused.
    let other = Shared::create("co");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawCondition::init(other.at(PRIMITIVE)) }.expect("init");
    let foreign = condition(&other).lock().expect("lock");
    assert!(matches!(
        cond.notify_all(&foreign),
        Err(Error::NotOwner { .. })
    ));
}

/// The words the condition tests count with, only touched under the
/// condition's lock: waits begun, and waits returned as notified.
const BEGUN: usize = COUNTER;
const NOTIFIED: usize = COUNTER + 4;
/// A wait that must be notified long before this.
const LONG_WAIT: Duration = Duration::from_secs(60);

fn count(shared: &Shared, offset: usize) -> u32 {
    // Relaxed: read under the condition's lock, which orders it.
    shared.flag(offset).load(Ordering::Relaxed)
}

fn bump(shared: &Shared, offset: usize) {
    // Relaxed: written under the condition's lock.
    shared.flag(offset).fetch_add(1, Ordering::Relaxed);
}

/// Child: counts itself as waiting, waits once (a plain wait, no
/// predicate, so every return is seen), and counts itself as notified.
/// Role "short" waits 10 ms and must time out instead; role "stays" is
/// killed while waiting.
fn condition_waiter(role: &str) -> ! {
    let shared = Shared::open_from_arg();
    let cond = condition(&shared);
    let guard = cond.lock().expect("lock");
    bump(&shared, BEGUN);
    let timeout = match role {
        "short" => Duration::from_millis(10),
        _ => LONG_WAIT,
    };
    let (guard, result) = cond.wait_timeout(guard, timeout).expect("wait");
    match role {
        "short" => assert!(result.timed_out(), "nobody notified"),
        "stays" => unreachable!("a killed waiter was woken"),
        _ => {
            assert!(!result.timed_out(), "never notified");
            bump(&shared, NOTIFIED);
        }
    }
    drop(guard);
    std::process::exit(0)
}

/// Locks the condition once `BEGUN` is `begun` (each waiter counts itself
/// under the lock and only its wait releases it, so every one is then
/// waiting).
fn lock_when_waiting(shared: &Shared, begun: u32) -> shmstruct::LockGuard<'_> {
    let deadline = Instant::now() + LONG_WAIT;
    loop {
        let guard = condition(shared).lock().expect("lock");
        if count(shared, BEGUN) == begun {
            return guard;
        }
        drop(guard);
        assert!(Instant::now() < deadline, "the waiters never waited");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Waits until `NOTIFIED` is `notified`.
fn wait_notified(shared: &Shared, notified: u32) {
    let deadline = Instant::now() + LONG_WAIT;
    while count(shared, NOTIFIED) != notified {
        assert!(
            Instant::now() < deadline,
            "{} of {notified} waiters were notified",
            count(shared, NOTIFIED)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Python's `notify(n)`: of five processes waiting, `notify(2)` wakes
/// exactly two, and `notify_all` the other three.
#[test]
fn condition_notify_n_wakes_exactly_n_processes() {
    const TEST: &str = "condition_notify_n_wakes_exactly_n_processes";
    const WAITERS: u32 = 5;
    if let Some(role) = support::role() {
        condition_waiter(&role);
    }
    let shared = Shared::create("cn");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawCondition::init(shared.at(PRIMITIVE)) }.expect("init");
    let cond = condition(&shared);
    let mut children: Vec<_> = (0..WAITERS)
        .map(|_| support::spawn_role(TEST, "waiter", &[("PATH", shared.path())]))
        .collect();

    let guard = lock_when_waiting(&shared, WAITERS);
    cond.notify(&guard, 2).expect("notify(2)");
    drop(guard);
    wait_notified(&shared, 2);
    // Give any extra wake-up time to show: none does.
    std::thread::sleep(Duration::from_millis(200));
    let guard = cond.lock().expect("lock");
    assert_eq!(count(&shared, NOTIFIED), 2, "notify(2) woke more than two");
    cond.notify(&guard, 0).expect("notify(0)");
    drop(guard);
    std::thread::sleep(Duration::from_millis(100));
    let guard = cond.lock().expect("lock");
    assert_eq!(count(&shared, NOTIFIED), 2, "notify(0) woke someone");
    cond.notify_all(&guard).expect("notify_all");
    drop(guard);
    wait_notified(&shared, WAITERS);
    for child in &mut children {
        assert!(child.wait_success(), "a waiter failed");
    }
}

/// Three processes wait again as soon as they return, while another
/// notifies one at a time: waiters that have released the lock but not yet
/// gone to sleep are never woken by a notify meant for one other, so the
/// returns never outnumber the notifies.
#[test]
fn condition_notify_one_never_wakes_two() {
    const TEST: &str = "condition_notify_one_never_wakes_two";
    const WAITERS: u32 = 3;
    const NOTIFIES: u32 = 10_000;
    const STOP: usize = FLAG;
    if support::role().is_some() {
        let shared = Shared::open_from_arg();
        let cond = condition(&shared);
        let mut guard = cond.lock().expect("lock");
        bump(&shared, BEGUN);
        loop {
            let (next, result) = cond.wait_timeout(guard, LONG_WAIT).expect("wait");
            guard = next;
            assert!(!result.timed_out(), "never notified");
            if count(&shared, STOP) == 1 {
                return;
            }
            bump(&shared, NOTIFIED);
        }
    }
    let shared = Shared::create("c1");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawCondition::init(shared.at(PRIMITIVE)) }.expect("init");
    let cond = condition(&shared);
    let mut children: Vec<_> = (0..WAITERS)
        .map(|_| support::spawn_role(TEST, "waiter", &[("PATH", shared.path())]))
        .collect();
    drop(lock_when_waiting(&shared, WAITERS));
    for notifies in 0..NOTIFIES {
        let guard = cond.lock().expect("lock");
        let notified = count(&shared, NOTIFIED);
        assert!(
            notified <= notifies,
            "{notified} returns for {notifies} notify(1)"
        );
        cond.notify_one(&guard).expect("notify(1)");
        drop(guard);
        std::thread::yield_now();
    }
    let guard = cond.lock().expect("lock");
    assert!(count(&shared, NOTIFIED) <= NOTIFIES);
    assert!(count(&shared, NOTIFIED) > 0, "nobody was ever woken");
    // Relaxed: under the lock.
    shared.flag(STOP).store(1, Ordering::Relaxed);
    cond.notify_all(&guard).expect("notify_all");
    drop(guard);
    for child in &mut children {
        assert!(child.wait_success(), "a waiter failed");
    }
}

/// A waiter that timed out and one that was killed while waiting do not
/// take the wake-up of `notify(1)` from the live waiter that arrives
/// after them; and a waiter that starts waiting after a notify is not
/// woken by it.
#[test]
fn condition_timed_out_and_killed_waiters_lose_no_wake_up() {
    const TEST: &str = "condition_timed_out_and_killed_waiters_lose_no_wake_up";
    if let Some(role) = support::role() {
        condition_waiter(&role);
    }
    let shared = Shared::create("cl");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawCondition::init(shared.at(PRIMITIVE)) }.expect("init");
    let cond = condition(&shared);
    let path = [("PATH", shared.path())];

    let mut stays = support::spawn_role(TEST, "stays", &path);
    drop(lock_when_waiting(&shared, 1));
    stays.kill();
    let mut short = support::spawn_role(TEST, "short", &path);
    assert!(short.wait_success(), "the short waiter did not time out");

    // Nobody live is waiting: this notify wakes no one later.
    let guard = lock_when_waiting(&shared, 2);
    cond.notify(&guard, 1)
        .expect("notify before the live waiter");
    drop(guard);
    let mut live = support::spawn_role(TEST, "waiter", &path);
    let guard = lock_when_waiting(&shared, 3);
    drop(guard);
    std::thread::sleep(Duration::from_millis(100));
    let guard = cond.lock().expect("lock");
    assert_eq!(count(&shared, NOTIFIED), 0, "woken by an earlier notify");

    cond.notify(&guard, 1).expect("notify(1)");
    drop(guard);
    assert!(live.wait_success(), "the live waiter was not woken");
    assert_eq!(count(&shared, NOTIFIED), 1);
}

/// Python's `action=`: over several rounds of three processes, exactly
/// one party per round runs its action, before any party is released.
#[test]
fn barrier_action_runs_once_per_round() {
    const TEST: &str = "barrier_action_runs_once_per_round";
    const ROUNDS: u64 = 20;
    let round = |shared: &Shared, n: u64| {
        let count = counter(shared);
        let index = barrier(shared)
            .wait_timeout_with(Duration::from_secs(20), || {
                count.fetch_add(1, Ordering::Relaxed);
            })
            .expect("round");
        // Every party leaves after the round's action ran.
        assert_eq!(count.load(Ordering::Relaxed), n + 1, "index {index}");
    };
    if support::role().is_some() {
        let shared = Shared::open_from_arg();
        for n in 0..ROUNDS {
            round(&shared, n);
        }
        return;
    }
    let shared = new_barrier("ba", 3);
    let mut children = [
        support::spawn_role(TEST, "party", &[("PATH", shared.path())]),
        support::spawn_role(TEST, "party", &[("PATH", shared.path())]),
    ];
    for n in 0..ROUNDS {
        round(&shared, n);
    }
    for child in &mut children {
        assert!(child.wait_success());
    }
    assert_eq!(counter(&shared).load(Ordering::Relaxed), ROUNDS);
}

/// An action that panics breaks the barrier for the other parties.
#[test]
fn barrier_action_that_panics_breaks_it() {
    let shared = new_barrier("bp", 2);
    let barrier = barrier(&shared);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| barrier.wait_timeout(Duration::from_secs(20)));
        let deadline = Instant::now() + Duration::from_secs(20);
        while barrier.n_waiting().expect("n_waiting") != 1 {
            assert!(Instant::now() < deadline, "the waiter never arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            barrier.wait_with(|| panic!("the action fails"))
        }));
        assert!(panicked.is_err(), "the action's panic reaches its caller");
        assert!(matches!(
            other.join().expect("waiter"),
            Err(Error::BrokenBarrier)
        ));
    });
    assert!(barrier.is_broken().expect("is_broken"));
}

/// A process killed while waiting at a barrier has arrived: the others
/// pass, and the barrier works for the next round.
#[test]
fn barrier_waiter_killed_leaves_others_able_to_pass() {
    const TEST: &str = "barrier_waiter_killed_leaves_others_able_to_pass";
    match support::role().as_deref() {
        Some("victim") => {
            let shared = Shared::open_from_arg();
            let _ = barrier(&shared).wait();
            hang();
        }
        Some("party") => {
            let shared = Shared::open_from_arg();
            barrier(&shared).wait().expect("second round");
            return;
        }
        _ => {}
    }
    let shared = new_barrier("bk", 2);
    let barrier = barrier(&shared);
    let mut victim = support::spawn_role(TEST, "victim", &[("PATH", shared.path())]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while barrier.n_waiting().expect("n_waiting") != 1 {
        assert!(Instant::now() < deadline, "the victim never arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    victim.kill();
    assert_eq!(
        barrier.wait_timeout(Duration::from_secs(10)).expect("pass"),
        1
    );
    assert!(!barrier.is_broken().expect("is_broken"));

    let mut party = support::spawn_role(TEST, "party", &[("PATH", shared.path())]);
    barrier
        .wait_timeout(Duration::from_secs(20))
        .expect("next round");
    assert!(party.wait_success());
}

#[test]
fn barrier_timeout_breaks_it_for_everyone() {
    let shared = new_barrier("bt", 3);
    let barrier = barrier(&shared);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| barrier.wait());
        let started = Instant::now();
        while barrier.n_waiting().expect("n_waiting") != 1 {
            assert!(started.elapsed() < BOUND);
            std::thread::yield_now();
        }
        let started = Instant::now();
        assert_timed_out(barrier.wait_timeout(Duration::from_millis(50)), started);
        assert!(matches!(
            other.join().expect("join"),
            Err(Error::BrokenBarrier)
        ));
    });
    assert!(matches!(barrier.wait(), Err(Error::BrokenBarrier)));
    barrier.reset().expect("reset");
    assert!(!barrier.is_broken().expect("is_broken"));
    // SAFETY: the barrier above is no longer used by anyone.
    let zero_parties = unsafe { RawBarrier::init(shared.at(PRIMITIVE), 0) };
    assert!(matches!(
        zero_parties,
        Err(Error::InvalidSyncParameter { .. })
    ));
}

/// Event ping-pong between two processes, a waiter killed while waiting,
/// and timeouts.
#[test]
fn event_crosses_processes_and_survives_a_killed_waiter() {
    const TEST: &str = "event_crosses_processes_and_survives_a_killed_waiter";
    match support::role().as_deref() {
        Some("victim") => {
            let shared = Shared::open_from_arg();
            set_flag(shared.flag(FLAG), 1);
            events(&shared).1.wait();
            hang();
        }
        Some("ponger") => {
            let shared = Shared::open_from_arg();
            let (ping, pong) = events(&shared);
            for _ in 0..100 {
                ping.wait();
                ping.clear();
                pong.set();
            }
            return;
        }
        _ => {}
    }
    let shared = Shared::create("ev");
    // SAFETY: fresh mapping, aligned, nobody else has it yet.
    unsafe { RawEvent::init(shared.at(PRIMITIVE)) };
    // SAFETY: as above.
    unsafe { RawEvent::init(shared.at(SECOND)) };
    let (ping, pong) = events(&shared);

    let mut victim = support::spawn_role(TEST, "victim", &[("PATH", shared.path())]);
    wait_for_flag(shared.flag(FLAG), 1);
    std::thread::sleep(Duration::from_millis(20));
    victim.kill();

    let mut ponger = support::spawn_role(TEST, "ponger", &[("PATH", shared.path())]);
    for _ in 0..100 {
        ping.set();
        pong.wait_timeout(Duration::from_secs(20)).expect("pong");
        pong.clear();
    }
    assert!(ponger.wait_success());

    let started = Instant::now();
    assert_timed_out(pong.wait_timeout(Duration::from_millis(50)), started);
    assert!(!pong.is_set());
}
