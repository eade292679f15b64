//! Audit history for the scale run (`scripts/perf scale`): sealed organization chains,
//! written as PostgreSQL `COPY ... FROM STDIN` text for the `audit_log` table.
//!
//! Every entry is sealed by breeze-core exactly as the server seals one ([`ChainHead`]
//! from genesis, [`ChainHead::append_event`]), so the server verifies the seeded chains
//! like any it wrote itself. The history is deterministic (no randomness): the same plan
//! gives the same rows, and the mix of actions, actors and results is fixed by each
//! entry's position.
//!
//! Each chain continues from where it stands (its stored head: next sequence and head hash,
//! as `audit_chain_heads` holds them), or from genesis for a chain never written.
//!
//! Shape of a plan: `total` entries over the given organizations; the first organization
//! holds `largest_percent` of them (the largest chain, the one whose verification the scale
//! run times), the others share the rest evenly. One actor (the *rare actor*) appears in
//! exactly [`RARE_ACTOR_EVENTS`] entries spread over the whole history: a listing filtered
//! to it must find them without reading the table.
//!
//! ```
//! use breeze_fleet_sim::audit_seed::{SeedPlan, write_copy};
//!
//! use breeze_fleet_sim::audit_seed::parse_starts;
//!
//! let starts = parse_starts(&format!(
//!     "00000000-0000-4000-8000-000000000001\n00000000-0000-4000-8000-000000000002 3 {}\n",
//!     "ab".repeat(32)
//! ))
//! .unwrap();
//! assert_eq!(starts[1].next_seq, 3);
//! let plan = SeedPlan::new(starts, 40, 50, 1_767_225_600).unwrap();
//! let mut out = Vec::new();
//! let summary = write_copy(&plan, &mut out).unwrap();
//! assert_eq!(summary.rows, 40);
//! assert_eq!(summary.largest_chain_len, 20);
//! assert_eq!(String::from_utf8(out).unwrap().lines().count(), 40);
//! ```

use std::io::Write;

use breeze_core::audit::{
    Action, Actor, AuditEvent, AuditResult, ChainHead, ChainId, Digest32, InitiatedBy, Timestamp,
};
use breeze_core::tenancy::{DeviceId, OrgId, UserId};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::SimError;

/// Entries the rare actor appears in.
pub const RARE_ACTOR_EVENTS: u64 = 20;
/// The rare actor (a user id no other entry carries).
pub const RARE_ACTOR: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_7a2e_0000_0001);
/// Distinct users acting in the history.
const USERS: u64 = 2_000;
/// The history spans this many seconds before the plan's end.
const SPAN_SECS: i64 = 300 * 86_400;

/// Where an organization's chain stands before seeding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStart {
    /// The organization.
    pub org: Uuid,
    /// Its next sequence number.
    pub next_seq: u64,
    /// Its head hash (all zero for an empty chain).
    pub head: Digest32,
}

/// Parses chain starts: one per line, `ORG_ID` (an empty chain) or
/// `ORG_ID NEXT_SEQ HEAD_HASH` (as `audit_chain_heads` holds it); blank lines skipped.
///
/// # Errors
/// [`SimError::Argument`] naming the malformed line.
pub fn parse_starts(text: &str) -> Result<Vec<ChainStart>, SimError> {
    let bad = |line: &str| SimError::Argument("--orgs-file", format!("malformed line: {line}"));
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.split_whitespace();
        let org: Uuid = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| bad(line))?;
        let start = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => ChainStart {
                org,
                next_seq: 0,
                head: Digest32::ZERO,
            },
            (Some(seq), Some(hash), None) => ChainStart {
                org,
                next_seq: seq.parse().map_err(|_| bad(line))?,
                head: hash.parse().map_err(|_| bad(line))?,
            },
            _ => return Err(bad(line)),
        };
        out.push(start);
    }
    Ok(out)
}

/// What to write.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    orgs: Vec<ChainStart>,
    total: u64,
    largest_percent: u64,
    end_unix: i64,
}

impl SeedPlan {
    /// A plan of `total` entries over `orgs` (the first holds `largest_percent` of them),
    /// with timestamps in the 300 days before `end_unix` (seconds).
    ///
    /// # Errors
    /// [`SimError::Argument`] for no organizations, a share above 100 % or no entries.
    pub fn new(
        orgs: Vec<ChainStart>,
        total: u64,
        largest_percent: u64,
        end_unix: i64,
    ) -> Result<Self, SimError> {
        if orgs.is_empty() || total == 0 || largest_percent > 100 {
            return Err(SimError::Argument(
                "seed plan",
                "needs organizations, entries and a share of at most 100 %".into(),
            ));
        }
        if orgs.len() == 1 && largest_percent < 100 {
            return Err(SimError::Argument(
                "seed plan",
                "with one organization the largest chain holds every entry (use 100)".into(),
            ));
        }
        Ok(Self {
            orgs,
            total,
            largest_percent,
            end_unix,
        })
    }

