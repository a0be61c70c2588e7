//! Spark event-log analytics: harbourd replays the event logs of its own Spark runs and of
//! the directories in `[analytics] log_dirs` (as the History Server does its
//! `logDirectory`), and accepts pushed listener events, into SQLite tables of applications,
//! jobs, stages and tasks; then answers per application, job and date.
//!
//! [`events`] parses the listener events that matter ([`scan`] reads the common successful
//! TaskEnd in one pass), [`reader`] reads log files (plain or in any of Spark's codecs,
//! [`framings`] decoding its Java libraries' own framings; single or rolling) as complete
//! lines, [`replay`] follows files incrementally, [`store`] writes batches idempotently
//! (with [`sketch`]'s per-stage task-time histograms), [`query`] reads the figures back.
//! [`Analytics`] is the handle the API holds and the task that polls the directories and
//! applies retention.

pub mod events;
pub mod framings;
pub mod query;
pub mod reader;
pub mod replay;
pub mod scan;
pub mod sketch;
pub mod store;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use harbour_shared::{
    AppDetail, DaySummary, Error, JobDetail, MAX_PUSH_EVENTS, PushReport, RunId, SparkApps,
};
use tokio_util::sync::CancellationToken;

use self::events::{Event, Parsed, parse_line};
use self::reader::Position;
use self::replay::FileJob;
use self::store::{Batch, FileMark};
use crate::clock::now_ms;
use crate::config::AnalyticsConfig;
use crate::store::{Store, StoreError};

/// Problems `spark_apps` lists at most.
const MAX_PROBLEMS_LISTED: usize = 100;

/// What the follower remembers of a file between polls.
#[derive(Debug, Clone)]
struct Known {
    mark: FileMark,
    app_id: Option<String>,
    /// Size and finished-ness when last read, to skip files that did not change.
    seen: Option<(u64, bool)>,
}

/// The analytics handle.
#[derive(Debug)]
pub struct Analytics {
    store: Store,
    config: AnalyticsConfig,
    /// Harbour's own runs' event logs.
    own_dir: PathBuf,
    known: tokio::sync::Mutex<Option<HashMap<String, Known>>>,
}

fn internal(e: StoreError) -> Error {
    tracing::error!("analytics store: {e}");
    Error::Internal {
        id: format!("analytics: {e}"),
    }
}

/// What one pass over the directories did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassStats {
    pub files: u64,
    pub lines: u64,
    pub new_tasks: u64,
}

