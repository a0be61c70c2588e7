//! The command line of `harbour`, as clap derive types, and the parsers for its values.
//!
//! Only the shape of the command line lives here: turning these into requests is `spec`'s job,
//! and running them is `commands`'.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use harbour_shared::{EnvVar, JobKind, JobRef, RunId, RunStateFilter, TableFormat};

const ABOUT: &str =
    "Scriptable client for harbourd: submit work, follow runs and logs, manage jobs";

const LONG_ABOUT: &str = "\
Scriptable client for harbourd: submit work, follow runs and logs, manage jobs.

Every command takes --json for machine-readable output (the daemon's own types as JSON) and \
--socket (or HARBOUR_SOCKET) to talk to a daemon other than your user one. Errors go to stderr \
as `harbour: <message>`; with --json an {\"error\": {...}} object also goes to stdout.";

const EXAMPLES: &str = "\
Examples:
  harbour status
  id=$(harbour submit --kind shell -c 'echo hello; sleep 2')
  harbour logs -f \"$id\"
  harbour submit --kind python etl.py --env DAY=2026-11-21 --wait -- --full
  harbour runs --state failed --limit 20
  harbour jobs create --name nightly --kind shell backup.sh --schedule '0 3 * * *'
  harbour jobs run nightly --wait
  harbour runs --json | jq '.[] | select(.result != null) | .id'";

/// `harbour`: the scriptable Harbour CLI.
#[derive(Debug, Parser)]
#[command(
    name = "harbour",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = format!("{EXAMPLES}\n\n{}", super::exit::help_text()),
    arg_required_else_help = true
)]
pub struct Cli {
    /// The daemon's socket [default: $XDG_RUNTIME_DIR/harbour/harbourd.sock, else /tmp/harbour-$UID/harbourd.sock]
    #[arg(
        long,
        global = true,
        env = harbour_shared::paths::SOCKET_ENV,
        value_name = "PATH",
        help_heading = "Global options"
    )]
    pub socket: Option<PathBuf>,

    /// Print machine-readable JSON instead of text
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The socket to connect to: `--socket`, `HARBOUR_SOCKET`, or the user daemon's.
    pub fn socket(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(harbour_shared::paths::default_socket)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the daemon: version, uptime, paths, run counts, limits
    #[command(after_long_help = "Examples:\n  harbour status\n  harbour status --json | jq .runs")]
    Status,

    /// Run a file or inline code once, and print the new run's id
    #[command(after_long_help = SUBMIT_EXAMPLES)]
    Submit(SubmitArgs),

    /// List runs, newest first
    #[command(after_long_help = RUNS_EXAMPLES)]
    Runs(RunsArgs),

    /// Look at one run
    #[command(subcommand)]
    Run(RunCommand),

    /// Print a run's output, or follow it as it is written
    #[command(after_long_help = LOGS_EXAMPLES)]
    Logs(LogsArgs),

    /// Stop a run: cancel it if queued, terminate its processes if running
    Kill {
        /// The run (e.g. 42)
        #[arg(value_name = "RUN")]
        run: RunId,
    },

    /// Start a new run of the same job as RUN, and print the new run's id
    Restart {
        /// The run to run again (e.g. 42)
        #[arg(value_name = "RUN")]
        run: RunId,
        #[command(flatten)]
        wait: WaitArg,
    },

    /// Define, list, run and change jobs
    #[command(subcommand)]
    Jobs(JobsCommand),

    /// Host metrics now (CPU, memory, disks, network, harbourd and active runs), or over time
    #[command(after_long_help = METRICS_EXAMPLES)]
    Metrics(MetricsArgs),

    /// Health checks and where they stand; exits 1 when any check is down
    #[command(after_long_help = HEALTH_EXAMPLES)]
    Health,

    /// Docker containers: list (with stats), logs, restart, stop, start, inspect
    #[command(after_long_help = CONTAINERS_EXAMPLES)]
    Containers(ContainersArgs),

    /// Spark clusters: the built-in `local`, managed standalone clusters, external masters
    #[command(subcommand)]
    Clusters(ClustersCommand),

    /// Run SQL on a cluster's persistent Spark Connect session
    #[command(after_long_help = SQL_EXAMPLES)]
    Sql(SqlArgs),

    /// Tables SQL can name: parquet, CSV, JSON, ORC or Delta files, and JDBC tables
    #[command(subcommand)]
    Tables(TablesCommand),

    // --- Analytics ---
    /// Spark applications from event logs and pushed events: jobs, failures, skew, a day's summary
    #[command(subcommand, after_long_help = SPARK_EXAMPLES)]
    Spark(SparkCommand),

    /// Send Spark listener events (an event log's JSON lines) to harbourd's analytics
    #[command(subcommand)]
    Events(EventsCommand),

    // --- Ingestion ---
    /// Ingestions: files arriving in a directory -> a parquet table, incrementally, exactly once
    #[command(subcommand)]
    Ingest(super::ingest::IngestCommand),

    // --- Notebooks ---
    /// Notebooks (.ipynb) on daemon-owned Jupyter kernels: create, edit cells, run, export
    #[command(subcommand, visible_alias = "notebooks", after_long_help = super::notebooks::EXAMPLES)]
    Nb(super::notebooks::NbCommand),
}

