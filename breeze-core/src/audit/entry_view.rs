//! The borrowed parse of a bundle's entry line: `{"entry":{...,"event":{...}}}` read into a
//! view whose strings point into the line (copied only when they hold escapes) and whose
//! details are written as canonical JSON while they are parsed (`details_stream`), so the
//! verifier hashes the line without building an owned [`Entry`].
//!
//! The view is a fast path, not a second definition of the format: it reads the same fields
//! with the same field types (`ChainId`, `Digest32`, `Uuid`, `IpAddr`, `Timestamp` and the
//! wire enums keep their own `Deserialize`), applies the same event checks
//! (`event::check_action`, `event::check_text_fields`, `Actor::from_parts`) and writes the
//! canonical bytes with the same encoder (`canonical::put_event_parts`). Whatever it does
//! not take (another kind of line, a retention record, an event given as an array, details
//! it cannot write as the owned path would, any error at all) makes it decline, and the
//! bundle reader then parses the line the owned way, which gives the verdict and the error.
//! So a line verifies or fails exactly as before; [`check_against_owned`] tests that what
//! the view accepts, the owned parse accepts with the same fields and canonical bytes.

use std::fmt;
use std::net::IpAddr;

use serde::de::{DeserializeSeed, Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::canonical::{self, EventParts, KIND_EVENT, SealedFields};
use super::chain::{Entry, EntryBody};
use super::chain_id::ChainId;
use super::details_stream::DetailsSeed;
use super::event::{self, Actor, ActorType, AuditResult, InitiatedBy};
use super::hash::{ChainHash, Digest32};
use super::retention::RetentionRecord;
use super::strvisit::CowStr;
use super::timestamp::Timestamp;

/// An event line's fields as parsed, strings borrowed from the line.
struct EventView<'a> {
    actor_type: ActorType,
    actor_id: Option<Uuid>,
    action: CowStr<'a>,
    resource_type: CowStr<'a>,
    resource_id: Option<CowStr<'a>>,
    result: AuditResult,
    ip: Option<IpAddr>,
    user_agent: Option<CowStr<'a>>,
    error_message: Option<CowStr<'a>>,
    initiated_by: InitiatedBy,
    timestamp: Timestamp,
}

/// An entry line's fields as parsed.
struct EntryView<'a> {
    chain: ChainId,
    sequence: u64,
    prev_hash: ChainHash,
    event: EventView<'a>,
    content_hash: Option<Digest32>,
    chain_hash: Option<ChainHash>,
}

/// A validated event entry borrowed from its bundle line, with the canonical JSON of its
/// details: what [`ChainVerifier`](super::verify::ChainVerifier) verifies.
pub(crate) struct EntryRef<'a> {
    view: EntryView<'a>,
    actor: Actor,
    details: &'a [u8],
}

impl SealedFields for EntryRef<'_> {
    fn chain(&self) -> ChainId {
        self.view.chain
    }
    fn sequence(&self) -> u64 {
        self.view.sequence
    }
    fn prev_hash(&self) -> ChainHash {
        self.view.prev_hash
    }
    fn seal(&self) -> (Option<Digest32>, Option<ChainHash>) {
        (self.view.content_hash, self.view.chain_hash)
    }
    fn retention(&self) -> Option<&RetentionRecord> {
        None
    }
    fn encode(&self, out: &mut Vec<u8>) {
        let (v, e) = (&self.view, &self.view.event);
        canonical::put_entry_head(
            out,
            KIND_EVENT,
            &v.chain,
            v.sequence,
            &v.prev_hash,
            e.timestamp,
        );
        let parts = EventParts {
            actor: self.actor,
            action: e.action.as_str(),
            resource_type: e.resource_type.as_str(),
            resource_id: e.resource_id.as_ref().map(CowStr::as_str),
            result: e.result,
            ip: e.ip,
            user_agent: e.user_agent.as_ref().map(CowStr::as_str),
            error_message: e.error_message.as_ref().map(CowStr::as_str),
            initiated_by: e.initiated_by,
        };
        canonical::put_event_parts(out, &parts, |out| out.extend_from_slice(self.details));
    }
}

