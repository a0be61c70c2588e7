//! `harbour ingest ...`: define ingestions (files in a directory -> a parquet table), run,
//! pause, resume and retry them, look at their runs, files and schema versions, and preview
//! or estimate one before creating it. Its command line and its text views live here too:
//! nothing else uses them.

use std::path::Path;
use std::time::Duration;

use clap::{Args, Subcommand};
use harbour_shared::{
    EvolutionMode, IngestEstimate, IngestFile, IngestPatch, IngestPreview, IngestRun,
    IngestRunState, IngestSpec, IngestTrigger, Ingestion, SchemaField, SchemaVersion, SourceFormat,
    parse_schema, schema_text,
};

use super::args::{parse_conf, parse_secs};
use super::commands::Out;
use super::error::CliError;
use super::spark::slow_ctx;
use super::{exit, table};
use crate::client::{self, Client, Flatten, ctx};
use crate::fmt;

const INGEST_EXAMPLES: &str = "\
Examples:
  harbour ingest create orders --source /data/in/orders --glob '*.csv' --format csv \\
      --table orders --hint 'amount double' --every 5m
  harbour ingest preview orders --rows 20
  harbour ingest estimate orders
  harbour ingest run orders --wait
  harbour ingest runs orders
  harbour ingest files 12
  harbour sql 'SELECT count(*) FROM orders'
  harbour ingest delete orders --keep-table

