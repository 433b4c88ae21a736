//! Reading blobs within a size limit: the size comes from the object
//! header, so a blob larger than `max_file_size` is never inflated
//! (SPEC §9: no file is read beyond the limit).

use super::{BlobId, Repo, unreadable};
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
}
