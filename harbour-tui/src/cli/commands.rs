//! What each `harbour` command does: validate locally, call the daemon, print the answer as
//! text or JSON. Returns the exit code for success paths (`--wait` exits with a run's result);
//! failures are [`CliError`]s, which the caller reports.

use std::io::{IsTerminal, Write};
use std::path::Path;

use harbour_shared::{JobKind, JobRef, LogStream, Run, RunFilter, RunId};
use serde::Serialize;

use super::args::{Cli, Command, JobsCommand, LogsArgs, RunCommand, RunsArgs, SubmitArgs};
use super::conn::Conn;
use super::error::CliError;
use super::{analytics, exit, follow, monitor, render, spark, spec};
use crate::client::{self, Client, Flatten, ctx};
use crate::fmt;

/// Runs the parsed command line and returns the exit code for success paths.
pub async fn run(cli: &Cli) -> Result<u8, CliError> {
    let out = Out { json: cli.json };
    let socket = cli.socket();
    match &cli.command {
        Command::Status => {
            let client = connect(&socket).await?;
            let status = client.rpc.status(ctx()).await.flat()?;
            out.show(&status, || render::status(&status))?;
        }
        Command::Submit(args) => return submit(&socket, &out, args).await,
        Command::Runs(args) => runs(&socket, &out, args).await?,
        Command::Run(RunCommand::Show { run, watch }) => {
            run_show(&socket, &out, *run, *watch).await?;
        }
        Command::Logs(args) => logs(&socket, &out, args).await?,
        Command::Kill { run } => {
            let client = connect(&socket).await?;
            let run = client.rpc.kill_run(ctx(), *run).await.flat()?;
            out.show(&run, || state_line(&run))?;
        }
        Command::Restart { run, wait } => {
            let client = connect(&socket).await?;
            let run = client.rpc.restart_run(ctx(), *run).await.flat()?;
            return started(&client, &out, run, wait.wait).await;
        }
        Command::Jobs(command) => return jobs(&socket, &out, command).await,
        Command::Metrics(args) => return monitor::metrics(&socket, &out, args).await,
        Command::Health => return monitor::health(&socket, &out).await,
        Command::Containers(args) => return monitor::containers(&socket, &out, args).await,
        Command::Clusters(command) => return spark::clusters(&socket, &out, command).await,
        Command::Sql(args) => return spark::sql(&socket, &out, args).await,
        Command::Tables(command) => return spark::tables(&socket, &out, command).await,
        // --- Analytics ---
        Command::Spark(command) => return analytics::spark(&socket, &out, command).await,
        Command::Events(command) => return analytics::events(&socket, &out, command).await,
        // --- Ingestion ---
        Command::Ingest(command) => return super::ingest::run(&socket, &out, command).await,
        // --- Notebooks ---
        Command::Nb(command) => return super::notebooks::run(&socket, &out, command).await,
    }
    Ok(exit::OK)
}