// --- Analytics ---

const SPARK_EXAMPLES: &str = "\
Examples:
  harbour spark apps
  harbour spark app local-1763712000000
  harbour spark job local-1763712000000 3
  harbour spark summary --date 2026-11-21 --json

harbourd replays the event logs of its own pyspark runs and of the directories in \
[analytics] log_dirs of harbourd.toml (plain, zstd, rolling eventlog_v2_* directories), and \
whatever `harbour events ingest` sends. Task counts are attempts, as Spark's REST API counts them.";

#[derive(Debug, Clone, Subcommand)]
pub enum SparkCommand {
    /// Every application: status, duration, jobs, tasks, success rate
    Apps,
    /// One application: its jobs with success rates, durations, slowest stage and skew
    App {
        /// The application id (e.g. local-1763712000000)
        #[arg(value_name = "APP")]
        app: String,
    },
    /// One job: its stages with task-time quantiles, and its failed tasks with their reasons
    Job {
        #[arg(value_name = "APP")]
        app: String,
        #[arg(value_name = "JOB")]
        job: i64,
    },
    /// The jobs that started on a date (UTC): totals, average success rate and duration
    Summary {
        /// YYYY-MM-DD; today (UTC) when left out
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum EventsCommand {
    /// Send an event log (JSON lines, as Spark writes them; `-` for stdin)
    #[command(
        after_long_help = "Examples:\n  harbour events ingest /tmp/spark-events/local-1763712000000\n  \
                           zstdcat events_1_app.zstd | harbour events ingest - --app app-1"
    )]
    Ingest {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The application the events belong to; by default the App ID of their
        /// SparkListenerApplicationStart
        #[arg(long, value_name = "APP")]
        app: Option<String>,
    },
}

const METRICS_EXAMPLES: &str = "\
Examples:
  harbour metrics
  harbour metrics series
  harbour metrics history cpu --window 1h --step 10s
  harbour metrics history mem.used cpu.0 cpu.1 --window 24h --json

Windows and steps are 30s, 5m, 1h, 7d, ...; without --step the daemon picks about 300 steps. \
History comes from the finest stored tier that covers the window; `-` marks a step with no \
data (harbourd was not running).";

const HEALTH_EXAMPLES: &str = "\
Examples:
  harbour health
  harbour health --json | jq '.checks[] | select(.status == \"down\")'
  */5 * * * *  harbour health >/dev/null || notify-send 'something is down'

Exit codes: 0 when nothing is down (pending counts as not down), 1 when a check is down, \
5 when harbourd cannot be reached. Checks are configured under [[health.checks]] in harbourd.toml.";

const CONTAINERS_EXAMPLES: &str = "\
Examples:
  harbour containers
  harbour containers --stats
  harbour containers logs web -f
  harbour containers restart web
  harbour containers inspect web | jq .State.Health

With no Docker engine, harbour says `Docker unavailable: <why>` and exits 5.";

