//! The canonical JSON of a details object, written while the bundle line is parsed instead of
//! building a `serde_json::Value` first (the borrowed path of `entry_view`).
//!
//! It only accepts what it can write byte for byte as [`canonical_json::write_value`] would
//! write the `Value` the owned path builds from the same text, and that the owned path's
//! details rules accept:
//! - an object at the top (`details must be a JSON object`);
//! - in every object, keys in strictly ascending byte order, so none repeats (a `Value` map
//!   keeps the last of equal keys) and none needs sorting;
//! - no key that serde_json reserves for its private number and raw-value forms;
//! - nesting at most [`MAX_DETAILS_DEPTH`] (a container at depth 1 is the details object);
//! - at most [`MAX_DETAILS_BYTES`] of canonical JSON.
//!
//! Anything else is an error: the caller then parses the line the owned way, which decides
//! (and words the error). Numbers are rendered through `serde_json::Number`, as in a `Value`.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::canonical_json;
use super::event::{MAX_DETAILS_BYTES, MAX_DETAILS_DEPTH};
use super::strvisit::CowStr;

/// Keys serde_json gives a meaning of its own inside a `Value` (with its `arbitrary_precision`
/// and `raw_value` features): never written from the stream.
const RESERVED_KEY_PREFIX: &str = "$serde_json::private::";

/// Deserializes a details object, appending its canonical JSON to `out`.
pub(crate) struct DetailsSeed<'s> {
    /// Where the canonical JSON goes.
    pub(crate) out: &'s mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for DetailsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let start = self.out.len();
        d.deserialize_map(Writer {
            out: &mut *self.out,
            depth: 1,
        })?;
        if self.out.len().saturating_sub(start) > MAX_DETAILS_BYTES {
            return Err(D::Error::custom("details larger than the limit"));
        }
        Ok(())
    }
}

/// Writes one value; `depth` is the depth a container at this place has.
struct Writer<'s> {
    out: &'s mut Vec<u8>,
    depth: usize,
}

impl Writer<'_> {
    fn child(&mut self) -> Writer<'_> {
        Writer {
            out: &mut *self.out,
            depth: self.depth.saturating_add(1),
        }
    }

    fn check_depth<E: Error>(&self) -> Result<(), E> {
        if self.depth > MAX_DETAILS_DEPTH {
            return Err(E::custom("details nested too deep"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Writer<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Writer<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<(), E> {
        canonical_json::write_number(&Number::from(v), self.out);
        Ok(())
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<(), E> {
        canonical_json::write_number(&Number::from(v), self.out);
        Ok(())
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<(), E> {
        // As a `Value`: a float without a JSON form becomes `null`.
        match Number::from_f64(v) {
            Some(n) => canonical_json::write_number(&n, self.out),
            None => self.out.extend_from_slice(b"null"),
        }
        Ok(())
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<(), E> {
        canonical_json::write_str(v, self.out);
        Ok(())
    }

    fn visit_unit<E: Error>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_none<E: Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.check_depth()?;
        self.out.push(b'[');
        let mut first = true;
        loop {
            let mark = self.out.len();
            if !first {
                self.out.push(b',');
            }
            if seq.next_element_seed(self.child())?.is_none() {
                self.out.truncate(mark);
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.check_depth()?;
        self.out.push(b'{');
        let mut prev: Option<CowStr<'de>> = None;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let k = key.as_str();
            if k.starts_with(RESERVED_KEY_PREFIX) {
                return Err(A::Error::custom("reserved key in details"));
            }
            if let Some(p) = &prev {
                if p.as_str().as_bytes() >= k.as_bytes() {
                    return Err(A::Error::custom("details keys not in ascending order"));
                }
                self.out.push(b',');
            }
            canonical_json::write_str(k, self.out);
            self.out.push(b':');
            map.next_value_seed(self.child())?;
            prev = Some(key);
        }
        self.out.push(b'}');
        Ok(())
    }
}
