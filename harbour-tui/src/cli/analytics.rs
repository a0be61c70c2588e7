//! The analytics commands of `harbour`: `spark apps|app|job|summary` (what harbourd learned
//! from Spark event logs and pushed events) and `events ingest` (pushing an event log).
//! The text views are here; the TUI's Spark screen draws the same data its own way.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use harbour_shared::{
    AppDetail, AppSummary, DaySummary, JobDetail, JobSummary, PushReport, SparkApps, TaskTotals,
};

use super::args::{EventsCommand, SparkCommand};
use super::commands::Out;
use super::error::CliError;
use super::{exit, table};
use crate::client::{self, Client, Flatten, ctx};
use crate::fmt;

/// Lines per `spark_push_events` call, and the most bytes of them (well under a frame).
const PUSH_LINES: usize = 10_000;
const PUSH_BYTES: usize = 4 * 1024 * 1024;
/// `spark_push_events` calls `events ingest` keeps in flight.
const PUSH_IN_FLIGHT: usize = 2;

/// The next batch of lines (up to [`PUSH_LINES`], or the line that reaches [`PUSH_BYTES`]),
/// counting them into `line_no`; `None` at the end of the input.
fn next_batch(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    line_no: &mut u64,
) -> Result<Option<Vec<String>>, CliError> {
    let mut batch = Vec::with_capacity(PUSH_LINES);
    let mut bytes = 0usize;
    while batch.len() < PUSH_LINES && bytes < PUSH_BYTES {
        let Some(line) = lines.next().transpose()? else {
            break;
        };
        *line_no += 1;
        bytes += line.len();
        batch.push(line);
    }
    Ok((!batch.is_empty()).then_some(batch))
}

async fn connect(socket: &Path) -> Result<Client, CliError> {
    Ok(client::connect(socket).await?)
}

fn query_ctx() -> tarpc::context::Context {
    let mut ctx = ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(120);
    ctx
}

pub async fn spark(socket: &Path, out: &Out, command: &SparkCommand) -> Result<u8, CliError> {
    let client = connect(socket).await?;
    match command {
        SparkCommand::Apps => {
            let apps = client.rpc.spark_apps(query_ctx()).await.flat()?;
            out.show(&apps, || render_apps(&apps))?;
        }
        SparkCommand::App { app } => {
            let detail = client
                .rpc
                .spark_app(query_ctx(), app.clone())
                .await
                .flat()?;
            out.show(&detail, || render_app(&detail))?;
        }
        SparkCommand::Job { app, job } => {
            let detail = client
                .rpc
                .spark_job(query_ctx(), app.clone(), *job)
                .await
                .flat()?;
            out.show(&detail, || render_job(&detail))?;
        }
        SparkCommand::Summary { date } => {
            let date = date
                .clone()
                .unwrap_or_else(|| chrono::Utc::now().format("%Y-%m-%d").to_string());
            let summary = client.rpc.spark_summary(query_ctx(), date).await.flat()?;
            out.show(&summary, || render_summary(&summary))?;
        }
    }
    Ok(exit::OK)
}

/// `events ingest FILE|-`: sends the lines in batches, two calls in flight so the daemon
/// parses one batch while it stores the one before; the first batch names the app when
/// `--app` does not (alone: the batches after it need its answer).
pub async fn events(socket: &Path, out: &Out, command: &EventsCommand) -> Result<u8, CliError> {
    let EventsCommand::Ingest { file, app } = command;
    let input: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let client = connect(socket).await?;
    let mut total = PushReport {
        app_id: app.clone().unwrap_or_default(),
        ..PushReport::default()
    };
    let mut app = app.clone();
    let mut lines = input.lines();
    let mut line_no = 0u64;
    let mut pending = FuturesOrdered::new();
    loop {
        let room = if app.is_some() { PUSH_IN_FLIGHT } else { 1 };
        while pending.len() < room {
            let first_line = line_no;
            let Some(batch) = next_batch(&mut lines, &mut line_no)? else {
                break;
            };
            let (rpc, app) = (&client.rpc, app.clone());
            pending.push_back(async move {
                let report = rpc.spark_push_events(query_ctx(), app, batch).await;
                (first_line, report)
            });
        }
        let Some((first_line, report)) = pending.next().await else {
            break;
        };
        let report = report.flat()?;
        if app.is_none() && !report.app_id.is_empty() {
            app = Some(report.app_id.clone());
            total.app_id.clone_from(&report.app_id);
        }
        total.stored += report.stored;
        total.ignored += report.ignored;
        for (i, why) in report.rejected {
            if total.rejected.len() < 20 {
                total.rejected.push((first_line + i + 1, why));
            }
        }
    }
    out.show(&total, || {
        let mut text = format!(
            "{} events stored for {} ({} of kinds not kept, {} rejected)\n",
            total.stored,
            if total.app_id.is_empty() {
                "-"
            } else {
                &total.app_id
            },
            total.ignored,
            total.rejected.len()
        );
        for (line, why) in &total.rejected {
            text.push_str(&format!("  line {line}: {why}\n"));
        }
        text
    })?;
    Ok(exit::OK)
}

