//! The only code that opens or writes valve's own files (SPEC §9).
//!
//! Everything in the judged tree is controlled by the author of the change,
//! `.sage/` included. So valve's fixed paths (`.sage/valve.yml`,
//! `.sage/valve.yaml`, `.sage/valve-baseline.json`) are read only when
//! `.sage` is a real folder and the file a regular file, opened without
//! following a symlink: a link there is an error naming the path, and
//! nothing of its target is read or printed. Files named on the command
//! line are the user's choice and may be anywhere, but an input must be a
//! regular file (a FIFO would hang, a device never ends). Every write goes
//! to a temporary file in the same folder and is renamed into place, so a
//! failure leaves the previous file as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// valve's own folder under the root.
pub const OWN_DIR: &str = ".sage";

/// Largest own file or command-line input valve reads (a config, a
/// baseline, a report to merge): far above any real one, far below harm.
pub const MAX_INPUT: u64 = 256 * 1024 * 1024;

/// What a path holds, in words for an error message.
fn describe(ft: fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symlink"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

fn refused(path: &Path, what: &str, help: &str) -> Error {
    Error::Refused {
        message: format!("{} is {what}, not a regular file", path.display()),
        help: Some(help.to_string()),
    }
}

/// Checks that `root/.sage` is a real folder (or absent): `Ok(false)` when
/// absent.
fn own_dir(root: &Path) -> Result<bool> {
    let dir = root.join(OWN_DIR);
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.file_type().is_dir() => Ok(true),
        Ok(m) => Err(Error::Refused {
            message: format!(
                "{} is {}; valve reads its own files only from a real folder",
                dir.display(),
                describe(m.file_type())
            ),
            help: Some(format!(
                "replace {OWN_DIR} with a folder holding valve.yml; valve never follows a link there"
            )),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(&dir, e)),
    }
}

/// Reads an own file, `rel` a fixed path under `root` (`.sage/valve.yml`).
/// `Ok(None)` when it does not exist; a symlink or anything but a regular
/// file is an error that names the path and reads nothing of it.
pub fn read_own(root: &Path, rel: &str) -> Result<Option<Vec<u8>>> {
    if !own_dir(root)? {
        return Ok(None);
    }
    let path = root.join(rel);
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // O_NOFOLLOW on a symlink: ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(refused(
                &path,
                "a symlink",
                "valve never follows a link for its own files: make it a regular file",
            ));
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    read_regular(file, &path, "make it a regular file").map(Some)
}

/// Reads a file named by `extends` (SPEC §12): `rel`, a normalised
/// repo-relative path, under `root`, each folder on the way a real folder
/// and the file a regular file, never through a link. What is there
/// instead comes back for a diagnostic at the entry; nothing of it is read.
pub fn read_inside(root: &Path, rel: &str) -> Result<crate::config::extends::Fetched> {
    use crate::config::extends::Fetched;
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let last = i + 1 == parts.len();
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let what = if last {
                    "a symlink".to_string()
                } else {
                    format!("under a symlink ({})", parts[..=i].join("/"))
                };
                return Ok(Fetched::Refused(what));
            }
            Ok(m) if !last && !m.is_dir() => return Ok(Fetched::Missing),
            Ok(m) if last && !m.is_file() => {
                return Ok(Fetched::Refused(describe(m.file_type()).to_string()));
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Fetched::Missing);
            }
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Fetched::Missing),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Fetched::Refused("a symlink".to_string()));
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    read_regular(file, &path, "make it a regular file").map(Fetched::Bytes)
}

/// Whether an own file exists (as anything at all: a link counts).
pub fn own_exists(root: &Path, rel: &str) -> bool {
    fs::symlink_metadata(root.join(rel)).is_ok()
}

/// Reads a file the user named on the command line (`--config`,
/// `--baseline`, a report): it may be anywhere and a symlink is followed
/// (the user chose it), but it must be a regular file.
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    read_regular(file, path, "name a regular file")
}

