//! Every refusal of the file operations, and a binary round trip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use breeze_agent_proto::FileErrorCode;
use breeze_agent_proto::file::sha256_hex;

use super::*;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    cfg: PathBuf,
    data: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(tmp.path()).unwrap();
    let cfg = root.join("breeze");
    let data = root.join("data");
    fs::create_dir(&cfg).unwrap();
    fs::create_dir(&data).unwrap();
    fs::write(cfg.join("agent.yaml"), "server_url: x\n").unwrap();
    fs::write(cfg.join("secrets.yaml"), "auth_token: brz_secret\n").unwrap();
    fs::write(data.join("hello.txt"), "hello\n").unwrap();
    Fixture {
        _tmp: tmp,
        root,
        cfg,
        data,
    }
}

fn ops(f: &Fixture, roots: Option<Vec<PathBuf>>) -> FileOps {
    FileOps::new(&FileConfig {
        config_dir: f.cfg.clone(),
        roots,
        max_bytes: MAX_FILE_BYTES,
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn code<T: std::fmt::Debug>(r: Result<T, FileError>) -> FileErrorCode {
    r.unwrap_err().code()
}

#[test]
fn the_path_rule_is_applied_first() {
    let f = fixture();
    let ops = ops(&f, None);
    let long = format!("/{}", "a".repeat(2048));
    let dotdot = format!("{}/../breeze/secrets.yaml", s(&f.cfg));
    let nul = format!("{}/hello\0.txt", s(&f.data));
    for bad in [
        "",
        "relative/path",
        "./hello.txt",
        "C:\\Windows\\win.ini",
        long.as_str(),
        dotdot.as_str(),
        "/tmp/../etc/passwd",
        nul.as_str(),
    ] {
        assert_eq!(
            code(ops.read(bad, None)),
            FileErrorCode::PathInvalid,
            "{bad:?}"
        );
        assert_eq!(code(ops.list(bad)), FileErrorCode::PathInvalid, "{bad:?}");
        assert_eq!(
            code(ops.write(bad, b"x", &sha256_hex(b"x"))),
            FileErrorCode::PathInvalid,
            "{bad:?}"
        );
    }
}

#[test]
fn the_config_directory_is_out_of_reach_however_it_is_named() {
    let f = fixture();
    let ops = ops(&f, None);
    // A symlink to the secrets file, a symlink to the directory, a path through it.
    symlink(f.cfg.join("secrets.yaml"), f.data.join("innocent.txt")).unwrap();
    symlink(&f.cfg, f.data.join("cfg-link")).unwrap();
    let secrets = f.cfg.join("secrets.yaml");
    let dotted = format!("{}/./secrets.yaml", s(&f.cfg));
    let doubled = format!("{}//secrets.yaml", s(&f.cfg));
    let via_file_link = f.data.join("innocent.txt");
    let via_dir_link = f.data.join("cfg-link/secrets.yaml");
    for path in [
        s(&secrets),
        s(&f.cfg.join("agent.yaml")),
        dotted.as_str(),
        doubled.as_str(),
        s(&via_file_link),
        s(&via_dir_link),
    ] {
        assert_eq!(
            code(ops.read(path, None)),
            FileErrorCode::PathForbidden,
            "{path}"
        );
    }
    for path in [s(&f.cfg), s(&f.data.join("cfg-link"))] {
        assert_eq!(code(ops.list(path)), FileErrorCode::PathForbidden, "{path}");
    }
    // Writes: over the secrets, a new file in the directory, through either symlink.
    let new_in_cfg = f.cfg.join("new.yaml");
    let new_via_link = f.data.join("cfg-link/new.yaml");
    for path in [
        s(&secrets),
        s(&new_in_cfg),
        s(&via_file_link),
        s(&new_via_link),
    ] {
        assert_eq!(
            code(ops.write(path, b"owned", &sha256_hex(b"owned"))),
            FileErrorCode::PathForbidden,
            "{path}"
        );
    }
    // A hard link elsewhere has no path into the directory, but the same inode.
    fs::hard_link(&secrets, f.data.join("hard.txt")).unwrap();
    assert_eq!(
        code(ops.read(s(&f.data.join("hard.txt")), None)),
        FileErrorCode::PathForbidden
    );
    assert_eq!(
        fs::read_to_string(&secrets).unwrap(),
        "auth_token: brz_secret\n"
    );
    assert!(!new_in_cfg.exists());
}

#[test]
fn the_agents_own_process_files_are_out_of_reach() {
    let f = fixture();
    let ops = ops(&f, None);
    assert_eq!(
        code(ops.read("/proc/self/environ", None)),
        FileErrorCode::PathForbidden
    );
    assert_eq!(
        code(ops.list("/proc/self/fd")),
        FileErrorCode::PathForbidden
    );
}

#[test]
fn configured_roots_confine_every_operation() {
    let f = fixture();
    let outside = f.root.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("x.txt"), "x").unwrap();
    symlink(outside.join("x.txt"), f.data.join("escape.txt")).unwrap();
    // A root given through a symlink is resolved too.
    symlink(&f.data, f.root.join("data-link")).unwrap();
    let ops = ops(&f, Some(vec![f.root.join("data-link")]));
    assert_eq!(
        ops.read(s(&f.data.join("hello.txt")), None).unwrap().size,
        6
    );
    assert!(ops.list(s(&f.data)).is_ok());
    for path in [
        outside.join("x.txt"),
        f.data.join("escape.txt"),
        f.root.clone(),
    ] {
        assert_eq!(
            code(ops.read(s(&path), None)),
            FileErrorCode::PathForbidden,
            "{}",
            path.display()
        );
    }
    assert_eq!(code(ops.list(s(&outside))), FileErrorCode::PathForbidden);
    assert_eq!(
        code(ops.write(s(&outside.join("new")), b"x", &sha256_hex(b"x"))),
        FileErrorCode::PathForbidden
    );
    // Roots set, none usable: nothing is allowed.
    let none = self::ops(&f, Some(vec![f.root.join("missing")]));
    assert_eq!(
        code(none.read(s(&f.data.join("hello.txt")), None)),
        FileErrorCode::PathForbidden
    );
}

#[test]
fn missing_wrong_kind_and_oversized_files_are_refused() {
    let f = fixture();
    let ops = ops(&f, None);
    let hello = f.data.join("hello.txt");
    assert_eq!(
        code(ops.read(s(&f.data.join("missing")), None)),
        FileErrorCode::NotFound
    );
    assert_eq!(
        code(ops.list(s(&f.data.join("missing")))),
        FileErrorCode::NotFound
    );
    assert_eq!(
        code(ops.write(s(&f.data.join("no/such/dir/x")), b"x", &sha256_hex(b"x"))),
        FileErrorCode::NotFound
    );
    assert_eq!(code(ops.read(s(&f.data), None)), FileErrorCode::IsDirectory);
    assert_eq!(code(ops.list(s(&hello))), FileErrorCode::NotADirectory);
    assert_eq!(
        code(ops.read(&format!("{}/x", s(&hello)), None)),
        FileErrorCode::NotADirectory
    );
    assert_eq!(
        code(ops.read(s(&hello), Some(5))),
        FileErrorCode::FileTooLarge
    );
    assert_eq!(ops.read(s(&hello), Some(6)).unwrap().bytes, b"hello\n");
    // A write never replaces a directory.
    assert_eq!(
        code(ops.write(s(&f.data), b"x", &sha256_hex(b"x"))),
        FileErrorCode::IsDirectory
    );
    // The configured maximum binds a write and caps a read's own limit.
    let small = FileOps::new(&FileConfig {
        config_dir: f.cfg.clone(),
        roots: None,
        max_bytes: 4,
    });
    assert_eq!(
        code(small.read(s(&hello), Some(1000))),
        FileErrorCode::FileTooLarge
    );
    assert_eq!(
        code(small.write(s(&f.data.join("big")), b"12345", &sha256_hex(b"12345"))),
        FileErrorCode::FileTooLarge
    );
    // Above the protocol's ceiling, the configuration is clamped.
    let huge = FileOps::new(&FileConfig {
        max_bytes: u64::MAX,
        ..FileConfig {
            config_dir: f.cfg.clone(),
            roots: None,
            max_bytes: 0,
        }
    });
    assert_eq!(huge.max_bytes(), MAX_FILE_BYTES);
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let f = fixture();
    let ops = ops(&f, None);
    let fifo = f.data.join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    assert_eq!(code(ops.read(s(&fifo), None)), FileErrorCode::PathForbidden);
}

#[test]
fn a_write_whose_digest_does_not_match_writes_nothing() {
    let f = fixture();
    let ops = ops(&f, None);
    let hello = f.data.join("hello.txt");
    let new = f.data.join("new.txt");
    assert_eq!(
        code(ops.write(s(&hello), b"changed", &sha256_hex(b"other"))),
        FileErrorCode::DigestMismatch
    );
    assert_eq!(
        code(ops.write(s(&new), b"changed", "not-hex")),
        FileErrorCode::DigestMismatch
    );
    assert_eq!(fs::read(&hello).unwrap(), b"hello\n");
    assert!(!new.exists());
    assert_eq!(
        fs::read_dir(&f.data).unwrap().count(),
        1,
        "no temp file left"
    );
}

#[test]
fn three_mib_of_binary_round_trip() {
    let f = fixture();
    let ops = ops(&f, None);
    let mut bytes = Vec::with_capacity(3 * 1024 * 1024);
    let mut x: u32 = 0x1234_5678;
    while bytes.len() < 3 * 1024 * 1024 {
        // xorshift: every byte value, no pattern a codec could flatter.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let digest = sha256_hex(&bytes);
    let path = f.data.join("blob.bin");
    let written = ops.write(s(&path), &bytes, &digest).unwrap();
    assert_eq!(written.size, 3 * 1024 * 1024);
    assert_eq!(written.sha256, digest);
    let read = ops.read(s(&path), None).unwrap();
    assert_eq!(read.size, written.size);
    assert_eq!(read.sha256, digest);
    assert!(read.bytes == bytes, "content differs");
    assert!(
        !format!("{read:?}").contains("bytes: ["),
        "no content in Debug"
    );
}

#[test]
fn a_write_replaces_atomically_and_keeps_the_mode() {
    let f = fixture();
    let ops = ops(&f, None);
    let hello = f.data.join("hello.txt");
    fs::set_permissions(&hello, fs::Permissions::from_mode(0o4751)).unwrap();
    ops.write(s(&hello), b"new\n", &sha256_hex(b"new\n"))
        .unwrap();
    assert_eq!(fs::read(&hello).unwrap(), b"new\n");
    let mode = fs::metadata(&hello).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o751, "permission bits kept, setuid dropped");
    // Through a symlink (outside the config directory), the link's target is written.
    symlink(&hello, f.data.join("link")).unwrap();
    ops.write(s(&f.data.join("link")), b"via\n", &sha256_hex(b"via\n"))
        .unwrap();
    assert_eq!(fs::read(&hello).unwrap(), b"via\n");
    assert!(
        fs::symlink_metadata(f.data.join("link"))
            .unwrap()
            .is_symlink()
    );
    let names: Vec<_> = fs::read_dir(&f.data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temp file left: {names:?}");
}

#[test]
fn a_listing_does_not_follow_symlinks() {
    let f = fixture();
    let ops = ops(&f, None);
    fs::create_dir(f.data.join("sub")).unwrap();
    symlink(&f.cfg, f.data.join("to-cfg")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(f.data.join("sock")).unwrap();
    let listing = ops.list(s(&f.data)).unwrap();
    assert!(!listing.truncated);
    let kinds: Vec<(&str, EntryKind)> = listing
        .entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("hello.txt", EntryKind::File),
            ("sock", EntryKind::Other),
            ("sub", EntryKind::Dir),
            ("to-cfg", EntryKind::Symlink),
        ]
    );
    let hello = &listing.entries[0];
    assert_eq!(hello.size, 6);
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let modified = hello.modified_ms.unwrap();
    assert!(modified <= now_ms && now_ms - modified < 600_000);
}

#[test]
fn a_listing_stops_at_ten_thousand_entries() {
    let f = fixture();
    let ops = ops(&f, None);
    let big = f.data.join("big");
    fs::create_dir(&big).unwrap();
    for i in 0..10_001 {
        fs::File::create(big.join(format!("{i:05}"))).unwrap();
    }
    let listing = ops.list(s(&big)).unwrap();
    assert!(listing.truncated);
    assert_eq!(listing.entries.len(), 10_000);
    fs::remove_file(big.join("00000")).unwrap();
    let listing = ops.list(s(&big)).unwrap();
    assert!(!listing.truncated);
    assert_eq!(listing.entries.len(), 10_000);
}

#[test]
fn os_refusals_map_to_their_codes() {
    use std::io::{Error, ErrorKind};
    assert_eq!(
        FileError::from(Error::from(ErrorKind::PermissionDenied)).code(),
        FileErrorCode::PermissionDenied
    );
    assert_eq!(
        FileError::from(Error::from(ErrorKind::NotFound)).code(),
        FileErrorCode::NotFound
    );
    assert_eq!(
        FileError::from(rustix::io::Errno::LOOP).code(),
        FileErrorCode::PathForbidden
    );
    assert_eq!(
        FileError::from(Error::other("disk on fire")).code(),
        FileErrorCode::IoError
    );
    assert_eq!(
        FileErrorCode::PermissionDenied.as_str(),
        "permission_denied"
    );
}

#[test]
fn a_file_the_os_refuses_is_permission_denied() {
    // Root reads anything: the check only means something for an unprivileged agent.
    if rustix::process::geteuid().is_root() {
        return;
    }
    let f = fixture();
    let ops = ops(&f, None);
    let hello = f.data.join("hello.txt");
    fs::set_permissions(&hello, fs::Permissions::from_mode(0o000)).unwrap();
    assert_eq!(
        code(ops.read(s(&hello), None)),
        FileErrorCode::PermissionDenied
    );
}
