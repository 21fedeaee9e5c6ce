//! Python's `multiprocessing.shared_memory.SharedMemory(name=...)` attaches
//! to a segment created from Rust: the naming contract (`demo` is
//! `shm_open("/demo")`, the file `/dev/shm/demo`) and the header's data
//! offset are all another language needs.

mod support;

use std::path::Path;
use std::process::Command;

use shmstruct::segment::header;
use shmstruct::{RawValue, SegmentInfo};
use support::RemoveOnDrop;

/// Reads the header and the data, prints them, writes a new second `f64`,
/// and makes sure Python's resource tracker does not unlink the segment on
/// exit (CPython gh-82300): `track=False` where it exists (3.13+), else
/// unregistering, then stopping the tracker so that it has finished before
/// this process exits.
const SCRIPT: &str = r#"
import struct, sys
from multiprocessing import shared_memory, resource_tracker

name = sys.argv[1]
try:
    shm = shared_memory.SharedMemory(name=name, track=False)
except TypeError:
    shm = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(shm._name, "shared_memory")
buf = shm.buf
magic = bytes(buf[0:8])
version, state = struct.unpack_from("=II", buf, 8)
data_offset, data_size = struct.unpack_from("=QQ", buf, 80)
data = bytes(buf[data_offset:data_offset + data_size])
print(magic.decode(), version, state, data_offset, data_size, data.hex())
struct.pack_into("=d", buf, data_offset + 8, 7.0)
del buf
shm.close()
tracker = getattr(resource_tracker, "_resource_tracker", None)
if tracker is not None and hasattr(tracker, "_stop"):
    tracker._stop()
"#;

#[test]
fn python_attaches_by_name_and_reads_the_data() {
    if Command::new("python3").arg("--version").output().is_err() {
        support::skipped("python_attaches_by_name_and_reads_the_data: no python3");
        return;
    }
    let name = support::unique_name("py");
    let _guard = RemoveOnDrop::shm(&name);
    let value = RawValue::create(&name, [1.5f64, -2.25]).expect("create");
    let info = SegmentInfo::open(&name).expect("info");
    let (data_offset, data_size) = info.data().expect("ready");

    let output = Command::new("python3")
        .args(["-c", SCRIPT, &name])
        .output()
        .expect("running python3");
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected_bytes: Vec<u8> = [1.5f64, -2.25]
        .iter()
        .flat_map(|x| x.to_ne_bytes())
        .collect();
    let hex: String = expected_bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!(
            "SHMSTRCT {} {} {data_offset} {data_size} {hex}",
            header::VERSION,
            header::STATE_READY
        )
    );
    // Python's write is seen by Rust, and Python left the segment in place.
    assert_eq!(value.get(), [1.5, 7.0]);
    assert!(
        Path::new("/dev/shm").join(&name).exists(),
        "python unlinked it"
    );
    assert_eq!(
        RawValue::<[f64; 2]>::open(&name).expect("reopen").get(),
        [1.5, 7.0]
    );
    value.unlink().expect("unlink");
}
