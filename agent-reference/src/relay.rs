//! The terminal relay on the agent's socket (SPEC 12): `terminal_start`, `terminal_input`,
//! `terminal_resize` and `terminal_stop` frames drive [`Terminals`]; session events become
//! `terminal_output` and `terminal_exit` frames.
//!
//! A start that is refused (the session limit, a shell that cannot start) is answered at
//! once with `terminal_exit` without a code, so the other end learns the session is over; a
//! repeated start for a live session is ignored (that session reports its own exit).
//! Input, resize and stop for a session the agent does not have are logged and dropped:
//! answering them could report a second exit for a session that just ended.

use breeze_agent_proto::frame::{AgentFrame, TerminalEncoding, TerminalOutput};
use breeze_agent_proto::{
    TerminalExit, TerminalInput, TerminalResize, TerminalStart, TerminalStop,
};
use tokio::sync::mpsc;

use crate::terminal::{TerminalError, TerminalEvent, Terminals};

/// A terminal frame from the server (its `Debug` never shows typed input).
pub enum TerminalRequest {
    /// `terminal_start`.
    Start(TerminalStart),
    /// `terminal_input`.
    Input(TerminalInput),
    /// `terminal_resize`.
    Resize(TerminalResize),
    /// `terminal_stop`.
    Stop(TerminalStop),
}

impl std::fmt::Debug for TerminalRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Start(s) => s.fmt(f),
            Self::Input(i) => f
                .debug_struct("TerminalInput")
                .field("session_id", &i.session_id)
                .field("bytes", &i.data.len())
                .finish(),
            Self::Resize(r) => r.fmt(f),
            Self::Stop(s) => s.fmt(f),
        }
    }
}

/// Applies `request`; returns a frame to send at once (the exit of a refused start).
pub fn handle(
    terminals: &Terminals,
    request: TerminalRequest,
    events: &mpsc::Sender<TerminalEvent>,
) -> Option<AgentFrame> {
    match request {
        TerminalRequest::Start(start) => {
            match terminals.start(
                start.session_id.clone(),
                start.cols,
                start.rows,
                events.clone(),
            ) {
                Ok(()) => {
                    tracing::info!(session = %start.session_id, "terminal session started");
                    None
                }
                // A start for a session that runs already changes nothing; that session
                // reports its own exit in time.
                Err(e @ TerminalError::AlreadyExists) => {
                    tracing::warn!(session = %start.session_id, code = e.code(), "terminal start for a live session ignored");
                    None
                }
                Err(e) => {
                    tracing::warn!(session = %start.session_id, code = e.code(), error = %e, "terminal start refused");
                    Some(AgentFrame::TerminalExit(TerminalExit {
                        session_id: start.session_id,
                        code: None,
                    }))
                }
            }
        }
        TerminalRequest::Input(input) => {
            if let Err(e) = terminals.input(&input.session_id, input.data.into_bytes()) {
                tracing::warn!(session = %input.session_id, code = e.code(), "terminal input dropped");
            }
            None
        }
        TerminalRequest::Resize(resize) => {
            if let Err(e) = terminals.resize(&resize.session_id, resize.cols, resize.rows) {
                tracing::warn!(session = %resize.session_id, code = e.code(), "terminal resize refused");
            }
            None
        }
        TerminalRequest::Stop(stop) => {
            match terminals.stop(&stop.session_id) {
                Ok(()) => tracing::info!(session = %stop.session_id, "terminal session stopping"),
                Err(e) => {
                    tracing::info!(session = %stop.session_id, code = e.code(), "terminal stop for no session");
                }
            }
            None
        }
    }
}

/// The frame for a session event.
#[must_use]
pub fn frame(event: TerminalEvent) -> AgentFrame {
    match event {
        TerminalEvent::Output { session, chunk } => AgentFrame::TerminalOutput(TerminalOutput {
            session_id: session,
            data: chunk.data,
            // Absent means UTF-8: only base64 is marked.
            encoding: match chunk.encoding {
                TerminalEncoding::Utf8 => None,
                TerminalEncoding::Base64 => Some(TerminalEncoding::Base64),
            },
        }),
        TerminalEvent::Exit { session, code } => {
            tracing::info!(session = %session, code, "terminal session ended");
            AgentFrame::TerminalExit(TerminalExit {
                session_id: session,
                code,
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "test code")]
mod tests {
    use breeze_agent_proto::ids::SessionId;

    use super::*;
    use crate::terminal::chunk::Chunk;

    fn sid() -> SessionId {
        SessionId::parse("00000000-0000-4000-8000-000000000001").unwrap()
    }

    #[test]
    fn output_is_marked_only_when_base64() {
        for (encoding, marked) in [
            (TerminalEncoding::Utf8, None),
            (TerminalEncoding::Base64, Some(TerminalEncoding::Base64)),
        ] {
            let event = TerminalEvent::Output {
                session: sid(),
                chunk: Chunk {
                    data: "aGk=".to_owned(),
                    encoding,
                },
            };
            let AgentFrame::TerminalOutput(out) = frame(event) else {
                panic!("not an output frame")
            };
            assert_eq!(out.encoding, marked);
        }
        let exit = frame(TerminalEvent::Exit {
            session: sid(),
            code: Some(0),
        });
        assert!(matches!(
            exit,
            AgentFrame::TerminalExit(TerminalExit { code: Some(0), .. })
        ));
    }

    #[test]
    fn debug_never_shows_typed_input() {
        let request = TerminalRequest::Input(TerminalInput {
            session_id: sid(),
            data: "hunter2\n".to_owned(),
        });
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
