//! `?` on every call, `lock()` included, in
//! `fn main() -> Result<(), Box<dyn Error>>`.

use std::error::Error;

use shmstruct::{Array, Value};

fn main() -> Result<(), Box<dyn Error>> {
    let name = format!("qm-boxed-{}", std::process::id());
    let a = Array::builder(&name).create(&[3i32, 4])?;
    a.lock()?[0] -= 3;
    let opened = Array::<i32>::open(&name)?;
    assert_eq!(opened.to_vec()?, [0, 4]);
    let v = Value::builder(&format!("{name}v")).create('x' as u32)?;
    let opened = Value::<u32>::open(v.name())?;
    let mut guard = opened.lock_poisoned()?;
    guard.clear_poison();
    Ok(())
}
