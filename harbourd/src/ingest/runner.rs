//! Starting an ingestion run and collecting what it did.
//!
//! A run first lists the source in the daemon: with nothing new it ends as `no-new-files`
//! without starting Spark. Otherwise it becomes a pyspark run of the ingestion's hidden job,
//! executing the embedded driver with its spec as one JSON argv element (never through a
//! shell). The driver appends one JSON line per committed micro-batch to
//! `<state dir>/runs/<ingest run>/events.jsonl`; [`Ingest::fold_active`] folds those into
//! the store every second while the run is active and once more when it has terminated, then
//! records how it ended and registers the table in the SQL catalog.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use harbour_shared::{
    Error, IngestRun, IngestRunState, IngestRunTrigger, JobKind, JobSource, JobSpec, Lifecycle,
    RunResult, SchemaField, TableFormat, TableSpec, Trigger,
};
use serde::Deserialize;

use super::{DRIVER, Ingest, discover, internal};
use crate::clock::now_ms;
use crate::store::ingest::{self as rows, Batch, Stored};
use crate::store::runs::{self as run_rows, NewRun};

/// One line of a run's `events.jsonl`.
#[derive(Debug, Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event {
    Batch {
        batch_id: u64,
        files: Vec<EventFile>,
        rows: u64,
        bytes: u64,
        malformed_rows: u64,
        rescued_rows: u64,
        schema_version: u32,
        schema: Vec<SchemaField>,
        schema_change: Option<String>,
        duration_ms: u64,
    },
    Done {
        status: String,
        #[serde(default)]
        error: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct EventFile {
    path: String,
    bytes: u64,
    modified_ms: i64,
}

/// The events of a run so far; a torn last line (the run is writing it) is left for later.
fn read_events(path: &Path) -> Vec<Event> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .collect()
}

impl Ingest {
    fn run_dir(&self, ingestion: i64, ingest_run: i64) -> PathBuf {
        self.state_dir(ingestion)
            .join("runs")
            .join(ingest_run.to_string())
    }

    /// Starts a run of `s` (refused while one is active).
    pub async fn start(&self, s: Stored, trigger: IngestRunTrigger) -> Result<IngestRun, Error> {
        let _one_at_a_time = self.starting.lock().await;
        let id = s.id;
        let (last, seen) = self
            .db(move |c| Ok((rows::runs(c, id, 1)?.pop(), rows::seen_paths(c, id)?)))
            .await?;
        if let Some(run) = last.filter(|r| r.state.is_active()) {
            return Err(Error::conflict(format!(
                "ingestion '{}' is running already (ingest run {}{}); wait for it or kill it",
                s.spec.name,
                run.id,
                run.run_id
                    .map(|r| format!(", Spark run {r}"))
                    .unwrap_or_default()
            )));
        }
        // Discovery in the daemon: no JVM for a run with nothing to do.
        if discover::listable(&s.spec.source_dir, &s.spec.glob) {
            let (dir, glob) = (s.spec.source_dir.clone(), s.spec.glob.clone());
            let listed = tokio::task::spawn_blocking(move || discover::list(&dir, &glob))
                .await
                .map_err(internal)?;
            if let Ok(files) = listed {
                let seen: HashSet<String> = seen.into_iter().collect();
                if discover::unseen(&files, &seen).is_empty() {
                    let message = format!(
                        "no new files in {} ({} ingested before); Spark was not started",
                        s.spec.source_dir,
                        files.len()
                    );
                    let now = now_ms();
                    let run_id = self
                        .db(move |c| {
                            rows::insert_run(
                                c,
                                id,
                                trigger,
                                IngestRunState::NoNewFiles,
                                now,
                                &message,
                            )
                        })
                        .await?;
                    return self.ingest_run(run_id).await;
                }
            }
        }
        self.spark.runtime()?;
        let now = now_ms();
        let ingest_run = self
            .db(move |c| rows::insert_run(c, id, trigger, IngestRunState::Running, now, "starting"))
            .await?;
        let started = self.submit(&s, ingest_run, trigger).await;
        match started {
            Ok(run) => {
                let rid = run.id;
                self.db(move |c| rows::set_run_spark(c, ingest_run, rid))
                    .await?;
            }
            Err(e) => {
                let message = format!("could not start its Spark run: {e}");
                self.db(move |c| {
                    rows::finish_run(c, ingest_run, IngestRunState::Failed, now_ms(), &message)
                })
                .await?;
                return Err(e);
            }
        }
        tracing::info!(ingestion = %s.spec.name, ingest_run, "ingestion run started");
        self.ingest_run(ingest_run).await
    }

