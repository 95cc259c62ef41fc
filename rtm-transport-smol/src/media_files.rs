//! The bytes of media (the files and images of FILE/IMAGE messages, issue #14) on disk: one
//! file per media id in the media directory (`<data dir>/media/`), named after the id, with
//! uploads in progress beside them as `*.part` files.
//!
//! Why one file per media id and not content-addressed files: a media id's bytes live and
//! expire with its record (the core's `RecordKind::Media`), so deleting one is deleting one
//! file, with no reference counts to keep right across crashes; two users uploading the same
//! bytes is not common enough to be worth that.
//!
//! Crash safety: an upload is written to a fresh `*.part` file, fsync'd, renamed to its
//! media id and the directory fsync'd, all before the core is told (`MediaCall::Uploaded`)
//! and writes the record. So a record never names a file that is not whole on disk; the
//! other way round (a file with no record: a crash between the rename and the commit, a
//! record that expired while the server was down and whose file was not removed yet) is
//! cleaned by [`MediaFiles::sweep`] at start, which removes every `*.part` file and every
//! media file the core does not know.
//!
//! Every method here blocks (file IO): callers run them with `smol::unblock`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

/// The suffix of an upload in progress.
const PART: &str = ".part";

/// The longest file name taken for a media id (media ids are much shorter).
const MAX_NAME: usize = 128;

/// The media directory.
#[derive(Debug)]
pub(crate) struct MediaFiles {
    dir: PathBuf,
    /// A directory of its own made for a server without a data directory (memory storage):
    /// removed with everything in it when the server stops.
    remove_at_drop: bool,
}

/// What [`MediaFiles::sweep`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Swept {
    /// `*.part` files of uploads cut by a stop or a crash.
    pub parts: usize,
    /// Media files with no live record.
    pub orphans: usize,
    /// Media files kept.
    pub kept: usize,
}

