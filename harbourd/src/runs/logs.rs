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

use harbour_shared::{LogStream, RunId};
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

#[cfg(test)]
mod tests {
    use super::*;

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