pub fn rate(t: &TaskTotals) -> String {
    t.success_rate()
        .map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn tasks(t: &TaskTotals) -> String {
    let mut s = format!("{}", t.ended);
    if t.failed > 0 {
        s.push_str(&format!(" ({} failed)", t.failed));
    }
    if t.killed > 0 {
        s.push_str(&format!(" ({} killed)", t.killed));
    }
    s
}

fn duration(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_owned(), fmt::duration_ms)
}

pub fn render_apps(apps: &SparkApps) -> String {
    if apps.apps.is_empty() && apps.problems.is_empty() {
        return "No Spark applications yet: harbourd replays its pyspark runs' event logs and \
                [analytics] log_dirs; `harbour events ingest FILE` sends others.\n"
            .into();
    }
    let rows: Vec<Vec<String>> = apps
        .apps
        .iter()
        .map(|a: &AppSummary| {
            vec![
                a.app_id.clone(),
                a.status.clone(),
                fmt::local_time_opt(a.start_ms),
                duration(a.duration_ms),
                format!("{} ({} failed)", a.jobs, a.failed_jobs),
                tasks(&a.tasks),
                rate(&a.tasks),
                a.tasks.retries.to_string(),
                a.name.clone(),
            ]
        })
        .collect();
    let mut out = table::render(
        &[
            "APP", "STATUS", "STARTED", "DURATION", "JOBS", "TASKS", "SUCCESS", "RETRIES", "NAME",
        ],
        &rows,
    );
    if !apps.problems.is_empty() {
        out.push_str(&format!(
            "\n{} unreadable log line(s):\n",
            apps.problems.len()
        ));
        for p in &apps.problems {
            out.push_str(&format!("  {}:{}: {}\n", p.path, p.line, p.why));
        }
    }
    out
}

fn job_rows(jobs: &[JobSummary], with_app: bool) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let mut row = Vec::new();
            if with_app {
                row.push(j.app_id.clone());
            }
            row.extend([
                j.job_id.to_string(),
                j.status.clone(),
                duration(j.duration_ms),
                tasks(&j.tasks),
                rate(&j.tasks),
                j.tasks.retries.to_string(),
                j.slowest_stage.as_ref().map_or_else(
                    || "-".into(),
                    |(id, a, _, d)| format!("{id}.{a} ({})", fmt::duration_ms(*d)),
                ),
                j.max_skew
                    .map_or_else(|| "-".into(), |k| format!("{k:.1}x")),
                j.name.clone(),
            ]);
            row
        })
        .collect();
    let mut headers = Vec::new();
    if with_app {
        headers.push("APP");
    }
    headers.extend([
        "JOB", "STATUS", "DURATION", "TASKS", "SUCCESS", "RETRIES", "SLOWEST", "SKEW", "NAME",
    ]);
    table::render(&headers, &rows)
}