impl MediaFiles {
    /// `dir`, created if missing.
    pub(crate) fn open(dir: impl Into<PathBuf>) -> io::Result<MediaFiles> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create the media directory {}: {e}", dir.display()),
            )
        })?;
        Ok(MediaFiles {
            dir,
            remove_at_drop: false,
        })
    }

    /// A fresh directory under the system's temporary directory, `rtm-media-PID-RANDOM`,
    /// removed when this is dropped (a server with memory storage keeps its media no longer
    /// than its records). Made at the first upload only: most such servers (tests,
    /// throwaway ones) never take one.
    ///
    /// A process killed with SIGKILL cannot remove its directory: so each new one first
    /// removes those of processes that no longer exist (Linux: no `/proc/PID`).
    pub(crate) fn temporary() -> io::Result<MediaFiles> {
        let temp = std::env::temp_dir();
        remove_orphaned_temporaries(&temp);
        let name = format!(
            "{TEMPORARY_PREFIX}{}-{:016x}",
            std::process::id(),
            crate::random_seed()
        );
        Ok(MediaFiles {
            dir: temp.join(name),
            remove_at_drop: true,
        })
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `media_id`; `None` if the id cannot be a file name here (the core makes
    /// the ids; this only keeps a bad one from reaching the file system).
    pub(crate) fn path_of(&self, media_id: &str) -> Option<PathBuf> {
        is_file_name(media_id).then(|| self.dir.join(media_id))
    }

    /// A new, empty `*.part` file for an upload, and its path.
    pub(crate) fn create_part(&self) -> io::Result<(File, PathBuf)> {
        if self.remove_at_drop {
            fs::create_dir_all(&self.dir)?; // made at the first upload
        }
        loop {
            let path = self
                .dir
                .join(format!("{:016x}{PART}", crate::random_seed()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes the upload in `part` the file of `media_id`, durably: the data fsync'd, the file
    /// renamed, the directory fsync'd (so the rename itself survives a power cut).
    pub(crate) fn commit(&self, file: File, part: &Path, media_id: &str) -> io::Result<()> {
        let path = self.path_of(media_id).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{media_id:?} is not a media file name"),
            )
        })?;
        file.sync_all()?;
        drop(file);
        fs::rename(part, &path)?;
        sync_dir(&self.dir)
    }

    /// Opens the file of `media_id` for reading, at `from`, and says how long it is.
    pub(crate) fn open_at(&self, media_id: &str, from: u64) -> io::Result<(File, u64)> {
        let path = self
            .path_of(media_id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not a media file name"))?;
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(from))?;
        Ok((file, len))
    }

    /// Removes the file of `media_id` (none there is fine: removed already).
    pub(crate) fn remove(&self, media_id: &str) -> io::Result<()> {
        let Some(path) = self.path_of(media_id) else {
            return Ok(());
        };
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes an upload's `*.part` file (none there is fine).
    pub(crate) fn remove_part(part: &Path) {
        if let Err(e) = fs::remove_file(part) {
            if e.kind() != io::ErrorKind::NotFound {
                warn!(path = %part.display(), error = %e, "media: cannot remove an upload's part file");
            }
        }
    }

    /// The media ids that have a file.
    pub(crate) fn stored(&self) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        if self.remove_at_drop && !self.dir.exists() {
            return Ok(ids); // not made yet
        }
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if let Some(name) = name.to_str() {
                if is_file_name(name) {
                    ids.push(name.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// At start, once the core has restored its records: removes every `*.part` file and
    /// every media file for which `is_live` says the core has no record. Files of other
    /// names are left alone (an operator's, not ours).
    pub(crate) fn sweep(&self, is_live: impl Fn(&str) -> bool) -> io::Result<Swept> {
        let mut swept = Swept::default();
        if self.remove_at_drop && !self.dir.exists() {
            return Ok(swept); // not made yet
        }
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(PART) {
                Self::remove_part(&entry.path());
                swept.parts += 1;
            } else if is_file_name(name) {
                if is_live(name) {
                    swept.kept += 1;
                } else {
                    self.remove(name)?;
                    swept.orphans += 1;
                }
            }
        }
        if swept.parts + swept.orphans > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(swept)
    }
}

impl Drop for MediaFiles {
    fn drop(&mut self) {
        if self.remove_at_drop {
            match fs::remove_dir_all(&self.dir) {
                Ok(()) => info!(dir = %self.dir.display(), "media: temporary directory removed"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {} // never made
                Err(e) => {
                    warn!(dir = %self.dir.display(), error = %e, "media: cannot remove the temporary directory")
                }
            }
        }
    }
}

/// The name of a temporary media directory starts with this, then the process id.
const TEMPORARY_PREFIX: &str = "rtm-media-";

/// Removes the temporary media directories in `temp` of processes that no longer exist
/// (best effort: another user's cannot be removed, and are left alone).
fn remove_orphaned_temporaries(temp: &Path) {
    if !Path::new("/proc/self").exists() {
        return; // no way to tell a dead process here
    }
    let Ok(entries) = fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMPORARY_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let gone = pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists();
        if gone && fs::remove_dir_all(entry.path()).is_ok() {
            info!(dir = %entry.path().display(), "media: removed the temporary directory of a process that is gone");
        }
    }
}

/// Whether `name` can be a media file's name: 1 to [`MAX_NAME`] of `A-Z a-z 0-9 - _` (no
/// dot, so never `*.part`, `.` or `..`; no separator).
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// fsync of a directory: makes the creation, rename or removal of its entries durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    #[test]
    fn an_upload_becomes_its_media_file_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let files = MediaFiles::open(dir.path().join("media")).unwrap();
        let (mut file, part) = files.create_part().unwrap();
        file.write_all(b"hello media").unwrap();
        assert_eq!(
            files.stored().unwrap(),
            Vec::<String>::new(),
            "a part is no media"
        );
        files.commit(file, &part, "m_1-a").unwrap();
        assert!(!part.exists());
        assert_eq!(files.stored().unwrap(), vec!["m_1-a".to_string()]);
        let (mut file, len) = files.open_at("m_1-a", 6).unwrap();
        assert_eq!(len, 11);
        let mut rest = String::new();
        file.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "media");
        files.remove("m_1-a").unwrap();
        files.remove("m_1-a").unwrap(); // twice is fine
        assert!(files.open_at("m_1-a", 0).is_err());
    }

    #[test]
    fn ids_that_are_not_plain_names_never_reach_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        let files = MediaFiles::open(dir.path()).unwrap();
        for bad in ["", "..", "a/b", "../x", "a.part", "x y", &"a".repeat(129)] {
            assert!(files.path_of(bad).is_none(), "{bad:?}");
            assert!(files.open_at(bad, 0).is_err());
        }
        let (file, part) = files.create_part().unwrap();
        assert!(files.commit(file, &part, "../escape").is_err());
        assert!(!dir.path().parent().unwrap().join("escape").exists());
    }

    #[test]
    fn the_sweep_removes_parts_and_files_without_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let files = MediaFiles::open(dir.path()).unwrap();
        for id in ["live", "dead"] {
            let (file, part) = files.create_part().unwrap();
            files.commit(file, &part, id).unwrap();
        }
        let (_cut, part) = files.create_part().unwrap();
        fs::write(dir.path().join("README.txt"), "the operator's").unwrap();
        let swept = files.sweep(|id| id == "live").unwrap();
        assert_eq!(
            swept,
            Swept {
                parts: 1,
                orphans: 1,
                kept: 1
            }
        );
        assert!(!part.exists());
        assert_eq!(files.stored().unwrap(), vec!["live".to_string()]);
        assert!(dir.path().join("README.txt").exists());
    }

    #[test]
    fn a_temporary_directory_is_removed_with_its_files() {
        let files = MediaFiles::temporary().unwrap();
        let dir = files.dir().to_path_buf();
        assert!(!dir.exists(), "made at the first upload only");
        assert_eq!(files.stored().unwrap(), Vec::<String>::new());
        assert_eq!(files.sweep(|_| true).unwrap(), Swept::default());
        let (file, part) = files.create_part().unwrap();
        files.commit(file, &part, "x").unwrap();
        drop(files);
        assert!(!dir.exists());
        drop(MediaFiles::temporary().unwrap()); // never made: nothing to remove
    }

    #[test]
    fn temporary_directories_of_dead_processes_are_removed() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let temp = tempfile::tempdir().unwrap();
        // No process has this id (above the kernel's pid_max, 2^22).
        let dead = temp
            .path()
            .join(format!("{TEMPORARY_PREFIX}4294967295-00ff"));
        let alive = temp
            .path()
            .join(format!("{TEMPORARY_PREFIX}{}-00ff", std::process::id()));
        let other = temp.path().join("rtm-media-not-ours");
        for dir in [&dead, &alive, &other] {
            fs::create_dir(dir).unwrap();
            fs::write(dir.join("m1"), "x").unwrap();
        }
        remove_orphaned_temporaries(temp.path());
        assert!(!dead.exists());
        assert!(alive.exists());
        assert!(other.exists());
    }
}