Each run takes only files it has not taken before (a Spark Structured Streaming checkpoint per \
ingestion, trigger availableNow); a killed run, retried, neither loses nor duplicates rows. A \
file appended to after it was ingested is not read again. A run with no new files ends without \
starting Spark.";

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Define an ingestion: a source directory and format, a target table, schema and trigger
    #[command(after_long_help = INGEST_EXAMPLES)]
    Create(CreateArgs),
    /// List ingestions with their state and last run
    List,
    /// One ingestion: its definition, schema versions and latest runs
    Show {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Change an ingestion (source, format and target are fixed: make a new one for those)
    Update(UpdateArgs),
    /// Forget an ingestion; say whether its table (catalog entry and files) stays
    Delete {
        #[arg(value_name = "NAME")]
        name: String,
        /// Keep the table and its files
        #[arg(long, conflicts_with = "drop_table")]
        keep_table: bool,
        /// Drop the table from the catalog and delete its files
        #[arg(long)]
        drop_table: bool,
    },
    /// Run now (paused or not)
    Run {
        #[arg(value_name = "NAME")]
        name: String,
        /// Wait for the run to end; exit 1 if it failed
        #[arg(long)]
        wait: bool,
    },
    /// Stop the trigger from firing (runs can still be started by hand)
    Pause {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Let the trigger fire again
    Resume {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Runs of an ingestion, newest first: files, rows, bytes, duration, result
    Runs {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// The files one ingest run took
    Files {
        /// The ingest run's id (from `harbour ingest runs`)
        #[arg(value_name = "INGEST_RUN")]
        ingest_run: i64,
    },
    /// Run again after a failed or cancelled run; picks up exactly what was not committed
    Retry {
        #[arg(value_name = "NAME")]
        name: String,
        #[arg(long)]
        wait: bool,
    },
    /// Read a sample of the source: inferred schema, first rows, what evolution would do
    Preview(SampleArgs),
    /// Backlog, arrival rate, expected run time and cost of running now
    Estimate(SampleArgs),
}

/// Everything that defines an ingestion, as flags.
#[derive(Debug, Clone, Args)]
pub struct DefArgs {
    /// The directory files arrive in: a path (made absolute) or an s3a:// URI
    #[arg(long, value_name = "DIR")]
    pub source: Option<String>,
    /// Which file names to take, e.g. '*.csv' [default: all]
    #[arg(long, value_name = "GLOB")]
    pub glob: Option<String>,
    /// csv, json (JSON lines), parquet, orc or text
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// A reader option (repeatable): header=false, sep=;, quote=', ...
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_conf)]
    pub options: Vec<(String, String)>,
    /// The SQL catalog table the data lands in [default: the ingestion's name]
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Where the table's parquet files go [default: the daemon's data dir]
    #[arg(long, value_name = "DIR")]
    pub target_path: Option<String>,
    /// The schema to start from, e.g. 'id bigint, amount double' [default: inferred]
    #[arg(long, value_name = "COLUMNS")]
    pub schema: Option<String>,
    /// A type that overrides inference (repeatable): 'amount double'
    #[arg(long = "hint", value_name = "COLUMN TYPE")]
    pub hints: Vec<String>,
    /// addNewColumns (default), rescue, failOnNewColumns or none
    #[arg(long, value_name = "MODE")]
    pub evolution: Option<String>,
    /// Fail a run that meets malformed rows (default: count them and set them aside)
    #[arg(long)]
    pub fail_on_malformed: bool,
    /// At most this many files per micro-batch [default: all new files in one]
    #[arg(long, value_name = "N")]
    pub max_files_per_batch: Option<u32>,
    /// Run every interval: 90s, 10m, 2h
    #[arg(long, value_name = "SPAN", value_parser = parse_secs, conflicts_with = "cron")]
    pub every: Option<u64>,
    /// Run on a cron schedule: '*/15 * * * *'
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// The cluster runs go to [default: local]
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub def: DefArgs,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    #[arg(value_name = "NAME")]
    pub name: String,
    #[arg(long, value_name = "GLOB")]
    pub glob: Option<String>,
    /// Reader options, replacing the old ones (repeatable)
    #[arg(long = "option", value_name = "KEY=VALUE", value_parser = parse_conf)]
    pub options: Vec<(String, String)>,
    /// A new schema; becomes the next schema version
    #[arg(long, value_name = "COLUMNS")]
    pub schema: Option<String>,
    /// Schema hints, replacing the old ones (repeatable)
    #[arg(long = "hint", value_name = "COLUMN TYPE")]
    pub hints: Vec<String>,
    #[arg(long, value_name = "MODE")]
    pub evolution: Option<String>,
    #[arg(long, value_name = "BOOL")]
    pub fail_on_malformed: Option<bool>,
    #[arg(long, value_name = "N")]
    pub max_files_per_batch: Option<u32>,
    #[arg(long, value_name = "SPAN", value_parser = parse_secs, conflicts_with_all = ["cron", "manual"])]
    pub every: Option<u64>,
    #[arg(long, value_name = "EXPR", conflicts_with = "manual")]
    pub cron: Option<String>,
    /// Only run when asked
    #[arg(long)]
    pub manual: bool,
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// An existing ingestion, or the name of one being designed (with --source ...)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Rows to show
    #[arg(long, default_value_t = 10)]
    pub rows: u32,
    #[command(flatten)]
    pub def: DefArgs,
}

fn hints(texts: &[String]) -> Result<Vec<SchemaField>, CliError> {
    let mut out = Vec::new();
    for t in texts {
        out.extend(parse_schema(t).map_err(|e| CliError::usage(e.to_string()))?);
    }
    Ok(out)
}

fn absolute(dir: &str) -> Result<String, CliError> {
    if dir.starts_with('/') || dir.contains("://") {
        Ok(dir.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(dir).display().to_string())
    }
}

