//! Names are bytes (SPEC §2.1): git stores a path as bytes, and valve's
//! globs, findings and reports are text. This is the one place a raw name
//! becomes text: each byte that is not part of valid UTF-8 is written
//! `\xNN` in lowercase hex, so `caf\xe8.txt` and `caf\xe9.txt` stay two
//! names. The text is for showing and matching only; the raw bytes stay
//! with a change (`Change::fs_path`) for reading the file, and two changes
//! are the same file only when their raw bytes are equal.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fmt::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// The folder of the repo-relative name `raw`, with its `/` (empty at
/// the top): files come a folder at a time, and that is what tells them
/// apart.
pub fn folder(raw: &[u8]) -> &[u8] {
    &raw[..raw.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)]
}

/// `raw` as text, each byte outside valid UTF-8 as `\xNN`.
pub fn display(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(raw) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

/// The shown name and, when it differs from the raw bytes, the raw name
/// as a path for the file system.
pub fn split(raw: &[u8]) -> (String, Option<PathBuf>) {
    match display(raw) {
        Cow::Borrowed(text) => (text.to_string(), None),
        Cow::Owned(text) => (text, Some(PathBuf::from(OsStr::from_bytes(raw)))),
    }
}

/// `abs` relative to `root` as raw bytes with `/` separators.
pub fn relative_bytes(root: &Path, abs: &Path) -> Vec<u8> {
    let rel = abs.strip_prefix(root).unwrap_or(abs);
    let mut out = Vec::new();
    for c in rel.components() {
        if let Component::Normal(s) = c {
            if !out.is_empty() {
                out.push(b'/');
            }
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_utf8_is_shown_as_it_is() {
        assert_eq!(
            display("dossier/café ü.txt".as_bytes()),
            "dossier/café ü.txt"
        );
        assert!(matches!(display(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn invalid_bytes_are_lowercase_hex_escapes() {
        assert_eq!(display(b"caf\xe8.txt"), "caf\\xe8.txt");
        assert_eq!(display(b"caf\xe9.txt"), "caf\\xe9.txt");
        assert_ne!(display(b"caf\xe8.txt"), display(b"caf\xe9.txt"));
    }

    #[test]
    fn only_the_bytes_outside_valid_utf8_are_escaped() {
        // A valid "é" next to a truncated one and a lone continuation byte.
        assert_eq!(display(b"\xc3\xa9\xc3-\x80\xff"), "é\\xc3-\\x80\\xff");
    }

    #[test]
    fn split_keeps_the_raw_name_only_when_it_differs() {
        assert_eq!(split(b"a/b.txt"), ("a/b.txt".to_string(), None));
        let (shown, raw) = split(b"a/\xe8");
        assert_eq!(shown, "a/\\xe8");
        assert_eq!(raw.expect("raw").as_os_str().as_bytes(), b"a/\xe8");
    }

    #[test]
    fn relative_bytes_joins_with_slashes() {
        let abs = PathBuf::from(OsStr::from_bytes(b"/r/d\xe8/f"));
        assert_eq!(relative_bytes(Path::new("/r"), &abs), b"d\xe8/f");
    }
}
