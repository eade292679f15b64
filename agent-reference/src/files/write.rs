//! `file_write`: digest checked first, then an atomic, durable replace through the
//! directory's descriptor (temp file, fsync, rename, fsync of the directory).

use std::ffi::{OsStr, OsString};
use std::fs::{File, Permissions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use breeze_agent_proto::file::sha256_hex;
use rustix::fs::{AtFlags, CWD, Mode, OFlags, openat, renameat, unlinkat};
use subtle::ConstantTimeEq;

use super::guard::Guard;
use super::{FileError, Written};

/// Mode of a new file before the umask (what `touch` or an editor would create).
const NEW_FILE_MODE: u32 = 0o666;

pub(super) fn write(
    guard: &Guard,
    path: &str,
    content: &[u8],
    expected_sha256: &str,
    max_bytes: u64,
) -> Result<Written, FileError> {
    let size = u64::try_from(content.len()).unwrap_or(u64::MAX);
    if size > max_bytes {
        return Err(FileError::FileTooLarge { max: max_bytes });
    }
    // Before anything touches the disk.
    let sha256 = sha256_hex(content);
    let same: bool = sha256
        .as_bytes()
        .ct_eq(expected_sha256.to_ascii_lowercase().as_bytes())
        .into();
    if !same {
        return Err(FileError::DigestMismatch);
    }
    let (dir_path, name) = guard.for_write(path)?;
    let dir = openat(
        CWD,
        &dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    guard.verify_open(&dir)?;
    let existing = match std::fs::symlink_metadata(dir_path.join(&name)) {
        Ok(meta) if meta.is_dir() => return Err(FileError::IsDirectory),
        Ok(meta) if meta.is_file() => Some(meta),
        // A symlink here was resolved away; one now is replaced, never written through.
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let tmp = temp_name()?;
    let result = replace(&dir, &tmp, &name, content, existing.as_ref());
    if result.is_err() {
        let _ignored = unlinkat(&dir, &tmp, AtFlags::empty());
    }
    result?;
    Ok(Written { size, sha256 })
}

fn temp_name() -> Result<OsString, FileError> {
    let suffix = getrandom::u64()
        .map_err(|_| FileError::Io(std::io::Error::other("os random number generator failed")))?;
    Ok(OsString::from(format!(".breeze-write-{suffix:016x}.tmp")))
}

fn replace(
    dir: &OwnedFd,
    tmp: &OsStr,
    name: &OsStr,
    content: &[u8],
    existing: Option<&std::fs::Metadata>,
) -> Result<(), FileError> {
    let fd = openat(
        dir,
        Path::new(tmp),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(NEW_FILE_MODE),
    )?;
    let mut file = File::from(fd);
    if let Some(meta) = existing {
        // Same owner and permission bits as the file replaced (best effort for the owner:
        // only root may give a file away).
        let _ignored = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
        file.set_permissions(Permissions::from_mode(meta.mode() & 0o777))?;
    }
    file.write_all(content)?;
    file.sync_all()?;
    drop(file);
    renameat(dir, Path::new(tmp), dir, Path::new(name))?;
    rustix::fs::fsync(dir)?;
    Ok(())
}
