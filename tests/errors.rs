//! `?` carries the crate's errors into the error types programs return:
//! `anyhow::Result`, `Box<dyn Error>` and `Box<dyn Error + Send + Sync>`,
//! `lock()`'s included (its error does not carry the guard).
//! That these functions compile is most of the test; running them checks
//! that the values come through and that the error keeps its message.

mod support;

use std::error::Error as StdError;

use shmstruct::{Array, ErrorKind, Value};

/// Creates, opens and reads a value and an array, returning anyhow's error.
fn with_anyhow(name: &str) -> anyhow::Result<(u64, Vec<u32>)> {
    let value = Value::create(name, 6u64)?;
    *value.lock()? += 1;
    let array = Array::create(&format!("{name}a"), &[1u32, 2, 3])?;
    let read = Value::<u64>::open(name)?.get()?;
    let elements = array.to_vec()?;
    value.unlink()?;
    array.unlink()?;
    Ok((read, elements))
}

/// The same, returning `Box<dyn Error>`.
fn with_box(name: &str) -> Result<(u64, Vec<u32>), Box<dyn StdError>> {
    let value = Value::create(name, 8u64)?;
    let array = Array::create(&format!("{name}a"), &[3u32, 5])?;
    array.lock()?[0] += 1;
    let read = Value::<u64>::open(name)?.get()?;
    let elements = array.to_vec()?;
    value.unlink()?;
    array.unlink()?;
    Ok((read, elements))
}

/// The same, returning `Box<dyn Error + Send + Sync>`.
fn with_box_send_sync(name: &str) -> Result<u64, Box<dyn StdError + Send + Sync>> {
    let value = Value::create(name, 9u64)?;
    let guard = value.lock()?;
    let read = *guard;
    drop(guard);
    assert_eq!(Value::<u64>::open(name)?.get()?, read);
    value.unlink()?;
    Ok(read)
}

/// Opens a value that does not exist, for the error's way through `?`.
fn open_missing_anyhow(name: &str) -> anyhow::Result<u64> {
    Ok(Value::<u64>::open(name)?.get()?)
}

#[test]
fn question_mark_carries_into_anyhow_and_boxed_errors() {
    let name = support::unique_name("qm");
    let _value = support::RemoveOnDrop::shm(&name);
    let _array = support::RemoveOnDrop::shm(&format!("{name}a"));
    assert_eq!(with_anyhow(&name).expect("anyhow"), (7, vec![1, 2, 3]));
    assert_eq!(with_box(&name).expect("boxed"), (8, vec![4, 5]));
    assert_eq!(with_box_send_sync(&name).expect("boxed send sync"), 9);
}

#[test]
fn an_error_through_anyhow_keeps_its_case_and_message() {
    let name = support::unique_name("qm-missing");
    let error = open_missing_anyhow(&name).expect_err("no such segment");
    let error = error
        .downcast::<shmstruct::Error>()
        .expect("a shmstruct error inside");
    assert_eq!(error.kind(), ErrorKind::Segment);
    assert!(error.is_not_found(), "{error:?}");
    assert!(error.to_string().contains(&name), "{error}");
}

/// A poisoned value's error goes through `?` into anyhow, and says so.
fn poisoned_through_anyhow(value: &Value<u64>) -> anyhow::Result<u64> {
    let guard = value.lock()?;
    Ok(*guard)
}

#[test]
fn a_poisoned_lock_error_carries_through_question_mark() {
    let name = support::unique_name("qm-poison");
    let _value = support::RemoveOnDrop::shm(&name);
    let value = Value::create(&name, 1u64).expect("creating");
    let panicked = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let _guard = value.lock().expect("locking");
                panic!("poisoning on purpose (this panic is expected)");
            })
            .join()
    });
    assert!(panicked.is_err());
    let error = poisoned_through_anyhow(&value).expect_err("poisoned");
    let error = error.downcast::<shmstruct::Error>().expect("ours");
    assert!(error.is_poisoned(), "{error:?}");
    assert!(error.is_lock());
}

/// Every test file at the top level has its `[[test]]` entry, since the
/// crate keeps its tests outside its own directory and cargo would not find
/// one that is missing.
#[test]
fn every_test_file_has_a_test_entry() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    let tests = root.join("../tests");
    let mut checked = 0;
    for entry in std::fs::read_dir(&tests).expect("tests/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "rs") {
            let file = path.file_name().expect("name").to_string_lossy();
            let entry = format!("path = \"../tests/{file}\"");
            assert!(
                manifest.contains(&entry),
                "tests/{file} has no [[test]] entry in shmstruct/Cargo.toml"
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} test files found");
}
