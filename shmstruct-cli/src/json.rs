//! The `--json` forms, built as `serde_json::Value`s.

use serde_json::{json, Map, Number, Value};
use shmstruct::layout::{python_float_repr, DataValue};
use shmstruct::{Kind, Layout};

use crate::entry::{Entry, Shown};

/// A `list` row.
pub fn entry(entry: &Entry) -> Value {
    json!({
        "name": entry.name,
        "kind": entry.kind,
        "type": entry.ty,
        "size": entry.size,
        "owner": entry.owner,
        "mode": entry.mode.map(|mode| format!("{mode:04o}")),
        "creator_pid": entry.creator_pid,
        "state": entry.state,
        "lock": entry.lock,
    })
}

/// `show`: name, kind, layout, value, and the header's facts.
pub fn shown(shown: &Shown) -> Value {
    let info = &shown.info;
    json!({
        "name": info.name(),
        "kind": info.kind().map(|kind| kind.name()),
        "layout": info.layout().map(layout),
        "value": value(&shown.value),
        "state": shown.state,
        "lock": shown.lock,
        "read": shown.read.describe(),
        "creator_pid": info.creator_pid(),
        "fingerprint": info.fingerprint().map(|f| format!("{f:016x}")),
        "data": info.data().map(|(offset, size)| json!({"offset": offset, "size": size})),
    })
}

/// A decoded value: structs as objects, arrays as arrays, numbers as
/// numbers (a float that JSON cannot hold, such as `inf`, as Python's repr
/// string), a byte string as a string when it is UTF-8 and as an array of
/// byte values otherwise.
pub fn value(data: &DataValue) -> Value {
    match data {
        DataValue::Unsigned(n) => json!(n),
        DataValue::Signed(n) => json!(n),
        DataValue::Float(x) => {
            Number::from_f64(*x).map_or_else(|| Value::String(python_float_repr(*x)), Value::Number)
        }
        DataValue::Bytes(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => json!(text),
            Err(_) => json!(bytes),
        },
        DataValue::List(items) => items.iter().map(value).collect(),
        DataValue::Struct(fields) => fields
            .iter()
            .map(|(name, field)| (name.clone(), value(field)))
            .collect::<Map<_, _>>()
            .into(),
        _ => Value::Null,
    }
}

/// What `layout --format json` prints: [`layout`], with the layout's
/// fingerprint, which reading it back checks.
pub fn layout_document(layout: &Layout) -> Value {
    let mut document = self::layout(layout);
    if let Value::Object(object) = &mut document {
        object.insert(
            "fingerprint".to_owned(),
            json!(format!("{:016x}", layout.fingerprint())),
        );
    }
    document
}

/// A layout descriptor: name, size, alignment, and what it is made of.
pub fn layout(layout: &Layout) -> Value {
    let mut object = json!({
        "name": layout.name(),
        "size": layout.size(),
        "align": layout.align(),
    });
    let extra = match layout.kind() {
        Kind::Primitive(primitive) => json!({"kind": "primitive", "type": primitive.rust_name()}),
        Kind::Atomic(primitive) => json!({"kind": "atomic", "type": primitive.rust_name()}),
        Kind::Bytes { capacity } => json!({"kind": "bytes", "capacity": capacity}),
        Kind::Array { element, len } => {
            json!({"kind": "array", "len": len, "element": self::layout(element)})
        }
        Kind::Struct {
            fields,
            packed,
            align,
        } => json!({
            "kind": "struct",
            "packed": packed,
            "repr_align": align,
            "fields": fields.iter().map(|field| json!({
                "name": field.name(),
                "offset": field.offset(),
                "type": self::layout(field.ty()),
            })).collect::<Vec<_>>(),
        }),
        _ => json!({"kind": "unknown"}),
    };
    if let (Value::Object(object), Value::Object(extra)) = (&mut object, extra) {
        object.extend(extra);
    }
    object
}