impl Analytics {
    pub fn new(store: Store, config: AnalyticsConfig, own_dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            store,
            config,
            own_dir,
            known: tokio::sync::Mutex::new(None),
        })
    }

    /// The directories replayed: harbour's own event logs first, then the configured ones.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.own_dir.clone()];
        for d in &self.config.log_dirs {
            if !dirs.contains(d) {
                dirs.push(d.clone());
            }
        }
        dirs
    }

    /// Polls the directories until `shutdown`, and applies retention hourly.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        if !self.config.enabled {
            return;
        }
        let mut last_retention: Option<tokio::time::Instant> = None;
        loop {
            match self.pass().await {
                Ok(s) if s.lines > 0 => tracing::info!(
                    files = s.files,
                    lines = s.lines,
                    new_tasks = s.new_tasks,
                    "event logs replayed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("event-log replay: {e}"),
            }
            if last_retention.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                last_retention = Some(tokio::time::Instant::now());
                if let Err(e) = self.retention().await {
                    tracing::warn!("analytics retention: {e}");
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.config.poll.duration()) => {}
            }
        }
    }

    /// One pass: every file of every directory that has something new is read from where
    /// the last read stopped.
    pub async fn pass(&self) -> Result<PassStats, String> {
        let mut guard = self.known.lock().await;
        if guard.is_none() {
            let marks = self
                .store
                .call(|c| store::marks(c))
                .await
                .map_err(|e| e.to_string())?;
            *guard = Some(
                marks
                    .into_iter()
                    .map(|(mark, app_id)| {
                        (
                            mark.path.clone(),
                            Known {
                                mark,
                                app_id,
                                seen: None,
                            },
                        )
                    })
                    .collect(),
            );
        }
        let Some(known) = guard.as_mut() else {
            return Ok(PassStats::default());
        };
        let mut stats = PassStats::default();
        for dir in self.dirs() {
            let listed = {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || reader::scan(&dir)).await
            };
            let sources = match listed {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    if dir != self.own_dir || e.kind() != std::io::ErrorKind::NotFound {
                        tracing::debug!(dir = %dir.display(), "cannot list: {e}");
                    }
                    continue;
                }
                Err(_) => continue,
            };
            for source in sources {
                let mut app_id: Option<String> = None;
                for (path, finished) in source.files {
                    let key = replay::key_of(&path);
                    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    let entry = known.entry(key.clone()).or_insert_with(|| Known {
                        mark: FileMark {
                            path: key.clone(),
                            offset: 0,
                            line: 0,
                            size: 0,
                            done: false,
                        },
                        app_id: None,
                        seen: None,
                    });
                    if app_id.is_none() {
                        app_id.clone_from(&entry.app_id);
                    }
                    if entry.mark.done || entry.seen == Some((size, finished)) {
                        continue;
                    }
                    let job = FileJob {
                        path: path.clone(),
                        key: key.clone(),
                        finished,
                        size,
                        from: Position {
                            offset: entry.mark.offset,
                            line: entry.mark.line,
                        },
                        app_id: app_id.clone(),
                        app_hint: source.app_hint.clone(),
                        source: source.display.display().to_string(),
                    };
                    let (file_stats, used, mark) = replay::replay_file(&self.store, job).await?;
                    stats.files += 1;
                    stats.lines += file_stats.lines;
                    stats.new_tasks += file_stats.new_tasks;
                    if let Some(mark) = mark {
                        entry.mark = mark;
                    }
                    entry.seen = Some((size, finished));
                    if !used.is_empty() {
                        entry.app_id = Some(used.clone());
                        app_id = Some(used);
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Removes analytics of applications older than the retention age, and harbour's own
    /// event logs of that age (logs in configured directories belong to their owners).
    pub async fn retention(&self) -> Result<(), String> {
        let keep = self.config.retention.0;
        if keep == 0 {
            return Ok(());
        }
        let cutoff = now_ms() - i64::try_from(keep).unwrap_or(i64::MAX);
        let gone = self
            .store
            .call(move |c| store::expire(c, cutoff))
            .await
            .map_err(|e| e.to_string())?;
        if !gone.is_empty() {
            tracing::info!(
                apps = gone.len(),
                "analytics retention removed old applications"
            );
        }
        let own = self.own_dir.clone();
        let removed = tokio::task::spawn_blocking(move || remove_old_logs(&own, cutoff))
            .await
            .unwrap_or_default();
        for key in removed {
            let k = key.clone();
            let _ = self.store.call(move |c| store::forget_file(c, &k)).await;
            if let Some(known) = self.known.lock().await.as_mut() {
                known.remove(&key);
            }
        }
        Ok(())
    }

    /// Stores pushed events (Spark's JSON, one per line).
    pub async fn push(
        &self,
        app_id: Option<String>,
        lines: Vec<String>,
    ) -> Result<PushReport, Error> {
        if lines.len() > MAX_PUSH_EVENTS {
            return Err(Error::invalid(
                "lines",
                format!(
                    "{} events in one call; send at most {MAX_PUSH_EVENTS} per call",
                    lines.len()
                ),
            ));
        }
        if let Some(id) = &app_id {
            valid_app_id(id)?;
        }
        let parsed = tokio::task::spawn_blocking(move || parse_batch(app_id, &lines))
            .await
            .map_err(|e| Error::Internal {
                id: format!("analytics parse: {e}"),
            })??;
        let (batch, report) = parsed;
        if !batch.events.is_empty() {
            let now = now_ms();
            self.store
                .call(move |c| store::write(c, &batch, now))
                .await
                .map_err(internal)?;
        }
        Ok(report)
    }

    pub async fn apps(&self) -> Result<SparkApps, Error> {
        self.store
            .call(|c| {
                Ok(SparkApps {
                    apps: query::apps(c)?,
                    problems: query::problems(c, MAX_PROBLEMS_LISTED)?,
                })
            })
            .await
            .map_err(internal)
    }

    pub async fn app(&self, app_id: String) -> Result<AppDetail, Error> {
        self.store
            .call(move |c| {
                let Some((key, app)) = query::app(c, &app_id)? else {
                    return Ok(Err(app_not_found(&app_id)));
                };
                let jobs = query::jobs(c, key, &app_id, None)?
                    .into_iter()
                    .map(|(j, _)| j)
                    .collect();
                Ok(Ok(AppDetail {
                    executors: query::executors(c, key)?,
                    run: run_of(c, &app_id)?,
                    app,
                    jobs,
                }))
            })
            .await
            .map_err(internal)?
    }

    pub async fn job(&self, app_id: String, job_id: i64) -> Result<JobDetail, Error> {
        self.store
            .call(move |c| {
                let Some((key, _)) = query::app(c, &app_id)? else {
                    return Ok(Err(app_not_found(&app_id)));
                };
                let Some((job, stages)) = query::jobs(c, key, &app_id, Some(job_id))?.pop() else {
                    return Ok(Err(Error::not_found(
                        format!("job {job_id} of Spark application {app_id}"),
                        format!("`harbour spark app {app_id}` lists its jobs"),
                    )));
                };
                let ids: Vec<(i64, i64)> = stages.iter().map(|s| (s.stage_id, s.attempt)).collect();
                Ok(Ok(JobDetail {
                    failed_tasks: query::failed_tasks(c, key, &ids)?,
                    job,
                    stages,
                }))
            })
            .await
            .map_err(internal)?
    }

    pub async fn summary(&self, date: String) -> Result<DaySummary, Error> {
        let day = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| {
            Error::invalid(
                "date",
                format!("'{date}' is not a date; write it as YYYY-MM-DD (UTC), e.g. 2026-11-21"),
            )
        })?;
        let from = day
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().timestamp_millis())
            .unwrap_or(0);
        let to = from + 86_400_000;
        let text = day.format("%Y-%m-%d").to_string();
        self.store
            .call(move |c| query::summary(c, &text, from, to))
            .await
            .map_err(internal)
    }
}

