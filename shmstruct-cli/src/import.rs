//! Reads back what `layout --format json` prints: the JSON is written out
//! in the descriptor's binary encoding (documented in the library's
//! `layout::codec`), which [`Layout::decode`] then checks as it checks a
//! descriptor stored in a segment, so a JSON layout is accepted exactly
//! when it describes a layout the library could have made.

use serde_json::Value;
use shmstruct::layout::Primitive;
use shmstruct::Layout;

use super::Failure;

/// The encoding's format version and this machine's byte order byte.
const VERSION: u8 = 1;
const NATIVE_ENDIAN: u8 = if cfg!(target_endian = "big") { 2 } else { 1 };

/// The layout that `json` (the output of `layout --format json`) describes;
/// if it carries a `fingerprint`, the layout must have that fingerprint.
pub fn layout(json: &Value) -> Result<Layout, Failure> {
    let mut bytes = vec![VERSION, NATIVE_ENDIAN];
    node(json, &mut bytes, "the layout")?;
    let layout = Layout::decode(&bytes).map_err(|e| format!("not a valid layout: {e}"))?;
    if let Some(expected) = json.get("fingerprint") {
        let found = format!("{:016x}", layout.fingerprint());
        if expected.as_str() != Some(found.as_str()) {
            return Err(format!(
                "the layout's fingerprint is {found}, but the JSON says {expected}"
            )
            .into());
        }
    }
    Ok(layout)
}

fn number(json: &Value, key: &str, at: &str) -> Result<u64, Failure> {
    json.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("{at}: `{key}` is not a number").into())
}

fn text<'a>(json: &'a Value, key: &str, at: &str) -> Result<&'a str, Failure> {
    json.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: `{key}` is not a string").into())
}

/// A `u64` that may be `null` (written as 0, "none").
fn optional(json: &Value, key: &str, at: &str) -> Result<u64, Failure> {
    match json.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(_) => number(json, key, at),
    }
}

fn put_name(bytes: &mut Vec<u8>, name: &str) -> Result<(), Failure> {
    let len = u32::try_from(name.len()).map_err(|_| format!("the name `{name}` is too long"))?;
    bytes.extend(len.to_le_bytes());
    bytes.extend(name.as_bytes());
    Ok(())
}

/// Appends the node `json` (at `at`, for messages) to `bytes`.
fn node(json: &Value, bytes: &mut Vec<u8>, at: &str) -> Result<(), Failure> {
    let kind = text(json, "kind", at)?;
    let tag = match kind {
        "primitive" => 1u8,
        "atomic" => 2,
        "array" => 3,
        "bytes" => 4,
        "struct" => 5,
        other => return Err(format!("{at}: unknown kind `{other}`").into()),
    };
    bytes.push(tag);
    bytes.extend(number(json, "size", at)?.to_le_bytes());
    bytes.extend(number(json, "align", at)?.to_le_bytes());
    match kind {
        "primitive" | "atomic" => {
            let name = text(json, "type", at)?;
            let code = Primitive::ALL
                .iter()
                .position(|primitive| primitive.rust_name() == name)
                .ok_or_else(|| format!("{at}: unknown number type `{name}`"))?;
            bytes.push(u8::try_from(code)?);
        }
        "array" => {
            bytes.extend(number(json, "len", at)?.to_le_bytes());
            let element = json
                .get("element")
                .ok_or_else(|| format!("{at}: no `element`"))?;
            node(element, bytes, &format!("{at}'s element"))?;
        }
        "bytes" => bytes.extend(number(json, "capacity", at)?.to_le_bytes()),
        _ => {
            let name = text(json, "name", at)?;
            put_name(bytes, name)?;
            bytes.extend(optional(json, "packed", at)?.to_le_bytes());
            bytes.extend(optional(json, "repr_align", at)?.to_le_bytes());
            let fields = json
                .get("fields")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{at}: `fields` is not an array"))?;
            let count =
                u32::try_from(fields.len()).map_err(|_| format!("{at}: too many fields"))?;
            bytes.extend(count.to_le_bytes());
            for field in fields {
                let field_name = text(field, "name", at)?;
                put_name(bytes, field_name)?;
                bytes.extend(number(field, "offset", at)?.to_le_bytes());
                let ty = field
                    .get("type")
                    .ok_or_else(|| format!("{at}: field `{field_name}` has no `type`"))?;
                node(ty, bytes, &format!("field `{field_name}` of `{name}`"))?;
            }
        }
    }
    Ok(())
}
