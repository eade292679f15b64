//! Session recordings (SPEC 12): what was typed and shown, with relative timestamps, in the
//! asciicast v2 format (a JSON header line, then `[seconds, "i"|"o"|"r", data]` lines), so
//! any asciicast player replays it.
//!
//! The recorder keeps only the current chunk and a running SHA-256 in memory: full chunks
//! (64 KiB) are sealed (SPEC 4 envelope, field `remote_sessions.transcript`) and written as
//! they fill. At the cap (default 20 MiB) it writes a last line saying recording stopped,
//! and records nothing more. The digest of the whole plaintext is sealed in the audit chain
//! by `remote.session.ended`; replay recomputes it over the decrypted chunks first.

use std::time::Instant;

use sha2::{Digest as _, Sha256};

/// Bytes after which the current chunk is sealed and written.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Input typed in the browser.
    Input,
    /// Output of the terminal.
    Output,
    /// A resize (`"COLSxROWS"`).
    Resize,
}

impl Stream {
    const fn code(self) -> &'static str {
        match self {
            Self::Input => "i",
            Self::Output => "o",
            Self::Resize => "r",
        }
    }
}

/// The recording of one live session.
pub struct Recorder {
    started: Instant,
    cap: usize,
    written: usize,
    truncated: bool,
    digest: Sha256,
    chunk: String,
    next_seq: i32,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("written", &self.written)
            .field("truncated", &self.truncated)
            .finish_non_exhaustive()
    }
}

/// A full chunk to seal and store, with its sequence number.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the recording.
    pub seq: i32,
    /// Plaintext (asciicast lines).
    pub text: String,
}

impl Recorder {
    /// Starts a recording of a `cols` x `rows` terminal at Unix time `unix`, capped at `cap`
    /// bytes.
    #[must_use]
    pub fn new(cols: u16, rows: u16, unix: i64, cap: usize) -> Self {
        let mut r = Self {
            started: Instant::now(),
            cap,
            written: 0,
            truncated: false,
            digest: Sha256::new(),
            chunk: String::new(),
            next_seq: 0,
        };
        let header = serde_json::json!({
            "version": 2, "width": cols, "height": rows, "timestamp": unix,
            "env": {"TERM": "xterm-256color"},
        });
        r.push_line(&header.to_string(), true);
        r
    }

    fn push_line(&mut self, line: &str, force: bool) -> bool {
        let needed = line.len() + 1;
        if !force && self.written + needed > self.cap {
            return false;
        }
        self.chunk.push_str(line);
        self.chunk.push('\n');
        self.digest.update(line.as_bytes());
        self.digest.update(b"\n");
        self.written += needed;
        true
    }

    /// Records `data` on `stream`. `true` when this call hit the cap (the caller tells the
    /// person at the terminal once).
    pub fn record(&mut self, stream: Stream, data: &str) -> bool {
        if self.truncated {
            return false;
        }
        let at = self.started.elapsed().as_secs_f64();
        let line = serde_json::json!([(at * 1e6).round() / 1e6, stream.code(), data]).to_string();
        if self.push_line(&line, false) {
            return false;
        }
        self.truncated = true;
        let note = serde_json::json!([
            (at * 1e6).round() / 1e6,
            "m",
            "recording stopped: the session reached its recording cap"
        ])
        .to_string();
        self.push_line(&note, true);
        true
    }

    /// The current chunk when it is full enough to store.
    pub fn take_full(&mut self) -> Option<Chunk> {
        (self.chunk.len() >= CHUNK_BYTES).then(|| self.take())
    }

    /// The current chunk, whatever its size (`None` when empty).
    pub fn take_rest(&mut self) -> Option<Chunk> {
        (!self.chunk.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Chunk {
        let seq = self.next_seq;
        self.next_seq += 1;
        Chunk {
            seq,
            text: std::mem::take(&mut self.chunk),
        }
    }

    /// Bytes recorded.
    #[must_use]
    pub const fn bytes(&self) -> usize {
        self.written
    }

    /// Whether recording stopped at the cap.
    #[must_use]
    pub const fn truncated(&self) -> bool {
        self.truncated
    }

    /// SHA-256 (lowercase hex) of everything recorded so far.
    #[must_use]
    pub fn sha256(&self) -> String {
        hex::encode(self.digest.clone().finalize())
    }
}

/// SHA-256 (lowercase hex) of a recording's chunks joined.
#[must_use]
pub fn digest_of<'a>(chunks: impl IntoIterator<Item = &'a str>) -> String {
    let mut d = Sha256::new();
    for c in chunks {
        d.update(c.as_bytes());
    }
    hex::encode(d.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_the_stored_chunks_and_the_cap_holds() {
        let mut r = Recorder::new(80, 24, 1_700_000_000, 200_000);
        let mut chunks = Vec::new();
        let mut hit = 0;
        for i in 0..10_000 {
            if r.record(Stream::Output, &format!("line {i}\r\n")) {
                hit += 1;
            }
            if let Some(c) = r.take_full() {
                chunks.push(c);
            }
        }
        chunks.extend(r.take_rest());
        assert_eq!(hit, 1, "the cap is announced once");
        assert!(r.truncated());
        assert!(r.bytes() <= 200_000 + 200);
        let seqs: Vec<i32> = chunks.iter().map(|c| c.seq).collect();
        assert_eq!(
            seqs,
            (0..i32::try_from(chunks.len()).unwrap_or(0)).collect::<Vec<_>>()
        );
        assert_eq!(
            digest_of(chunks.iter().map(|c| c.text.as_str())),
            r.sha256()
        );
        let all: String = chunks.iter().map(|c| c.text.as_str()).collect();
        assert!(all.contains("\"version\":2"));
        assert!(all.contains("recording stopped"));
    }
}
