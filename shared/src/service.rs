//! The service. Every method returns `Result<_, Error>`; long-polls take `wait_ms`, and their
//! callers must give the request a deadline longer than that (tarpc's default is 10 s).

use crate::{
    Cluster, ClusterCheck, ClusterSpec, Container, ContainerAction, ContainerLogChunk, Dashboard,
    Error, EventBatch, ExternalClusterSpec, HealthReport, Hello, Job, JobId, JobPatch, JobRef,
    JobSpec, LogChunk, LogStream, MetricHistory, MetricsNow, Run, RunDetail, RunFilter, RunId,
    RuntimeInfo, SparkProgress, SqlRequest, SqlResult, Status, Table, TableSpec,
};
// --- Ingestion ---
use crate::{
    IngestEstimate, IngestFile, IngestPatch, IngestPreview, IngestRun, IngestSpec, Ingestion,
    SchemaVersion,
};
// --- Notebooks ---
use crate::{
    CellEdit, KernelInfo, Notebook, NotebookSpec, NotebookSummary, NotebookVersion, NotebookWatch,
    RunCells,
};

#[tarpc::service]
pub trait Harbour {
    /// First call on every connection: the daemon refuses other calls until it succeeds, and
    /// answers `ProtocolMismatch` when the versions differ. Must stay the first method.
    async fn hello(client_protocol: u32) -> Result<Hello, Error>;

    async fn status() -> Result<Status, Error>;
    async fn dashboard() -> Result<Dashboard, Error>;

    /// Makes a one-off job from `spec` and queues its run.
    async fn submit(spec: JobSpec) -> Result<Run, Error>;

    async fn create_job(spec: JobSpec) -> Result<Job, Error>;
    async fn update_job(job: JobRef, patch: JobPatch) -> Result<Job, Error>;
    /// Refused while the job has active runs. Its runs stay in the history.
    async fn delete_job(job: JobRef) -> Result<JobId, Error>;
    async fn get_job(job: JobRef) -> Result<Job, Error>;
    async fn list_jobs(include_one_off: bool) -> Result<Vec<Job>, Error>;
    /// Queues a run of the job now, whether or not it is paused.
    async fn run_job(job: JobRef) -> Result<Run, Error>;
    async fn set_job_paused(job: JobRef, paused: bool) -> Result<Job, Error>;

    async fn list_runs(filter: RunFilter) -> Result<Vec<Run>, Error>;
    async fn get_run(run: RunId) -> Result<RunDetail, Error>;
    /// Cancels a queued or waiting run at once; terminates an active one (SIGTERM to its
    /// process group, SIGKILL after the grace period).
    async fn kill_run(run: RunId) -> Result<Run, Error>;
    /// Queues a new run of the same job.
    async fn restart_run(run: RunId) -> Result<Run, Error>;

    /// Up to `max_bytes` of a stream from `offset`. With `wait_ms > 0` and nothing new yet,
    /// waits that long for more before answering.
    async fn read_log(
        run: RunId,
        stream: LogStream,
        offset: u64,
        max_bytes: u64,
        wait_ms: u64,
    ) -> Result<LogChunk, Error>;

    /// The events after `after_seq` (0 for "from now"), waiting up to `wait_ms` for one.
    async fn events(after_seq: u64, wait_ms: u64) -> Result<EventBatch, Error>;

    // --- Spark ---

    /// The Spark runtime (SPARK_HOME, Python, versions) and what is missing from it.
    async fn spark_runtime() -> Result<RuntimeInfo, Error>;