/// The spec the flags describe.
pub fn spec_of(name: &str, def: &DefArgs) -> Result<IngestSpec, CliError> {
    let source = def
        .source
        .as_deref()
        .ok_or_else(|| CliError::usage("--source is required: the directory files arrive in"))?;
    let format: SourceFormat = def
        .format
        .as_deref()
        .ok_or_else(|| CliError::usage("--format is required: csv, json, parquet, orc or text"))?
        .parse()
        .map_err(|e: harbour_shared::Error| CliError::usage(e.to_string()))?;
    let table = def.table.clone().unwrap_or_else(|| name.replace('-', "_"));
    let mut spec = IngestSpec::new(name, &absolute(source)?, format, &table);
    spec.glob = def.glob.clone().unwrap_or_default();
    spec.options = def.options.clone();
    spec.target_path = def.target_path.as_deref().map(absolute).transpose()?;
    spec.schema = def
        .schema
        .as_deref()
        .map(parse_schema)
        .transpose()
        .map_err(|e| CliError::usage(e.to_string()))?;
    spec.schema_hints = hints(&def.hints)?;
    if let Some(mode) = &def.evolution {
        spec.evolution = mode
            .parse::<EvolutionMode>()
            .map_err(|e| CliError::usage(e.to_string()))?;
    }
    spec.fail_on_malformed = def.fail_on_malformed;
    spec.max_files_per_batch = def.max_files_per_batch.unwrap_or(0);
    spec.trigger = match (&def.every, &def.cron) {
        (Some(secs), _) => IngestTrigger::Every { secs: *secs },
        (_, Some(expr)) => IngestTrigger::Cron(expr.clone()),
        _ => IngestTrigger::Manual,
    };
    spec.cluster = def.cluster.clone();
    Ok(spec)
}

fn patch_of(args: &UpdateArgs) -> Result<IngestPatch, CliError> {
    let mut patch = IngestPatch {
        glob: args.glob.clone(),
        options: (!args.options.is_empty()).then(|| args.options.clone()),
        schema: args
            .schema
            .as_deref()
            .map(parse_schema)
            .transpose()
            .map_err(|e| CliError::usage(e.to_string()))?,
        schema_hints: if args.hints.is_empty() {
            None
        } else {
            Some(hints(&args.hints)?)
        },
        evolution: args
            .evolution
            .as_deref()
            .map(str::parse::<EvolutionMode>)
            .transpose()
            .map_err(|e| CliError::usage(e.to_string()))?,
        fail_on_malformed: args.fail_on_malformed,
        max_files_per_batch: args.max_files_per_batch,
        trigger: None,
        cluster: args
            .cluster
            .as_ref()
            .map(|c| (!c.is_empty()).then(|| c.clone())),
    };
    if args.manual {
        patch.trigger = Some(IngestTrigger::Manual);
    } else if let Some(secs) = args.every {
        patch.trigger = Some(IngestTrigger::Every { secs });
    } else if let Some(expr) = &args.cron {
        patch.trigger = Some(IngestTrigger::Cron(expr.clone()));
    }
    if patch.is_empty() {
        return Err(CliError::usage(
            "nothing to change; give at least one flag (see `harbour ingest update --help`)",
        ));
    }
    Ok(patch)
}

/// The spec to preview or estimate: from the flags when a source is given, else the stored
/// ingestion's.
async fn sample_spec(client: &Client, args: &SampleArgs) -> Result<IngestSpec, CliError> {
    if args.def.source.is_some() {
        return spec_of(&args.name, &args.def);
    }
    Ok(client
        .rpc
        .get_ingestion(ctx(), args.name.clone())
        .await
        .flat()?
        .spec)
}