#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    #[command(subcommand)]
    pub command: Option<MetricsCommand>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum MetricsCommand {
    /// The recorded series (cpu, cpu.0, mem.used, net.eth0.rx, ...)
    Series,
    /// Series over a window, averaged into steps
    History {
        /// One or more series names
        #[arg(value_name = "SERIES", required = true)]
        series: Vec<String>,
        /// How far back: 1m .. 30d
        #[arg(long, value_name = "SPAN", default_value = "1h", value_parser = parse_span)]
        window: u64,
        /// The width of one step [default: about 300 steps]
        #[arg(long, value_name = "SPAN", value_parser = parse_span)]
        step: Option<u64>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ContainersArgs {
    #[command(subcommand)]
    pub command: Option<ContainersCommand>,

    /// Also measure CPU and memory of the running containers (takes about a second)
    #[arg(long)]
    pub stats: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ContainersCommand {
    /// Print a container's output, or follow it
    Logs {
        /// Container id (or prefix) or name
        #[arg(value_name = "CONTAINER")]
        id: String,
        /// Keep printing new lines while the container runs
        #[arg(short = 'f', long)]
        follow: bool,
        /// Start with the last N lines
        #[arg(long, value_name = "N", default_value_t = 200)]
        tail: u32,
    },
    /// Restart a container
    Restart {
        #[arg(value_name = "CONTAINER")]
        id: String,
    },
    /// Stop a container
    Stop {
        #[arg(value_name = "CONTAINER")]
        id: String,
    },
    /// Start a stopped container
    Start {
        #[arg(value_name = "CONTAINER")]
        id: String,
    },
    /// The engine's full description of a container, as JSON
    Inspect {
        #[arg(value_name = "CONTAINER")]
        id: String,
    },
}

/// A span on the command line, in milliseconds.
fn parse_span(s: &str) -> Result<u64, String> {
    harbour_shared::parse_span_ms(s).map_err(|e| e.to_string())
}

const SQL_EXAMPLES: &str = "\
Examples:
  harbour sql 'SELECT 1 AS one'
  harbour sql --cluster etl 'SELECT region, count(*) FROM sales GROUP BY region' --limit 50
  harbour sql --csv 'SELECT * FROM sales' > sales.csv
  harbour sql --json 'SHOW TABLES' | jq '.rows'

The first query on a cluster starts its Spark Connect server (tens of seconds); later queries \
reuse its session. A query Spark refuses exits 2 with Spark's message and position.";

#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// The statement to run
    #[arg(value_name = "QUERY", required_unless_present = "file")]
    pub query: Option<String>,

    /// Read the statement from a file instead
    #[arg(long, value_name = "FILE", conflicts_with = "query")]
    pub file: Option<PathBuf>,

    /// The cluster to run it on [default: local]
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// At most N rows [default: 1000]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// Print the rows as CSV (with a header row) instead of a table
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClustersCommand {
    /// List clusters with their state and capacity
    List,
    /// Everything about a cluster: URLs, size, health, workers
    Show {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Start a managed standalone cluster: a Spark master and N workers on loopback
    #[command(
        after_long_help = "Examples:\n  harbour clusters create etl --workers 2 --cores 2 --memory 2g --wait"
    )]
    Create {
        #[arg(value_name = "NAME")]
        name: String,
        /// How many workers
        #[arg(long, default_value_t = 1)]
        workers: u32,
        /// Cores per worker
        #[arg(long, default_value_t = 1)]
        cores: u32,
        /// Memory per worker (512m, 2g, ...)
        #[arg(long, default_value = "1g")]
        memory: String,
        /// Wait until it is running (or failed)
        #[arg(long)]
        wait: bool,
    },
    /// Register a cluster harbourd does not run
    #[command(
        after_long_help = "Examples:\n  harbour clusters add prod --master spark://10.0.0.5:7077 --connect sc://10.0.0.5:15002\n  harbour clusters add kube --master k8s://https://10.0.0.1:6443"
    )]
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        /// spark://HOST:PORT, k8s://https://HOST:PORT or yarn
        #[arg(long, value_name = "URL")]
        master: String,
        /// Its Spark Connect endpoint, sc://HOST:PORT
        #[arg(long, value_name = "URL")]
        connect: Option<String>,
    },
    /// Say what of a cluster is reachable (master, web UI, Spark Connect)
    Test {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Stop a managed cluster's processes and forget it (or forget an external one)
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Stop and start a managed cluster again
    Restart {
        #[arg(value_name = "NAME")]
        name: String,
        /// Wait until it is running (or failed)
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TablesCommand {
    /// List registered tables
    List,
    /// Register a table over files, or a JDBC table
    #[command(after_long_help = TABLES_ADD_EXAMPLES)]
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        /// parquet, csv, json, orc, delta or jdbc
        #[arg(long, value_name = "FORMAT")]
        format: TableFormat,
        /// A path (made absolute) or URI; for jdbc, the jdbc: URL
        #[arg(value_name = "PATH")]
        location: String,
        /// A reader option (repeatable): header=false, dbtable=public.orders, user=..., ...
        #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_conf)]
        options: Vec<(String, String)>,
    },
    /// Forget a table (its files or rows are not touched)
    Drop {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

const TABLES_ADD_EXAMPLES: &str = "\
Examples:
  harbour tables add sales --format parquet /data/sales/
  harbour tables add people --format csv people.csv --option sep=;
  harbour tables add orders --format jdbc jdbc:postgresql://127.0.0.1:5432/shop \\
      --option dbtable=public.orders --option user=shop --option password=secret

JDBC drivers for PostgreSQL and MariaDB/MySQL come from Debian's libpostgresql-jdbc-java and \
libmariadb-java; harbourd adds them to Spark when they are installed.";

const SUBMIT_EXAMPLES: &str = "\
Examples:
  harbour submit --kind shell -c 'echo hello'
  harbour submit --kind python report.py --name report --timeout 10m -- --month 11
  harbour submit --kind pyspark job.py --conf spark.executor.memory=2g --wait
  harbour submit --kind shell flaky.sh --retries 3 --retry-backoff 30s --wait

FILE is made absolute against the current directory and must exist; the daemon reads it when \
the run starts. Arguments after `--` reach the program as its argv, never through a shell.
With --wait, the run's stdout and stderr are copied to ours as they are written and harbour \
exits with the run's result (see `harbour --help`); with --wait --json, the finished run is \
printed instead of its output.";

const RUNS_EXAMPLES: &str = "\
Examples:
  harbour runs
  harbour runs --state active
  harbour runs --job nightly --state failed --limit 5
  harbour runs --search timeout --json
  harbour runs --limit 50 --before 1200

States: active, queued, starting, running, terminating, terminated, waiting, succeeded, failed, \
timed-out, cancelled, lost.";

const LOGS_EXAMPLES: &str = "\
Examples:
  harbour logs 42
  harbour logs -f 42
  harbour logs --stderr 42 | grep -i error
  harbour logs --from 1048576 42 > rest.log

The bytes are written exactly as the run wrote them. With -f, harbour keeps reading until the \
run has ended and the stream is complete, printing every byte once. With --json, each page read \
is one line of JSON (a LogChunk: offset, data as an array of byte values, size, complete).";

/// How a job's code is given: a file or inline code, exactly one.
#[derive(Debug, Clone, Args)]
#[group(id = "source", required = true, multiple = false)]
pub struct SourceArgs {
    /// The script to run; made absolute, and it must exist
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Inline code to run instead of a file
    #[arg(short = 'c', long = "code", value_name = "CODE")]
    pub code: Option<String>,
}

/// How a run of a job behaves: the options `submit` and `jobs create` share.
#[derive(Debug, Clone, Args)]
pub struct RunOptions {
    /// An environment variable for the run (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<EnvVar>,

    /// A secret for the run, taken from your own environment variable KEY (repeatable): the
    /// run gets it, no answer or log shows it
    #[arg(long = "secret", value_name = "KEY", value_parser = parse_secret)]
    pub secrets: Vec<EnvVar>,

    /// The run's working directory (made absolute) [default: the daemon's run directory]
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// Stop the run after this long: seconds, or with a unit (90s, 10m, 2h, 1d)
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<u64>,

    /// Retry a failed, timed-out or lost run up to N times
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Wait before the first retry (doubling after each): seconds or 30s, 5m, ... [default: 10s]
    #[arg(long, value_name = "SECS", value_parser = parse_secs, requires = "retries")]
    pub retry_backoff: Option<u64>,

    /// A Spark setting for pyspark runs (repeatable)
    #[arg(long = "conf", value_name = "KEY=VALUE", value_parser = parse_conf)]
    pub conf: Vec<(String, String)>,

    /// The cluster a pyspark run is submitted to [default: local]
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// A Python file for a pyspark run's --py-files (repeatable)
    #[arg(long = "py-files", value_name = "FILE")]
    pub py_files: Vec<PathBuf>,

    /// A jar for a pyspark run's --jars (repeatable)
    #[arg(long = "jars", value_name = "JAR")]
    pub jars: Vec<PathBuf>,

    /// Arguments for the program, after `--`
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// The kinds of job, as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// /bin/sh runs the file or code; ARGS are $1, $2, ...
    Shell,
    /// The daemon's configured Python
    Python,
    /// spark-submit of a Python application (needs a Spark runtime)
    Pyspark,
}

impl From<KindArg> for JobKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Shell => Self::Shell,
            KindArg::Python => Self::Python,
            KindArg::Pyspark => Self::Pyspark,
        }
    }
}

