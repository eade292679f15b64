//! The export bundle: a self-contained, versioned, line-oriented file of one chain, and its
//! offline verifier.
//!
//! # Format (version 1)
//! UTF-8 JSON Lines. Line 1 is the header:
//!
//! ```json
//! {"format":"breeze-audit-bundle","version":1,"canonical_version":1,"chain":"<org uuid or system>",
//!  "created_at":"2026-01-01T00:00:00.000000Z","keys":[{"key_id":"k1","public_key":"<64 hex>"}],
//!  "anchor":null}
//! ```
//!
//! `anchor` is the checkpoint a pruned chain starts from (or `null` from genesis). Then, in
//! sequence order, one line per entry `{"entry":{...}}`, each signed checkpoint right after
//! the entry it signs `{"checkpoint":{...}}`, and last the trailer
//! `{"end":{"entries":N,"checkpoints":M}}`. Lines are at most [`MAX_LINE_BYTES`] long.
//!
//! The keys in the header make the file self-contained, but an attacker who rewrites a
//! bundle can put their own key there: pass the keys you trust in
//! [`BundleOptions::trusted_keys`] and the header keys are ignored (the report says which
//! were used in `keys_trusted`).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::canonical::CANONICAL_VERSION;
use super::chain::Entry;
use super::chain_id::ChainId;
use super::checkpoint::{Checkpoint, CheckpointError, KeyRing, PublicKeyWire};
use super::entry_view;
use super::hash::ChainHash;
use super::timestamp::Timestamp;
use super::verify::{BreakKind, ChainBreak, ChainVerifier};