    /// Every cluster: `local`, managed and external ones.
    async fn list_clusters() -> Result<Vec<Cluster>, Error>;
    async fn get_cluster(name: String) -> Result<Cluster, Error>;
    /// Starts a managed standalone cluster (a master and workers); answers while it is pending.
    async fn create_cluster(spec: ClusterSpec) -> Result<Cluster, Error>;
    /// Registers a cluster harbourd does not run.
    async fn add_cluster(spec: ExternalClusterSpec) -> Result<Cluster, Error>;
    /// Stops a managed cluster's processes (and its Connect server) and forgets the cluster.
    async fn delete_cluster(name: String) -> Result<Cluster, Error>;
    /// Stops and starts a managed cluster again.
    async fn restart_cluster(name: String) -> Result<Cluster, Error>;
    /// Says what of a cluster is reachable: master, web UI, Connect endpoint.
    async fn test_cluster(name: String) -> Result<Vec<ClusterCheck>, Error>;

    /// Jobs, stages and executors of a pyspark run: live from its driver while it runs,
    /// from its event log after.
    async fn spark_progress(run: RunId) -> Result<SparkProgress, Error>;

    /// Runs SQL on a cluster's persistent Spark Connect session (started on first use).
    /// Callers should give it a long deadline.
    async fn sql(request: SqlRequest) -> Result<SqlResult, Error>;
    /// Interrupts the queries running on a cluster's Connect session; answers how many.
    async fn cancel_sql(cluster: String) -> Result<u32, Error>;

    async fn list_tables() -> Result<Vec<Table>, Error>;
    /// Registers a table (files or JDBC) in every cluster's SQL catalog.
    async fn add_table(spec: TableSpec) -> Result<Table, Error>;
    async fn drop_table(name: String) -> Result<Table, Error>;

    // --- Monitoring ---

    /// The latest sample of the host, harbourd and the active runs.
    async fn metrics_now() -> Result<MetricsNow, Error>;
    /// The names of the recorded series (`cpu`, `cpu.0`, `mem.used`, `net.eth0.rx`, ...).
    async fn metrics_series() -> Result<Vec<String>, Error>;
    /// Each series over the last `window_ms`, averaged into steps of `step_ms` (0: the
    /// daemon picks about 300 steps), with `None` where nothing was recorded.
    async fn metrics_history(
        series: Vec<String>,
        window_ms: u64,
        step_ms: u64,
    ) -> Result<Vec<MetricHistory>, Error>;
    /// Every health check (configured and built in) and the latest transitions.
    async fn health() -> Result<HealthReport, Error>;
    /// The Docker engine's containers, with live stats of the running ones when `stats`.
    /// `Unavailable { component: "Docker", .. }` when no engine answers.
    async fn containers(stats: bool) -> Result<Vec<Container>, Error>;
    /// A container's output: the last `tail` lines when `after_ns` is 0, else the lines after
    /// that cursor, waiting up to `wait_ms` for one.
    async fn container_logs(
        id: String,
        tail: u32,
        after_ns: i64,
        wait_ms: u64,
    ) -> Result<ContainerLogChunk, Error>;
    async fn container_action(id: String, action: ContainerAction) -> Result<Container, Error>;
    /// The engine's inspect answer, as JSON text.
    async fn inspect_container(id: String) -> Result<String, Error>;

    // --- Analytics ---

    /// Stores listener events in Spark's own JSON shape (one event per line, at most
    /// `MAX_PUSH_EVENTS`) under application `app_id`, or the App ID of the batch's
    /// ApplicationStart when `None`. Idempotent and order-independent.
    async fn spark_push_events(
        app_id: Option<String>,
        lines: Vec<String>,
    ) -> Result<crate::PushReport, Error>;
    /// Every application harbourd knows from event logs and pushed events.
    async fn spark_apps() -> Result<crate::SparkApps, Error>;
    async fn spark_app(app_id: String) -> Result<crate::AppDetail, Error>;
    async fn spark_job(app_id: String, job_id: i64) -> Result<crate::JobDetail, Error>;
    /// The jobs that started on `date` (`YYYY-MM-DD`, UTC).
    async fn spark_summary(date: String) -> Result<crate::DaySummary, Error>;
    // --- Ingestion ---