pub async fn run(socket: &Path, out: &Out, command: &IngestCommand) -> Result<u8, CliError> {
    let client = client::connect(socket).await?;
    let rpc = &client.rpc;
    match command {
        IngestCommand::Create(args) => {
            let spec = spec_of(&args.name, &args.def)?;
            let made = rpc.create_ingestion(slow_ctx(), spec).await.flat()?;
            out.show(&made, || {
                format!(
                    "created ingestion {} ({} -> table {} at {})\n",
                    made.spec.name, made.spec.source_dir, made.spec.target_table, made.target_path
                )
            })?;
        }
        IngestCommand::List => {
            let all = rpc.list_ingestions(ctx()).await.flat()?;
            out.show(&all, || render_list(&all, fmt::now_ms()))?;
        }
        IngestCommand::Show { name } => {
            let ingestion = rpc.get_ingestion(ctx(), name.clone()).await.flat()?;
            let schemas = rpc.ingestion_schemas(ctx(), name.clone()).await.flat()?;
            let runs = rpc.ingestion_runs(ctx(), name.clone(), 10).await.flat()?;
            let value = serde_json::json!({
                "ingestion": ingestion, "schemas": schemas, "runs": runs,
            });
            out.show(&value, || {
                let now = fmt::now_ms();
                format!(
                    "{}\nschema versions:\n{}\nruns:\n{}",
                    render_one(&ingestion),
                    render_schemas(&schemas),
                    render_runs(&runs, now)
                )
            })?;
        }
        IngestCommand::Update(args) => {
            let patch = patch_of(args)?;
            let updated = rpc
                .update_ingestion(ctx(), args.name.clone(), patch)
                .await
                .flat()?;
            out.show(&updated, || render_one(&updated))?;
        }
        IngestCommand::Delete {
            name,
            keep_table,
            drop_table,
        } => {
            if !keep_table && !drop_table {
                return Err(CliError::usage(format!(
                    "say what happens to the table: `harbour ingest delete {name} --keep-table` \
                     keeps it and its files, `--drop-table` deletes both"
                )));
            }
            let gone = rpc
                .delete_ingestion(slow_ctx(), name.clone(), *keep_table)
                .await
                .flat()?;
            out.show(&gone, || {
                if *keep_table {
                    format!(
                        "deleted ingestion {}; table {} stays at {}\n",
                        gone.spec.name, gone.spec.target_table, gone.target_path
                    )
                } else {
                    format!(
                        "deleted ingestion {} and table {}\n",
                        gone.spec.name, gone.spec.target_table
                    )
                }
            })?;
        }
        IngestCommand::Run { name, wait } | IngestCommand::Retry { name, wait } => {
            let run = if matches!(command, IngestCommand::Run { .. }) {
                rpc.run_ingestion(ctx(), name.clone()).await.flat()?
            } else {
                rpc.retry_ingestion(ctx(), name.clone()).await.flat()?
            };
            let run = if *wait {
                wait_run(&client, name, run.id).await?
            } else {
                run
            };
            out.show(&run, || render_run_line(&run))?;
            if *wait
                && !matches!(
                    run.state,
                    IngestRunState::Succeeded | IngestRunState::NoNewFiles
                )
            {
                return Ok(exit::FAILURE);
            }
        }
        IngestCommand::Pause { name } | IngestCommand::Resume { name } => {
            let paused = matches!(command, IngestCommand::Pause { .. });
            let i = rpc
                .set_ingestion_paused(ctx(), name.clone(), paused)
                .await
                .flat()?;
            out.show(&i, || {
                format!(
                    "{} {}\n",
                    if i.paused { "paused" } else { "resumed" },
                    i.spec.name
                )
            })?;
        }
        IngestCommand::Runs { name, limit } => {
            let runs = rpc
                .ingestion_runs(ctx(), name.clone(), *limit)
                .await
                .flat()?;
            out.show(&runs, || render_runs(&runs, fmt::now_ms()))?;
        }
        IngestCommand::Files { ingest_run } => {
            let files = rpc.ingestion_run_files(ctx(), *ingest_run).await.flat()?;
            out.show(&files, || render_files(&files))?;
        }
        IngestCommand::Preview(args) => {
            let spec = sample_spec(&client, args).await?;
            let preview = rpc
                .preview_ingestion(slow_ctx(), spec, args.rows)
                .await
                .flat()?;
            out.show(&preview, || render_preview(&preview))?;
        }
        IngestCommand::Estimate(args) => {
            let spec = sample_spec(&client, args).await?;
            let estimate = rpc.estimate_ingestion(ctx(), spec).await.flat()?;
            out.show(&estimate, || render_estimate(&estimate))?;
        }
    }
    Ok(exit::OK)
}