fn app_not_found(app_id: &str) -> Error {
    Error::not_found(
        format!("Spark application {app_id}"),
        "`harbour spark apps` lists the applications harbourd has replayed or been sent",
    )
}

/// Application ids as Spark makes them: letters, digits, `-`, `_`, `.`, at most 200.
fn valid_app_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "app_id",
            format!(
                "'{id}' is not a Spark application id; use the App ID of its \
                 SparkListenerApplicationStart (letters, digits, '-', '_', '.')"
            ),
        ))
    }
}

/// Harbour's run of application `app_id`, if any.
fn run_of(conn: &rusqlite::Connection, app_id: &str) -> crate::store::StoreResult<Option<RunId>> {
    use rusqlite::OptionalExtension as _;
    Ok(conn
        .query_row(
            "SELECT id FROM runs WHERE spark IS NOT NULL
               AND json_extract(spark, '$.app_id') = ?1 ORDER BY id DESC LIMIT 1",
            [app_id],
            |r| r.get(0),
        )
        .optional()?
        .map(RunId))
}

fn parse_batch(app_id: Option<String>, lines: &[String]) -> Result<(Batch, PushReport), Error> {
    let mut events = Vec::with_capacity(lines.len());
    let mut report = PushReport::default();
    let mut started: Option<String> = None;
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(Parsed::Event(e)) => {
                if let Event::AppStart {
                    app_id: Some(id), ..
                } = &e
                {
                    started.get_or_insert_with(|| id.clone());
                }
                events.push(e);
                report.stored += 1;
            }
            Ok(Parsed::Ignored) => report.ignored += 1,
            Err(e) => {
                if report.rejected.len() < 20 {
                    report.rejected.push((i as u64, e.to_string()));
                }
            }
        }
    }
    let app_id = match app_id.or(started) {
        Some(id) => id,
        None if events.is_empty() => String::new(),
        None => {
            return Err(Error::invalid(
                "app_id",
                "the batch has no SparkListenerApplicationStart with an App ID; name the \
                 application (`harbour events ingest --app ID`)",
            ));
        }
    };
    if !app_id.is_empty() {
        valid_app_id(&app_id)?;
    }
    report.app_id.clone_from(&app_id);
    Ok((
        Batch {
            app_id,
            source: "pushed".into(),
            events,
            mark: None,
            problems: Vec::new(),
        },
        report,
    ))
}

/// Deletes event logs (files and rolling directories) in `dir` last changed before
/// `cutoff_ms`. Answers their position keys.
fn remove_old_logs(dir: &std::path::Path, cutoff_ms: i64) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(sources) = reader::scan(dir) else {
        return removed;
    };
    for source in sources {
        let modified = std::fs::metadata(&source.display)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let finished = source.files.iter().all(|(_, f)| *f);
        if !finished || modified.is_none_or(|m| m >= cutoff_ms) {
            continue;
        }
        let gone = if source.display.is_dir() {
            std::fs::remove_dir_all(&source.display)
        } else {
            std::fs::remove_file(&source.display)
        };
        match gone {
            Ok(()) => removed.extend(source.files.iter().map(|(p, _)| replay::key_of(p))),
            Err(e) => tracing::warn!(path = %source.display.display(), "cannot remove: {e}"),
        }
    }
    removed
}

#[cfg(test)]
mod tests;
