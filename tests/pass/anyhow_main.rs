//! `?` on every call, `lock()` included, in `fn main() -> anyhow::Result<()>`.

use shmstruct::{Array, Value};

fn main() -> anyhow::Result<()> {
    let name = format!("qm-anyhow-{}", std::process::id());
    let created = Value::builder(&name).create(6u64)?;
    let v = Value::<u64>::open(&name)?;
    *v.lock()? += 1;
    anyhow::ensure!(v.get()? == 7 && created.get()? == 7);
    let a = Array::builder(&format!("{name}a")).create(&[1u8, 2])?;
    anyhow::ensure!(a.to_vec()? == [1, 2]);
    Ok(())
}