/// The `format` value of the header.
pub const BUNDLE_FORMAT: &str = "breeze-audit-bundle";
/// The bundle format version this library writes and reads.
pub const BUNDLE_VERSION: u32 = 1;
/// Longest line accepted, in bytes (entries are bounded far below it).
pub const MAX_LINE_BYTES: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    canonical_version: u8,
    chain: ChainId,
    created_at: Timestamp,
    keys: Vec<PublicKeyWire>,
    anchor: Option<Checkpoint>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    entries: u64,
    checkpoints: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum LineRef<'a> {
    Entry(&'a Entry),
    Checkpoint(&'a Checkpoint),
    End(Trailer),
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Line {
    Entry(Entry),
    Checkpoint(Checkpoint),
    End(Trailer),
}

/// Writes a bundle line by line, in constant memory.
#[derive(Debug)]
pub struct BundleWriter<W: Write> {
    w: W,
    entries: u64,
    checkpoints: u64,
}

impl<W: Write> BundleWriter<W> {
    /// Writes the header.
    ///
    /// # Errors
    /// I/O errors of `w`.
    pub fn new(
        mut w: W,
        chain: ChainId,
        keys: &KeyRing,
        anchor: Option<&Checkpoint>,
        created_at: Timestamp,
    ) -> std::io::Result<Self> {
        let header = Header {
            format: BUNDLE_FORMAT.to_owned(),
            version: BUNDLE_VERSION,
            canonical_version: CANONICAL_VERSION,
            chain,
            created_at,
            keys: keys.to_wire(),
            anchor: anchor.cloned(),
        };
        serde_json::to_writer(&mut w, &header)?;
        w.write_all(b"\n")?;
        Ok(Self {
            w,
            entries: 0,
            checkpoints: 0,
        })
    }

    fn line(&mut self, line: &LineRef<'_>) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.w, line)?;
        self.w.write_all(b"\n")
    }

    /// Writes the next entry.
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn write_entry(&mut self, e: &Entry) -> std::io::Result<()> {
        self.line(&LineRef::Entry(e))?;
        self.entries = self.entries.saturating_add(1);
        Ok(())
    }

    /// Writes a checkpoint (right after the entry it signs).
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn write_checkpoint(&mut self, cp: &Checkpoint) -> std::io::Result<()> {
        self.line(&LineRef::Checkpoint(cp))?;
        self.checkpoints = self.checkpoints.saturating_add(1);
        Ok(())
    }

    /// Writes the trailer, flushes and returns the writer.
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        let t = Trailer {
            entries: self.entries,
            checkpoints: self.checkpoints,
        };
        self.line(&LineRef::End(t))?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// What the verifier should trust beyond the bundle itself.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// Verify checkpoints with these keys only (the header's keys are then ignored).
    pub trusted_keys: Option<KeyRing>,
    /// Checkpoints kept from before: the bundle must contain their heads.
    pub trusted_checkpoints: Vec<Checkpoint>,
}

/// Options given as JSON that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BundleOptionsError {
    /// Not the expected JSON shape.
    #[error("invalid bundle options: {detail}")]
    Json {
        /// The parser's message.
        detail: String,
    },
    /// A trusted key that cannot be used.
    #[error("invalid trusted key: {0}")]
    Key(#[from] CheckpointError),
}

impl BundleOptionsError {
    /// A stable machine code (snake_case) for the bindings.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Json { .. } => "json",
            Self::Key(_) => "key",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleOptionsWire {
    #[serde(default)]
    trusted_keys: Option<Vec<PublicKeyWire>>,
    #[serde(default)]
    trusted_checkpoints: Vec<Checkpoint>,
}

impl BundleOptions {
    /// Options from JSON, the form the bindings pass:
    /// `{"trusted_keys": [{"key_id": "k1", "public_key": "<64 hex>"}] | null,
    ///   "trusted_checkpoints": [<checkpoint>, ...]}` (both optional).
    ///
    /// # Errors
    /// [`BundleOptionsError`] for another shape or an unusable key.
    pub fn from_json(json: &[u8]) -> Result<Self, BundleOptionsError> {
        if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(BundleOptionsError::Json {
                detail: "expected a JSON object".to_owned(),
            });
        }
        let w: BundleOptionsWire =
            serde_json::from_slice(json).map_err(|e| BundleOptionsError::Json {
                detail: e.to_string(),
            })?;
        Ok(Self {
            trusted_keys: w
                .trusted_keys
                .as_deref()
                .map(KeyRing::from_wire)
                .transpose()?,
            trusted_checkpoints: w.trusted_checkpoints,
        })
    }
}

/// Where and why a bundle failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleBreak {
    /// The kind of break.
    pub kind: BreakKind,
    /// The chain, when the header could be read.
    pub chain: Option<ChainId>,
    /// The first sequence that cannot be trusted, when known.
    pub sequence: Option<u64>,
    /// 1-based line of the bundle where it was detected.
    pub line: u64,
    /// What was seen.
    pub detail: String,
}

/// The result of verifying a bundle: `ok`, or the first break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleReport {
    /// Whether everything verified.
    pub ok: bool,
    /// The chain, when the header could be read.
    pub chain: Option<ChainId>,
    /// Whether checkpoints were verified with caller-supplied keys (`false`: the bundle's own).
    pub keys_trusted: bool,
    /// Entry lines read (up to the break).
    pub entries: u64,
    /// Checkpoint lines read (up to the break).
    pub checkpoints: u64,
    /// First sequence verified.
    pub first_sequence: Option<u64>,
    /// Last sequence verified (only when `ok`).
    pub last_sequence: Option<u64>,
    /// Head hash of the chain (only when `ok`).
    pub head_hash: Option<ChainHash>,
    /// Highest sequence removed by a verified retention record.
    pub pruned_through: Option<u64>,
    /// The first break, when not `ok`.
    #[serde(rename = "break")]
    pub first_break: Option<BundleBreak>,
}

impl BundleReport {
    fn failed(chain: Option<ChainId>, line: u64, b: BundleBreak, counts: (u64, u64)) -> Self {
        Self {
            ok: false,
            chain,
            keys_trusted: false,
            entries: counts.0,
            checkpoints: counts.1,
            first_sequence: None,
            last_sequence: None,
            head_hash: None,
            pruned_through: None,
            first_break: Some(BundleBreak { line, ..b }),
        }
    }
}

fn header_break(detail: &str) -> BundleReport {
    BundleReport::failed(
        None,
        1,
        BundleBreak {
            kind: BreakKind::Malformed,
            chain: None,
            sequence: None,
            line: 1,
            detail: detail.to_owned(),
        },
        (0, 0),
    )
}

/// Reads one line into `buf` (without the newline); `Ok(false)` at end of input.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>) -> Result<bool, String> {
    buf.clear();
    let limit = u64::try_from(MAX_LINE_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let n = std::io::Read::take(&mut *r, limit)
        .read_until(b'\n', buf)
        .map_err(|e| format!("read error: {e}"))?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > MAX_LINE_BYTES {
        return Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
    }
    Ok(true)
}

