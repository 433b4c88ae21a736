//! Objects the environment names: `GIT_OBJECT_DIRECTORY` and
//! `GIT_ALTERNATE_OBJECT_DIRECTORIES` (SPEC §2.1 "Server side").
//!
//! Inside a `pre-receive` hook git keeps the pushed objects in a quarantine
//! folder and says so only through these variables; the repository's own
//! `objects/` does not hold them yet. gix reads neither variable, and its
//! object store takes extra object folders only from an `info/alternates`
//! file below its own folder. So when either variable is set, valve opens
//! the object store at a private, empty folder of its own (in the system's
//! temp folder, never inside the repository) whose `info/alternates` lists
//! exactly what git would read: `GIT_OBJECT_DIRECTORY` (else the
//! repository's `objects/`), then each alternate of the variable. The
//! folders' own `info/alternates` are followed as usual. Nothing of git's
//! is written; the folder lives as long as the repository handle.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};

/// valve's private object folder; removed when the last handle goes.
#[derive(Debug)]
pub(super) struct Overlay {
    dir: PathBuf,
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Points `sync`'s object store at what the environment names, when it
/// names anything; `None` (and `sync` untouched) otherwise.
pub(super) fn apply(sync: &mut gix::ThreadSafeRepository) -> Result<Option<Arc<Overlay>>> {
    let primary = std::env::var_os("GIT_OBJECT_DIRECTORY").filter(|v| !v.is_empty());
    let alternates = std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES").filter(|v| !v.is_empty());
    if primary.is_none() && alternates.is_none() {
        return Ok(None);
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let absolute = |p: PathBuf| if p.is_absolute() { p } else { cwd.join(p) };
    let mut dirs = vec![match primary {
        Some(p) => absolute(PathBuf::from(p)),
        None => sync.objects.path().to_path_buf(),
    }];
    if let Some(list) = alternates {
        dirs.extend(split_alternates(&list).into_iter().map(absolute));
    }
    let overlay = Overlay {
        dir: private_dir()?,
    };
    let info = overlay.dir.join("info");
    std::fs::create_dir(&info).map_err(|e| Error::write(&info, e))?;
    let mut text = Vec::new();
    for dir in &dirs {
        text.extend(quote(dir));
        text.push(b'\n');
    }
    let file = info.join("alternates");
    write_new(&file, &text)?;
    let object_hash = sync.to_thread_local().object_hash();
    let options = gix::odb::store::init::Options {
        current_dir: Some(cwd),
        ..Default::default()
    };
    let store = gix::odb::Store::at_opts(
        overlay.dir.clone(),
        object_hash,
        &mut std::iter::empty(),
        options,
    )
    .map_err(|e| {
        Error::git(
            format!(
                "cannot open the objects that GIT_OBJECT_DIRECTORY / GIT_ALTERNATE_OBJECT_DIRECTORIES name ({}): {e}",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("check those variables: each must name an existing objects folder".to_string()),
        )
    })?;
    sync.objects = Arc::new(store);
    Ok(Some(Arc::new(overlay)))
}

/// A new folder only this process may use, in the system's temp folder.
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!(
            "valve-objects-{}-{nanos:x}-{n}",
            std::process::id()
        ));
        // `create` fails on anything already there, a planted link included.
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(Error::write(&dir, e)),
        }
    }
    Err(Error::write(
        &base,
        last.unwrap_or_else(|| std::io::Error::other("no free name")),
    ))
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::write(path, e))?;
    file.write_all(bytes).map_err(|e| Error::write(path, e))
}

/// A path as an `info/alternates` entry: always C-quoted, so any byte
/// (a newline, a leading `#` or `"`) survives.
fn quote(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = vec![b'"'];
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'"' => out.extend(br#"\""#),
            b'\\' => out.extend(br"\\"),
            b' '..=b'~' => out.push(b),
            _ => out.extend(format!("\\{b:03o}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

/// `GIT_ALTERNATE_OBJECT_DIRECTORIES` as git reads it: entries separated
/// by `:`, an entry that starts with `"` C-quoted (so it may hold a `:`),
/// empty entries ignored.
fn split_alternates(list: &OsString) -> Vec<PathBuf> {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let bytes = list.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let (entry, next) = if bytes[i] == b'"' {
            unquote(&bytes[i + 1..])
                .map(|(entry, used)| (entry, i + 1 + used))
                .unwrap_or_else(|| plain(bytes, i))
        } else {
            plain(bytes, i)
        };
        if !entry.is_empty() {
            out.push(PathBuf::from(OsString::from_vec(entry)));
        }
        // Skip the separator after the entry (and anything up to it).
        i = match bytes[next.min(bytes.len())..]
            .iter()
            .position(|&b| b == b':')
        {
            Some(p) => next + p + 1,
            None => bytes.len(),
        };
    }
    out
}

/// An unquoted entry from `start` to the next `:`.
fn plain(bytes: &[u8], start: usize) -> (Vec<u8>, usize) {
    let end = bytes[start..]
        .iter()
        .position(|&b| b == b':')
        .map_or(bytes.len(), |p| start + p);
    (bytes[start..end].to_vec(), end)
}

/// The body of a C-quoted string up to its closing quote, and the bytes
/// used (closing quote included); `None` when it never closes.
fn unquote(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let c = *bytes.get(i + 1)?;
                i += 2;
                match c {
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b't' => out.push(b'\t'),
                    b'n' => out.push(b'\n'),
                    b'v' => out.push(11),
                    b'f' => out.push(12),
                    b'r' => out.push(b'\r'),
                    b'0'..=b'3' => {
                        let digits = bytes.get(i..i + 2)?;
                        if !digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                            return None;
                        }
                        out.push(
                            ((c - b'0') << 6) | ((digits[0] - b'0') << 3) | (digits[1] - b'0'),
                        );
                        i += 2;
                    }
                    other => out.push(other),
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_alternates(&OsString::from(s))
            .into_iter()
            .map(|p| p.display().to_string())
            .collect()
    }

    #[test]
    fn alternates_split_on_colons_and_skip_empty_entries() {
        assert_eq!(
            split("/a/objects::/b/objects"),
            ["/a/objects", "/b/objects"]
        );
        assert_eq!(split("/only"), ["/only"]);
    }

    #[test]
    fn a_quoted_alternate_may_hold_a_colon() {
        assert_eq!(split(r#""/a:b/objects":/c"#), ["/a:b/objects", "/c"]);
        assert_eq!(split(r#""/x\"y\\z\101""#), [r#"/x"y\zA"#]);
    }

    #[test]
    fn quoting_round_trips_through_unquote() {
        let path = Path::new("/tmp/a \"b\"\\c\n#d");
        let q = quote(path);
        let (back, used) = unquote(&q[1..]).unwrap_or_default();
        assert_eq!(used, q.len() - 1);
        assert_eq!(back, path.as_os_str().as_encoded_bytes());
    }
}
