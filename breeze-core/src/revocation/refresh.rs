//! The refresh-reuse decision (SPEC 2.3); documented on [`decide_refresh`].

use time::{Duration, OffsetDateTime};

use super::RefreshBurn;

/// The durable outcome of burning a refresh `jti` (`UPDATE ... SET used_at = now WHERE
/// used_at IS NULL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurableBurn {
    /// First use: burned now.
    Fresh,
    /// Already burned at this time.
    Used(OffsetDateTime),
    /// No such token in this family (never issued, or another family's).
    Unknown,
}

/// What the refresh endpoint does with the presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshDecision {
    /// Issue the new pair (and record which token replaced the burned one).
    Issue,
    /// A reuse inside the race grace: answer 401 `refresh_raced`, revoke nothing.
    Raced,
    /// A reuse: revoke the family (durably and in the cache), audit
    /// `auth.refresh.reuse_detected`, answer 401 `refresh_reused`.
    Reuse,
    /// The durable store does not know this `jti` in this family: answer 401 `invalid_token`.
    InvalidToken,
    /// The revocation cache could not answer: refuse with 503 (fail closed) before touching
    /// the store.
    Unavailable,
}

/// Step 1, before the store is touched: [`RefreshDecision::Unavailable`] when the cache
/// could not answer, otherwise `None` (burn durably, then [`decide_refresh`]).
#[must_use]
pub const fn decide_refresh_before_store(cache: RefreshBurn) -> Option<RefreshDecision> {
    match cache {
        RefreshBurn::Unavailable => Some(RefreshDecision::Unavailable),
        RefreshBurn::Fresh | RefreshBurn::Raced | RefreshBurn::Reused => None,
    }
}