async fn wait_run(client: &Client, name: &str, id: i64) -> Result<IngestRun, CliError> {
    loop {
        let runs = client
            .rpc
            .ingestion_runs(ctx(), name.to_owned(), 20)
            .await
            .flat()?;
        if let Some(run) = runs.into_iter().find(|r| r.id == id)
            && !run.state.is_active()
        {
            return Ok(run);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn trigger_text(i: &Ingestion) -> String {
    i.spec.trigger.to_string()
}

pub fn render_list(all: &[Ingestion], now: i64) -> String {
    if all.is_empty() {
        return "no ingestions; `harbour ingest create --help` shows how to define one\n".into();
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|i| {
            let last = i.last_run.as_ref();
            vec![
                i.spec.name.clone(),
                i.state_label().to_owned(),
                i.spec.format.to_string(),
                i.spec.target_table.clone(),
                trigger_text(i),
                last.map_or_else(|| "-".into(), |r| r.state.to_string()),
                last.map_or_else(|| "-".into(), |r| fmt::local_time(r.started_ms)),
                last.map_or_else(|| "-".into(), |r| fmt::duration_ms(r.duration_ms(now))),
                i.files_total.to_string(),
                i.rows_total.to_string(),
            ]
        })
        .collect();
    table::render(
        &[
            "NAME", "STATE", "FORMAT", "TABLE", "TRIGGER", "LAST RUN", "STARTED", "TOOK", "FILES",
            "ROWS",
        ],
        &rows,
    )
}

pub fn render_one(i: &Ingestion) -> String {
    let s = &i.spec;
    table::pairs(&[
        ("name", s.name.clone()),
        ("state", i.state_label().to_owned()),
        (
            "source",
            format!(
                "{}/{} ({})",
                s.source_dir,
                if s.glob.is_empty() { "*" } else { &s.glob },
                s.format
            ),
        ),
        (
            "options",
            s.options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("table", format!("{} at {}", s.target_table, i.target_path)),
        ("evolution", s.evolution.to_string()),
        ("schema hints", schema_text(&s.schema_hints)),
        (
            "malformed rows",
            (if s.fail_on_malformed {
                "fail the run"
            } else {
                "counted, set aside"
            })
            .to_owned(),
        ),
        ("trigger", trigger_text(i)),
        ("next fire", fmt::local_time_opt(i.next_fire_ms)),
        (
            "cluster",
            s.cluster.clone().unwrap_or_else(|| "local".into()),
        ),
        ("schema version", fmt::or_dash(i.schema_version)),
        (
            "files / rows",
            format!("{} / {}", i.files_total, i.rows_total),
        ),
    ])
}

pub fn render_schemas(versions: &[SchemaVersion]) -> String {
    if versions.is_empty() {
        return "  none yet: the first run infers it\n".into();
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                format!("v{}", v.version),
                fmt::local_time(v.created_ms),
                v.change.clone(),
                schema_text(&v.fields),
            ]
        })
        .collect();
    table::render(&["VERSION", "AT", "CHANGE", "COLUMNS"], &rows)
}

pub fn render_runs(runs: &[IngestRun], now: i64) -> String {
    if runs.is_empty() {
        return "  no runs yet\n".into();
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.state.to_string(),
                r.trigger.as_str().to_owned(),
                fmt::local_time(r.started_ms),
                fmt::duration_ms(r.duration_ms(now)),
                r.files.to_string(),
                r.rows.to_string(),
                fmt::bytes(r.bytes),
                r.malformed_rows.to_string(),
                r.rescued_rows.to_string(),
                fmt::or_dash(r.run_id),
                r.message.clone(),
            ]
        })
        .collect();
    table::render(
        &[
            "ID",
            "RESULT",
            "TRIGGER",
            "STARTED",
            "TOOK",
            "FILES",
            "ROWS",
            "BYTES",
            "MALFORMED",
            "RESCUED",
            "SPARK RUN",
            "MESSAGE",
        ],
        &rows,
    )
}

