//! The human forms: aligned tables, coloured only on a terminal and never
//! when `NO_COLOR` is set.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use shmstruct::layout::DataValue;

use crate::entry::{Entry, Shown};

/// Whether to colour standard output.
pub fn colour() -> bool {
    !std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
        && std::io::stdout().is_terminal()
}

/// `text` in the ANSI colour `code` when `colour`.
pub fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or("-".to_owned(), |v| v.to_string())
}

/// The `list` table.
pub fn entries(entries: &[Entry], colour: bool) -> String {
    let header = [
        "NAME", "KIND", "TYPE", "SIZE", "OWNER", "MODE", "PID", "STATE", "LOCK",
    ]
    .map(str::to_owned);
    let mut rows = vec![header];
    for entry in entries {
        rows.push([
            entry.name.clone(),
            entry.kind.clone(),
            entry.ty.clone(),
            or_dash(entry.size),
            or_dash(entry.owner),
            or_dash(entry.mode.map(|mode| format!("{mode:04o}"))),
            or_dash(entry.creator_pid),
            entry.state.clone(),
            entry.lock.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            let padded = if column == 8 {
                cell.clone()
            } else {
                format!("{cell:<width$}  ", width = widths[column])
            };
            let code = match (i, column, cell.as_str()) {
                (0, ..) => "1",
                (_, 7, "stale") => "33",
                (_, 7, state) if state != "alive" => "31",
                _ => "",
            };
            line.push_str(&if code.is_empty() {
                padded
            } else {
                paint(&padded, code, colour)
            });
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// The `show` text: the header, the layout table and the values.
pub fn shown(shown: &Shown, limit: usize) -> String {
    let info = &shown.info;
    let mut out = String::new();
    let _ = writeln!(out, "segment      {}", info.path().display());
    let _ = writeln!(out, "kind         {}", or_dash(info.kind()));
    let _ = writeln!(out, "state        {}", shown.state);
    let _ = writeln!(out, "creator      pid {}", info.creator_pid());
    let _ = writeln!(out, "version      {}", or_dash(info.version()));
    let _ = writeln!(out, "size         {} bytes", info.file_size());
    if let Some(fingerprint) = info.fingerprint() {
        let _ = writeln!(out, "fingerprint  {fingerprint:016x}");
    }
    if let Some((offset, size)) = info.data() {
        let _ = writeln!(out, "data         {size} bytes at offset {offset}");
    }
    if let Some(mode) = info.lock_mode() {
        let _ = writeln!(out, "lock         {mode}: {}", shown.lock);
    }
    if let Some(layout) = info.layout() {
        let _ = writeln!(out, "\n{layout:#}");
    }
    let _ = writeln!(out, "\nvalues ({}):", shown.read.describe());
    out.push_str(&values(&shown.value, limit));
    out
}

/// The values of `show`, one field a line, arrays cut after `limit` elements.
pub fn values(value: &DataValue, limit: usize) -> String {
    let mut out = String::new();
    write_value(&mut out, "", value, 1, limit);
    out
}

/// Writes `value` named `name` at `depth`: a struct field by field, an array
/// of structs or arrays element by element, anything else on one line.
fn write_value(out: &mut String, name: &str, value: &DataValue, depth: usize, limit: usize) {
    let indent = "  ".repeat(depth);
    let label = if name.is_empty() {
        String::new()
    } else {
        format!("{name} = ")
    };
    match value {
        DataValue::Struct(fields) => {
            let mut depth = depth;
            if !name.is_empty() {
                let _ = writeln!(out, "{indent}{name}:");
                depth += 1;
            }
            for (field, value) in fields {
                write_value(out, field, value, depth, limit);
            }
        }
        DataValue::List(items)
            if items
                .first()
                .is_some_and(|item| matches!(item, DataValue::Struct(_) | DataValue::List(_))) =>
        {
            let _ = writeln!(out, "{indent}{}[{}]:", name, items.len());
            for (i, item) in items.iter().take(limit).enumerate() {
                write_value(out, &format!("[{i}]"), item, depth + 1, limit);
            }
            if items.len() > limit {
                let _ = writeln!(
                    out,
                    "{indent}  ... {} more (--all shows them)",
                    items.len() - limit
                );
            }
        }
        DataValue::List(items) if items.len() > limit => {
            let shown: Vec<String> = items.iter().take(limit).map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "{indent}{label}[{}, ...]  ({} more; --all shows them)",
                shown.join(", "),
                items.len() - limit
            );
        }
        _ => {
            let _ = writeln!(out, "{indent}{label}{value}");
        }
    }
}
