//! Tests of the CLI's conversations with a daemon, against a scripted in-process `Harbour`
//! server on a temporary socket: log following (every byte once, across many small pages),
//! `--wait` through retries, and error-to-exit-code mapping end to end. The real daemon's
//! tests live in the workspace's `tests/cli.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use harbour_shared::{
    Dashboard, Error, EventBatch, Harbour, Hello, Job, JobId, JobKind, JobPatch, JobRef, JobSource,
    JobSpec, Lifecycle, LogChunk, LogStream, PROTOCOL_VERSION, Run, RunDetail, RunFilter, RunId,
    RunResult, Status, Trigger,
};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio::net::UnixListener;

use super::conn::Conn;
use super::{Cli, commands, exit, follow};
use crate::client;

/// Bytes per `read_log` page, small so that following takes many pages.
const PAGE: usize = 7;

#[derive(Debug, Default)]
struct State {
    runs: Vec<Run>,
    retries: u32,
    logs: HashMap<(RunId, LogStream), Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<Mutex<State>>);

impl Fake {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.0.lock().expect("fake state lock"))
    }

    fn add_run(&self, run: Run) {
        self.with(|s| s.runs.push(run));
    }

    fn append(&self, id: RunId, stream: LogStream, bytes: &[u8]) {
        self.with(|s| {
            s.logs
                .entry((id, stream))
                .or_default()
                .extend_from_slice(bytes)
        });
    }

    fn finish(&self, id: RunId, result: RunResult) {
        self.with(|s| {
            if let Some(run) = s.runs.iter_mut().find(|r| r.id == id) {
                run.lifecycle = Lifecycle::Terminated;
                run.result = Some(result);
            }
        });
    }

    fn run(&self, id: RunId) -> Result<Run, Error> {
        self.with(|s| s.runs.iter().find(|r| r.id == id).cloned())
            .ok_or_else(|| Error::not_found(format!("run {id}"), "`harbour runs` lists runs"))
    }

    /// Serves on a socket in `dir` and returns its path.
    async fn listen(self, dir: &Path) -> PathBuf {
        let socket = dir.join("fake.sock");
        let listener = UnixListener::bind(&socket).expect("bind fake socket");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let codec = LengthDelimitedCodec::builder()
                    .max_frame_length(harbour_shared::MAX_FRAME_BYTES)
                    .new_codec();
                let framed = Framed::new(stream, codec);
                let transport = tarpc::serde_transport::new(framed, Bincode::default());
                let fake = self.clone();
                tokio::spawn(
                    BaseChannel::with_defaults(transport)
                        .execute(fake.serve())
                        .for_each(|call| async {
                            tokio::spawn(call);
                        }),
                );
            }
        });
        socket
    }
}

use harbour_shared as hs;

fn unsupported<T>() -> Result<T, Error> {
    Err(Error::Internal { id: "fake".into() })
}

impl Harbour for Fake {
    async fn hello(self, _: Context, client_protocol: u32) -> Result<Hello, Error> {
        if client_protocol != PROTOCOL_VERSION {
            return Err(Error::ProtocolMismatch {
                client: client_protocol,
                daemon: PROTOCOL_VERSION,
            });
        }
        Ok(Hello {
            protocol: PROTOCOL_VERSION,
            version: "fake".into(),
        })
    }

    async fn status(self, _: Context) -> Result<Status, Error> {
        unsupported()
    }

    async fn dashboard(self, _: Context) -> Result<Dashboard, Error> {
        unsupported()
    }

    async fn submit(self, _: Context, _: JobSpec) -> Result<Run, Error> {
        unsupported()
    }

    async fn create_job(self, _: Context, _: JobSpec) -> Result<Job, Error> {
        unsupported()
    }

    async fn update_job(self, _: Context, _: JobRef, _: JobPatch) -> Result<Job, Error> {
        unsupported()
    }

    async fn delete_job(self, _: Context, job: JobRef) -> Result<JobId, Error> {
        Err(Error::conflict(format!("{job} has active runs")))
    }

    async fn get_job(self, _: Context, _: JobRef) -> Result<Job, Error> {
        unsupported()
    }

