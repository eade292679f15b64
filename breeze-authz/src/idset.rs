//! A set of ids that is either "all" or an explicit sorted list (possibly empty = none).

use serde::{Serialize, Serializer};
use std::fmt::Display;

/// "All ids" or an explicit list; an empty list means none. Built only inside this crate
/// (sorted and deduplicated, so membership is a binary search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSet<T>(Inner<T>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner<T> {
    All,
    Only(Vec<T>),
}

impl<T: Ord + Copy> IdSet<T> {
    pub(crate) const fn all() -> Self {
        Self(Inner::All)
    }

    pub(crate) const fn none() -> Self {
        Self(Inner::Only(Vec::new()))
    }

    pub(crate) fn only(mut ids: Vec<T>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        Self(Inner::Only(ids))
    }

    /// Whether every id is included (system scope, or an unrestricted list).
    #[must_use]
    pub const fn is_all(&self) -> bool {
        matches!(self.0, Inner::All)
    }

    /// Whether no id is included.
    #[must_use]
    pub fn is_none(&self) -> bool {
        matches!(&self.0, Inner::Only(ids) if ids.is_empty())
    }

    /// Whether `id` is included.
    #[must_use]
    pub fn contains(&self, id: &T) -> bool {
        match &self.0 {
            Inner::All => true,
            Inner::Only(ids) => ids.binary_search(id).is_ok(),
        }
    }

    /// The explicit list (sorted), or `None` for "all".
    #[must_use]
    pub fn ids(&self) -> Option<&[T]> {
        match &self.0 {
            Inner::All => None,
            Inner::Only(ids) => Some(ids),
        }
    }
}

impl<T: Display> IdSet<T> {
    /// The PostgreSQL session form of SPEC 1.2: `*` for all, comma-joined lowercase UUIDs
    /// for a list, the empty string for none.
    #[must_use]
    pub fn to_setting(&self) -> String {
        match &self.0 {
            Inner::All => "*".to_owned(),
            Inner::Only(ids) => {
                let mut out = String::with_capacity(ids.len() * 37);
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&id.to_string());
                }
                out
            }
        }
    }
}

impl<T: Display> Serialize for IdSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_setting())
    }
}