/// Hands the next line (without its newline) to `parse`, `Ok(None)` at end of input. A line
/// that lies whole in the reader's buffer is parsed where it lies; one that crosses the
/// buffer's end, or ends the input without a newline, is copied into `buf` first.
fn next_line<R: BufRead, T>(
    r: &mut R,
    buf: &mut Vec<u8>,
    parse: impl FnOnce(&[u8]) -> T,
) -> Result<Option<T>, String> {
    let available = r.fill_buf().map_err(|e| format!("read error: {e}"))?;
    if let Some(end) = memchr::memchr(b'\n', available).filter(|&end| end <= MAX_LINE_BYTES) {
        let parsed = parse(available.get(..end).unwrap_or_default());
        r.consume(end + 1);
        return Ok(Some(parsed));
    }
    if read_line(r, buf)? {
        Ok(Some(parse(buf)))
    } else {
        Ok(None)
    }
}

/// Parses one line after the header. One UTF-8 check of the line is cheaper than serde_json's
/// check of each string in it.
fn parse_line(bytes: &[u8]) -> Result<Line, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("line is not utf-8: {e}"))?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The owned parse of an entry line: `Ok(None)` for another kind of line. The reference the
/// borrowed parse (`entry_view`) is checked against.
pub(crate) fn parse_entry_owned(bytes: &[u8]) -> Result<Option<Entry>, String> {
    match parse_line(bytes)? {
        Line::Entry(e) => Ok(Some(e)),
        Line::Checkpoint(_) | Line::End(_) => Ok(None),
    }
}

/// What one line after the header did.
enum Step {
    Entry(Result<(), ChainBreak>),
    Checkpoint(Result<(), ChainBreak>),
    End(Trailer),
    Invalid(String),
    AfterEnd,
}

/// Which parse reads entry lines.
#[derive(Clone, Copy)]
enum Parse {
    /// The borrowed view first (`entry_view`), the owned parse for what it declines.
    Borrowed,
    /// The owned parse only: the reference.
    Owned,
}

/// Parses one line after the header and feeds it to the verifier (inside the reader's
/// buffer, where the borrowed view can point).
fn step(
    bytes: &[u8],
    v: &mut ChainVerifier,
    details: &mut Vec<u8>,
    parse: Parse,
    after_end: bool,
) -> Step {
    if after_end {
        return Step::AfterEnd;
    }
    if matches!(parse, Parse::Borrowed)
        && let Some(e) = entry_view::parse_entry_line(bytes, details)
    {
        return Step::Entry(v.push_view(&e));
    }
    match parse_line(bytes) {
        Ok(Line::Entry(e)) => Step::Entry(v.push_entry(&e)),
        Ok(Line::Checkpoint(cp)) => Step::Checkpoint(v.push_checkpoint(&cp)),
        Ok(Line::End(t)) => Step::End(t),
        Err(e) => Step::Invalid(e),
    }
}

fn from_chain_break(b: ChainBreak, line: u64) -> BundleBreak {
    BundleBreak {
        kind: b.kind,
        chain: Some(b.chain),
        sequence: Some(b.sequence),
        line,
        detail: b.detail,
    }
}

/// Verifies a bundle read from `reader`, streaming, in memory independent of its length.
#[must_use]
pub fn verify_bundle<R: BufRead>(reader: R, options: &BundleOptions) -> BundleReport {
    verify_with(reader, options, Parse::Borrowed)
}

/// [`verify_bundle`] parsing every line into owned values: the reference the borrowed parse
/// is tested against (same report, byte for byte, on every input). Not for production use:
/// slower, same result.
#[doc(hidden)]
#[must_use]
pub fn verify_bundle_owned<R: BufRead>(reader: R, options: &BundleOptions) -> BundleReport {
    verify_with(reader, options, Parse::Owned)
}

