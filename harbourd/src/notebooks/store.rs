//! Where notebooks live: `<data dir>/notebooks/<name>.ipynb`, written atomically (temp file,
//! fsync, rename, fsync of the directory), with a [`Stamp`] of what was last read or written so
//! an edit made by another program is noticed; and their index rows in SQLite.
//!
//! Everything here blocks: callers run it on `spawn_blocking` or the store thread.

use std::fs;
use std::hash::{Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::store::StoreResult;

/// What a notebook file was when Harbour last read or wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub modified: Option<SystemTime>,
    pub len: u64,
    pub hash: u64,
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

pub fn file_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.ipynb"))
}

/// Reads a file and its stamp.
pub fn read(path: &Path) -> std::io::Result<(String, Stamp)> {
    let bytes = fs::read(path)?;
    let meta = fs::metadata(path)?;
    let stamp = Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        hash: hash(&bytes),
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {e}"),
        )
    })?;
    Ok((text, stamp))
}

/// Whether the file is no longer what `stamp` says: `None` when it is unchanged, else the
/// new text and stamp (empty text and `None` stamp when it was removed).
pub fn changed(path: &Path, stamp: &Stamp) -> std::io::Result<Option<(String, Option<Stamp>)>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Some((String::new(), None)));
        }
        Err(e) => return Err(e),
    };
    if meta.modified().ok() == stamp.modified && meta.len() == stamp.len {
        return Ok(None);
    }
    let (text, new) = read(path)?;
    // Touched but not changed (say, `touch` or a copy of the same bytes).
    if new.hash == stamp.hash && new.len == stamp.len {
        return Ok(None);
    }
    Ok(Some((text, Some(new))))
}

/// Writes `text` to `path` so that a crash leaves either the old file or the new one.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<Stamp> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        // The rename is durable once the directory is synced.
        let _ = d.sync_all();
    }
    let meta = fs::metadata(path)?;
    Ok(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        hash: hash(text.as_bytes()),
    })
}

/// An index row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub cluster: Option<String>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub cells: u32,
}

pub fn list(c: &Connection) -> StoreResult<Vec<Row>> {
    let mut stmt = c.prepare(
        "SELECT name, cluster, created_ms, modified_ms, cells FROM notebooks ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                name: r.get(0)?,
                cluster: r.get(1)?,
                created_ms: r.get(2)?,
                modified_ms: r.get(3)?,
                cells: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn get(c: &Connection, name: &str) -> StoreResult<Option<Row>> {
    Ok(c.query_row(
        "SELECT name, cluster, created_ms, modified_ms, cells FROM notebooks WHERE name = ?1",
        [name],
        |r| {
            Ok(Row {
                name: r.get(0)?,
                cluster: r.get(1)?,
                created_ms: r.get(2)?,
                modified_ms: r.get(3)?,
                cells: r.get(4)?,
            })
        },
    )
    .optional()?)
}

/// Inserts or updates a row.
pub fn upsert(c: &Connection, row: &Row) -> StoreResult<()> {
    c.execute(
        "INSERT INTO notebooks (name, cluster, created_ms, modified_ms, cells)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET cluster = ?2, modified_ms = ?4, cells = ?5",
        params![
            row.name,
            row.cluster,
            row.created_ms,
            row.modified_ms,
            row.cells
        ],
    )?;
    Ok(())
}

pub fn rename(c: &Connection, from: &str, to: &str) -> StoreResult<()> {
    c.execute("UPDATE notebooks SET name = ?2 WHERE name = ?1", [from, to])?;
    Ok(())
}

pub fn delete(c: &Connection, name: &str) -> StoreResult<()> {
    c.execute("DELETE FROM notebooks WHERE name = ?1", [name])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn notices_changes_by_content_not_by_touch() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_of(dir.path(), "a");
        let stamp = write_atomic(&path, "one").unwrap();
        assert_eq!(changed(&path, &stamp).unwrap(), None);
        // Same bytes rewritten by someone else: not a change.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, "one").unwrap();
        assert_eq!(changed(&path, &stamp).unwrap(), None);
        fs::write(&path, "two!").unwrap();
        let (text, _) = changed(&path, &stamp).unwrap().unwrap();
        assert_eq!(text, "two!");
        fs::remove_file(&path).unwrap();
        assert_eq!(changed(&path, &stamp).unwrap(), Some((String::new(), None)));
    }
}