/// `run show`: the run, and for a pyspark run its Spark progress (live while it runs, from
/// its event log after). With `watch`, redrawn every second until the run ends.
async fn run_show(socket: &Path, out: &Out, run: RunId, watch: bool) -> Result<(), CliError> {
    let client = connect(socket).await?;
    loop {
        let detail = client.rpc.get_run(ctx(), run).await.flat()?;
        let progress = if detail.run.kind == JobKind::Pyspark {
            Some(client.rpc.spark_progress(ctx(), run).await.flat())
        } else {
            None
        };
        if out.json {
            // The RunDetail as it is, plus `spark_progress` for pyspark runs.
            let mut value = serde_json::to_value(&detail).map_err(std::io::Error::from)?;
            if let (Some(Ok(p)), Some(map)) = (progress, value.as_object_mut()) {
                map.insert(
                    "spark_progress".into(),
                    serde_json::to_value(p).map_err(std::io::Error::from)?,
                );
            }
            out.json(&value)?;
        } else {
            let mut text = String::new();
            if watch {
                // Clear the screen and go home, like `watch`.
                text.push_str("\x1b[2J\x1b[H");
            }
            text.push_str(&render::run_detail(&detail, fmt::now_ms()));
            match progress {
                Some(Ok(p)) => {
                    text.push_str(&spark::render_progress(&p));
                    if let Some(app) = &p.app_id {
                        text.push_str(&format!(
                            "  Analytics: harbour spark app {app} (TUI: 9, the Spark screen)\n"
                        ));
                    }
                }
                Some(Err(e)) => text.push_str(&format!("\nSpark progress: {e}\n")),
                None => {}
            }
            write_stdout(text.as_bytes())?;
        }
        if !watch || !detail.run.is_active() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn connect(socket: &Path) -> Result<Client, CliError> {
    Ok(client::connect(socket).await?)
}

async fn submit(socket: &Path, out: &Out, args: &SubmitArgs) -> Result<u8, CliError> {
    // Check the command line before looking for a daemon: a typo is reported as one.
    let spec = spec::submit_spec(args, &std::env::current_dir()?)?;
    let client = connect(socket).await?;
    let run = client.rpc.submit(ctx(), spec).await.flat()?;
    started(&client, out, run, args.wait.wait).await
}

/// After a run was made: print its id (or the run, with --json), or with `wait` follow it to
/// its end and exit with its result.
async fn started(client: &Client, out: &Out, run: Run, wait: bool) -> Result<u8, CliError> {
    if !wait {
        out.show(&run, || format!("{}\n", run.id))?;
        return Ok(exit::OK);
    }
    if std::io::stderr().is_terminal() {
        // A person watching needs the id to look at or kill the run later; a script has
        // stdout and the exit code, and the run's stderr is ours, so keep out of it.
        eprintln!(
            "harbour: following run {} (ctrl-c stops following, not the run: `harbour kill {}`)",
            run.id, run.id
        );
    }
    // With --json, the output is the finished run, so the logs are not copied.
    let mut conn = Conn::new(client.clone());
    let end = follow::wait_for_result(&mut conn, run.id, !out.json).await?;
    if out.json {
        out.json(&end)?;
    }
    Ok(end.result.map_or(exit::FAILURE, exit::for_run_result))
}

async fn runs(socket: &Path, out: &Out, args: &RunsArgs) -> Result<(), CliError> {
    let filter = RunFilter {
        state: args.state,
        job: args.job.clone(),
        search: args.search.clone(),
        limit: args.limit.unwrap_or(0),
        before: args.before,
    };
    let client = connect(socket).await?;
    let runs = client.rpc.list_runs(ctx(), filter).await.flat()?;
    out.show(&runs, || render::runs(&runs, fmt::now_ms()))
}

async fn logs(socket: &Path, out: &Out, args: &LogsArgs) -> Result<(), CliError> {
    let stream = if args.stderr {
        LogStream::Stderr
    } else {
        LogStream::Stdout
    };
    let mut conn = Conn::new(connect(socket).await?);
    if out.json {
        // JSON Lines: one LogChunk per line, so a follower can process pages as they come.
        let mut pager = follow::LogPager::new(args.run, stream, args.from, args.follow);
        while let Some(chunk) = pager.next(&mut conn).await? {
            let mut stdout = std::io::stdout().lock();
            serde_json::to_writer(&mut stdout, &chunk).map_err(std::io::Error::from)?;
            stdout.write_all(b"\n")?;
            stdout.flush()?;
        }
    } else {
        let mut stdout = tokio::io::stdout();
        follow::copy_log(
            &mut conn,
            args.run,
            stream,
            args.from,
            args.follow,
            &mut stdout,
        )
        .await?;
    }
    Ok(())
}

async fn jobs(socket: &Path, out: &Out, command: &JobsCommand) -> Result<u8, CliError> {
    // Local checks first, as for submit.
    let base = std::env::current_dir()?;
    match command {
        JobsCommand::Create(args) => {
            let spec = spec::create_spec(args, &base)?;
            let client = connect(socket).await?;
            let job = client.rpc.create_job(ctx(), spec).await.flat()?;
            out.show(&job, || format!("{}\n", job.id))?;
        }
        JobsCommand::List { all } => {
            let client = connect(socket).await?;
            let jobs = client.rpc.list_jobs(ctx(), *all).await.flat()?;
            out.show(&jobs, || render::jobs(&jobs))?;
        }
        JobsCommand::Show { job } => {
            let client = connect(socket).await?;
            let job = client.rpc.get_job(ctx(), job.clone()).await.flat()?;
            out.show(&job, || render::job(&job))?;
        }
        JobsCommand::Run { job, wait } => {
            let client = connect(socket).await?;
            let run = client.rpc.run_job(ctx(), job.clone()).await.flat()?;
            return started(&client, out, run, wait.wait).await;
        }
        JobsCommand::Update(args) => {
            let patch = spec::update_patch(args, &base)?;
            let client = connect(socket).await?;
            let job = client
                .rpc
                .update_job(ctx(), args.job.clone(), patch)
                .await
                .flat()?;
            out.show(&job, || render::job(&job))?;
        }
        JobsCommand::Delete { job } => {
            let client = connect(socket).await?;
            let id = client.rpc.delete_job(ctx(), job.clone()).await.flat()?;
            out.show(&id, || format!("deleted job {id}\n"))?;
        }
        JobsCommand::Pause { job } => pause(socket, out, job, true).await?,
        JobsCommand::Resume { job } => pause(socket, out, job, false).await?,
    }
    Ok(exit::OK)
}

async fn pause(socket: &Path, out: &Out, job: &JobRef, paused: bool) -> Result<(), CliError> {
    let client = connect(socket).await?;
    let job = client
        .rpc
        .set_job_paused(ctx(), job.clone(), paused)
        .await
        .flat()?;
    let verb = if paused { "paused" } else { "resumed" };
    out.show(&job, || format!("{verb} job {} ({})\n", job.id, job.name()))
}

/// What `kill` answers: `run 42: terminating: cancelled by a user; SIGTERM sent ...`.
fn state_line(run: &Run) -> String {
    if run.state_message.is_empty() {
        format!("run {}: {}\n", run.id, fmt::run_state(run))
    } else {
        format!("run {}: {}\n", run.id, run.state_message)
    }
}

/// Where answers go: stdout, as text or as JSON. Writes are checked (never `println!`), so a
/// closed pipe is an error we can exit quietly on, not a panic.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or the text `text` makes of it.
    pub fn show<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            self.json(value)
        } else {
            write_stdout(text().as_bytes())
        }
    }

    pub fn json<T: Serialize>(&self, value: &T) -> Result<(), CliError> {
        let mut text = serde_json::to_string_pretty(value).map_err(std::io::Error::from)?;
        text.push('\n');
        write_stdout(text.as_bytes())
    }
}

pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}