#[derive(Debug, Clone, Copy, Args)]
pub struct WaitArg {
    /// Follow the run to its end, copying its output, and exit with its result
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// What runs the code
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: KindArg,

    #[command(flatten)]
    pub source: SourceArgs,

    /// A name for the one-off job [default: chosen by the daemon]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    #[command(flatten)]
    pub options: RunOptions,

    #[command(flatten)]
    pub wait: WaitArg,
}

#[derive(Debug, Clone, Args)]
pub struct RunsArgs {
    /// Only runs in this state (active, running, failed, ...)
    #[arg(long, value_name = "STATE")]
    pub state: Option<RunStateFilter>,

    /// Only runs of this job (id or name)
    #[arg(long, value_name = "JOB")]
    pub job: Option<JobRef>,

    /// Only runs whose job name, kind, state or message contains TEXT (any case)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// At most N runs [default: the daemon's page size]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// Only runs older than RUN (for paging back: pass the last id of the previous page)
    #[arg(long, value_name = "RUN")]
    pub before: Option<RunId>,
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Everything about a run: state, times, process, logs, spec, history
    #[command(
        after_long_help = "Examples:\n  harbour run show 42\n  harbour run show 42 --json | jq .transitions"
    )]
    Show {
        /// The run (e.g. 42)
        #[arg(value_name = "RUN")]
        run: RunId,
        /// For a pyspark run: redraw its Spark progress every second until it ends
        #[arg(long)]
        watch: bool,
    },
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The run (e.g. 42)
    #[arg(value_name = "RUN")]
    pub run: RunId,

    /// Keep printing as the run writes, until it has ended
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Print the run's stderr instead of its stdout
    #[arg(long)]
    pub stderr: bool,

    /// Start at this byte offset of the stream
    #[arg(long, value_name = "OFFSET", default_value_t = 0)]
    pub from: u64,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Define a job: what it runs, and optionally when (a cron schedule)
    #[command(after_long_help = JOBS_CREATE_EXAMPLES)]
    Create(Box<JobCreateArgs>),

    /// List jobs (without one-off submissions unless --all)
    List {
        /// Include the one-off jobs that `harbour submit` makes
        #[arg(long)]
        all: bool,
    },

    /// Everything about a job
    Show {
        /// The job (id or name)
        #[arg(value_name = "JOB")]
        job: JobRef,
    },

    /// Run a job now (even when paused), and print the run's id
    Run {
        /// The job (id or name)
        #[arg(value_name = "JOB")]
        job: JobRef,
        #[command(flatten)]
        wait: WaitArg,
    },

    /// Change a job: only the fields given change
    #[command(after_long_help = JOBS_UPDATE_EXAMPLES)]
    Update(Box<JobUpdateArgs>),

    /// Delete a job (refused while it has active runs); its runs stay in the history
    Delete {
        /// The job (id or name)
        #[arg(value_name = "JOB")]
        job: JobRef,
    },

    /// Stop a job's schedule from firing (it can still be run by hand)
    Pause {
        /// The job (id or name)
        #[arg(value_name = "JOB")]
        job: JobRef,
    },

    /// Let a paused job's schedule fire again
    Resume {
        /// The job (id or name)
        #[arg(value_name = "JOB")]
        job: JobRef,
    },
}