/// Parses an entry line the borrowed way, writing the details' canonical JSON into
/// `details` (cleared first). `None`: not a line the view takes (see the module docs); parse
/// it the owned way.
pub(crate) fn parse_entry_line<'a>(
    line: &'a [u8],
    details: &'a mut Vec<u8>,
) -> Option<EntryRef<'a>> {
    let text = std::str::from_utf8(line).ok()?;
    details.clear();
    let mut de = serde_json::Deserializer::from_str(text);
    let view = LineSeed {
        details: &mut *details,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    let e = &view.event;
    let actor = Actor::from_parts(e.actor_type, e.actor_id).ok()?;
    event::check_action(e.action.as_str()).ok()?;
    event::check_text_fields(
        e.resource_type.as_str(),
        e.resource_id.as_ref().map(CowStr::as_str),
        e.user_agent.as_ref().map(CowStr::as_str),
        e.error_message.as_ref().map(CowStr::as_str),
    )
    .ok()?;
    Some(EntryRef {
        view,
        actor,
        details,
    })
}

/// Checks one line both ways: when the borrowed parse takes it, the owned parse must take
/// it too, as an event entry with the same fields and the same canonical bytes. `Ok(true)`:
/// both took it and agree; `Ok(false)`: the borrowed parse declined (the owned one decides);
/// `Err`: they disagree. For the differential tests and the fuzz target.
///
/// # Errors
/// A description of the disagreement.
#[doc(hidden)]
pub fn check_against_owned(line: &[u8]) -> Result<bool, String> {
    let mut details = Vec::new();
    let Some(view) = parse_entry_line(line, &mut details) else {
        return Ok(false);
    };
    let owned: Entry = match super::export::parse_entry_owned(line) {
        Ok(Some(e)) => e,
        Ok(None) => return Err("borrowed parse took a line that is not an entry".to_owned()),
        Err(e) => {
            return Err(format!(
                "borrowed parse took a line the owned one refuses: {e}"
            ));
        }
    };
    if !matches!(owned.body, EntryBody::Event(_)) {
        return Err("borrowed parse took a retention entry".to_owned());
    }
    let same = view.chain() == owned.chain
        && view.sequence() == owned.sequence
        && view.prev_hash() == owned.prev_hash
        && view.seal() == (owned.content_hash, owned.chain_hash);
    if !same {
        return Err("fields differ".to_owned());
    }
    let mut borrowed = Vec::new();
    view.encode(&mut borrowed);
    if borrowed != owned.canonical_bytes() {
        return Err(format!(
            "canonical bytes differ: borrowed {borrowed:02x?}, owned {:02x?}",
            owned.canonical_bytes()
        ));
    }
    Ok(true)
}

/// Takes a value once, as serde's derive does (a repeated field is an error).
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(A::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn required<T, E: Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

/// `{"entry": {...}}` and nothing else.
struct LineSeed<'s> {
    details: &'s mut Vec<u8>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum LineKey {
    Entry,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = EntryView<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = EntryView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(LineKey::Entry) = map.next_key::<LineKey>()? else {
            return Err(A::Error::custom("empty line object"));
        };
        let entry = map.next_value_seed(EntrySeed {
            details: self.details,
        })?;
        if map.next_key::<LineKey>()?.is_some() {
            return Err(A::Error::custom("more than one key"));
        }
        Ok(entry)
    }
}

