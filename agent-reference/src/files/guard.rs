//! Where file operations may go: the path rule, resolution, and the refusals (the agent's
//! own config and secrets directory, the agent's own `/proc` entry, anything outside the
//! configured roots).
//!
//! Comparisons are made on resolved paths (`realpath`: symlinks and `.` gone), so
//! `/etc/breeze/./secrets.yaml`, a symlink to it, or a symlinked directory on the way all
//! resolve into the config directory and are refused. After the open, the descriptor's own
//! path (`/proc/self/fd/N`) is checked again, which catches a component swapped for a
//! symlink between the check and the open.

use std::ffi::OsString;
use std::fs;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};

use breeze_agent_proto::RemotePath;

use super::FileError;

/// The refusals, resolved once.
#[derive(Debug, Clone)]
pub struct Guard {
    /// The config directory, resolved (its files' inodes are checked on every read).
    config_dir: PathBuf,
    /// Trees never touched: the config directory (as configured and resolved) and this
    /// process's `/proc` entry.
    forbidden: Vec<PathBuf>,
    /// When set, the only trees allowed (resolved; possibly empty: then nothing is).
    roots: Option<Vec<PathBuf>>,
}

/// `path` resolved as far as it exists.
fn resolved(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

impl Guard {
    /// Resolves the config directory and the roots.
    #[must_use]
    pub fn new(config_dir: &Path, roots: Option<&[PathBuf]>) -> Self {
        let mut forbidden = vec![
            std::path::absolute(config_dir).unwrap_or_else(|_| config_dir.to_path_buf()),
            resolved(config_dir),
            // `/proc/self/...` resolves to `/proc/<pid>/...`: the agent's own memory maps,
            // environment and descriptors (its secrets file among them).
            PathBuf::from(format!("/proc/{}", std::process::id())),
        ];
        let config_dir = resolved(config_dir);
        forbidden.dedup();
        let roots = roots.map(|roots| {
            roots
                .iter()
                .filter_map(|root| match fs::canonicalize(root) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::warn!(root = %root.display(), error = %e, "file root unusable; ignored");
                        None
                    }
                })
                .collect()
        });
        Self {
            config_dir,
            forbidden,
            roots,
        }
    }

    /// Refuses a resolved path that is forbidden or outside the roots.
    ///
    /// # Errors
    /// [`FileError::PathForbidden`].
    pub fn allow(&self, resolved: &Path) -> Result<(), FileError> {
        if self.forbidden.iter().any(|f| resolved.starts_with(f)) {
            return Err(FileError::PathForbidden(
                "the agent's own configuration is out of reach",
            ));
        }
        if let Some(roots) = &self.roots
            && !roots.iter().any(|r| resolved.starts_with(r))
        {
            return Err(FileError::PathForbidden(
                "outside the configured file roots",
            ));
        }
        Ok(())
    }

    /// Resolves an existing path (every symlink followed) and checks it.
    ///
    /// # Errors
    /// [`FileError::PathInvalid`], [`FileError::PathForbidden`], [`FileError::NotFound`]
    /// and the other I/O refusals.
    pub fn existing(&self, text: &str) -> Result<PathBuf, FileError> {
        let path = parse(text)?;
        let real = fs::canonicalize(&path)?;
        self.allow(&real)?;
        Ok(real)
    }

    /// Resolves the target of a write: the existing file (symlinks followed), or the
    /// resolved parent directory and the new name. Returns (directory, name).
    ///
    /// # Errors
    /// As [`Guard::existing`]; [`FileError::PathInvalid`] for `/`.
    pub fn for_write(&self, text: &str) -> Result<(PathBuf, OsString), FileError> {
        let path = parse(text)?;
        let target = match fs::canonicalize(&path) {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                    return Err(FileError::PathInvalid("no file name"));
                };
                fs::canonicalize(parent)?.join(name)
            }
            Err(e) => return Err(e.into()),
        };
        self.allow(&target)?;
        match (target.parent(), target.file_name()) {
            (Some(dir), Some(name)) => Ok((dir.to_path_buf(), name.to_os_string())),
            _ => Err(FileError::IsDirectory),
        }
    }

    /// Checks where an opened descriptor really is (Linux; elsewhere the resolved path's
    /// check stands alone).
    ///
    /// # Errors
    /// [`FileError::PathForbidden`].
    pub fn verify_open(&self, fd: impl AsFd) -> Result<(), FileError> {
        let link = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
        match fs::read_link(link) {
            Ok(real) => self.allow(&real),
            Err(_) if !cfg!(target_os = "linux") => Ok(()),
            // On Linux the link always exists for an open descriptor: fail closed.
            Err(_) => Err(FileError::PathForbidden(
                "the opened path could not be verified",
            )),
        }
    }
}

impl Guard {
    /// Refuses an opened file that is one of the config directory's files under another
    /// name (a hard link has no path pointing home; its inode does). Looked up on each call:
    /// a rotation replaces `secrets.yaml` with a new inode.
    ///
    /// # Errors
    /// [`FileError::PathForbidden`].
    pub fn refuse_config_inode(&self, opened: &fs::Metadata) -> Result<(), FileError> {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = fs::read_dir(&self.config_dir) else {
            return Ok(());
        };
        let same = entries.flatten().any(|entry| {
            entry
                .metadata()
                .is_ok_and(|m| m.dev() == opened.dev() && m.ino() == opened.ino())
        });
        if same {
            Err(FileError::PathForbidden(
                "the agent's own configuration is out of reach",
            ))
        } else {
            Ok(())
        }
    }
}

/// The protocol's path rule, then absolute on this host (`C:\...` is not, here).
fn parse(text: &str) -> Result<PathBuf, FileError> {
    let checked = RemotePath::parse(text)?;
    let path = PathBuf::from(checked.as_str());
    if path.is_absolute() {
        Ok(path)
    } else {
        Err(FileError::PathInvalid("not an absolute path on this host"))
    }
}
