//! Reading blobs within a size limit: the size comes from the object
//! header, so a blob larger than `max_file_size` is never inflated
//! (SPEC §9: no file is read beyond the limit).

use super::{BlobId, PackReader, Repo, packs, unreadable};
use crate::error::Result;

/// A blob read within a limit.
pub enum Sized {
    Bytes(Vec<u8>),
    /// Larger than the limit: not read.
    TooLarge,
}

impl Repo {
    /// Reads the blob of `path` (as shown) unless its header says it is
    /// larger than `max` bytes; a missing one is an error naming both.
    pub fn blob_within(
        &self,
        repo: &gix::Repository,
        id: BlobId,
        path: &str,
        max: u64,
    ) -> Result<Sized> {
        let header = repo
            .find_header(id.0)
            .map_err(|e| unreadable(repo, "the blob", path.as_bytes(), &id.0, e))?;
        if header.size() > max {
            return Ok(Sized::TooLarge);
        }
        self.blob_of(repo, id, path).map(Sized::Bytes)
    }

    /// `blob_within` (`blob_of` without a `max`), through `reader` first:
    /// what it does not take, gix reads.
    pub fn blob_through(
        &self,
        repo: &gix::Repository,
        reader: Option<&mut PackReader>,
        id: BlobId,
        path: &str,
        max: Option<u64>,
    ) -> Result<Sized> {
        if let Some(reader) = reader {
            let mut out = Vec::new();
            match reader.read(&id.0, max.unwrap_or(u64::MAX), &mut out) {
                Some(packs::Read::Object(gix::object::Kind::Blob)) => return Ok(Sized::Bytes(out)),
                Some(packs::Read::TooLarge) => return Ok(Sized::TooLarge),
                // Not a blob, or not the reader's: gix says what it is.
                _ => {}
            }
        }
        match max {
            Some(max) => self.blob_within(repo, id, path, max),
            None => self.blob_of(repo, id, path).map(Sized::Bytes),
        }
    }
}
