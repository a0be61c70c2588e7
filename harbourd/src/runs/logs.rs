//! Run logs on disk and their followers.
//!
//! Each run has a directory `runs/<id>/` under the data dir with `stdout.log` and
//! `stderr.log` (append-only; the run's process writes them directly) and `work/`, its
//! default working directory. [`LiveLogs`] tracks the sizes of active runs' logs so
//! `read_log` long-polls wake as soon as bytes land, and know when no more will.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use harbour_shared::{LogMark, LogStream, RunId};
use tokio::sync::watch;

/// Where runs keep their files.
#[derive(Debug, Clone)]
pub struct RunDirs {
    root: PathBuf,
}

impl RunDirs {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("runs"),
        }
    }

    pub fn dir(&self, id: RunId) -> PathBuf {
        self.root.join(id.0.to_string())
    }

    pub fn log(&self, id: RunId, stream: LogStream) -> PathBuf {
        self.dir(id).join(match stream {
            LogStream::Stdout => "stdout.log",
            LogStream::Stderr => "stderr.log",
        })
    }

    /// The stream's time index: 16-byte records (end offset, unix ms), little-endian.
    pub fn index(&self, id: RunId, stream: LogStream) -> PathBuf {
        self.dir(id).join(match stream {
            LogStream::Stdout => "stdout.idx",
            LogStream::Stderr => "stderr.idx",
        })
    }

    pub fn work(&self, id: RunId) -> PathBuf {
        self.dir(id).join("work")
    }
}

/// How far an active run's logs have grown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogProgress {
    pub stdout: u64,
    pub stderr: u64,
    /// The run has terminated: its logs are final.
    pub terminated: bool,
}

/// The log progress of every run that has not terminated.
#[derive(Debug, Default)]
pub struct LiveLogs {
    runs: Mutex<HashMap<RunId, watch::Sender<LogProgress>>>,
}

impl LiveLogs {
    fn runs(&self) -> MutexGuard<'_, HashMap<RunId, watch::Sender<LogProgress>>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts tracking a run that has not terminated.
    pub fn track(&self, id: RunId) {
        self.runs()
            .entry(id)
            .or_insert_with(|| watch::Sender::new(LogProgress::default()));
    }

    /// Records new sizes; true when they changed.
    pub fn grew(&self, id: RunId, stdout: u64, stderr: u64) -> bool {
        self.runs().get(&id).is_some_and(|tx| {
            tx.send_if_modified(|p| {
                let changed = p.stdout != stdout || p.stderr != stderr;
                p.stdout = stdout;
                p.stderr = stderr;
                changed
            })
        })
    }

    /// The run terminated: wakes its followers and stops tracking it.
    pub fn finish(&self, id: RunId) {
        if let Some(tx) = self.runs().remove(&id) {
            tx.send_modify(|p| p.terminated = true);
        }
    }

    /// A receiver of the run's progress, or `None` once it has terminated (or never ran
    /// under this daemon).
    pub fn subscribe(&self, id: RunId) -> Option<watch::Receiver<LogProgress>> {
        self.runs().get(&id).map(watch::Sender::subscribe)
    }

    pub fn sizes(&self, id: RunId) -> Option<(u64, u64)> {
        self.runs().get(&id).map(|tx| {
            let p = *tx.borrow();
            (p.stdout, p.stderr)
        })
    }
}

const MARK_BYTES: u64 = 16;
/// The most marks one page carries (a 4 MiB page of tiny writes sampled every 50 ms has far
/// fewer).
const MAX_MARKS: u64 = 100_000;

/// Appends time marks to a stream's index as the stream grows.
#[derive(Debug)]
pub struct MarkWriter {
    path: PathBuf,
    file: Option<File>,
    last_end: u64,
}

impl MarkWriter {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            last_end: 0,
        }
    }

    /// Records that the stream had reached `end` bytes at `at_ms` (if it grew).
    pub fn mark(&mut self, end: u64, at_ms: i64) {
        if end <= self.last_end {
            return;
        }
        if self.file.is_none() {
            match crate::runs::process::open_log(&self.path) {
                Ok(file) => self.file = Some(file),
                Err(e) => {
                    tracing::warn!("cannot open the log index {}: {e}", self.path.display());
                    return;
                }
            }
        }
        let mut record = [0u8; MARK_BYTES as usize];
        record[..8].copy_from_slice(&end.to_le_bytes());
        record[8..].copy_from_slice(&at_ms.to_le_bytes());
        if let Some(file) = self.file.as_mut()
            && io::Write::write_all(file, &record).is_ok()
        {
            self.last_end = end;
        }
    }
}

/// The marks of an index that cover bytes `[from, to)`: from the first ending after `from`
/// to the first reaching `to`. A missing index has none.
pub fn read_marks(path: &Path, from: u64, to: u64) -> io::Result<Vec<LogMark>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let count = file.metadata()?.len() / MARK_BYTES;
    let record = |file: &mut File, i: u64| -> io::Result<LogMark> {
        let mut buf = [0u8; MARK_BYTES as usize];
        file.seek(SeekFrom::Start(i * MARK_BYTES))?;
        file.read_exact(&mut buf)?;
        let (end, at) = buf.split_at(8);
        Ok(LogMark {
            end: u64::from_le_bytes(end.try_into().unwrap_or_default()),
            at_ms: i64::from_le_bytes(at.try_into().unwrap_or_default()),
        })
    };
    // Marks ascend by `end`: binary search for the first one past `from`.
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if record(&mut file, mid)?.end <= from {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut marks = Vec::new();
    for i in lo..count.min(lo + MAX_MARKS) {
        let mark = record(&mut file, i)?;
        marks.push(mark);
        if mark.end >= to {
            break;
        }
    }
    Ok(marks)
}