pub fn render_run_line(r: &IngestRun) -> String {
    format!(
        "ingest run {} of {}: {} ({} file(s), {} row(s), {} malformed, {} rescued){}\n",
        r.id,
        r.ingestion,
        r.state,
        r.files,
        r.rows,
        r.malformed_rows,
        r.rescued_rows,
        r.run_id
            .map(|id| format!("; Spark run {id}"))
            .unwrap_or_default()
    ) + &if r.message.is_empty() {
        String::new()
    } else {
        format!("  {}\n", r.message)
    }
}

pub fn render_files(files: &[IngestFile]) -> String {
    if files.is_empty() {
        return "no files\n".into();
    }
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![
                f.batch_id.to_string(),
                fmt::bytes(f.bytes),
                fmt::local_time(f.modified_ms),
                f.path.clone(),
            ]
        })
        .collect();
    table::render(&["BATCH", "BYTES", "MODIFIED", "PATH"], &rows)
}

pub fn render_preview(p: &IngestPreview) -> String {
    let mut out = format!(
        "sample: {} of {} file(s)\nschema: {}\n\n",
        p.sample_files.len(),
        p.files_total,
        schema_text(&p.schema)
    );
    let rows: Vec<Vec<String>> = p
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    let headers: Vec<&str> = p.columns.iter().map(String::as_str).collect();
    out.push_str(&table::render(&headers, &rows));
    out.push('\n');
    for sentence in &p.evolution {
        out.push_str(sentence);
        out.push('\n');
    }
    out
}

pub fn render_estimate(e: &IngestEstimate) -> String {
    table::pairs(&[
        (
            "backlog",
            format!(
                "{} file(s), {}",
                e.backlog_files,
                fmt::bytes(e.backlog_bytes)
            ),
        ),
        (
            "arrivals",
            format!(
                "{:.1} file(s)/h, {}/h over the last day",
                e.arrival_files_per_hour,
                fmt::bytes(e.arrival_bytes_per_hour as u64)
            ),
        ),
        (
            "throughput",
            format!(
                "{}/s ({})",
                fmt::bytes(e.throughput_bytes_per_sec as u64),
                if e.measured {
                    "measured"
                } else {
                    "calibrated default"
                }
            ),
        ),
        ("cluster", format!("{} ({} core(s))", e.cluster, e.cores)),
        ("expected run", format!("{:.0}s", e.expected_secs)),
        (
            "cost",
            format!("{:.4} at {} per core-hour", e.cost, e.rate_per_core_hour),
        ),
    ]) + &format!("{}\n", e.how)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(source: &str) -> DefArgs {
        DefArgs {
            source: Some(source.into()),
            glob: Some("*.csv".into()),
            format: Some("csv".into()),
            options: vec![("sep".into(), ";".into())],
            table: None,
            target_path: None,
            schema: Some("id bigint, amount double".into()),
            hints: vec!["amount decimal(10,2)".into()],
            evolution: Some("rescue".into()),
            fail_on_malformed: false,
            max_files_per_batch: Some(5),
            every: Some(300),
            cron: None,
            cluster: None,
        }
    }

    #[test]
    fn flags_make_a_spec() {
        let spec = spec_of("web-orders", &def("/in")).unwrap();
        assert_eq!(spec.target_table, "web_orders");
        assert_eq!(spec.format, SourceFormat::Csv);
        assert_eq!(spec.evolution, EvolutionMode::Rescue);
        assert_eq!(spec.trigger, IngestTrigger::Every { secs: 300 });
        assert_eq!(spec.schema.unwrap().len(), 2);
        assert_eq!(spec.schema_hints[0].data_type, "decimal(10,2)");
        let mut bad = def("/in");
        bad.format = Some("xml".into());
        let err = spec_of("x", &bad).unwrap_err().to_string();
        assert!(err.contains("'xml' is not a source format"), "{err}");
    }
}
