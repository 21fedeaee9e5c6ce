//! `?` on every call, `lock()` included, in
//! `fn main() -> Result<(), Box<dyn Error + Send + Sync>>`.

use std::error::Error;

use shmstruct::{Lock, SharedBytes, Value};

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let base = format!("qm-sendsync-{}", std::process::id());
    let lock = Lock::create(&base)?;
    let bytes = SharedBytes::builder(&format!("{base}b")).lock(&lock).create(b"ab")?;
    let opened = Lock::open(&base)?;
    let guard = opened.lock()?;
    assert_eq!(bytes.value_locked(&guard)?, b"ab");
    drop(guard);
    let value = Value::builder(&format!("{base}v")).create(1.5f64)?;
    *value.lock()? *= 2.0;
    assert_eq!(Value::<f64>::open(value.name())?.get()?, 3.0);
    Ok(())
}