/// The size of a log file; 0 when it does not exist yet.
pub fn size_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Up to `max` bytes of `path` from `offset`, and the file's size. A file that does not
/// exist yet reads as empty.
pub fn read_at(path: &Path, offset: u64, max: u64) -> io::Result<(Vec<u8>, u64)> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let want = size.saturating_sub(offset).min(max);
    // Not `vec![0; want]`: zero-filling 4 MiB pages showed up in profiles of fast followers.
    let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    if want > 0 {
        file.seek(SeekFrom::Start(offset))?;
        file.take(want).read_to_end(&mut buf)?;
    }
    Ok((buf, size))
}

/// Reads like [`read_at`], with every occurrence of a secret masked as `*` of the same
/// length (so offsets stay true). Occurrences that cross the page's edges are found by
/// reading a secret's length beyond each edge.
pub fn read_masked(
    path: &Path,
    offset: u64,
    max: u64,
    secrets: &[String],
) -> io::Result<(Vec<u8>, u64)> {
    let longest = secrets.iter().map(String::len).max().unwrap_or(0) as u64;
    if longest == 0 {
        return read_at(path, offset, max);
    }
    let before = offset.min(longest - 1);
    let (wide, size) = read_at(
        path,
        offset - before,
        max.saturating_add(before + longest - 1),
    )?;
    let start = usize::try_from(before).unwrap_or(0).min(wide.len());
    let end = (start + usize::try_from(max).unwrap_or(usize::MAX)).min(wide.len());
    let mut masked = wide[start..end].to_vec();
    for secret in secrets
        .iter()
        .map(String::as_bytes)
        .filter(|s| !s.is_empty())
    {
        let mut from = 0;
        while let Some(i) = find(&wide[from..], secret).map(|i| i + from) {
            let (a, b) = (i.max(start), (i + secret.len()).min(end));
            for byte in masked
                .iter_mut()
                .take(b.saturating_sub(start))
                .skip(a.saturating_sub(start))
            {
                *byte = b'*';
            }
            from = i + 1;
        }
    }
    Ok((masked, size))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_every_page_even_across_edges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let text = "token=hunter22 and again hunter22.\n";
        std::fs::write(&path, text).unwrap();
        let secrets = vec!["hunter22".to_owned()];
        let whole = read_masked(&path, 0, 1000, &secrets).unwrap().0;
        assert_eq!(whole, b"token=******** and again ********.\n");
        // Page by page, with edges inside the secrets, gives the same bytes.
        for page in 1..12 {
            let mut out = Vec::new();
            let mut at = 0;
            while at < text.len() as u64 {
                let (data, _) = read_masked(&path, at, page, &secrets).unwrap();
                at += data.len() as u64;
                out.extend(data);
            }
            assert_eq!(out, whole, "pages of {page}");
        }
        assert_eq!(read_masked(&path, 0, 1000, &[]).unwrap().0, text.as_bytes());
    }

    #[test]
    fn reads_pages_by_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        assert_eq!(read_at(&path, 0, 10).unwrap(), (Vec::new(), 0));
        std::fs::write(&path, b"hello world").unwrap();
        assert_eq!(read_at(&path, 0, 5).unwrap(), (b"hello".to_vec(), 11));
        assert_eq!(read_at(&path, 6, 100).unwrap(), (b"world".to_vec(), 11));
        assert_eq!(read_at(&path, 50, 100).unwrap(), (Vec::new(), 11));
    }

    #[test]
    fn marks_are_found_for_any_page() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.idx");
        assert!(read_marks(&path, 0, 10).unwrap().is_empty());
        let mut writer = MarkWriter::new(path.clone());
        for (end, at) in [(10, 1), (10, 2), (25, 3), (40, 4), (100, 5)] {
            writer.mark(end, at);
        }
        let ends = |from, to| -> Vec<u64> {
            read_marks(&path, from, to)
                .unwrap()
                .iter()
                .map(|m| m.end)
                .collect()
        };
        assert_eq!(
            ends(0, 10),
            [10],
            "a mark that does not grow is not written"
        );
        assert_eq!(ends(10, 30), [25, 40]);
        assert_eq!(ends(24, 25), [25]);
        assert_eq!(ends(30, 1000), [40, 100]);
        assert!(ends(100, 200).is_empty());
    }

    #[tokio::test]
    async fn followers_wake_on_growth_and_on_finish() {
        let live = LiveLogs::default();
        let id = RunId(1);
        live.track(id);
        let mut rx = live.subscribe(id).unwrap();
        assert!(!live.grew(RunId(2), 1, 1), "untracked runs are ignored");
        assert!(live.grew(id, 5, 0));
        assert!(!live.grew(id, 5, 0), "no change, no wake-up");
        rx.changed().await.unwrap();
        assert_eq!(rx.borrow_and_update().stdout, 5);
        live.finish(id);
        rx.changed().await.unwrap();
        assert!(rx.borrow().terminated);
        assert!(live.subscribe(id).is_none());
    }
}