    async fn list_jobs(self, _: Context, _: bool) -> Result<Vec<Job>, Error> {
        unsupported()
    }

    async fn run_job(self, _: Context, _: JobRef) -> Result<Run, Error> {
        unsupported()
    }

    async fn set_job_paused(self, _: Context, _: JobRef, _: bool) -> Result<Job, Error> {
        unsupported()
    }

    async fn list_runs(self, _: Context, _: RunFilter) -> Result<Vec<Run>, Error> {
        Ok(self.with(|s| s.runs.iter().rev().cloned().collect()))
    }

    async fn get_run(self, _: Context, id: RunId) -> Result<RunDetail, Error> {
        let run = self.run(id)?;
        let mut spec = JobSpec::new(JobKind::Shell, JobSource::Code("true".into()));
        spec.retries = self.with(|s| s.retries);
        Ok(RunDetail {
            run,
            spec,
            transitions: Vec::new(),
            argv: Vec::new(),
            stdout_path: String::new(),
            stderr_path: String::new(),
            logs_pruned: false,
            usage: harbour_shared::RunUsage::default(),
        })
    }

    async fn kill_run(self, _: Context, _: RunId) -> Result<Run, Error> {
        unsupported()
    }

    async fn restart_run(self, _: Context, _: RunId) -> Result<Run, Error> {
        unsupported()
    }

