//! Replaying event-log files incrementally. Each file's position (decompressed offset after
//! the last complete line, and its line number) is stored in the same transaction as the
//! events read up to it, so a restart carries on where the last committed batch ended and
//! never counts a line twice. A finished file is read once; a file still being written is
//! read again only when it grew, from where the last read stopped, and a line cut short
//! waits for its end. A line that is not an event is recorded with its file and line number
//! and skipped.
//!
//! Parsing runs on a blocking thread and hands batches to the store thread through a
//! small channel, so reading and writing overlap.

use std::path::{Path, PathBuf};

use harbour_shared::LogProblem;
use tokio::sync::mpsc;

use super::events::{Event, Parsed, parse_line};
use super::reader::{self, Position};
use super::store::{self as rows, Batch, FileMark};
use crate::clock::now_ms;
use crate::store::Store;

/// Events per transaction.
pub const BATCH_EVENTS: usize = 20_000;
/// Problems recorded per file read; more would only repeat the first.
const MAX_PROBLEMS: usize = 50;

/// What reading one file did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FileStats {
    /// Lines read (events of every kind and bad lines).
    pub lines: u64,
    /// Task rows that were new.
    pub new_tasks: u64,
}

/// One file to read.
#[derive(Debug, Clone)]
pub struct FileJob {
    /// The file as it is now on disk (maybe `.inprogress`).
    pub path: PathBuf,
    /// The name its position is stored under: the path without `.inprogress`.
    pub key: String,
    pub finished: bool,
    pub size: u64,
    pub from: Position,
    /// The application, when already known (earlier file of a rolling log, earlier read).
    pub app_id: Option<String>,
    /// The application the file's name gives, used until an ApplicationStart says.
    pub app_hint: String,
    /// The source shown to users.
    pub source: String,
}

/// Reads `job` from its position to the end of what is complete, storing as it goes.
/// Answers what it read and the application the events went to.
pub async fn replay_file(
    store: &Store,
    job: FileJob,
) -> Result<(FileStats, String, Option<FileMark>), String> {
    let (tx, mut rx) = mpsc::channel::<Batch>(2);
    let reading = tokio::task::spawn_blocking(move || parse_file(&job, &tx));
    let mut stats = FileStats::default();
    let mut app_id = String::new();
    let mut mark = None;
    while let Some(batch) = rx.recv().await {
        app_id.clone_from(&batch.app_id);
        mark.clone_from(&batch.mark);
        let now = now_ms();
        stats.new_tasks += store
            .call(move |c| rows::write(c, &batch, now))
            .await
            .map_err(|e| format!("cannot store events: {e}"))?;
    }
    let lines = reading
        .await
        .map_err(|e| format!("the reader stopped: {e}"))??;
    stats.lines = lines;
    Ok((stats, app_id, mark))
}

/// The blocking half: reads, parses and batches. Answers the lines read.
fn parse_file(job: &FileJob, tx: &mpsc::Sender<Batch>) -> Result<u64, String> {
    let mut app_id = job.app_id.clone();
    let mut events: Vec<Event> = Vec::with_capacity(BATCH_EVENTS);
    let mut problems: Vec<LogProblem> = Vec::new();
    let mut lines = 0u64;
    let mut last = job.from;
    let mut closed = false;
    let mark = |pos: Position, done: bool| FileMark {
        path: job.key.clone(),
        offset: pos.offset,
        line: pos.line,
        size: job.size,
        done,
    };
    let flush = |events: &mut Vec<Event>,
                 problems: &mut Vec<LogProblem>,
                 app_id: &Option<String>,
                 mark: FileMark|
     -> bool {
        let batch = Batch {
            app_id: app_id.clone().unwrap_or_else(|| job.app_hint.clone()),
            source: job.source.clone(),
            events: std::mem::take(events),
            mark: Some(mark),
            problems: std::mem::take(problems),
        };
        tx.blocking_send(batch).is_ok()
    };
    let path_text = job.key.clone();
    let read = reader::read_lines(&job.path, job.from, job.finished, |n, bytes, pos| {
        if closed {
            return;
        }
        lines += 1;
        last = pos;
        let parsed = std::str::from_utf8(bytes)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|line| {
                if line.trim().is_empty() {
                    return Ok(Parsed::Ignored);
                }
                parse_line(line).map_err(|e| e.to_string())
            });
        match parsed {
            Ok(Parsed::Event(event)) => {
                if let Event::AppStart {
                    app_id: Some(id), ..
                } = &event
                    && app_id.is_none()
                {
                    app_id = Some(id.clone());
                }
                events.push(event);
            }
            Ok(Parsed::Ignored) => {}
            Err(why) => {
                if problems.len() < MAX_PROBLEMS {
                    problems.push(LogProblem {
                        path: path_text.clone(),
                        line: n,
                        why,
                    });
                }
            }
        }
        if events.len() >= BATCH_EVENTS
            && !flush(&mut events, &mut problems, &app_id, mark(pos, false))
        {
            closed = true;
        }
    });
    let end = match read {
        Ok(end) => end,
        Err(e) => {
            // Keep what was read; say why the rest was not.
            problems.push(LogProblem {
                path: path_text.clone(),
                line: last.line + 1,
                why: e.to_string(),
            });
            last
        }
    };
    if !closed {
        flush(&mut events, &mut problems, &app_id, mark(end, job.finished));
    }
    Ok(lines)
}

/// The name a file's position is stored under: its path without `.inprogress`, so a log
/// that Spark renames when the application ends carries on where it was.
pub fn key_of(path: &Path) -> String {
    let text = path.display().to_string();
    reader::strip_inprogress(&text).to_owned()
}
