//! `harbourd backup DEST`: a copy of the data dir that a harbourd can start from, taken while
//! the daemon runs. The database is copied with SQLite's `VACUUM INTO`, a consistent
//! snapshot read inside one transaction (the daemon keeps writing meanwhile); then the files:
//! run logs (append-only, so a running run's log is copied as far as it was written),
//! notebooks, ingestion checkpoints and tables, event logs, the TCP token. Left out: the
//! lock, the database's own files (the snapshot replaces them), kernels' connection files
//! (live processes only) and the Spark runtime (reinstalled with `harbourd runtime install`).

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// What a backup copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub database_bytes: u64,
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{} exists and is not empty; give a new directory (a backup never overwrites)",
        .0.display()
    )]
    NotEmpty(PathBuf),
    #[error("{} holds no harbour.db: is it a harbour data dir?", .0.display())]
    NoDatabase(PathBuf),
    #[error("snapshot of the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Entries of the data dir's top level a backup skips.
const SKIP: [&str; 6] = [
    "harbour.db",
    "harbour.db-wal",
    "harbour.db-shm",
    "harbourd.lock",
    "kernels",
    "runtime",
];

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError + use<> {
    let path = path.to_owned();
    move |source| BackupError::Io { what, path, source }
}

/// Copies `data_dir` into `dest` (created 0700; it must not hold anything yet).
pub fn run(data_dir: &Path, dest: &Path) -> Result<Copied, BackupError> {
    let db = data_dir.join("harbour.db");
    if !db.is_file() {
        return Err(BackupError::NoDatabase(data_dir.to_owned()));
    }
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::NotEmpty(dest.to_owned()));
            }
            fs::set_permissions(dest, fs::Permissions::from_mode(0o700))
                .map_err(io_err("cannot chmod", dest))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dest)
            .map_err(io_err("cannot create", dest))?,
        Err(e) => return Err(io_err("cannot read", dest)(e)),
    }
    let mut copied = Copied::default();
    let snapshot = dest.join("harbour.db");
    let conn = rusqlite::Connection::open_with_flags(
        &db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = snapshot
        .to_str()
        .ok_or_else(|| io_err("not a UTF-8 path", &snapshot)(io::ErrorKind::InvalidInput.into()))?;
    conn.execute("VACUUM INTO ?1", [target])?;
    copied.database_bytes = fs::metadata(&snapshot).map(|m| m.len()).unwrap_or(0);
    for entry in fs::read_dir(data_dir).map_err(io_err("cannot read", data_dir))? {
        let entry = entry.map_err(io_err("cannot read", data_dir))?;
        let name = entry.file_name();
        if SKIP.iter().any(|s| name == *s) {
            continue;
        }
        copy_tree(&entry.path(), &dest.join(&name), &mut copied)?;
    }
    Ok(copied)
}

/// Copies files and directories (keeping modes), recreating symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path, copied: &mut Copied) -> Result<(), BackupError> {
    let meta = fs::symlink_metadata(from).map_err(io_err("cannot stat", from))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        DirBuilder::new()
            .mode(meta.permissions().mode() & 0o7777)
            .create(to)
            .map_err(io_err("cannot create", to))?;
        for entry in fs::read_dir(from).map_err(io_err("cannot read", from))? {
            let entry = entry.map_err(io_err("cannot read", from))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), copied)?;
        }
    } else if kind.is_symlink() {
        let target = fs::read_link(from).map_err(io_err("cannot read link", from))?;
        std::os::unix::fs::symlink(target, to).map_err(io_err("cannot link", to))?;
    } else if kind.is_file() {
        match fs::copy(from, to) {
            Ok(n) => {
                copied.files += 1;
                copied.bytes += n;
            }
            // A file removed while we walked (a run's dir pruned, a temp file renamed).
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot copy", from)(e)),
        }
    }
    // Sockets, fifos and devices have no place in a backup.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_a_snapshot_plus_the_files_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("runs/1")).unwrap();
        fs::write(data.join("runs/1/stdout.log"), "hello\n").unwrap();
        fs::create_dir_all(data.join("kernels")).unwrap();
        fs::write(data.join("kernels/k.json"), "{}").unwrap();
        fs::write(data.join("harbourd.lock"), "1").unwrap();
        let conn = rusqlite::Connection::open(data.join("harbour.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (42);",
        )
        .unwrap();

        let dest = dir.path().join("backup");
        let copied = run(&data, &dest).unwrap();
        assert_eq!(copied.files, 1);
        assert!(copied.database_bytes > 0);
        let mode = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let restored = rusqlite::Connection::open(dest.join("harbour.db")).unwrap();
        let x: i64 = restored
            .query_row("SELECT x FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 42, "the snapshot has what was committed, WAL included");
        assert_eq!(
            fs::read_to_string(dest.join("runs/1/stdout.log")).unwrap(),
            "hello\n"
        );
        assert!(!dest.join("kernels").exists());
        assert!(!dest.join("harbourd.lock").exists());

        let again = run(&data, &dest).unwrap_err().to_string();
        assert!(again.contains("not empty"), "{again}");
        let nothing = run(&dir.path().join("nowhere"), &dir.path().join("b2")).unwrap_err();
        assert!(nothing.to_string().contains("no harbour.db"));
    }
}
