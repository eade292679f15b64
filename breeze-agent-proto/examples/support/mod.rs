//! Shared by the generator examples: writes generated files under `vectors/agent-proto/`.

use std::path::PathBuf;

/// Writes each `(relative path, contents)` under `vectors/agent-proto/`, creating folders.
pub fn write_under_vectors(files: Vec<(String, String)>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../vectors/agent-proto");
    for (name, contents) in files {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create vectors folder");
        }
        std::fs::write(&path, contents).expect("write generated file");
        println!("wrote {}", path.display());
    }
}
