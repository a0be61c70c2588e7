//! Ingestion, an open-source Auto Loader: files dropped into a directory land in a parquet
//! table, incrementally and exactly once.
//!
//! Each ingestion owns a hidden one-off job; each run that finds new files is an ordinary
//! pyspark run of that job (logs, progress, kill), executing the embedded driver
//! ([`driver.py`](./driver.py)) with a JSON spec in its argv. The driver reports committed
//! micro-batches to a result file that [`runner`] folds into the store while and after the
//! run. Here: the [`Ingest`] handle the API calls (definitions, runs, pause, retry, delete),
//! and the background task that finishes runs and fires triggers. Elsewhere: [`validate`]
//! (definitions), [`discover`] (listing a source without Spark), [`runner`] (starting and
//! collecting runs), [`preview`] and [`estimate`].

pub mod discover;
pub mod estimate;
pub mod preview;
pub mod runner;
pub mod validate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use harbour_shared::{
    Error, IngestFile, IngestPatch, IngestRun, IngestRunTrigger, IngestSpec, IngestTrigger,
    Ingestion, JobKind, JobSource, JobSpec, SchemaVersion,
};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::config::IngestConfig;
use crate::runs::supervisor::Runs;
use crate::spark::Spark;
use crate::store::ingest::{self as rows, Stored};
use crate::store::{Store, StoreError};

/// The driver every ingestion run executes.
pub const DRIVER: &str = include_str!("driver.py");

/// How often active runs are folded in and triggers looked at.
const TICK: Duration = Duration::from_secs(1);

/// What the ingestion parts share.
#[derive(Debug)]
pub struct Ingest {
    pub store: Store,
    pub runs: Runs,
    pub spark: Arc<Spark>,
    pub config: IngestConfig,
    pub data_dir: PathBuf,
    pub boot_ms: i64,
    /// Serialises run starts, so two requests cannot both start a run of one ingestion.
    starting: tokio::sync::Mutex<()>,
}

fn internal(e: impl std::fmt::Display) -> Error {
    tracing::error!("ingest: {e}");
    Error::Internal {
        id: format!("ingest-{}", now_ms()),
    }
}

fn not_found(name: &str) -> Error {
    Error::not_found(
        format!("ingestion '{name}'"),
        "`harbour ingest list` shows the ingestions there are",
    )
}