/// The entry object (event entries only: a `retention` key declines).
struct EntrySeed<'s> {
    details: &'s mut Vec<u8>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EntryKey {
    Chain,
    Sequence,
    PrevHash,
    Event,
    Retention,
    ContentHash,
    ChainHash,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = EntryView<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = EntryView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut chain, mut sequence, mut prev_hash, mut event) = (None, None, None, None);
        let (mut content_hash, mut chain_hash) = (None, None);
        while let Some(key) = map.next_key::<EntryKey>()? {
            match key {
                EntryKey::Chain => once(&mut chain, &mut map, "chain")?,
                EntryKey::Sequence => once(&mut sequence, &mut map, "sequence")?,
                EntryKey::PrevHash => once(&mut prev_hash, &mut map, "prev_hash")?,
                EntryKey::ContentHash => once(&mut content_hash, &mut map, "content_hash")?,
                EntryKey::ChainHash => once(&mut chain_hash, &mut map, "chain_hash")?,
                EntryKey::Event => {
                    if event.is_some() {
                        return Err(A::Error::duplicate_field("event"));
                    }
                    event = Some(map.next_value_seed(EventSeed {
                        details: &mut *self.details,
                    })?);
                }
                EntryKey::Retention => return Err(A::Error::custom("retention entry")),
            }
        }
        Ok(EntryView {
            chain: required(chain, "chain")?,
            sequence: required(sequence, "sequence")?,
            prev_hash: required(prev_hash, "prev_hash")?,
            event: required(event, "event")?,
            content_hash: content_hash.flatten(),
            chain_hash: chain_hash.flatten(),
        })
    }
}

/// The event object; its details go to `details` as canonical JSON.
struct EventSeed<'s> {
    details: &'s mut Vec<u8>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EventKey {
    ActorType,
    ActorId,
    Action,
    ResourceType,
    ResourceId,
    Result,
    Ip,
    UserAgent,
    Details,
    ErrorMessage,
    InitiatedBy,
    Timestamp,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = EventView<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = EventView<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut actor_type, mut actor_id, mut action, mut resource_type) =
            (None, None, None, None);
        let (mut resource_id, mut result, mut ip, mut user_agent) = (None, None, None, None);
        let (mut error_message, mut initiated_by, mut timestamp) = (None, None, None);
        let mut details = false;
        while let Some(key) = map.next_key::<EventKey>()? {
            match key {
                EventKey::ActorType => once(&mut actor_type, &mut map, "actor_type")?,
                EventKey::ActorId => once(&mut actor_id, &mut map, "actor_id")?,
                EventKey::Action => once(&mut action, &mut map, "action")?,
                EventKey::ResourceType => once(&mut resource_type, &mut map, "resource_type")?,
                EventKey::ResourceId => once(&mut resource_id, &mut map, "resource_id")?,
                EventKey::Result => once(&mut result, &mut map, "result")?,
                EventKey::Ip => once(&mut ip, &mut map, "ip")?,
                EventKey::UserAgent => once(&mut user_agent, &mut map, "user_agent")?,
                EventKey::ErrorMessage => once(&mut error_message, &mut map, "error_message")?,
                EventKey::InitiatedBy => once(&mut initiated_by, &mut map, "initiated_by")?,
                EventKey::Timestamp => once(&mut timestamp, &mut map, "timestamp")?,
                EventKey::Details => {
                    if details {
                        return Err(A::Error::duplicate_field("details"));
                    }
                    map.next_value_seed(DetailsSeed {
                        out: &mut *self.details,
                    })?;
                    details = true;
                }
            }
        }
        if !details {
            return Err(A::Error::missing_field("details"));
        }
        Ok(EventView {
            actor_type: required(actor_type, "actor_type")?,
            actor_id: actor_id.flatten(),
            action: required(action, "action")?,
            resource_type: required(resource_type, "resource_type")?,
            resource_id: resource_id.flatten(),
            result: required(result, "result")?,
            ip: ip.flatten(),
            user_agent: user_agent.flatten(),
            error_message: error_message.flatten(),
            initiated_by: required(initiated_by, "initiated_by")?,
            timestamp: required(timestamp, "timestamp")?,
        })
    }
}
