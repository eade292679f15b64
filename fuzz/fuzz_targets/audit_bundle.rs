//! Audit export bundle verification (the PSA's and the bindings' entry point) on arbitrary
//! bytes, and the verifier options JSON: never panics, and a bundle that verifies names as
//! many entries as it holds lines of entries (nothing counted twice or skipped).
//!
//! Differential: the reader's borrowed parse of entry lines gives exactly the report of the
//! owned parse (`verify_bundle_owned`, the reference), and on every line, what the borrowed
//! parse takes the owned one takes too, with the same fields and canonical bytes.
#![no_main]

use breeze_core::audit::check_against_owned;
use breeze_core::audit::export::{BundleOptions, verify_bundle_bytes, verify_bundle_owned};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // the first line, when it is a JSON object, doubles as verifier options
    if let Some(first) = data.split(|b| *b == b'\n').next() {
        let _ = BundleOptions::from_json(first);
    }
    let report = verify_bundle_bytes(data, &BundleOptions::default());
    assert_eq!(
        report,
        verify_bundle_owned(data, &BundleOptions::default()),
        "borrowed and owned parse disagree on the bundle"
    );
    for line in data.split(|b| *b == b'\n') {
        if let Err(e) = check_against_owned(line) {
            panic!("borrowed and owned parse disagree on a line: {e}");
        }
    }
    let _ = serde_json::to_string(&report);
});
