//! Following runs: copying a log stream from an offset, once or until the run ends, and waiting
//! for a run's result (through its retries) for `--wait`.
//!
//! Logs are addressed by byte offset and each page says where the next one starts, so a follower
//! that always asks from `LogChunk::next_offset` prints every byte exactly once.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use harbour_shared::{
    JobRef, LogChunk, LogStream, MAX_LOG_CHUNK_BYTES, Run, RunDetail, RunFilter, RunId, RunResult,
    Trigger,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::conn::Conn;
use super::error::CliError;
use crate::client::{Flatten, ctx, long_poll_ctx};
use crate::fmt;

/// How long one follow request waits on the daemon for new bytes. Under `MAX_WAIT_MS`, and
/// short enough that a wedged connection is noticed.
const FOLLOW_WAIT_MS: u64 = 20_000;

/// How long to look for the retry of a failed run before taking the failure as final.
const RETRY_LOOKUP: Duration = Duration::from_secs(5);

/// Reads one stream of a run page by page from an offset: with `follow`, until the run has
/// ended and the stream is complete; without, up to what is there now.
#[derive(Debug, Clone, Copy)]
pub struct LogPager {
    run: RunId,
    stream: LogStream,
    offset: u64,
    follow: bool,
    done: bool,
}

impl LogPager {
    pub fn new(run: RunId, stream: LogStream, offset: u64, follow: bool) -> Self {
        Self {
            run,
            stream,
            offset,
            follow,
            done: false,
        }
    }

    /// Where the next page starts.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next page with bytes in it, or `None` once there is nothing more to read.
    pub async fn next(&mut self, conn: &mut Conn) -> Result<Option<LogChunk>, CliError> {
        while !self.done {
            let chunk = read(conn, self.run, self.stream, self.offset, self.follow).await?;
            self.offset = chunk.next_offset();
            self.done = chunk.complete
                || (!self.follow && (chunk.data.is_empty() || self.offset >= chunk.size));
            if !chunk.data.is_empty() {
                return Ok(Some(chunk));
            }
        }
        Ok(None)
    }
}

/// Copies `stream` of `run` from `offset` to `out` (see [`LogPager`] for how far). Returns the
/// offset it stopped at.
pub async fn copy_log<W: AsyncWrite + Unpin>(
    conn: &mut Conn,
    run: RunId,
    stream: LogStream,
    offset: u64,
    follow: bool,
    out: &mut W,
) -> Result<u64, CliError> {
    let mut pager = LogPager::new(run, stream, offset, follow);
    while let Some(chunk) = pager.next(conn).await? {
        out.write_all(&chunk.data).await?;
        out.flush().await?;
    }
    Ok(pager.offset())
}

async fn read(
    conn: &mut Conn,
    run: RunId,
    stream: LogStream,
    offset: u64,
    follow: bool,
) -> Result<LogChunk, CliError> {
    let wait_ms = if follow { FOLLOW_WAIT_MS } else { 0 };
    let asked = Instant::now();
    let chunk = conn
        .call(|client| async move {
            client
                .rpc
                .read_log(
                    long_poll_ctx(wait_ms),
                    run,
                    stream,
                    offset,
                    MAX_LOG_CHUNK_BYTES,
                    wait_ms,
                )
                .await
                .flat()
        })
        .await?;
    // A daemon that answers "nothing yet" at once must not make us spin.
    if follow
        && chunk.data.is_empty()
        && !chunk.complete
        && asked.elapsed() < Duration::from_millis(50)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(chunk)
}

/// Waits for `run` to end and returns the run it ended as. When a failed run is retried (a new
/// run whose parent it is), waits for the retry instead, and so on. With `stream`, copies each
/// attempt's stdout and stderr to ours as they are written.
pub async fn wait_for_result(conn: &mut Conn, run: RunId, stream: bool) -> Result<Run, CliError> {
    let chatty = std::io::stderr().is_terminal();
    let mut id = run;
    loop {
        if stream {
            // Each stream on its own connection, so that they reconnect independently.
            let (mut out_conn, mut err_conn) = (conn.clone(), conn.clone());
            let mut stdout = tokio::io::stdout();
            let mut stderr = tokio::io::stderr();
            tokio::try_join!(
                copy_log(&mut out_conn, id, LogStream::Stdout, 0, true, &mut stdout),
                copy_log(&mut err_conn, id, LogStream::Stderr, 0, true, &mut stderr),
            )?;
        }
        let detail = wait_until_terminated(conn, id).await?;
        let run = detail.run;
        let Some(result) = run.result else {
            return Ok(run);
        };
        let retry = if result.is_retryable() && run.attempt <= detail.spec.retries {
            find_retry(conn, &run).await?
        } else {
            None
        };
        match retry {
            Some(next) => {
                if chatty {
                    eprintln!(
                        "harbour: run {id} {}; its retry is run {next} (attempt {})",
                        fmt::result_label(result),
                        run.attempt + 1
                    );
                }
                id = next;
            }
            None => {
                if chatty && result != RunResult::Succeeded {
                    let message = if run.state_message.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", run.state_message)
                    };
                    eprintln!("harbour: run {id} {}{message}", fmt::result_label(result));
                }
                return Ok(run);
            }
        }
    }
}

/// Polls the run until it has terminated. Used after its logs are complete (which already
/// means it has, so this returns at once) and for `--wait --json`, which copies no logs.
async fn wait_until_terminated(conn: &mut Conn, run: RunId) -> Result<RunDetail, CliError> {
    let mut pause = Duration::from_millis(100);
    loop {
        let detail = conn
            .call(|client| async move { client.rpc.get_run(ctx(), run).await.flat() })
            .await?;
        if detail.run.lifecycle.is_terminal() {
            return Ok(detail);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// The run that retries `run`, if the daemon makes one within [`RETRY_LOOKUP`].
async fn find_retry(conn: &mut Conn, run: &Run) -> Result<Option<RunId>, CliError> {
    let deadline = Instant::now() + RETRY_LOOKUP;
    loop {
        let filter = RunFilter {
            job: Some(JobRef::Id(run.job_id)),
            limit: 50,
            ..RunFilter::default()
        };
        let runs = conn
            .call(|client| {
                let filter = filter.clone();
                async move { client.rpc.list_runs(ctx(), filter).await.flat() }
            })
            .await?;
        if let Some(next) = runs
            .iter()
            .find(|r| r.parent == Some(run.id) && r.trigger == Trigger::Retry)
        {
            return Ok(Some(next.id));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