/// The refresh-reuse decision (SPEC 2.3): what to do with a presented refresh token once its
/// `jti` has been burned in the revocation cache and in the durable store.
///
/// A refresh burns the `jti` twice: in the cache ([`RefreshBurn`], from
/// [`RevocationStore::burn_refresh`](super::RevocationStore::burn_refresh)) and in PostgreSQL
/// ([`DurableBurn`]). The decision is taken in two steps, because the store is not touched when
/// the cache cannot answer:
///
/// 1. [`decide_refresh_before_store`]: the cache answered [`RefreshBurn::Unavailable`] →
///    [`RefreshDecision::Unavailable`] (fail closed, 503), before any store write.
/// 2. This function, with the durable burn, the server's `now` and the race `grace` (the
///    server passes [`RACE_GRACE`](super::RACE_GRACE)):
///
/// | durable burn | cache burn | decision |
/// |---|---|---|
/// | `Unknown` (no such `jti` in this family) | any | [`RefreshDecision::InvalidToken`] |
/// | `Fresh` | `Fresh` | [`RefreshDecision::Issue`] |
/// | `Fresh` | `Raced` | [`RefreshDecision::Raced`] |
/// | `Fresh` | `Reused` or `Unavailable` | [`RefreshDecision::Reuse`] |
/// | `Used(at)` | `Reused` | [`RefreshDecision::Reuse`] |
/// | `Used(at)` | otherwise, and `now - at >= grace` | [`RefreshDecision::Reuse`] |
/// | `Used(at)` | otherwise, and `now - at < grace` (a future `at` included) | [`RefreshDecision::Raced`] |
///
/// The grace is judged on both records: the cache's burn age (its `Raced`/`Reused`) and the
/// durable `used_at` (server clock); either one past the grace means reuse. A durable `Fresh`
/// with a cache that says `Reused` (or `Unavailable`, which step 1 has already turned away but
/// which is decided all the same) is reuse: the two records disagree.
///
/// ```
/// use breeze_core::revocation::{decide_refresh, DurableBurn, RefreshBurn, RefreshDecision};
/// use time::{Duration, OffsetDateTime};
///
/// let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let grace = Duration::seconds(15);
/// assert_eq!(decide_refresh(RefreshBurn::Fresh, DurableBurn::Fresh, now, grace), RefreshDecision::Issue);
/// // The same token again, 3 s after it was rotated: a race between two tabs.
/// let used = DurableBurn::Used(now - Duration::seconds(3));
/// assert_eq!(decide_refresh(RefreshBurn::Raced, used, now, grace), RefreshDecision::Raced);
/// // 20 s after: reuse; the server revokes the family and audits it.
/// let used = DurableBurn::Used(now - Duration::seconds(20));
/// assert_eq!(decide_refresh(RefreshBurn::Raced, used, now, grace), RefreshDecision::Reuse);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn decide_refresh(
    cache: RefreshBurn,
    durable: DurableBurn,
    now: OffsetDateTime,
    grace: Duration,
) -> RefreshDecision {
    match durable {
        DurableBurn::Unknown => RefreshDecision::InvalidToken,
        DurableBurn::Fresh => match cache {
            RefreshBurn::Fresh => RefreshDecision::Issue,
            RefreshBurn::Raced => RefreshDecision::Raced,
            RefreshBurn::Reused | RefreshBurn::Unavailable => RefreshDecision::Reuse,
        },
        DurableBurn::Used(used_at) => {
            if cache == RefreshBurn::Reused || now - used_at >= grace {
                RefreshDecision::Reuse
            } else {
                RefreshDecision::Raced
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CACHES: [RefreshBurn; 4] = [
        RefreshBurn::Fresh,
        RefreshBurn::Raced,
        RefreshBurn::Reused,
        RefreshBurn::Unavailable,
    ];

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    const GRACE: Duration = Duration::seconds(15);

    fn used(ago: Duration) -> DurableBurn {
        DurableBurn::Used(now() - ago)
    }

    #[test]
    fn only_an_unavailable_cache_stops_before_the_store() {
        for cache in CACHES {
            let expected =
                (cache == RefreshBurn::Unavailable).then_some(RefreshDecision::Unavailable);
            assert_eq!(decide_refresh_before_store(cache), expected, "{cache:?}");
        }
    }

    #[test]
    fn the_whole_cross_product() {
        use RefreshDecision::{InvalidToken, Issue, Raced, Reuse};
        let durables = [
            ("unknown", DurableBurn::Unknown),
            ("fresh", DurableBurn::Fresh),
            ("used just now", used(Duration::ZERO)),
            ("used 14.999 s ago", used(GRACE - Duration::milliseconds(1))),
            ("used exactly the grace ago", used(GRACE)),
            ("used 1 h ago", used(Duration::hours(1))),
            ("used in the future", used(Duration::seconds(-30))),
        ];
        // One row per durable burn; columns: cache Fresh, Raced, Reused, Unavailable.
        let table: [[RefreshDecision; 4]; 7] = [
            [InvalidToken, InvalidToken, InvalidToken, InvalidToken],
            [Issue, Raced, Reuse, Reuse],
            [Raced, Raced, Reuse, Raced],
            [Raced, Raced, Reuse, Raced],
            [Reuse, Reuse, Reuse, Reuse],
            [Reuse, Reuse, Reuse, Reuse],
            [Raced, Raced, Reuse, Raced],
        ];
        for ((label, durable), row) in durables.into_iter().zip(table) {
            for (cache, expected) in CACHES.into_iter().zip(row) {
                assert_eq!(
                    decide_refresh(cache, durable, now(), GRACE),
                    expected,
                    "durable {label}, cache {cache:?}"
                );
            }
        }
    }

    #[test]
    fn the_grace_is_a_parameter() {
        let durable = used(Duration::seconds(5));
        assert_eq!(
            decide_refresh(RefreshBurn::Raced, durable, now(), Duration::seconds(6)),
            RefreshDecision::Raced
        );
        assert_eq!(
            decide_refresh(RefreshBurn::Raced, durable, now(), Duration::seconds(5)),
            RefreshDecision::Reuse
        );
        assert_eq!(
            decide_refresh(RefreshBurn::Fresh, durable, now(), Duration::ZERO),
            RefreshDecision::Reuse
        );
    }

    #[test]
    fn the_server_grace_converts() {
        assert_eq!(Duration::try_from(crate::revocation::RACE_GRACE), Ok(GRACE));
    }

    /// The server's handler as it was (`server-reference`, routes/auth/session.rs `refresh`),
    /// reduced to its outcome, against the two steps.
    #[test]
    fn matches_the_server_handler() {
        fn server(
            cache: RefreshBurn,
            durable: DurableBurn,
            at: OffsetDateTime,
            grace: Duration,
        ) -> RefreshDecision {
            if cache == RefreshBurn::Unavailable {
                return RefreshDecision::Unavailable;
            }
            let reused = match durable {
                DurableBurn::Unknown => return RefreshDecision::InvalidToken,
                DurableBurn::Fresh => match cache {
                    RefreshBurn::Fresh => false,
                    RefreshBurn::Raced => return RefreshDecision::Raced,
                    RefreshBurn::Reused | RefreshBurn::Unavailable => true,
                },
                DurableBurn::Used(used_at) => cache == RefreshBurn::Reused || at - used_at >= grace,
            };
            if reused {
                return RefreshDecision::Reuse;
            }
            if matches!(durable, DurableBurn::Used(_)) {
                return RefreshDecision::Raced;
            }
            RefreshDecision::Issue
        }
        let durables = [
            DurableBurn::Unknown,
            DurableBurn::Fresh,
            used(Duration::ZERO),
            used(Duration::seconds(14)),
            used(GRACE),
            used(Duration::days(2)),
            used(Duration::seconds(-1)),
        ];
        for cache in CACHES {
            for durable in durables {
                let two_steps = decide_refresh_before_store(cache)
                    .unwrap_or_else(|| decide_refresh(cache, durable, now(), GRACE));
                assert_eq!(
                    two_steps,
                    server(cache, durable, now(), GRACE),
                    "{cache:?} {durable:?}"
                );
            }
        }
    }
}
