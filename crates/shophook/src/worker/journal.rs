//! The render journal: a directory holding one empty file per delivery whose
//! merchant template is being rendered right now. Rendering is bounded (a failing
//! template fails its delivery, a panic is caught), but should the process still
//! die while rendering — an abort no bound foresaw — the file outlives it, and on
//! the next start that delivery is recorded `dead` instead of being rendered into
//! the same crash again. The files are created and removed without `fsync`: a
//! process abort keeps them (they are in the page cache); only a machine crash
//! could lose one, which costs one more attempt, nothing else.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One node's render journal.
#[derive(Debug)]
pub struct RenderJournal {
    dir: PathBuf,
    /// Deliveries a previous run was rendering when it stopped.
    poisoned: Mutex<HashSet<String>>,
}

/// A render in progress; its file is removed when this is dropped.
pub struct Rendering<'a> {
    journal: &'a RenderJournal,
    id: String,
}

impl Drop for Rendering<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.journal.dir.join(&self.id));
    }
}

/// Delivery ids are `dlv_` + a ULID: only such a name becomes a file.
fn safe(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl RenderJournal {
    /// Opens (creates) the journal in `dir` and reads what a previous run left.
    pub fn open(dir: &Path) -> std::io::Result<RenderJournal> {
        std::fs::create_dir_all(dir)?;
        let mut poisoned = HashSet::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if safe(&name) {
                poisoned.insert(name);
            }
        }
        if !poisoned.is_empty() {
            tracing::warn!(
                deliveries = ?poisoned,
                "the previous run stopped while rendering these deliveries' templates; they will be recorded dead, not rendered again"
            );
        }
        Ok(RenderJournal {
            dir: dir.to_path_buf(),
            poisoned: Mutex::new(poisoned),
        })
    }

    /// Whether a previous run stopped while rendering `id`; true once: the caller
    /// records the delivery dead, and the journal forgets it.
    pub fn take_poisoned(&self, id: &str) -> bool {
        let found = self.poisoned.lock().is_ok_and(|mut p| p.remove(id));
        if found {
            let _ = std::fs::remove_file(self.dir.join(id));
        }
        found
    }

    /// Notes that `id` is being rendered until the guard is dropped.
    pub fn rendering(&self, id: &str) -> Option<Rendering<'_>> {
        if !safe(id) {
            return None;
        }
        std::fs::File::create(self.dir.join(id)).ok()?;
        Some(Rendering {
            journal: self,
            id: id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_left_unfinished_is_poisoned_once_on_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let j = RenderJournal::open(dir.path()).unwrap();
        {
            let _done = j.rendering("dlv_01A").unwrap();
            assert!(dir.path().join("dlv_01A").exists());
        }
        assert!(
            !dir.path().join("dlv_01A").exists(),
            "a finished render leaves nothing"
        );
        let unfinished = j.rendering("dlv_01B").unwrap();
        std::mem::forget(unfinished); // as if the process died here
        assert!(j.rendering("../etc/passwd").is_none());
        let next_run = RenderJournal::open(dir.path()).unwrap();
        assert!(!next_run.take_poisoned("dlv_01A"));
        assert!(next_run.take_poisoned("dlv_01B"));
        assert!(!next_run.take_poisoned("dlv_01B"), "once");
        assert!(!dir.path().join("dlv_01B").exists());
    }
}
