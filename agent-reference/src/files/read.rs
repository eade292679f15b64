//! `file_read`: one regular file, whole, within the size limit.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

use breeze_agent_proto::file::sha256_hex;
use rustix::fs::OFlags;

use super::guard::Guard;
use super::{FileError, ReadFile};

pub(super) fn read(guard: &Guard, path: &str, limit: u64) -> Result<ReadFile, FileError> {
    let real = guard.existing(path)?;
    // NOFOLLOW: the resolved path has no symlink left, so one now means a swap. NONBLOCK: a
    // FIFO must not hang the open (it is refused below anyway).
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags.bits()).unwrap_or(0))
        .open(&real)?;
    guard.verify_open(&file)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(FileError::IsDirectory);
    }
    if !meta.is_file() {
        return Err(FileError::PathForbidden("not a regular file"));
    }
    guard.refuse_config_inode(&meta)?;
    if meta.len() > limit {
        return Err(FileError::FileTooLarge { max: limit });
    }
    // The size may grow while reading (and `/proc` files report 0): read one byte past the
    // limit to tell.
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limit {
        return Err(FileError::FileTooLarge { max: limit });
    }
    Ok(ReadFile {
        sha256: sha256_hex(&bytes),
        size,
        bytes,
    })
}
