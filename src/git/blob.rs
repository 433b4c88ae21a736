//! Reading blobs within a size limit: the size comes from the object
//! header, so a blob larger than `max_file_size` is never inflated
//! (SPEC §9: no file is read beyond the limit).

use super::{BlobId, Repo};
use crate::error::{Error, Result};

/// A blob read within a limit.
pub enum Sized {
    Bytes(Vec<u8>),
    /// Larger than the limit: not read.
    TooLarge,
}

impl Repo {
    /// Reads a blob unless its header says it is larger than `max` bytes.
    pub fn blob_within(&self, repo: &gix::Repository, id: BlobId, max: u64) -> Result<Sized> {
        let header = repo
            .find_header(id.0)
            .map_err(|e| Error::git(format!("cannot read a blob: {e}"), None))?;
        if header.size() > max {
            return Ok(Sized::TooLarge);
        }
        self.blob(repo, id).map(Sized::Bytes)
    }
}
