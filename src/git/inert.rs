//! Makes an opened repository unable to run a program (SPEC §9).
//!
//! valve judges strangers' changes, and a change's `.gitattributes` picks
//! which filter or diff driver git would run on a file. Whatever git config
//! defines (a repository's own, the machine's, git-lfs's global `process`
//! filter), valve must judge a file as its bytes are. So before any other
//! use, the drivers are taken out of the repository's configuration: every
//! `[filter "…"]` and `[diff …]` section, and `core.fsmonitor`. With no
//! driver defined, gix has nothing to start; this holds for every code path
//! at once instead of being an option each call must remember.

use crate::error::{Error, Result};

/// Config sections that name programs or change how changes are computed.
const SECTIONS: &[&str] = &["filter", "diff", "difftool", "merge", "mergetool"];

/// Returns `sync` with every program-naming section removed from its
/// configuration.
pub(super) fn disarm(sync: gix::ThreadSafeRepository) -> Result<gix::ThreadSafeRepository> {
    let mut repo = sync.to_thread_local();
    let mut config = repo.config_snapshot_mut();
    for name in SECTIONS {
        let ids: Vec<_> = config
            .sections_and_ids_by_name(name)
            .map(|it| it.map(|(_, id)| id).collect())
            .unwrap_or_default();
        for id in ids {
            config.remove_section_by_id(id);
        }
    }
    let cores: Vec<_> = config
        .sections_and_ids_by_name("core")
        .map(|it| it.map(|(_, id)| id).collect())
        .unwrap_or_default();
    for id in cores {
        if let Some(mut section) = config.section_mut_by_id(id) {
            while section.remove("fsmonitor").is_some() {}
        }
    }
    config.commit().map_err(|e| {
        Error::git(
            format!("cannot prepare the repository's configuration: {e}"),
            None,
        )
    })?;
    Ok(repo.into_sync())
}