    /// Defines an ingestion; refuses a missing source, an unknown format or a target that
    /// another table or ingestion has.
    async fn create_ingestion(spec: IngestSpec) -> Result<Ingestion, Error>;
    async fn update_ingestion(name: String, patch: IngestPatch) -> Result<Ingestion, Error>;
    /// Forgets the ingestion (refused while it runs). `keep_table` keeps the table and its
    /// files; otherwise both go.
    async fn delete_ingestion(name: String, keep_table: bool) -> Result<Ingestion, Error>;
    async fn get_ingestion(name: String) -> Result<Ingestion, Error>;
    async fn list_ingestions() -> Result<Vec<Ingestion>, Error>;
    /// Starts a run now (refused while one is active), paused or not.
    async fn run_ingestion(name: String) -> Result<IngestRun, Error>;
    /// Runs again after a failed or cancelled run: the checkpoint makes it pick up exactly
    /// what was not committed.
    async fn retry_ingestion(name: String) -> Result<IngestRun, Error>;
    async fn set_ingestion_paused(name: String, paused: bool) -> Result<Ingestion, Error>;
    /// The latest `limit` runs, newest first (0: 50).
    async fn ingestion_runs(name: String, limit: u32) -> Result<Vec<IngestRun>, Error>;
    async fn ingestion_run_files(ingest_run: i64) -> Result<Vec<IngestFile>, Error>;
    async fn ingestion_schemas(name: String) -> Result<Vec<SchemaVersion>, Error>;
    /// Reads a sample of the source over the cluster's Connect session; writes nothing.
    /// Callers should give it a long deadline (a first Connect start takes a while).
    async fn preview_ingestion(spec: IngestSpec, rows: u32) -> Result<IngestPreview, Error>;
    async fn estimate_ingestion(spec: IngestSpec) -> Result<IngestEstimate, Error>;
    // --- Notebooks ---

    async fn notebooks() -> Result<Vec<NotebookSummary>, Error>;
    async fn notebook_create(spec: NotebookSpec) -> Result<Notebook, Error>;
    /// The notebook as it is now; a file edited on disk by another tool is reloaded first.
    async fn notebook_get(name: String) -> Result<Notebook, Error>;
    /// Waits up to `wait_ms` for the notebook to pass `after_version` (outputs arriving,
    /// edits, kernel state) and answers it then, or `None` at the deadline.
    async fn notebook_watch(
        name: String,
        after_version: NotebookVersion,
        wait_ms: u64,
    ) -> Result<NotebookWatch, Error>;
    async fn notebook_rename(name: String, new_name: String) -> Result<NotebookSummary, Error>;
    /// Stops its kernel and removes the file.
    async fn notebook_delete(name: String) -> Result<NotebookSummary, Error>;
    /// Applies the edits in order, all or none, and saves.
    async fn notebook_edit(name: String, edits: Vec<CellEdit>) -> Result<Notebook, Error>;
    /// Makes a notebook from `.ipynb` text; a broken file is `Invalid` naming where.
    async fn notebook_import(
        name: String,
        ipynb: String,
        cluster: Option<String>,
    ) -> Result<Notebook, Error>;
    /// The `.ipynb` text, with everything the import had (ids, metadata, attachments, outputs).
    async fn notebook_export(name: String) -> Result<String, Error>;
    /// Queues cells on the notebook's kernel (starting it if needed); answers at once.
    async fn notebook_run(name: String, cells: RunCells) -> Result<Notebook, Error>;
    /// SIGINT to the kernel; queued cells are cancelled.
    async fn notebook_interrupt(name: String) -> Result<KernelInfo, Error>;
    /// Stops the kernel (if any) and starts a fresh one.
    async fn notebook_restart(name: String) -> Result<KernelInfo, Error>;
    /// Stops the kernel; the notebook stays.
    async fn notebook_shutdown(name: String) -> Result<KernelInfo, Error>;
}
