//! Turns PTY output into `terminal_output` data: UTF-8 text when the bytes are valid UTF-8,
//! standard base64 otherwise.
//!
//! A multi-byte character split across two reads is not an error: its first bytes are kept
//! and sent at the start of the next chunk. A chunk that holds bytes that can never become
//! valid UTF-8 is sent whole as base64, and so is text whose JSON escaping would outgrow
//! [`MAX_TEXT_JSON_BYTES`] (terminal output is rich in escape sequences, and `\u001b` is six
//! bytes for one): a `terminal_output` frame stays within its 64 KiB whatever the output.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use breeze_agent_proto::frame::TerminalEncoding;

/// Most bytes of PTY output in one chunk (kept bytes of a split character included).
pub const MAX_CHUNK_BYTES: usize = 16 * 1024;
/// Most bytes the JSON string of a text chunk may take (the frame limit is 64 KiB; base64 of
/// a full chunk is under 22 KiB).
pub const MAX_TEXT_JSON_BYTES: usize = 48 * 1024;
/// Longest incomplete UTF-8 sequence (a 4-byte character missing its last byte).
const MAX_INCOMPLETE: usize = 3;

/// One piece of output ready for a `terminal_output` frame.
#[derive(Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The text, or the base64 of the bytes.
    pub data: String,
    /// How `data` is encoded.
    pub encoding: TerminalEncoding,
}

impl std::fmt::Debug for Chunk {
    // Terminal output may show secrets: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunk")
            .field("len", &self.data.len())
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// Splits a byte stream into [`Chunk`]s, carrying an incomplete trailing character over.
#[derive(Default)]
pub struct Chunker {
    pending: Vec<u8>,
}

impl std::fmt::Debug for Chunker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chunker")
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Chunker {
    /// A chunker with nothing pending.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes the next read may add without the chunk exceeding
    /// [`MAX_CHUNK_BYTES`].
    #[must_use]
    pub fn room(&self) -> usize {
        MAX_CHUNK_BYTES.saturating_sub(self.pending.len())
    }

    /// Adds freshly read bytes; returns the chunk to send, if any (`None` when everything is
    /// an incomplete character waiting for its next bytes).
    pub fn push(&mut self, bytes: &[u8]) -> Option<Chunk> {
        let mut all = std::mem::take(&mut self.pending);
        all.extend_from_slice(bytes);
        match std::str::from_utf8(&all) {
            Ok(_) => text(all),
            Err(e) if e.error_len().is_none() && all.len() - e.valid_up_to() <= MAX_INCOMPLETE => {
                // Valid so far, ending inside a character: send the valid part, keep the rest.
                self.pending = all.split_off(e.valid_up_to());
                text(all)
            }
            Err(_) => Some(base64(&all)),
        }
    }

    /// The end of the stream: whatever is still pending (an incomplete character) as base64.
    pub fn finish(&mut self) -> Option<Chunk> {
        let rest = std::mem::take(&mut self.pending);
        (!rest.is_empty()).then(|| base64(&rest))
    }
}

fn text(bytes: Vec<u8>) -> Option<Chunk> {
    if bytes.is_empty() {
        return None;
    }
    if json_len(&bytes) > MAX_TEXT_JSON_BYTES {
        return Some(base64(&bytes));
    }
    match String::from_utf8(bytes) {
        Ok(data) => Some(Chunk {
            data,
            encoding: TerminalEncoding::Utf8,
        }),
        Err(e) => Some(base64(e.as_bytes())),
    }
}

/// Bytes of `text` once escaped in a JSON string (serde_json's escaping; quotes excluded).
fn json_len(text: &[u8]) -> usize {
    text.iter()
        .map(|&b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum()
}

fn base64(bytes: &[u8]) -> Chunk {
    Chunk {
        data: STANDARD.encode(bytes),
        encoding: TerminalEncoding::Base64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf8(s: &str) -> Option<Chunk> {
        Some(Chunk {
            data: s.to_owned(),
            encoding: TerminalEncoding::Utf8,
        })
    }

    #[test]
    fn valid_text_passes_through() {
        let mut c = Chunker::new();
        assert_eq!(c.push(b"hello \xc3\xa9"), utf8("hello é"));
        assert_eq!(c.push(b""), None);
        assert_eq!(c.finish(), None);
    }

    #[test]
    fn a_character_split_across_reads_is_carried_over() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut c = Chunker::new();
        let mut first = b"price ".to_vec();
        first.extend_from_slice(&euro[..2]);
        assert_eq!(c.push(&first), utf8("price "));
        assert_eq!(c.room(), MAX_CHUNK_BYTES - 2);
        // Only one more byte, still incomplete? No: this completes it.
        assert_eq!(c.push(&euro[2..]), utf8("€"));
        // A 4-byte character arriving one byte at a time.
        let crab = "🦀".as_bytes();
        assert_eq!(c.push(&crab[..1]), None);
        assert_eq!(c.push(&crab[1..3]), None);
        assert_eq!(c.push(&crab[3..]), utf8("🦀"));
    }

    #[test]
    fn invalid_bytes_make_the_chunk_base64() {
        let mut c = Chunker::new();
        let chunk = c.push(b"ok\xff\xfeok").unwrap();
        assert_eq!(chunk.encoding, TerminalEncoding::Base64);
        assert_eq!(STANDARD.decode(&chunk.data).unwrap(), b"ok\xff\xfeok");
        // A lone continuation byte is invalid too.
        let chunk = c.push(b"\x80").unwrap();
        assert_eq!(chunk.encoding, TerminalEncoding::Base64);
    }

    #[test]
    fn an_incomplete_character_at_the_end_of_the_stream_goes_as_base64() {
        let mut c = Chunker::new();
        assert_eq!(c.push(b"a\xe2\x82"), utf8("a"));
        let last = c.finish().unwrap();
        assert_eq!(last.encoding, TerminalEncoding::Base64);
        assert_eq!(STANDARD.decode(&last.data).unwrap(), b"\xe2\x82");
        assert_eq!(c.finish(), None);
    }

    #[test]
    fn chunks_never_exceed_the_limit() {
        let mut c = Chunker::new();
        assert_eq!(c.push(&"é".as_bytes()[..1]), None);
        let room = c.room();
        let mut next = vec![0xa9];
        next.extend(std::iter::repeat_n(b'x', room - 1));
        let chunk = c.push(&next).unwrap();
        assert_eq!(chunk.data.len(), MAX_CHUNK_BYTES);
        assert!(chunk.data.starts_with('é'));
    }

    #[test]
    fn text_that_escapes_badly_goes_as_base64_and_fits_the_frame() {
        let mut c = Chunker::new();
        let escapes = vec![0x1b_u8; MAX_CHUNK_BYTES];
        let chunk = c.push(&escapes).unwrap();
        assert_eq!(chunk.encoding, TerminalEncoding::Base64);
        assert_eq!(STANDARD.decode(&chunk.data).unwrap(), escapes);
        // Ordinary colored output stays text.
        let colored = "\x1b[32mok\x1b[0m\r\n".repeat(100);
        assert_eq!(c.push(colored.as_bytes()), utf8(&colored));
        // The estimate matches serde_json's escaping.
        let sample = "a\"b\\c\n\x1b\x7f\x08\u{0}é";
        let encoded = serde_json::to_string(sample).unwrap();
        assert_eq!(json_len(sample.as_bytes()), encoded.len() - 2);
    }

    #[test]
    fn debug_never_shows_output() {
        let chunk = utf8("password=hunter2").unwrap();
        assert!(!format!("{chunk:?}").contains("hunter2"));
    }
}