pub fn render_app(d: &AppDetail) -> String {
    let a = &d.app;
    let mut out = table::pairs(&[
        ("app", a.app_id.clone()),
        ("name", a.name.clone()),
        ("status", a.status.clone()),
        ("started", fmt::local_time_opt(a.start_ms)),
        ("ended", fmt::local_time_opt(a.end_ms)),
        ("duration", duration(a.duration_ms)),
        ("jobs", format!("{} ({} failed)", a.jobs, a.failed_jobs)),
        ("tasks", tasks(&a.tasks)),
        ("success rate", rate(&a.tasks)),
        ("retries", a.tasks.retries.to_string()),
        ("executors", d.executors.len().to_string()),
        ("source", a.source.clone()),
        (
            "harbour run",
            d.run
                .map_or_else(|| "-".into(), |r| format!("{r} (harbour run show {r})")),
        ),
    ]);
    out.push('\n');
    if d.jobs.is_empty() {
        out.push_str("No jobs yet.\n");
    } else {
        out.push_str(&job_rows(&d.jobs, false));
    }
    out
}

pub fn render_job(d: &JobDetail) -> String {
    let j = &d.job;
    let mut out = table::pairs(&[
        ("app", j.app_id.clone()),
        ("job", j.job_id.to_string()),
        ("name", j.name.clone()),
        ("status", j.status.clone()),
        ("started", fmt::local_time_opt(j.start_ms)),
        ("duration", duration(j.duration_ms)),
        ("tasks", tasks(&j.tasks)),
        ("success rate", rate(&j.tasks)),
        ("retries", j.tasks.retries.to_string()),
        ("failure", j.failure.clone().unwrap_or_else(|| "-".into())),
    ]);
    let rows: Vec<Vec<String>> = d
        .stages
        .iter()
        .map(|s| {
            let q = s.task_ms.map_or_else(
                || "-".to_owned(),
                |q| {
                    q.iter()
                        .map(|v| fmt::duration_ms(*v))
                        .collect::<Vec<_>>()
                        .join(" / ")
                },
            );
            vec![
                format!("{}.{}", s.stage_id, s.attempt),
                s.status.clone(),
                duration(s.duration_ms),
                format!("{}/{}", s.tasks.ended, s.planned_tasks),
                s.tasks.failed.to_string(),
                q,
                s.skew.map_or_else(|| "-".into(), |k| format!("{k:.1}x")),
                s.name.clone(),
            ]
        })
        .collect();
    out.push_str("\nStages (task time min / p25 / median / p75 / max):\n");
    out.push_str(&table::render(
        &[
            "STAGE",
            "STATUS",
            "DURATION",
            "TASKS",
            "FAILED",
            "TASK TIME",
            "SKEW",
            "NAME",
        ],
        &rows,
    ));
    if d.failed_tasks.is_empty() {
        out.push_str("\nNo failed tasks.\n");
    } else {
        out.push_str("\nFailed tasks:\n");
        let rows: Vec<Vec<String>> = d
            .failed_tasks
            .iter()
            .map(|t| {
                vec![
                    t.task_id.to_string(),
                    format!("{}.{}", t.stage_id, t.stage_attempt),
                    t.index.to_string(),
                    t.attempt.to_string(),
                    t.executor.clone(),
                    t.reason.clone(),
                    t.message.clone(),
                ]
            })
            .collect();
        out.push_str(&table::render(
            &[
                "TASK", "STAGE", "INDEX", "ATTEMPT", "EXECUTOR", "REASON", "MESSAGE",
            ],
            &rows,
        ));
    }
    out
}

pub fn render_summary(s: &DaySummary) -> String {
    let mut out = table::pairs(&[
        ("date", s.date.clone()),
        ("jobs", s.total_jobs.to_string()),
        ("tasks", s.total_tasks.to_string()),
        ("failed tasks", s.failed_tasks.to_string()),
        (
            "avg success",
            s.avg_success_rate
                .map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0)),
        ),
        (
            "avg duration",
            s.avg_duration_ms
                .map_or_else(|| "-".into(), |d| fmt::duration_ms(d.round() as i64)),
        ),
    ]);
    out.push('\n');
    if s.jobs.is_empty() {
        out.push_str("No jobs started that day.\n");
    } else {
        out.push_str(&job_rows(&s.jobs, true));
    }
    out
}