impl Ingest {
    pub fn new(
        store: Store,
        runs: Runs,
        spark: Arc<Spark>,
        config: IngestConfig,
        data_dir: PathBuf,
        boot_ms: i64,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            runs,
            spark,
            config,
            data_dir,
            boot_ms,
            starting: tokio::sync::Mutex::new(()),
        })
    }

    /// Where an ingestion keeps its checkpoint, saved schema and run results.
    pub fn state_dir(&self, id: i64) -> PathBuf {
        self.data_dir.join("ingest").join(id.to_string())
    }

    /// Where a table's files go when the spec does not say.
    pub fn default_target(&self, table: &str) -> PathBuf {
        self.data_dir.join("tables").join(table)
    }

    async fn db<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.store.call(f).await.map_err(internal)
    }

    pub async fn stored(&self, name: &str) -> Result<Stored, Error> {
        let owned = name.trim().to_owned();
        self.db(move |c| rows::get(c, &owned))
            .await?
            .ok_or_else(|| not_found(name.trim()))
    }

    /// The next time an ingestion's trigger fires.
    pub fn next_fire(&self, s: &Stored) -> Option<i64> {
        if s.paused {
            return None;
        }
        let base = s.last_fire_ms.unwrap_or(self.boot_ms).max(self.boot_ms);
        match &s.spec.trigger {
            IngestTrigger::Manual => None,
            IngestTrigger::Every { secs } => {
                Some(base + i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2))
            }
            IngestTrigger::Cron(expr) => crate::runs::cron::next_fire_ms(expr, base),
        }
    }

    /// Refuses an `s3a://` source or target the runtime cannot read: without the S3A
    /// connector's jars every run would fail at its first listing.
    async fn s3a_ready(&self, source: &str, target: &str) -> Result<(), Error> {
        if !source.starts_with("s3a://") && !target.starts_with("s3a://") {
            return Ok(());
        }
        let configured = self.spark.jars();
        let runtime_jars = self.spark.runtime().ok().map(|r| r.spark_home.join("jars"));
        let names = tokio::task::spawn_blocking(move || {
            let mut names: Vec<String> = configured
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            if let Some(Ok(dir)) = runtime_jars.map(std::fs::read_dir) {
                names.extend(
                    dir.filter_map(Result::ok)
                        .map(|e| e.file_name().to_string_lossy().into_owned()),
                );
            }
            names
        })
        .await
        .map_err(internal)?;
        let hadoop = validate::hadoop_version(&names);
        validate::s3a_connector("source_dir", source, &names, hadoop)?;
        validate::s3a_connector("target_path", target, &names, hadoop)
    }

    async fn view(&self, s: Stored) -> Result<Ingestion, Error> {
        let next = self.next_fire(&s);
        self.db(move |c| rows::view(c, s, next)).await
    }

    pub async fn get(&self, name: &str) -> Result<Ingestion, Error> {
        let s = self.stored(name).await?;
        self.view(s).await
    }

    pub async fn list(&self) -> Result<Vec<Ingestion>, Error> {
        let all = self.db(|c| rows::list_stored(c)).await?;
        let mut out = Vec::with_capacity(all.len());
        for s in all {
            out.push(self.view(s).await?);
        }
        Ok(out)
    }

    pub async fn create(&self, spec: IngestSpec) -> Result<Ingestion, Error> {
        let spec = validate::spec(spec)?;
        if let Some(cluster) = &spec.cluster {
            self.spark.get_cluster(cluster).await?;
        }
        let target = match &spec.target_path {
            Some(p) => p.clone(),
            None => self
                .default_target(&spec.target_table)
                .display()
                .to_string(),
        };
        validate::target_is_free(&target, &spec.source_dir)?;
        self.s3a_ready(&spec.source_dir, &target).await?;
        let tables = self.spark.list_tables().await?;
        if let Some(t) = tables
            .iter()
            .find(|t| t.spec.name.eq_ignore_ascii_case(&spec.target_table))
        {
            return Err(Error::conflict(format!(
                "the SQL catalog has a table '{}' already (at {}); pick another target table or \
                 `harbour tables drop {}` first",
                t.spec.name, t.spec.location, t.spec.name
            )));
        }
        let now = now_ms();
        let (stored_spec, stored_target) = (spec.clone(), target.clone());
        let id = self
            .db(move |c| {
                if rows::get(c, &stored_spec.name)?.is_some() {
                    return Ok(Err(Error::conflict(format!(
                        "an ingestion named '{}' exists already; pick another name or `harbour \
                         ingest update {}`",
                        stored_spec.name, stored_spec.name
                    ))));
                }
                if let Some(other) =
                    rows::target_taken(c, &stored_spec.target_table, &stored_target)?
                {
                    return Ok(Err(Error::conflict(format!(
                        "ingestion '{other}' writes to table '{}' (or to {}) already; two \
                         ingestions cannot share a target",
                        stored_spec.target_table, stored_target
                    ))));
                }
                let mut job = JobSpec::new(JobKind::Pyspark, JobSource::Code(String::new()));
                job.name = format!("ingest:{}", stored_spec.name);
                let job_id = crate::store::jobs::insert(c, &job, true, now)?;
                let id = rows::insert(c, &stored_spec, &stored_target, job_id, now)?;
                if let Some(fields) = &stored_spec.schema {
                    rows::record_schema(c, id, 1, fields, None, "given at creation", now)?;
                }
                Ok(Ok(id))
            })
            .await??;
        std::fs::create_dir_all(&target)
            .map_err(|e| Error::invalid("target_path", format!("cannot create {target}: {e}")))?;
        tracing::info!(ingestion = %spec.name, id, "ingestion created");
        let s = self
            .db(move |c| rows::get_by_id(c, id))
            .await?
            .ok_or_else(|| not_found(&spec.name))?;
        self.view(s).await
    }

    pub async fn update(&self, name: &str, patch: IngestPatch) -> Result<Ingestion, Error> {
        if patch.is_empty() {
            return Err(Error::invalid(
                "update",
                "nothing to change; give at least one field to update",
            ));
        }
        let current = self.stored(name).await?;
        let mut spec = current.spec.clone();
        let trigger_changed = patch.trigger.is_some();
        if let Some(v) = patch.glob {
            spec.glob = v;
        }
        if let Some(v) = patch.options {
            spec.options = v;
        }
        if let Some(v) = patch.schema_hints {
            spec.schema_hints = v;
        }
        if let Some(v) = patch.evolution {
            spec.evolution = v;
        }
        if let Some(v) = patch.fail_on_malformed {
            spec.fail_on_malformed = v;
        }
        if let Some(v) = patch.max_files_per_batch {
            spec.max_files_per_batch = v;
        }
        if let Some(v) = patch.trigger {
            spec.trigger = v;
        }
        if let Some(v) = patch.cluster {
            spec.cluster = v;
        }
        if let Some(fields) = &patch.schema {
            spec.schema = Some(fields.clone());
        }
        let spec = validate::spec(spec)?;
        if let Some(cluster) = &spec.cluster {
            self.spark.get_cluster(cluster).await?;
        }
        let (id, now) = (current.id, now_ms());
        let new_schema = patch.schema;
        self.db(move |c| {
            rows::save_spec(c, id, &spec, now)?;
            if trigger_changed {
                rows::set_last_fire(c, id, now)?;
            }
            if let Some(fields) = new_schema {
                let next = rows::latest_schema(c, id)?.map_or(1, |v| v.version + 1);
                rows::record_schema(c, id, next, &fields, None, "set by a user", now)?;
            }
            Ok(())
        })
        .await?;
        self.get(name).await
    }

    pub async fn delete(&self, name: &str, keep_table: bool) -> Result<Ingestion, Error> {
        let current = self.get(name).await?;
        if current
            .last_run
            .as_ref()
            .is_some_and(|r| r.state.is_active())
        {
            return Err(Error::conflict(format!(
                "ingestion '{}' has a run in progress; kill it first (`harbour kill {}`) or wait",
                current.spec.name,
                current
                    .last_run
                    .as_ref()
                    .and_then(|r| r.run_id)
                    .map_or_else(|| "RUN".to_owned(), |r| r.to_string())
            )));
        }
        let stored = self.stored(name).await?;
        let (id, job_id, now) = (stored.id, stored.job_id, now_ms());
        self.db(move |c| {
            rows::delete(c, id)?;
            crate::store::jobs::delete(c, job_id, now)
        })
        .await?;
        let state = self.state_dir(id);
        let target = PathBuf::from(&stored.target_path);
        if !keep_table {
            match self.spark.drop_table(&stored.spec.target_table).await {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!("cannot drop table {}: {e}", stored.spec.target_table),
            }
        }
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_dir_all(&state);
            if !keep_table && target.is_absolute() {
                let _ = std::fs::remove_dir_all(&target);
            }
        })
        .await
        .map_err(internal)?;
        tracing::info!(ingestion = %stored.spec.name, keep_table, "ingestion deleted");
        Ok(current)
    }

    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<Ingestion, Error> {
        let s = self.stored(name).await?;
        let (id, now) = (s.id, now_ms());
        self.db(move |c| {
            rows::set_paused(c, id, paused, now)?;
            if !paused {
                // Resuming does not make up for the fires missed while paused.
                rows::set_last_fire(c, id, now)?;
            }
            Ok(())
        })
        .await?;
        self.get(name).await
    }

    pub async fn run_now(&self, name: &str) -> Result<IngestRun, Error> {
        let s = self.stored(name).await?;
        self.start(s, IngestRunTrigger::Manual).await
    }

    pub async fn retry(&self, name: &str) -> Result<IngestRun, Error> {
        let s = self.stored(name).await?;
        let id = s.id;
        let last = self.db(move |c| rows::runs(c, id, 1)).await?.pop();
        match last {
            None => Err(Error::conflict(format!(
                "ingestion '{name}' has not run yet; `harbour ingest run {name}` starts it"
            ))),
            Some(run) if run.state.is_active() => Err(Error::conflict(format!(
                "ingestion '{name}' is running (ingest run {}); wait for it or kill its Spark run",
                run.id
            ))),
            Some(run)
                if !matches!(
                    run.state,
                    harbour_shared::IngestRunState::Failed
                        | harbour_shared::IngestRunState::Cancelled
                ) =>
            {
                Err(Error::conflict(format!(
                    "the last run of '{name}' {}; retry is for failed or cancelled runs, \
                     `harbour ingest run {name}` picks up new files",
                    run.state
                )))
            }
            Some(_) => self.start(s, IngestRunTrigger::Retry).await,
        }
    }

    pub async fn runs_of(&self, name: &str, limit: u32) -> Result<Vec<IngestRun>, Error> {
        let s = self.stored(name).await?;
        let limit = if limit == 0 { 50 } else { limit.min(10_000) };
        let id = s.id;
        self.db(move |c| rows::runs(c, id, limit)).await
    }

    pub async fn files_of(&self, ingest_run: i64) -> Result<Vec<IngestFile>, Error> {
        let found = self.db(move |c| rows::run(c, ingest_run)).await?;
        if found.is_none() {
            return Err(Error::not_found(
                format!("ingest run {ingest_run}"),
                "`harbour ingest runs NAME` lists an ingestion's runs",
            ));
        }
        self.db(move |c| rows::files_of_run(c, ingest_run)).await
    }

    pub async fn schemas(&self, name: &str) -> Result<Vec<SchemaVersion>, Error> {
        let s = self.stored(name).await?;
        let id = s.id;
        self.db(move |c| rows::schemas(c, id)).await
    }

    /// Folds in active runs and fires due triggers, every second, until shutdown.
    pub async fn background(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.fold_active().await {
                tracing::warn!("ingest: cannot fold in active runs: {e}");
            }
            self.fire_due().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }

    async fn fire_due(&self) {
        let Ok(all) = self.db(|c| rows::list_stored(c)).await else {
            return;
        };
        let now = now_ms();
        for s in all {
            let Some(due) = self.next_fire(&s) else {
                continue;
            };
            if due > now {
                continue;
            }
            let id = s.id;
            if self
                .db(move |c| rows::set_last_fire(c, id, now))
                .await
                .is_err()
            {
                continue;
            }
            let name = s.spec.name.clone();
            match self.start(s, IngestRunTrigger::Schedule).await {
                Ok(run) => tracing::info!(ingestion = %name, run = run.id, "trigger fired"),
                Err(e) => tracing::info!(ingestion = %name, "trigger fire skipped: {e}"),
            }
        }
    }
}
