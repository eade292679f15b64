//! Canonical JSON for the details object: one byte string per JSON value.
//!
//! Rules: no insignificant whitespace; object members sorted by the UTF-8 bytes of their
//! keys; strings escape `"` and `\` with a backslash, U+0008/0009/000A/000C/000D as
//! `\b \t \n \f \r` and every other control character below U+0020 as `\u00xx` (lowercase
//! hex), everything else as raw UTF-8; integers in decimal; floats as serde_json renders
//! them (shortest round-trip form, for example `1.5`, `1e21`); `true`, `false`, `null`.

use std::io::Write;

use serde_json::Value;

/// Nesting beyond which the writer stops descending (callers validate well below it).
pub(crate) const WRITER_MAX_DEPTH: usize = 128;

/// Appends the canonical JSON of `v` to `out`.
pub(crate) fn write_value(v: &Value, out: &mut Vec<u8>) {
    write_at(v, out, 0);
}

/// The canonical JSON of `v`.
pub(crate) fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(v, &mut out);
    out
}

/// Length in bytes of the canonical JSON of `v`, counted without writing it anywhere.
pub(crate) fn encoded_len(v: &Value) -> usize {
    let mut counter = Counter(0);
    write_at(v, &mut counter, 0);
    counter.0
}

/// A sink that only counts what is written to it.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Nesting depth of `v` (a scalar is 0, `{}` is 1), computed without recursion and
/// capped at `cap + 1`.
pub(crate) fn depth(v: &Value, cap: usize) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let d = d + 1;
        match v {
            Value::Object(m) => stack.extend(m.values().map(|c| (c, d))),
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d))),
            _ => continue,
        }
        max = max.max(d);
        if d > cap {
            return d;
        }
    }
    max
}

/// Writes to a `Vec` or a [`Counter`]: neither can fail, so results are not checked.
fn write_at<W: Write>(v: &Value, out: &mut W, depth: usize) {
    match v {
        Value::Null => put(out, b"null"),
        Value::Bool(true) => put(out, b"true"),
        Value::Bool(false) => put(out, b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            if depth >= WRITER_MAX_DEPTH {
                put(out, b"null");
                return;
            }
            put(out, b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    put(out, b",");
                }
                write_at(item, out, depth + 1);
            }
            put(out, b"]");
        }
        Value::Object(map) => {
            if depth >= WRITER_MAX_DEPTH {
                put(out, b"null");
                return;
            }
            put(out, b"{");
            let sorted = map
                .keys()
                .zip(map.keys().skip(1))
                .all(|(a, b)| a.as_bytes() < b.as_bytes());
            if sorted {
                // The usual case (serde_json's default map is ordered): no allocation.
                write_members(map.iter(), out, depth);
            } else {
                let mut members: Vec<(&String, &Value)> = map.iter().collect();
                members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                write_members(members.into_iter(), out, depth);
            }
            put(out, b"}");
        }
    }
}

/// Appends a number as serde_json renders it.
pub(crate) fn write_number<W: Write>(n: &serde_json::Number, out: &mut W) {
    let _ = write!(out, "{n}");
}

fn put<W: Write>(out: &mut W, bytes: &[u8]) {
    let _ = out.write_all(bytes);
}

fn write_members<'a, W: Write>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut W,
    depth: usize,
) {
    for (i, (k, val)) in members.enumerate() {
        if i > 0 {
            put(out, b",");
        }
        write_str(k, out);
        put(out, b":");
        write_at(val, out, depth + 1);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a canonical JSON string (the escapes of the module docs).
pub(crate) fn write_str<W: Write>(s: &str, out: &mut W) {
    put(out, b"\"");
    let mut start = 0;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0..=0x1f => None,
            _ => continue,
        };
        put(out, bytes.get(start..i).unwrap_or_default());
        match esc {
            Some(e) => put(out, e),
            None => {
                let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
                let lo = HEX.get(usize::from(b & 0x0f)).copied().unwrap_or(b'0');
                put(out, &[b'\\', b'u', b'0', b'0', hi, lo]);
            }
        }
        start = i + 1;
    }
    put(out, bytes.get(start..).unwrap_or_default());
    put(out, b"\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_escapes() {
        let v = json!({"b": [1, 2.5, null, true], "a": "x\"y\\z\n\u{1}é", "A": {}});
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"A":{},"a":"x\"y\\z\n\u0001é","b":[1,2.5,null,true]}"#
        );
    }

    #[test]
    fn matches_serde_json_for_sorted_input() {
        let v = json!({"f": 1e21, "k": "\u{7f}\t\u{1f}", "n": -12});
        let ours = to_vec(&v);
        let theirs = serde_json::to_vec(&v).unwrap();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn encoded_len_counts_what_to_vec_writes() {
        for v in [
            json!({}),
            json!({"b": [1, 2.5, null, true], "a": "x\"y\\z\n\u{1}é", "A": {}}),
            json!({"f": 1e21, "k": "\u{7f}\t\u{1f}", "n": -12, "z": [[], {"y": "\u{2028}"}]}),
        ] {
            assert_eq!(encoded_len(&v), to_vec(&v).len());
        }
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(depth(&json!(1), 8), 0);
        assert_eq!(depth(&json!({}), 8), 1);
        assert_eq!(depth(&json!({"a": [{"b": 1}]}), 8), 3);
    }
}
