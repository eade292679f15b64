//! The one way every crate writes and checks its shared vectors under `vectors/`.
//!
//! Each crate that owns vectors has `tests/vectors_gen/mod.rs` (its `DIR`, `COMMAND` and
//! `all()`, the files as (name, pretty JSON text)), which includes this file as `support`;
//! `examples/gen_vectors.rs` calls [`write_all`] and the crate's test
//! `checked_in_vectors_are_fresh` calls [`assert_fresh`].
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::panic,
    reason = "generator and test support: a failure is the report"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `vectors/<name>` of the checkout whose crate manifest is `manifest_dir`.
pub fn dir(manifest_dir: &str, name: &str) -> PathBuf {
    PathBuf::from(manifest_dir).join("../vectors").join(name)
}

/// Files as (name, pretty JSON text ending in a newline).
pub fn pretty<'a>(files: impl IntoIterator<Item = (&'a str, Value)>) -> Vec<(String, String)> {
    files
        .into_iter()
        .map(|(name, value)| {
            let mut text = serde_json::to_string_pretty(&value).expect("vectors serialize");
            text.push('\n');
            (name.to_owned(), text)
        })
        .collect()
}

/// Writes every file under `dir` (the generator's `main`).
pub fn write_all(dir: &Path, name: &str, command: &str, files: Vec<(String, String)>) {
    for (file, text) in files {
        let path = dir.join(&file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create the vectors folder");
        }
        std::fs::write(&path, text).expect("write a vector file");
        println!("wrote vectors/{name}/{file}");
    }
    println!("(the same command rewrites them: `{command}`)");
}

/// Fails, naming the command that rewrites them, when a checked-in file differs from what
/// the generator builds now.
pub fn assert_fresh(dir: &Path, name: &str, command: &str, files: Vec<(String, String)>) {
    for (file, text) in files {
        let on_disk = std::fs::read_to_string(dir.join(&file)).unwrap_or_default();
        assert!(
            on_disk == text,
            "vectors/{name}/{file} is stale or missing: run `{command}`"
        );
    }
}