    async fn ingest_run(&self, id: i64) -> Result<IngestRun, Error> {
        self.db(move |c| rows::run(c, id))
            .await?
            .ok_or_else(|| internal(format!("ingest run {id} vanished")))
    }

    /// Writes the driver and the run's directory, then queues the pyspark run.
    async fn submit(
        &self,
        s: &Stored,
        ingest_run: i64,
        trigger: IngestRunTrigger,
    ) -> Result<harbour_shared::Run, Error> {
        let id = s.id;
        let schema = self.db(move |c| rows::latest_schema(c, id)).await?;
        let state = self.state_dir(id);
        let run_dir = self.run_dir(id, ingest_run);
        let driver = self.data_dir.join("ingest").join("driver.py");
        let spec = serde_json::json!({
            "name": s.spec.name,
            "source_dir": s.spec.source_dir,
            "glob": s.spec.glob,
            "format": s.spec.format.as_str(),
            "options": s.spec.options,
            "target_path": s.target_path,
            "checkpoint": state.join("checkpoint").display().to_string(),
            "schema_file": state.join("schema.json").display().to_string(),
            "result_dir": run_dir.display().to_string(),
            "schema": schema.as_ref().map(|v| &v.fields),
            "schema_version": schema.as_ref().map_or(0, |v| v.version),
            "schema_hints": s.spec.schema_hints,
            "evolution": s.spec.evolution.as_str(),
            "fail_on_malformed": s.spec.fail_on_malformed,
            "max_files_per_batch": s.spec.max_files_per_batch,
        });
        let (driver_path, dir) = (driver.clone(), run_dir.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            if std::fs::read_to_string(&driver_path).ok().as_deref() != Some(DRIVER) {
                if let Some(parent) = driver_path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let tmp = driver_path.with_extension("py.tmp");
                std::fs::write(&tmp, DRIVER)?;
                std::fs::rename(&tmp, &driver_path)?;
            }
            Ok(())
        })
        .await
        .map_err(internal)?
        .map_err(|e| internal(format!("cannot prepare {}: {e}", run_dir.display())))?;
        let mut job = JobSpec::new(
            JobKind::Pyspark,
            JobSource::File(driver.display().to_string()),
        );
        job.name = format!("ingest:{}", s.spec.name);
        job.args = vec![spec.to_string()];
        job.cluster = s.spec.cluster.clone();
        let (trigger, message) = match trigger {
            IngestRunTrigger::Manual => (Trigger::Manual, "queued (ingest run)"),
            IngestRunTrigger::Schedule => (Trigger::Schedule, "queued by the ingestion's trigger"),
            IngestRunTrigger::Retry => (Trigger::Restart, "queued (ingest retry)"),
        };
        self.runs
            .create(NewRun {
                job_id: s.job_id,
                spec: job,
                trigger,
                attempt: 1,
                parent: None,
                lifecycle: Lifecycle::Queued,
                retry_at_ms: None,
                message: message.into(),
            })
            .await
            .map_err(internal)
    }

    /// Folds the events of every active ingestion run into the store; finishes those whose
    /// Spark run has terminated.
    pub async fn fold_active(&self) -> Result<(), Error> {
        let active = self.db(|c| rows::active_runs(c)).await?;
        for (ingestion, run) in active {
            if let Err(e) = self.fold(ingestion, &run).await {
                tracing::warn!(ingest_run = run.id, "cannot fold in the run: {e}");
            }
        }
        Ok(())
    }

    async fn fold(&self, ingestion: i64, run: &IngestRun) -> Result<(), Error> {
        let ingest_run = run.id;
        let Some(spark_run) = run.run_id else {
            // Made by a daemon that died before it queued the Spark run.
            if run.started_ms < self.boot_ms {
                self.db(move |c| {
                    rows::finish_run(
                        c,
                        ingest_run,
                        IngestRunState::Failed,
                        now_ms(),
                        "lost: harbourd stopped before its Spark run was queued; retry it",
                    )
                })
                .await?;
            }
            return Ok(());
        };
        // Read the run's state before its events: if it had terminated then, they are final.
        let spark = self
            .db(move |c| run_rows::get(c, spark_run))
            .await?
            .ok_or_else(|| internal(format!("run {spark_run} is missing")))?;
        let path = self.run_dir(ingestion, ingest_run).join("events.jsonl");
        let events = tokio::task::spawn_blocking(move || read_events(&path))
            .await
            .map_err(internal)?;
        let mut done = None;
        let mut schema_changed = false;
        let mut rows_written = 0;
        for event in events {
            match event {
                Event::Batch {
                    batch_id,
                    files,
                    rows,
                    bytes,
                    malformed_rows,
                    rescued_rows,
                    schema_version,
                    schema,
                    schema_change,
                    duration_ms,
                } => {
                    rows_written += rows;
                    let batch = Batch {
                        batch_id,
                        files: files
                            .into_iter()
                            .map(|f| (discover::local_path(&f.path), f.bytes, f.modified_ms))
                            .collect(),
                        rows,
                        bytes,
                        malformed_rows,
                        rescued_rows,
                        duration_ms,
                    };
                    let now = now_ms();
                    let added = self
                        .db(move |c| {
                            rows::record_batch(c, ingestion, ingest_run, &batch)?;
                            match schema_change {
                                Some(change) => rows::record_schema(
                                    c,
                                    ingestion,
                                    schema_version,
                                    &schema,
                                    Some(ingest_run),
                                    &change,
                                    now,
                                ),
                                None => Ok(false),
                            }
                        })
                        .await?;
                    schema_changed |= added;
                }
                Event::Done { status, error } => done = Some((status, error)),
            }
        }
        if !spark.is_active() {
            let (state, message) = match (spark.result, &done) {
                (Some(RunResult::Succeeded), Some((status, _))) if status == "succeeded" => (
                    IngestRunState::Succeeded,
                    format!("committed {rows_written} row(s)"),
                ),
                (Some(RunResult::Cancelled), _) => (
                    IngestRunState::Cancelled,
                    format!(
                        "cancelled ({}); `harbour ingest retry` picks up what was not committed",
                        spark.state_message
                    ),
                ),
                (_, Some((_, Some(error)))) => (IngestRunState::Failed, error.clone()),
                _ => (
                    IngestRunState::Failed,
                    format!(
                        "its Spark run {} ended {}: {}; see `harbour logs {}`",
                        spark.id,
                        spark.state_label(),
                        spark.state_message,
                        spark.id
                    ),
                ),
            };
            let ended = spark.ended_ms.unwrap_or_else(now_ms);
            let msg = message.clone();
            self.db(move |c| rows::finish_run(c, ingest_run, state, ended, &msg))
                .await?;
            tracing::info!(ingest_run, state = state.as_str(), "{message}");
            let has_rows = self.db(move |c| rows::totals(c, ingestion)).await?.1 > 0;
            if has_rows {
                self.register_table(ingestion, schema_changed).await;
            }
        } else {
            let msg = format!("running (Spark run {})", spark.id);
            self.db(move |c| rows::set_run_message(c, ingest_run, &msg))
                .await?;
        }
        Ok(())
    }

    /// Puts the target into the SQL catalog (again, when its schema changed, so the SQL
    /// screen sees the new columns). A table of that name that is not ours is left alone.
    async fn register_table(&self, ingestion: i64, schema_changed: bool) {
        let Ok(Some(s)) = self.db(move |c| rows::get_by_id(c, ingestion)).await else {
            return;
        };
        let existing = self.spark.list_tables().await.unwrap_or_default();
        let ours = existing
            .iter()
            .find(|t| t.spec.name.eq_ignore_ascii_case(&s.spec.target_table));
        match ours {
            Some(t) if t.spec.location != s.target_path => {
                tracing::warn!(
                    table = %t.spec.name,
                    "a table of that name points elsewhere; the ingestion's table is not registered"
                );
                return;
            }
            Some(_) if !schema_changed => return,
            _ => {}
        }
        let spec = TableSpec {
            name: s.spec.target_table.clone(),
            format: TableFormat::Parquet,
            location: s.target_path.clone(),
            options: vec![("mergeSchema".into(), "true".into())],
        };
        if let Err(e) = self.spark.add_table(spec).await {
            tracing::warn!(table = %s.spec.target_table, "cannot register the table: {e}");
        }
    }
}