/// Whether `path` is a regular file (following links), for lookups.
pub fn is_regular_input(path: &Path) -> Result<bool> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(m) => Err(refused(
            path,
            describe(m.file_type()),
            "name a regular file",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn read_regular(mut file: File, path: &Path, help: &str) -> Result<Vec<u8>> {
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(refused(path, describe(meta.file_type()), help));
    }
    if meta.len() > MAX_INPUT {
        return Err(Error::Refused {
            message: format!(
                "{} is {} bytes; valve reads at most {MAX_INPUT} bytes of its own files",
                path.display(),
                meta.len()
            ),
            help: Some(help.to_string()),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    Read::by_ref(&mut file)
        .take(MAX_INPUT)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// How an atomic write treats an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it.
    Replace,
    /// Never replace it: an existing file is an error (`valve init`).
    Keep,
}

/// Writes an own file (`rel` under `root`): `.sage` is created as a real
/// folder when missing; neither it nor the target may be a symlink.
pub fn write_own(root: &Path, rel: &str, bytes: &[u8], existing: Existing) -> Result<PathBuf> {
    if !own_dir(root)? {
        let dir = root.join(OWN_DIR);
        fs::create_dir(&dir).map_err(|e| Error::write(&dir, e))?;
    }
    let path = root.join(rel);
    write_fixed(&path, bytes, existing, None)?;
    Ok(path)
}

/// Writes a file at a fixed path valve chose (an own file, a hook): never
/// through a symlink, atomically, with `mode` when given.
pub fn write_fixed(path: &Path, bytes: &[u8], existing: Existing, mode: Option<u32>) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(refused(
                path,
                "a symlink",
                "valve never writes through a link: remove it, then run the command again",
            ));
        }
        Ok(m) if !m.is_file() => {
            return Err(refused(
                path,
                describe(m.file_type()),
                "remove it, then run the command again",
            ));
        }
        Ok(_) if existing == Existing::Keep => {
            return Err(Error::Refused {
                message: format!(
                    "{} already exists; valve never overwrites it",
                    path.display()
                ),
                help: Some("edit it, or move it away and run the command again".to_string()),
            });
        }
        _ => {}
    }
    write_atomic(path, bytes, existing, mode)
}

/// Writes a report where the user asked (`--output`, `--report`): a FIFO or
/// device is written directly (the user chose it); otherwise the target
/// (after links) is replaced atomically and a missing folder is created.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(Error::Refused {
                message: format!("cannot write {}: it is a folder", path.display()),
                help: Some("name a file to write the report to".to_string()),
            });
        }
        Ok(m) if !m.is_file() => {
            let mut file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| Error::write(path, e))?;
            return file.write_all(bytes).map_err(|e| Error::write(path, e));
        }
        _ => {}
    }
    // A link to a file: replace the file it points at, keep the link.
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    }
    write_atomic(&target, bytes, Existing::Replace, None)
}

/// Appends whole lines to a file the user named (`--chronicle`).
pub fn open_append(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::write(path, e))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file beside `path`, written, synced and renamed (or, with
/// `Existing::Keep`, linked: that fails when the target appeared meanwhile).
fn write_atomic(path: &Path, bytes: &[u8], existing: Existing, mode: Option<u32>) -> Result<()> {
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.valve-tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .mode(mode.unwrap_or(0o644))
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Some(mode) = mode {
            fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        }
        match existing {
            Existing::Replace => fs::rename(&tmp, path),
            Existing::Keep => {
                let linked = fs::hard_link(&tmp, path);
                let _ = fs::remove_file(&tmp);
                linked
            }
        }
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        if e.kind() == io::ErrorKind::AlreadyExists && existing == Existing::Keep {
            return Err(Error::Refused {
                message: format!(
                    "{} already exists; valve never overwrites it",
                    path.display()
                ),
                help: Some("edit it, or move it away and run the command again".to_string()),
            });
        }
        return Err(Error::write(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    #[test]
    fn a_symlinked_own_file_is_refused_and_its_target_never_read() {
        let dir = temp();
        let root = dir.path();
        fs::create_dir(root.join(".sage")).ok();
        fs::write(root.join("secret"), "TOKEN=abc").ok();
        std::os::unix::fs::symlink(root.join("secret"), root.join(".sage/valve.yml")).ok();
        let err = read_own(root, ".sage/valve.yml")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("symlink") && !e.contains("TOKEN"))
        );
    }

    #[test]
    fn a_symlinked_own_folder_is_refused() {
        let dir = temp();
        let root = dir.path();
        fs::create_dir(root.join("elsewhere")).ok();
        fs::write(root.join("elsewhere/valve.yml"), "personas: {}").ok();
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join(".sage")).ok();
        assert!(read_own(root, ".sage/valve.yml").is_err());
        assert!(write_own(root, ".sage/valve-baseline.json", b"{}", Existing::Replace).is_err());
    }

    #[test]
    fn a_missing_own_file_is_none() {
        let dir = temp();
        assert!(matches!(read_own(dir.path(), ".sage/valve.yml"), Ok(None)));
    }

    #[test]
    fn writes_never_go_through_a_symlink() {
        let dir = temp();
        let root = dir.path();
        fs::create_dir(root.join(".sage")).ok();
        fs::write(root.join("victim"), "keep me").ok();
        std::os::unix::fs::symlink(root.join("victim"), root.join(".sage/valve-baseline.json"))
            .ok();
        assert!(write_own(root, ".sage/valve-baseline.json", b"{}", Existing::Replace).is_err());
        assert_eq!(
            fs::read_to_string(root.join("victim")).ok().as_deref(),
            Some("keep me")
        );
    }

    #[test]
    fn keep_never_overwrites_and_replace_does() {
        let dir = temp();
        let path = dir.path().join("f");
        assert!(write_fixed(&path, b"one", Existing::Keep, None).is_ok());
        assert!(write_fixed(&path, b"two", Existing::Keep, None).is_err());
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("one"));
        assert!(write_fixed(&path, b"three", Existing::Replace, None).is_ok());
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("three"));
        let leftovers = fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0);
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn an_input_that_is_a_folder_or_fifo_says_so() {
        let dir = temp();
        let err = read_input(dir.path()).err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("a folder")),
            "{err:?}"
        );
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let err = read_input(&fifo).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("a FIFO")),
                "{err:?}"
            );
        }
    }
}
