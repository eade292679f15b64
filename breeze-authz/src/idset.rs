//! A set of ids that is either "all" or an explicit sorted list (possibly empty = none).
//!
//! Ids are kept sorted by their UUID as a big-endian `u128` (the same order as the UUID's
//! bytes), so a membership test is a binary search over integer compares, and rendering
//! the PostgreSQL setting encodes each UUID into a stack buffer without allocating.

use breeze_core::tenancy::{OrgId, PartnerId, SiteId};
use serde::{Serialize, Serializer};
use std::marker::PhantomData;
use uuid::Uuid;

/// An id type backed by a UUID.
pub trait UuidId: Copy {
    /// The underlying UUID.
    fn uuid(&self) -> &Uuid;
    /// Wraps a UUID.
    fn from_uuid(uuid: Uuid) -> Self;
}

macro_rules! uuid_id {
    ($($ty:ty),*) => {$(
        impl UuidId for $ty {
            fn uuid(&self) -> &Uuid {
                self.as_uuid()
            }
            fn from_uuid(uuid: Uuid) -> Self {
                <$ty>::from_uuid(uuid)
            }
        }
    )*};
}
uuid_id!(OrgId, PartnerId, SiteId);

fn key<T: UuidId>(id: &T) -> u128 {
    id.uuid().as_u128()
}

/// "All ids" or an explicit list; an empty list means none. Built only inside this crate
/// (sorted and deduplicated, so membership is a binary search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdSet<T> {
    inner: Inner,
    kind: PhantomData<T>,
}

/// Ids as big-endian `u128` keys: sorting and searching integers is several times cheaper
/// than comparing UUID byte arrays, and the order is the same.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inner {
    All,
    Only(Vec<u128>),
}

impl<T: UuidId> IdSet<T> {
    const fn from_inner(inner: Inner) -> Self {
        Self {
            inner,
            kind: PhantomData,
        }
    }

    pub(crate) const fn all() -> Self {
        Self::from_inner(Inner::All)
    }

    pub(crate) const fn none() -> Self {
        Self::from_inner(Inner::Only(Vec::new()))
    }

    /// Collects, sorts and deduplicates.
    pub(crate) fn collect(ids: impl IntoIterator<Item = T>) -> Self {
        let mut keys: Vec<u128> = ids.into_iter().map(|id| key(&id)).collect();
        keys.sort_unstable();
        keys.dedup();
        Self::from_inner(Inner::Only(keys))
    }

    /// The ids in both sets (a linear merge of the two sorted lists).
    pub(crate) fn intersect(&self, other: &Self) -> Self {
        match (&self.inner, &other.inner) {
            (Inner::All, _) => other.clone(),
            (_, Inner::All) => self.clone(),
            (Inner::Only(a), Inner::Only(b)) => {
                let mut out = Vec::with_capacity(a.len().min(b.len()));
                let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
                while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
                    match x.cmp(y) {
                        std::cmp::Ordering::Less => {
                            a.next();
                        }
                        std::cmp::Ordering::Greater => {
                            b.next();
                        }
                        std::cmp::Ordering::Equal => {
                            out.push(**x);
                            a.next();
                            b.next();
                        }
                    }
                }
                Self::from_inner(Inner::Only(out))
            }
        }
    }

    /// Whether every id is included (system scope, or an unrestricted list).
    #[must_use]
    pub const fn is_all(&self) -> bool {
        matches!(self.inner, Inner::All)
    }

    /// Whether no id is included.
    #[must_use]
    pub fn is_none(&self) -> bool {
        matches!(&self.inner, Inner::Only(ids) if ids.is_empty())
    }

    /// Whether `id` is included.
    #[must_use]
    pub fn contains(&self, id: &T) -> bool {
        match &self.inner {
            Inner::All => true,
            Inner::Only(ids) => ids.binary_search(&key(id)).is_ok(),
        }
    }

    /// The explicit list (sorted), or `None` for "all".
    #[must_use]
    pub fn ids(&self) -> Option<Vec<T>> {
        match &self.inner {
            Inner::All => None,
            Inner::Only(ids) => Some(
                ids.iter()
                    .map(|k| T::from_uuid(Uuid::from_u128(*k)))
                    .collect(),
            ),
        }
    }

    /// The PostgreSQL session form of SPEC 1.2: `*` for all, comma-joined lowercase
    /// hyphenated UUIDs for a list, the empty string for none.
    #[must_use]
    pub fn to_setting(&self) -> String {
        match &self.inner {
            Inner::All => "*".to_owned(),
            Inner::Only(ids) => {
                let mut out = String::with_capacity(ids.len().saturating_mul(37));
                let mut buf = Uuid::encode_buffer();
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(Uuid::from_u128(*id).hyphenated().encode_lower(&mut buf));
                }
                out
            }
        }
    }
}

impl<T: UuidId> Serialize for IdSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_setting())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_dedup_and_rendered_lowercase() {
        let a = OrgId::from_uuid(Uuid::from_u128(0xFF00_0000_0000_4000_8000_0000_0000_00AB));
        let b = OrgId::from_uuid(Uuid::from_u128(0x0100_0000_0000_4000_8000_0000_0000_0001));
        let set = IdSet::collect([a, b, a]);
        assert_eq!(set.ids().unwrap(), [b, a]);
        assert_eq!(set.to_setting(), format!("{b},{a}"));
        assert_eq!(set.to_setting(), set.to_setting().to_lowercase());
        assert!(set.contains(&a) && set.contains(&b));
        assert!(!set.contains(&OrgId::new_random()));
        assert!(IdSet::<OrgId>::none().is_none());
        assert_eq!(IdSet::<OrgId>::none().to_setting(), "");
        assert_eq!(IdSet::<OrgId>::all().to_setting(), "*");
        assert!(IdSet::<OrgId>::all().contains(&a));
    }

    #[test]
    fn intersect_keeps_common_ids() {
        let ids: Vec<OrgId> = (0..10).map(|_| OrgId::new_random()).collect();
        let left = IdSet::collect(ids[..7].iter().copied());
        let right = IdSet::collect(ids[4..].iter().copied().chain([OrgId::new_random()]));
        let both = left.intersect(&right);
        let mut want = ids[4..7].to_vec();
        want.sort();
        assert_eq!(both.ids().unwrap(), want);
        assert_eq!(left.intersect(&IdSet::all()), left);
        assert_eq!(IdSet::all().intersect(&right), right);
        assert!(left.intersect(&IdSet::none()).is_none());
    }
}