fn verify_with<R: BufRead>(mut reader: R, options: &BundleOptions, parse: Parse) -> BundleReport {
    let mut buf = Vec::with_capacity(1024);
    match read_line(&mut reader, &mut buf) {
        Ok(true) => {}
        Ok(false) => return header_break("empty input: no header line"),
        Err(e) => return header_break(&e),
    }
    let header: Header = match serde_json::from_slice(&buf) {
        Ok(h) => h,
        Err(e) => return header_break(&format!("invalid header: {e}")),
    };
    if header.format != BUNDLE_FORMAT {
        return header_break("not a breeze audit bundle");
    }
    if header.version != BUNDLE_VERSION || header.canonical_version != CANONICAL_VERSION {
        return header_break(&format!(
            "unsupported bundle version {} (canonical {}): this library reads {BUNDLE_VERSION} ({CANONICAL_VERSION})",
            header.version, header.canonical_version
        ));
    }
    let chain = Some(header.chain);
    let (keys, keys_trusted) = match &options.trusted_keys {
        Some(k) => (k.clone(), true),
        None => match KeyRing::from_wire(&header.keys) {
            Ok(k) => (k, false),
            Err(e) => return header_break(&format!("invalid key in header: {e}")),
        },
    };
    let started = match &header.anchor {
        Some(a) if a.chain != header.chain => Err(ChainBreak {
            kind: BreakKind::CheckpointInvalid,
            chain: header.chain,
            sequence: a.sequence,
            detail: "anchor checkpoint of another chain".to_owned(),
        }),
        Some(a) => ChainVerifier::from_anchor(a, keys),
        None => Ok(ChainVerifier::new(header.chain, keys)),
    }
    .and_then(|v| v.with_trusted_checkpoints(options.trusted_checkpoints.iter().cloned()));
    let mut v = match started {
        Ok(v) => v,
        Err(b) => return BundleReport::failed(chain, 1, from_chain_break(b, 1), (0, 0)),
    };
    let (mut entries, mut checkpoints, mut line_no) = (0u64, 0u64, 1u64);
    let mut trailer: Option<Trailer> = None;
    let broken = |b: ChainBreak, line: u64, counts: (u64, u64)| {
        let mut r = BundleReport::failed(chain, line, from_chain_break(b, line), counts);
        r.keys_trusted = keys_trusted;
        r
    };
    let fail = |v: &mut ChainVerifier, b: Option<ChainBreak>, detail: String, line: u64, counts| {
        broken(b.unwrap_or_else(|| v.fail_malformed(detail)), line, counts)
    };
    let mut details = Vec::with_capacity(256);
    loop {
        let after_end = trailer.is_some();
        let next = next_line(&mut reader, &mut buf, |bytes| {
            step(bytes, &mut v, &mut details, parse, after_end)
        });
        let stepped = match next {
            Ok(Some(stepped)) => stepped,
            Ok(None) => break,
            Err(e) => return fail(&mut v, None, e, line_no + 1, (entries, checkpoints)),
        };
        line_no += 1;
        let result = match stepped {
            Step::AfterEnd => {
                return fail(
                    &mut v,
                    None,
                    "data after the end line".to_owned(),
                    line_no,
                    (entries, checkpoints),
                );
            }
            Step::Entry(r) => {
                entries += 1;
                r
            }
            Step::Checkpoint(r) => {
                checkpoints += 1;
                r
            }
            Step::End(t) => {
                trailer = Some(t);
                Ok(())
            }
            Step::Invalid(e) => {
                return fail(
                    &mut v,
                    None,
                    format!("invalid line: {e}"),
                    line_no,
                    (entries, checkpoints),
                );
            }
        };
        if let Err(b) = result {
            return fail(
                &mut v,
                Some(b),
                String::new(),
                line_no,
                (entries, checkpoints),
            );
        }
    }
    let end_line = line_no + 1;
    match trailer {
        None => {
            let b = match v.finish() {
                Err(b) => b,
                Ok(s) => ChainBreak {
                    kind: BreakKind::Truncated,
                    chain: header.chain,
                    sequence: s
                        .last_sequence
                        .map_or(s.first_sequence, |l| l.saturating_add(1)),
                    detail: "bundle ends without its end line".to_owned(),
                },
            };
            return broken(b, end_line, (entries, checkpoints));
        }
        Some(t) if t.entries != entries || t.checkpoints != checkpoints => {
            return fail(
                &mut v,
                None,
                format!(
                    "end line counts {} entries and {} checkpoints, bundle has {entries} and {checkpoints}",
                    t.entries, t.checkpoints
                ),
                line_no,
                (entries, checkpoints),
            );
        }
        Some(_) => {}
    }
    match v.finish() {
        Ok(s) => BundleReport {
            ok: true,
            chain,
            keys_trusted,
            entries,
            checkpoints,
            first_sequence: Some(s.first_sequence),
            last_sequence: s.last_sequence,
            head_hash: Some(s.head_hash),
            pruned_through: s.pruned_through,
            first_break: None,
        },
        Err(b) => broken(b, line_no, (entries, checkpoints)),
    }
}

/// [`verify_bundle`] over bytes in memory: the entry point of the bindings.
#[must_use]
pub fn verify_bundle_bytes(bytes: &[u8], options: &BundleOptions) -> BundleReport {
    verify_bundle(bytes, options)
}