    async fn read_log(
        self,
        _: Context,
        id: RunId,
        stream: LogStream,
        offset: u64,
        max_bytes: u64,
        wait_ms: u64,
    ) -> Result<LogChunk, Error> {
        let deadline = Instant::now() + Duration::from_millis(wait_ms);
        loop {
            let ended = self.run(id)?.lifecycle.is_terminal();
            let log = self.with(|s| s.logs.get(&(id, stream)).cloned().unwrap_or_default());
            let start = usize::try_from(offset)
                .expect("small offsets")
                .min(log.len());
            let max = usize::try_from(max_bytes).expect("small pages").min(PAGE);
            let end = (start + max).min(log.len());
            if end > start || ended || Instant::now() >= deadline {
                return Ok(LogChunk {
                    offset,
                    data: log[start..end].to_vec(),
                    size: log.len() as u64,
                    complete: ended && end == log.len(),
                    marks: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn events(self, _: Context, _: u64, _: u64) -> Result<EventBatch, Error> {
        unsupported()
    }

    async fn metrics_now(self, _: Context) -> Result<harbour_shared::MetricsNow, Error> {
        unsupported()
    }

    async fn metrics_series(self, _: Context) -> Result<Vec<String>, Error> {
        unsupported()
    }

    async fn metrics_history(
        self,
        _: Context,
        _: Vec<String>,
        _: u64,
        _: u64,
    ) -> Result<Vec<harbour_shared::MetricHistory>, Error> {
        unsupported()
    }

    async fn health(self, _: Context) -> Result<harbour_shared::HealthReport, Error> {
        unsupported()
    }

    async fn containers(
        self,
        _: Context,
        _: bool,
    ) -> Result<Vec<harbour_shared::Container>, Error> {
        unsupported()
    }

    async fn container_logs(
        self,
        _: Context,
        _: String,
        _: u32,
        _: i64,
        _: u64,
    ) -> Result<harbour_shared::ContainerLogChunk, Error> {
        unsupported()
    }

    async fn container_action(
        self,
        _: Context,
        _: String,
        _: harbour_shared::ContainerAction,
    ) -> Result<harbour_shared::Container, Error> {
        unsupported()
    }

    async fn inspect_container(self, _: Context, _: String) -> Result<String, Error> {
        unsupported()
    }

    // --- Analytics --- (the real daemon's analytics are tested in tests/analytics.rs)

    async fn spark_push_events(
        self,
        _: Context,
        _: Option<String>,
        _: Vec<String>,
    ) -> Result<harbour_shared::PushReport, Error> {
        unsupported()
    }

    async fn spark_apps(self, _: Context) -> Result<harbour_shared::SparkApps, Error> {
        unsupported()
    }

    async fn spark_app(self, _: Context, _: String) -> Result<harbour_shared::AppDetail, Error> {
        unsupported()
    }

    async fn spark_job(
        self,
        _: Context,
        _: String,
        _: i64,
    ) -> Result<harbour_shared::JobDetail, Error> {
        unsupported()
    }

    async fn spark_summary(
        self,
        _: Context,
        _: String,
    ) -> Result<harbour_shared::DaySummary, Error> {
        unsupported()
    }

    // --- Spark --- (the real daemon's Spark is tested in the workspace's tests/spark.rs)

    async fn spark_runtime(self, _: Context) -> Result<harbour_shared::RuntimeInfo, Error> {
        unsupported()
    }

    async fn list_clusters(self, _: Context) -> Result<Vec<harbour_shared::Cluster>, Error> {
        unsupported()
    }

    async fn get_cluster(self, _: Context, _: String) -> Result<harbour_shared::Cluster, Error> {
        unsupported()
    }

    async fn create_cluster(
        self,
        _: Context,
        _: harbour_shared::ClusterSpec,
    ) -> Result<harbour_shared::Cluster, Error> {
        unsupported()
    }

    async fn add_cluster(
        self,
        _: Context,
        _: harbour_shared::ExternalClusterSpec,
    ) -> Result<harbour_shared::Cluster, Error> {
        unsupported()
    }

    async fn delete_cluster(self, _: Context, _: String) -> Result<harbour_shared::Cluster, Error> {
        unsupported()
    }

    async fn restart_cluster(
        self,
        _: Context,
        _: String,
    ) -> Result<harbour_shared::Cluster, Error> {
        unsupported()
    }

    async fn test_cluster(
        self,
        _: Context,
        _: String,
    ) -> Result<Vec<harbour_shared::ClusterCheck>, Error> {
        unsupported()
    }

    async fn spark_progress(
        self,
        _: Context,
        _: RunId,
    ) -> Result<harbour_shared::SparkProgress, Error> {
        unsupported()
    }

    async fn sql(
        self,
        _: Context,
        _: harbour_shared::SqlRequest,
    ) -> Result<harbour_shared::SqlResult, Error> {
        unsupported()
    }

    async fn cancel_sql(self, _: Context, _: String) -> Result<u32, Error> {
        unsupported()
    }

    async fn list_tables(self, _: Context) -> Result<Vec<harbour_shared::Table>, Error> {
        unsupported()
    }

    async fn add_table(
        self,
        _: Context,
        _: harbour_shared::TableSpec,
    ) -> Result<harbour_shared::Table, Error> {
        unsupported()
    }

    async fn drop_table(self, _: Context, _: String) -> Result<harbour_shared::Table, Error> {
        unsupported()
    }

    // --- Ingestion ---
    async fn create_ingestion(self, _: Context, _: hs::IngestSpec) -> Result<hs::Ingestion, Error> {
        unsupported()
    }
    async fn update_ingestion(
        self,
        _: Context,
        _: String,
        _: hs::IngestPatch,
    ) -> Result<hs::Ingestion, Error> {
        unsupported()
    }
    async fn delete_ingestion(
        self,
        _: Context,
        _: String,
        _: bool,
    ) -> Result<hs::Ingestion, Error> {
        unsupported()
    }
    async fn get_ingestion(self, _: Context, _: String) -> Result<hs::Ingestion, Error> {
        unsupported()
    }
    async fn list_ingestions(self, _: Context) -> Result<Vec<hs::Ingestion>, Error> {
        unsupported()
    }
    async fn run_ingestion(self, _: Context, _: String) -> Result<hs::IngestRun, Error> {
        unsupported()
    }
    async fn retry_ingestion(self, _: Context, _: String) -> Result<hs::IngestRun, Error> {
        unsupported()
    }
    async fn set_ingestion_paused(
        self,
        _: Context,
        _: String,
        _: bool,
    ) -> Result<hs::Ingestion, Error> {
        unsupported()
    }
    async fn ingestion_runs(
        self,
        _: Context,
        _: String,
        _: u32,
    ) -> Result<Vec<hs::IngestRun>, Error> {
        unsupported()
    }
    async fn ingestion_run_files(self, _: Context, _: i64) -> Result<Vec<hs::IngestFile>, Error> {
        unsupported()
    }
    async fn ingestion_schemas(
        self,
        _: Context,
        _: String,
    ) -> Result<Vec<hs::SchemaVersion>, Error> {
        unsupported()
    }
    async fn preview_ingestion(
        self,
        _: Context,
        _: hs::IngestSpec,
        _: u32,
    ) -> Result<hs::IngestPreview, Error> {
        unsupported()
    }
    async fn estimate_ingestion(
        self,
        _: Context,
        _: hs::IngestSpec,
    ) -> Result<hs::IngestEstimate, Error> {
        unsupported()
    }
    // --- Notebooks ---

    async fn notebooks(self, _: Context) -> Result<Vec<harbour_shared::NotebookSummary>, Error> {
        unsupported()
    }
    async fn notebook_create(
        self,
        _: Context,
        _: harbour_shared::NotebookSpec,
    ) -> Result<harbour_shared::Notebook, Error> {
        unsupported()
    }
    async fn notebook_get(self, _: Context, _: String) -> Result<harbour_shared::Notebook, Error> {
        unsupported()
    }
    async fn notebook_watch(
        self,
        _: Context,
        _: String,
        _: u64,
        _: u64,
    ) -> Result<harbour_shared::NotebookWatch, Error> {
        unsupported()
    }
    async fn notebook_rename(
        self,
        _: Context,
        _: String,
        _: String,
    ) -> Result<harbour_shared::NotebookSummary, Error> {
        unsupported()
    }
    async fn notebook_delete(
        self,
        _: Context,
        _: String,
    ) -> Result<harbour_shared::NotebookSummary, Error> {
        unsupported()
    }
    async fn notebook_edit(
        self,
        _: Context,
        _: String,
        _: Vec<harbour_shared::CellEdit>,
    ) -> Result<harbour_shared::Notebook, Error> {
        unsupported()
    }
    async fn notebook_import(
        self,
        _: Context,
        _: String,
        _: String,
        _: Option<String>,
    ) -> Result<harbour_shared::Notebook, Error> {
        unsupported()
    }
    async fn notebook_export(self, _: Context, _: String) -> Result<String, Error> {
        unsupported()
    }
    async fn notebook_run(
        self,
        _: Context,
        _: String,
        _: harbour_shared::RunCells,
    ) -> Result<harbour_shared::Notebook, Error> {
        unsupported()
    }
    async fn notebook_interrupt(
        self,
        _: Context,
        _: String,
    ) -> Result<harbour_shared::KernelInfo, Error> {
        unsupported()
    }
    async fn notebook_restart(
        self,
        _: Context,
        _: String,
    ) -> Result<harbour_shared::KernelInfo, Error> {
        unsupported()
    }
    async fn notebook_shutdown(
        self,
        _: Context,
        _: String,
    ) -> Result<harbour_shared::KernelInfo, Error> {
        unsupported()
    }
}

fn run(id: i64) -> Run {
    Run {
        id: RunId(id),
        job_id: JobId(1),
        job_name: "fake".into(),
        kind: JobKind::Shell,
        trigger: Trigger::Submit,
        attempt: 1,
        parent: None,
        lifecycle: Lifecycle::Running,
        result: None,
        state_message: String::new(),
        queued_ms: 0,
        started_ms: Some(0),
        ended_ms: None,
        retry_at_ms: None,
        pid: Some(1),
        exit_code: None,
        stdout_bytes: 0,
        stderr_bytes: 0,
        spark: None,
    }
}

#[tokio::test]
async fn following_prints_every_byte_once_across_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Fake::default();
    fake.add_run(run(1));
    let socket = fake.clone().listen(dir.path()).await;
    let mut conn = Conn::new(client::connect(&socket).await.expect("connect"));

    let mut expected = Vec::new();
    for i in 0..300 {
        expected.extend_from_slice(format!("line {i}: {}\n", "x".repeat(i % 13)).as_bytes());
    }
    // Some output is there before the follower starts, the rest comes in bursts while it runs.
    fake.append(RunId(1), LogStream::Stdout, &expected[..100]);
    let writer = {
        let fake = fake.clone();
        let rest = expected[100..].to_vec();
        tokio::spawn(async move {
            for burst in rest.chunks(333) {
                fake.append(RunId(1), LogStream::Stdout, burst);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            fake.finish(RunId(1), RunResult::Succeeded);
        })
    };
    let mut out = Vec::new();
    let end = follow::copy_log(&mut conn, RunId(1), LogStream::Stdout, 0, true, &mut out)
        .await
        .expect("follow");
    writer.await.expect("writer");
    assert_eq!(out.len(), expected.len());
    assert!(out == expected, "the followed bytes differ from the log");
    assert_eq!(end, expected.len() as u64);
}

#[tokio::test]
async fn without_follow_only_what_is_there_is_printed_from_the_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Fake::default();
    fake.add_run(run(1));
    fake.append(RunId(1), LogStream::Stderr, b"0123456789abcdefghij");
    let socket = fake.clone().listen(dir.path()).await;
    let mut conn = Conn::new(client::connect(&socket).await.expect("connect"));

    let mut out = Vec::new();
    // The run is still running: a non-follower must not wait for more.
    let end = tokio::time::timeout(
        Duration::from_secs(5),
        follow::copy_log(&mut conn, RunId(1), LogStream::Stderr, 5, false, &mut out),
    )
    .await
    .expect("returns without waiting")
    .expect("read");
    assert_eq!(out, b"56789abcdefghij");
    assert_eq!(end, 20);
}

#[tokio::test]
async fn wait_follows_a_failed_run_into_its_retry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Fake::default();
    fake.with(|s| s.retries = 1);
    let mut first = run(1);
    first.lifecycle = Lifecycle::Terminated;
    first.result = Some(RunResult::Failed { exit_code: Some(3) });
    fake.add_run(first);
    let mut retry = run(2);
    retry.trigger = Trigger::Retry;
    retry.attempt = 2;
    retry.parent = Some(RunId(1));
    fake.add_run(retry);
    let socket = fake.clone().listen(dir.path()).await;
    let mut conn = Conn::new(client::connect(&socket).await.expect("connect"));

    let finisher = {
        let fake = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            fake.finish(RunId(2), RunResult::TimedOut);
        })
    };
    let end = follow::wait_for_result(&mut conn, RunId(1), false)
        .await
        .expect("wait");
    finisher.await.expect("finisher");
    assert_eq!(end.id, RunId(2));
    assert_eq!(
        end.result.map(exit::for_run_result),
        Some(exit::RUN_TIMED_OUT)
    );
}

#[tokio::test]
async fn a_failure_without_retries_is_final() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = Fake::default();
    let mut only = run(1);
    only.lifecycle = Lifecycle::Terminated;
    only.result = Some(RunResult::Failed { exit_code: Some(3) });
    fake.add_run(only);
    let socket = fake.clone().listen(dir.path()).await;
    let mut conn = Conn::new(client::connect(&socket).await.expect("connect"));