const JOBS_CREATE_EXAMPLES: &str = "\
Examples:
  harbour jobs create --name hello --kind shell -c 'echo hello'
  harbour jobs create --name nightly --kind python etl.py --schedule '0 3 * * *' --retries 2
  harbour jobs create --name agg --kind pyspark agg.py --conf spark.sql.shuffle.partitions=8 -- 2026-11

Schedules are cron expressions: 5 fields, 6 with seconds, or @hourly, @daily, ...";

const JOBS_UPDATE_EXAMPLES: &str = "\
Examples:
  harbour jobs update nightly --schedule '30 4 * * *'
  harbour jobs update nightly --no-schedule --timeout 1h
  harbour jobs update 7 -c 'echo new code' -- a b

--env, --conf and ARGS replace the job's whole list; --no-env, --no-conf and --no-args empty it.
--kind changes what runs the code; give new code or a FILE with it when the old one no longer fits.";

#[derive(Debug, Clone, Args)]
pub struct JobCreateArgs {
    /// The job's name, unique among jobs
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// What runs the code
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: KindArg,

    #[command(flatten)]
    pub source: SourceArgs,

    /// When to run: a cron expression (5 fields, 6 with seconds, or @daily-style)
    #[arg(long, value_name = "CRON")]
    pub schedule: Option<String>,

