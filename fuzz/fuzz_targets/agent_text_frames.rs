//! Every text decoder (frames in both directions and every HTTP message) on arbitrary bytes:
//! no panic, and every error lists 1 to 10 issues with a bounded echoed type.
#![no_main]

use breeze_agent_proto::{ErrorFrame, MessageKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for kind in MessageKind::ALL {
        match kind.decode_to_json(data) {
            Ok(decoded) => {
                // What decodes re-encodes to something that decodes to the same thing.
                let text = decoded.message.to_string();
                let again = kind.decode_to_json(text.as_bytes()).expect("canonical form decodes");
                assert_eq!(again.message, decoded.message);
            }
            Err(err) => {
                let issues = err.issues();
                assert!(!issues.is_empty() && issues.len() <= 10);
                assert!(err.received_type().is_none_or(|t| t.chars().count() <= 200));
                let _ = ErrorFrame::invalid_message(&err);
            }
        }
    }
});
