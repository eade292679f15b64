//! `file_list`: one directory's entries, symlinks not followed, at most
//! [`MAX_FILE_LIST_ENTRIES`].

use breeze_agent_proto::file::{EntryKind, FileEntry};
use breeze_agent_proto::limits::{MAX_FILE_LIST_ENTRIES, MAX_FILE_NAME_CHARS};
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, Stat, openat, statat};

use super::guard::Guard;
use super::{FileError, Listing};

pub(super) fn list(guard: &Guard, path: &str) -> Result<Listing, FileError> {
    let real = guard.existing(path)?;
    let dir = openat(
        CWD,
        &real,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    guard.verify_open(&dir)?;
    let mut stream = Dir::read_from(&dir)?;
    let mut entries = Vec::new();
    let mut truncated = false;
    while let Some(entry) = stream.read() {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        if entries.len() >= MAX_FILE_LIST_ENTRIES {
            truncated = true;
            break;
        }
        // Relative to the opened directory, never following a symlink. An entry removed
        // meanwhile is skipped.
        let Ok(stat) = statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let name: String = String::from_utf8_lossy(name.to_bytes())
            .chars()
            .take(MAX_FILE_NAME_CHARS)
            .collect();
        entries.push(entry_of(name, &stat));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Listing { entries, truncated })
}

fn entry_of(name: String, stat: &Stat) -> FileEntry {
    let kind = match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    };
    FileEntry {
        name,
        kind,
        size: to_u64(stat.st_size).unwrap_or(0),
        modified_ms: modified_ms(to_i64(stat.st_mtime), to_u64(stat.st_mtime_nsec)),
    }
}

// `Stat` field types differ between targets; these convert whatever they are.
fn to_u64<T: TryInto<u64>>(v: T) -> Option<u64> {
    v.try_into().ok()
}

fn to_i64<T: TryInto<i64>>(v: T) -> Option<i64> {
    v.try_into().ok()
}

/// Unix milliseconds; `None` before 1970 or when unknown.
fn modified_ms(secs: Option<i64>, nanos: Option<u64>) -> Option<u64> {
    let secs = u64::try_from(secs?).ok()?;
    secs.checked_mul(1000)?
        .checked_add(nanos.unwrap_or(0) / 1_000_000)
}
