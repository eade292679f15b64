//! Binary frame decoding on arbitrary bytes: no panic, and a decoded frame re-encodes to the
//! same bytes.
#![no_main]

use breeze_agent_proto::BinaryFrame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = BinaryFrame::decode(data) {
        assert_eq!(frame.encode().expect("re-encode"), data);
    }
});