    /// Let a scheduled fire start while an earlier run is still active
    #[arg(long)]
    pub allow_overlap: bool,

    #[command(flatten)]
    pub options: RunOptions,
}

/// The new code of a job, if it changes: a file or inline code, at most one.
#[derive(Debug, Clone, Args)]
#[group(id = "new_source", required = false, multiple = false)]
pub struct SourceUpdate {
    /// A new script for the job; made absolute, and it must exist
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// New inline code for the job
    #[arg(short = 'c', long = "code", value_name = "CODE")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct JobUpdateArgs {
    /// The job (id or name)
    #[arg(value_name = "JOB")]
    pub job: JobRef,

    #[command(flatten)]
    pub source: SourceUpdate,

    /// Rename the job
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Change what runs the code
    #[arg(long, value_enum, value_name = "KIND")]
    pub kind: Option<KindArg>,

    /// A new cron schedule
    #[arg(long, value_name = "CRON", conflicts_with = "no_schedule")]
    pub schedule: Option<String>,

    /// Remove the schedule: the job then runs only by hand
    #[arg(long)]
    pub no_schedule: bool,

    /// Let scheduled fires overlap active runs
    #[arg(long, conflicts_with = "no_allow_overlap")]
    pub allow_overlap: bool,

    /// Do not let scheduled fires overlap active runs
    #[arg(long)]
    pub no_allow_overlap: bool,

    /// Retry failed runs up to N times (0 for never)
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Wait before the first retry: seconds or 30s, 5m, ...
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub retry_backoff: Option<u64>,

    /// A new timeout: seconds or 90s, 10m, 2h, 1d
    #[arg(long, value_name = "SECS", value_parser = parse_secs, conflicts_with = "no_timeout")]
    pub timeout: Option<u64>,

    /// Remove the timeout
    #[arg(long)]
    pub no_timeout: bool,

    /// Replace the environment with these variables (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env, conflicts_with = "no_env")]
    pub env: Vec<EnvVar>,

    /// With --env, a secret from your own environment variable KEY (repeatable)
    #[arg(long = "secret", value_name = "KEY", value_parser = parse_secret, conflicts_with = "no_env")]
    pub secrets: Vec<EnvVar>,

    /// Remove every environment variable
    #[arg(long)]
    pub no_env: bool,

    /// A new working directory (made absolute)
    #[arg(long, value_name = "DIR", conflicts_with = "no_cwd")]
    pub cwd: Option<PathBuf>,

    /// Remove the working directory: runs use the daemon's run directory
    #[arg(long)]
    pub no_cwd: bool,

    /// Replace the Spark settings with these (repeatable)
    #[arg(long = "conf", value_name = "KEY=VALUE", value_parser = parse_conf, conflicts_with = "no_conf")]
    pub conf: Vec<(String, String)>,

    /// Remove every Spark setting
    #[arg(long)]
    pub no_conf: bool,

    /// Remove the program's arguments
    #[arg(long, conflicts_with = "args")]
    pub no_args: bool,

    /// New arguments for the program, after `--`
    #[arg(last = true, value_name = "ARGS")]
    pub args: Option<Vec<String>>,
}

/// `KEY=VALUE` for `--env`, by the contract's own rules.
pub fn parse_env(s: &str) -> Result<EnvVar, String> {
    s.parse::<EnvVar>().map_err(|e| e.to_string())
}

/// `KEY` for `--secret`: the value comes from the caller's environment, so it is in neither
/// the command line (`ps`, shell history) nor any output.
pub fn parse_secret(key: &str) -> Result<EnvVar, String> {
    let mut var = parse_env(&format!("{key}="))?;
    var.value = std::env::var(key).map_err(|_| {
        format!(
            "{key} is not set in your environment; export it first (its value goes to the run only)"
        )
    })?;
    var.secret = true;
    Ok(var)
}

