//! `?` on every call, `lock()` included, in `fn main() -> anyhow::Result<()>`.

use shmstruct::{Array, SegmentOptions, Value};

fn main() -> anyhow::Result<()> {
    let name = format!("qm-anyhow-{}", std::process::id());
    let options = SegmentOptions::new().unlink_on_drop(true);
    let created = Value::create_with(&name, 6u64, &options)?;
    let v = Value::<u64>::open(&name)?;
    *v.lock()? += 1;
    anyhow::ensure!(v.get()? == 7 && created.get()? == 7);
    let a = Array::create_with(&format!("{name}a"), &[1u8, 2], &options)?;
    anyhow::ensure!(a.to_vec()? == [1, 2]);
    Ok(())
}