    let end = follow::wait_for_result(&mut conn, RunId(1), false)
        .await
        .expect("wait");
    assert_eq!(end.id, RunId(1));
    assert_eq!(end.result.map(exit::for_run_result), Some(3));
}

#[tokio::test]
async fn daemon_errors_become_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = Fake::default().listen(dir.path()).await;
    let socket = socket.to_str().expect("utf-8 temp path");

    let cli = Cli::parse_from(["harbour", "--socket", socket, "run", "show", "99"]);
    let err = commands::run(&cli).await.expect_err("no run 99");
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    assert!(
        err.message().contains("run 99 not found"),
        "{}",
        err.message()
    );

    let cli = Cli::parse_from(["harbour", "--socket", socket, "jobs", "delete", "busy"]);
    let err = commands::run(&cli).await.expect_err("conflict");
    assert_eq!(err.exit_code(), exit::CONFLICT);

    let cli = Cli::parse_from(["harbour", "--socket", socket, "status"]);
    let err = commands::run(&cli).await.expect_err("internal");
    assert_eq!(err.exit_code(), exit::INTERNAL);

    let gone = dir.path().join("nobody.sock");
    let cli = Cli::parse_from(["harbour", "--socket", gone.to_str().expect("utf-8"), "runs"]);
    let err = commands::run(&cli).await.expect_err("unreachable");
    assert_eq!(err.exit_code(), exit::UNAVAILABLE);
}