/// `KEY=VALUE` for `--conf`: any non-empty key; the value may contain `=`.
pub fn parse_conf(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        Some(_) => Err(format!("'{s}' has an empty key; write it as KEY=VALUE")),
        None => Err(format!("'{s}' has no '='; write it as KEY=VALUE")),
    }
}

/// A span in seconds: `90`, `90s`, `10m`, `2h` or `1d`.
pub fn parse_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let bad = || format!("'{s}' is not a duration; use seconds (90) or a unit: 90s, 10m, 2h, 1d");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("harbour").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_secs("90"), Ok(90));
        assert_eq!(parse_secs("90s"), Ok(90));
        assert_eq!(parse_secs("10m"), Ok(600));
        assert_eq!(parse_secs("2h"), Ok(7200));
        assert_eq!(parse_secs("1d"), Ok(86_400));
        assert!(parse_secs("").is_err());
        assert!(parse_secs("5x").is_err());
        assert!(parse_secs("m").is_err());
        assert!(parse_secs("-3").is_err());
        assert!(parse_secs("99999999999999999999d").is_err());
    }

    #[test]
    fn conf_values_may_hold_equals_signs() {
        assert_eq!(
            parse_conf("spark.driver.extraJavaOptions=-Da=b"),
            Ok(("spark.driver.extraJavaOptions".into(), "-Da=b".into()))
        );
        assert!(parse_conf("novalue").is_err());
        assert!(parse_conf("=v").is_err());
    }

    #[test]
    fn submit_takes_a_file_or_code_but_not_both() {
        let cli = parse(&["submit", "--kind", "shell", "-c", "echo hi"]).expect("parses");
        let Command::Submit(args) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(args.source.code.as_deref(), Some("echo hi"));
        assert!(args.source.file.is_none());

        let both = parse(&["submit", "--kind", "shell", "x.sh", "-c", "echo"]);
        assert_eq!(
            both.expect_err("file and code").kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let neither = parse(&["submit", "--kind", "shell"]);
        assert_eq!(
            neither.expect_err("no source").kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn program_arguments_follow_a_double_dash() {
        let cli = parse(&[
            "submit", "--kind", "python", "job.py", "--env", "A=1", "--", "--flag", "x",
        ])
        .expect("parses");
        let Command::Submit(args) = cli.command else {
            panic!("not submit")
        };
        assert_eq!(args.source.file, Some(PathBuf::from("job.py")));
        assert_eq!(args.options.args, ["--flag", "x"]);
        assert_eq!(args.options.env[0].key, "A");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["submit", "--kind", "shell", "-c", "x", "--env", "1A=b"][..],
            &["submit", "--kind", "shell", "-c", "x", "--env", "noequals"],
            &["submit", "--kind", "perl", "-c", "x"],
            &[
                "submit",
                "--kind",
                "shell",
                "-c",
                "x",
                "--retry-backoff",
                "5",
            ],
            &["runs", "--state", "sleeping"],
            &["logs", "abc"],
            &[
                "jobs",
                "update",
                "j",
                "--schedule",
                "* * * * *",
                "--no-schedule",
            ],
        ] {
            let err = parse(bad).expect_err("should be rejected");
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&["runs", "--json", "--socket", "/tmp/s.sock"]).expect("parses");
        assert!(cli.json);
        assert_eq!(cli.socket(), PathBuf::from("/tmp/s.sock"));
    }

    #[test]
    fn the_long_help_documents_exit_codes_and_examples() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("harbour submit"), "{help}");
    }
}

#[cfg(test)]
mod properties {
    use super::{parse_conf, parse_secs};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn durations_scale_by_their_unit(n in 0u64..1_000_000, unit in prop::sample::select(vec![("", 1u64), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)])) {
            prop_assert_eq!(parse_secs(&format!("{n}{}", unit.0)), Ok(n * unit.1));
        }

        #[test]
        fn conf_splits_at_the_first_equals(key in "[a-z][a-z.]{0,20}", value in ".{0,20}") {
            prop_assert_eq!(parse_conf(&format!("{key}={value}")), Ok((key, value)));
        }

        #[test]
        fn durations_never_panic(s in ".{0,12}") {
            let _ = parse_secs(&s);
        }
    }
}