    /// Entries of the chain of organization `i`.
    fn chain_len(&self, i: usize) -> u64 {
        let largest = self.total * self.largest_percent / 100;
        if i == 0 {
            return largest;
        }
        let others = self.orgs.len() as u64 - 1;
        let rest = self.total - largest;
        // the remainder goes to the first organizations after the largest
        rest / others + u64::from((i as u64 - 1) < rest % others)
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedSummary {
    /// Rows written.
    pub rows: u64,
    /// Chains written.
    pub chains: u64,
    /// The largest chain's organization.
    pub largest_org: Uuid,
    /// Its length.
    pub largest_chain_len: u64,
    /// The rare actor.
    pub rare_actor: Uuid,
    /// Entries it appears in.
    pub rare_actor_events: u64,
    /// Entries with result `denied`.
    pub denied: u64,
}

/// The event at global position `k` (of `total`) in organization `org`'s chain.
fn event_at(k: u64, total: u64, at: Timestamp) -> Result<AuditEvent, SimError> {
    let rare_every = (total / RARE_ACTOR_EVENTS).max(1);
    let user = if k % rare_every == rare_every / 2 && k / rare_every < RARE_ACTOR_EVENTS {
        RARE_ACTOR
    } else {
        Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 | u128::from(k % USERS))
    };
    let device =
        Uuid::from_u128(0x2000_0000_0000_4000_8000_0000_0000_0000 | u128::from(k % 100_003));
    let result = match k % 1000 {
        999 => AuditResult::Denied,
        n if n % 50 == 7 => AuditResult::Failure,
        _ => AuditResult::Success,
    };
    let (actor, action, resource, details) = match k % 10 {
        0..=3 => (
            Actor::User(UserId::from_uuid(user)),
            "device.command.execute",
            "device",
            json!({"command": "run_script", "timeoutSecs": 300, "n": k}),
        ),
        4 | 5 => (
            Actor::User(UserId::from_uuid(user)),
            "user.login",
            "user",
            json!({"method": "password", "mfa": true}),
        ),
        6 | 7 => (
            Actor::Agent(DeviceId::from_uuid(device)),
            "device.patch.install",
            "device",
            json!({"kb": format!("KB{}", 5_000_000 + k % 9_973), "reboot": false}),
        ),
        8 => (
            Actor::User(UserId::from_uuid(user)),
            "remote.session.start",
            "remote_session",
            json!({"kind": "terminal"}),
        ),
        _ => (
            Actor::System,
            "device.offline",
            "device",
            json!({"afterSecs": 900}),
        ),
    };
    let resource_id = if resource == "user" { user } else { device };
    let mut b = AuditEvent::builder(
        actor,
        Action::new(action).map_err(local)?,
        result,
        if matches!(actor, Actor::Agent(_)) {
            InitiatedBy::Agent
        } else {
            InitiatedBy::Manual
        },
        at,
    )
    .resource_type(resource)
    .resource_id(resource_id.to_string())
    .details(&details);
    if result == AuditResult::Failure {
        b = b.error_message("the device did not answer in time");
    }
    b.build().map_err(local)
}

fn local(e: impl std::fmt::Display) -> SimError {
    SimError::Local(e.to_string())
}

/// Escapes a value for PostgreSQL's COPY text format.
fn copy_escape(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Writes the plan's rows as COPY text for
/// `COPY audit_log (chain_key, seq, org_id, entry) FROM STDIN`, chain after chain.
///
/// # Errors
/// [`SimError::Local`] when an entry cannot be built or sealed or the output refuses a write.
pub fn write_copy<W: Write>(plan: &SeedPlan, out: &mut W) -> Result<SeedSummary, SimError> {
    let span_start = plan.end_unix - SPAN_SECS;
    let mut k = 0u64;
    let mut denied = 0u64;
    let mut rare = 0u64;
    let mut line = Vec::with_capacity(2048);
    for (i, start) in plan.orgs.iter().enumerate() {
        let len = plan.chain_len(i);
        let mut head = ChainHead::resume(
            ChainId::Org(OrgId::from_uuid(start.org)),
            start.next_seq,
            start.head,
        );
        let key = start.org.to_string();
        for seq in 0..len {
            // spread each chain's timestamps over the span, in order
            let offset = i128::from(seq) * i128::from(SPAN_SECS) * 1_000_000 / i128::from(len);
            let micros = i64::try_from(i128::from(span_start) * 1_000_000 + offset)
                .map_err(|_| SimError::Argument("seed plan", "timestamp overflow".into()))?;
            let at = Timestamp::from_unix_micros(micros).map_err(local)?;
            let event = event_at(k, plan.total, at)?;
            if event.result() == AuditResult::Denied {
                denied += 1;
            }
            if event.actor().id() == Some(&RARE_ACTOR) {
                rare += 1;
            }
            let entry = head.append_event(event).map_err(local)?;
            let json = serde_json::to_string(&entry).map_err(local)?;
            line.clear();
            line.extend_from_slice(key.as_bytes());
            line.push(b'\t');
            line.extend_from_slice(entry.sequence.to_string().as_bytes());
            line.push(b'\t');
            line.extend_from_slice(key.as_bytes());
            line.push(b'\t');
            copy_escape(&json, &mut line);
            line.push(b'\n');
            out.write_all(&line).map_err(local)?;
            k += 1;
        }
    }
    Ok(SeedSummary {
        rows: k,
        chains: plan.orgs.len() as u64,
        largest_org: plan.orgs.first().map_or(Uuid::nil(), |s| s.org),
        largest_chain_len: plan.chain_len(0),
        rare_actor: RARE_ACTOR,
        rare_actor_events: rare,
        denied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(total: u64) -> SeedPlan {
        let orgs = (1..=7).map(|n| genesis(Uuid::from_u128(n))).collect();
        SeedPlan::new(orgs, total, 10, 1_767_225_600).unwrap()
    }

    fn genesis(org: Uuid) -> ChainStart {
        ChainStart {
            org,
            next_seq: 0,
            head: Digest32::ZERO,
        }
    }

    #[test]
    fn chain_lengths_add_up_and_the_first_is_the_largest_share() {
        let p = plan(1_003);
        let lens: Vec<u64> = (0..7).map(|i| p.chain_len(i)).collect();
        assert_eq!(lens.iter().sum::<u64>(), 1_003);
        assert_eq!(lens[0], 100);
        assert_eq!(lens[1..], [151, 151, 151, 150, 150, 150]);
    }

    #[test]
    fn the_rare_actor_appears_exactly_its_count_and_denials_are_rare() {
        let mut out = Vec::new();
        let s = write_copy(&plan(20_000), &mut out).unwrap();
        assert_eq!(s.rows, 20_000);
        assert_eq!(s.rare_actor_events, RARE_ACTOR_EVENTS);
        assert_eq!(s.denied, 20);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches(&RARE_ACTOR.to_string()).count(), 20);
    }

    #[test]
    fn rows_are_sealed_chains_that_breeze_core_verifies() {
        let mut out = Vec::new();
        write_copy(&plan(300), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut last: Option<(String, breeze_core::audit::ChainVerifier)> = None;
        let mut verified = 0;
        for line in text.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4);
            assert_eq!(cols[0], cols[2]);
            // COPY text: the JSON's backslashes are doubled
            let json = cols[3].replace("\\\\", "\\");
            let entry: breeze_core::audit::Entry = serde_json::from_str(&json).unwrap();
            assert_eq!(entry.sequence.to_string(), cols[1]);
            if last.as_ref().is_none_or(|(k, _)| k != cols[0]) {
                if let Some((_, v)) = last.take() {
                    assert!(v.finish().is_ok());
                }
                let org = OrgId::from_uuid(cols[0].parse().unwrap());
                last = Some((
                    cols[0].to_owned(),
                    breeze_core::audit::ChainVerifier::new(
                        ChainId::Org(org),
                        breeze_core::audit::KeyRing::new(),
                    ),
                ));
            }
            if let Some((_, v)) = last.as_mut() {
                v.push_entry(&entry).unwrap();
            }
            verified += 1;
        }
        assert!(last.unwrap().1.finish().is_ok());
        assert_eq!(verified, 300);
    }

    #[test]
    fn a_chain_continues_from_its_stored_head() {
        let head: Digest32 = "ab".repeat(32).parse().unwrap();
        let starts = vec![
            ChainStart {
                org: Uuid::from_u128(1),
                next_seq: 5,
                head,
            },
            genesis(Uuid::from_u128(2)),
        ];
        let mut out = Vec::new();
        write_copy(
            &SeedPlan::new(starts, 4, 50, 1_767_225_600).unwrap(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let first = text.lines().next().unwrap();
        let cols: Vec<&str> = first.split('\t').collect();
        assert_eq!(cols[1], "5");
        let entry: breeze_core::audit::Entry = serde_json::from_str(cols[3]).unwrap();
        assert_eq!(entry.prev_hash, head);
        assert!(entry.seal_is_valid());
    }

    #[test]
    fn bad_plans_are_refused() {
        assert!(SeedPlan::new(vec![], 10, 10, 0).is_err());
        let one = || genesis(Uuid::from_u128(1));
        let two = || genesis(Uuid::from_u128(2));
        assert!(SeedPlan::new(vec![one()], 10, 10, 0).is_err());
        assert!(SeedPlan::new(vec![one(), two()], 0, 10, 0).is_err());
        assert!(SeedPlan::new(vec![one(), two()], 10, 101, 0).is_err());
        assert!(parse_starts("not-a-uuid\n").is_err());
        assert!(parse_starts("00000000-0000-4000-8000-000000000001 3\n").is_err());
        assert!(parse_starts("00000000-0000-4000-8000-000000000001 x 00\n").is_err());
    }

    #[test]
    fn copy_text_escapes_backslashes_and_control_characters() {
        let mut out = Vec::new();
        copy_escape("a\\b\tc\nd\re", &mut out);
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re");
    }
}
