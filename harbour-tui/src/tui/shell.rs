//! The imperative shell around `App`: owns the terminal and the connection, feeds `update`
//! with keys, ticks and RPC answers, runs the commands it returns as tasks, and draws.
//!
//! One task (the loop in [`run`]) owns the app. A supervisor task keeps a connection: it
//! connects (starting a daemon once when allowed), long-polls `events` and forwards them,
//! and when the daemon goes away says so and reconnects. Commands read the current
//! connection from a watch channel; log followers wait on it across reconnects and resume
//! from their offset, so a daemon restart loses no line.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use crossterm::event::{Event, EventStream, KeyEventKind, MouseEventKind};
use futures::StreamExt as _;
use harbour_shared::{Error as ApiError, LogStream, MAX_LOG_CHUNK_BYTES, RunFilter, RunId};
use ratatui::DefaultTerminal;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::app::{App, Command, Msg};
use super::logs::{ChunkKind, LogView};
use super::runs::FETCH_LIMIT;
use super::{daemon, ui};
use crate::client::{self, Client, ClientError, Flatten as _};

/// How long a long-poll waits on the daemon.
const WAIT_MS: u64 = 25_000;
/// The shortest time between two frames when data streams in (keys draw at once).
const FRAME: Duration = Duration::from_millis(16);
/// How many pages of followed log may wait for the app (each up to `FOLLOW_BYTES`).
const LOG_QUEUE: usize = 2;
/// How much a follower asks for at once.
const FOLLOW_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    /// Start a daemon when none answers (only for the default user socket).
    pub autostart: bool,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(super) fn describe(e: &ClientError) -> String {
    match e {
        ClientError::Api(api) => api.to_string(),
        other => other.to_string(),
    }
}

/// Keeps a connection and forwards events until the app quits.
async fn supervise(opts: Options, tx: mpsc::Sender<Msg>, client_tx: watch::Sender<Option<Client>>) {
    let mut tried_start = false;
    let mut told_down = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        let c = match client::connect(&opts.socket).await {
            Ok(c) => c,
            Err(e) => {
                if let ClientError::Api(ApiError::ProtocolMismatch { .. }) = e {
                    let _ = tx.send(Msg::Disconnected(e.to_string())).await;
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    continue;
                }
                if opts.autostart && !tried_start && matches!(e, ClientError::Unreachable { .. }) {
                    tried_start = true;
                    let m = match daemon::start(&opts.socket) {
                        Ok(what) => Msg::DaemonStarted(what),
                        Err(why) => Msg::Disconnected(why),
                    };
                    if tx.send(m).await.is_err() {
                        return;
                    }
                } else if !told_down {
                    told_down = true;
                    if tx.send(Msg::Disconnected(describe(&e))).await.is_err() {
                        return;
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        // Learn where the event stream is before the app fetches lists, so nothing that
        // happens between the fetch and the first poll is missed.
        let mut after = match c.rpc.events(client::long_poll_ctx(0), 0, 0).await.flat() {
            Ok(b) => b.last_seq,
            Err(e) => {
                tracing::warn!(error = %e, "first events call failed");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        client_tx.send_replace(Some(c.clone()));
        let connected = Msg::Connected {
            version: c.hello.version.clone(),
            socket: c.socket.display().to_string(),
        };
        if tx.send(connected).await.is_err() {
            return;
        }
        let why = loop {
            match c
                .rpc
                .events(client::long_poll_ctx(WAIT_MS), after, WAIT_MS)
                .await
                .flat()
            {
                Ok(batch) => {
                    after = batch.last_seq;
                    if (!batch.events.is_empty() || batch.lost.is_some())
                        && tx.send(Msg::Events(batch)).await.is_err()
                    {
                        return;
                    }
                }
                Err(ClientError::Api(e)) => {
                    tracing::warn!(error = %e, "events refused");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => break describe(&e),
            }
        };
        tracing::info!(why, "disconnected");
        client_tx.send_replace(None);
        if tx.send(Msg::Disconnected(why)).await.is_err() {
            return;
        }
        told_down = true;
    }
}

/// Waits for a connection.
async fn connected(rx: &mut watch::Receiver<Option<Client>>) -> Option<Client> {
    rx.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|c| c.clone())
}

/// Runs commands as tasks.
struct Exec {
    tx: mpsc::Sender<Msg>,
    /// Log followers send on their own short channel: a follower can read far faster than
    /// the app takes lines in, and each message can hold a MiB, so only a few may wait.
    log_tx: mpsc::Sender<Msg>,
    client: watch::Receiver<Option<Client>>,
    followers: Vec<JoinHandle<()>>,
    /// Notebook commands that change things, run one at a time in order.
    nb_tx: mpsc::UnboundedSender<super::notebooks::NbCmd>,
}

impl Exec {
    fn run(&mut self, cmd: Command) {
        let tx = self.tx.clone();
        let client = self.client.borrow().clone();
        match cmd {
            Command::Quit => {}
            Command::Yank(text) => {
                // OSC 52: the terminal (and tmux with set-clipboard) puts it on the clipboard.
                let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
                let mut out = io::stdout();
                let _ = write!(out, "\x1b]52;c;{b64}\x07");
                let _ = out.flush();
            }
            Command::StopFollow => {
                for h in self.followers.drain(..) {
                    h.abort();
                }
            }
            Command::FollowLog {
                epoch,
                run,
                stream,
                offset,
            } => {
                self.followers.retain(|h| !h.is_finished());
                self.followers.push(tokio::spawn(follow(
                    self.client.clone(),
                    self.log_tx.clone(),
                    epoch,
                    run,
                    stream,
                    offset,
                )));
            }
            Command::Nb(cmd) if !matches!(cmd, super::notebooks::NbCmd::Watch { .. }) => {
                let _ = self.nb_tx.send(cmd);
            }
            Command::FollowContainerLog {
                epoch,
                id,
                after_ns,
                tail,
            } => {
                self.followers.retain(|h| !h.is_finished());
                self.followers.push(tokio::spawn(follow_container(
                    self.client.clone(),
                    self.log_tx.clone(),
                    epoch,
                    id,
                    after_ns,
                    tail,
                )));
            }
            other => {
                let Some(c) = client else {
                    // Lists are fetched again on reconnect; the log view hears of its page
                    // (and reloads on reconnect); actions need saying.
                    let why = "not connected to harbourd; try again once it is back";
                    let reply = match other {
                        Command::FetchRuns
                        | Command::FetchJobs
                        | Command::FetchDashboard
                        | Command::FetchRun(_)
                        | Command::FetchSparkApps
                        | Command::FetchSparkApp(_)
                        | Command::FetchSparkJob(..) => return,
                        // Monitor asks again on its next tick once connected.
                        Command::FetchMonitorHistory { .. } => Msg::MonitorHistory(Err(why.into())),
                        Command::FetchMonitorLive => Msg::MonitorLive {
                            now: Err(why.into()),
                            health: Err(why.into()),
                            containers: Err(why.into()),
                        },
                        Command::ReadLog { epoch, .. } => Msg::LogFailed {
                            epoch,
                            why: why.into(),
                        },
                        Command::SearchLog { epoch, .. } => Msg::SearchResult {
                            epoch,
                            found: Err(why.into()),
                        },
                        _ => Msg::Done(Err(why.into())),
                    };
                    tokio::spawn(async move {
                        let _ = tx.send(reply).await;
                    });
                    return;
                };
                tokio::spawn(async move {
                    if let Some(m) = one_shot(&c, other).await {
                        let _ = tx.send(m).await;
                    }
                });
            }
        }
    }
}

async fn fetch_runs(c: &Client) -> Result<Vec<harbour_shared::Run>, ClientError> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        let filter = RunFilter {
            limit: 1000,
            before,
            ..RunFilter::default()
        };
        let page = c.rpc.list_runs(client::ctx(), filter).await.flat()?;
        let n = page.len();
        before = page.last().map(|r| r.id);
        all.extend(page);
        if n == 0 || all.len() >= FETCH_LIMIT || before.is_none() {
            break;
        }
    }
    Ok(all)
}

async fn one_shot(c: &Client, cmd: Command) -> Option<Msg> {
    let ctx = client::ctx;
    let e = |e: ClientError| describe(&e);
    Some(match cmd {
        Command::FetchRuns => Msg::Runs(fetch_runs(c).await.map_err(e)),
        Command::FetchJobs => Msg::Jobs(c.rpc.list_jobs(ctx(), false).await.flat().map_err(e)),
        Command::FetchDashboard => {
            Msg::Dashboard(c.rpc.dashboard(ctx()).await.flat().map(Box::new).map_err(e))
        }
        Command::FetchRun(id) => Msg::RunDetail(
            id,
            c.rpc
                .get_run(ctx(), id)
                .await
                .flat()
                .map(Box::new)
                .map_err(e),
        ),
        Command::RunSql { query, cluster } => {
            let mut slow = ctx();
            slow.deadline = Instant::now() + Duration::from_secs(600);
            let request = harbour_shared::SqlRequest {
                query,
                cluster,
                limit: 10_000,
            };
            Msg::SqlDone(
                c.rpc
                    .sql(slow, request)
                    .await
                    .flat()
                    .map(Box::new)
                    .map_err(e),
            )
        }
        Command::CancelSql(cluster) => Msg::Done(
            c.rpc
                .cancel_sql(ctx(), cluster)
                .await
                .flat()
                .map(|n| format!("interrupted {n} query(ies)"))
                .map_err(|x| format!("cancel: {}", e(x))),
        ),
        Command::FetchClusters => Msg::Clusters(c.rpc.list_clusters(ctx()).await.flat().map_err(e)),
        Command::Ingest(cmd) => Msg::Ingest(super::ingest::exec(c, cmd).await),
        Command::CreateCluster(spec) => Msg::Done(
            c.rpc
                .create_cluster(ctx(), spec)
                .await
                .flat()
                .map(|cl| format!("cluster {}: {}", cl.name, cl.state))
                .map_err(|x| format!("create cluster: {}", e(x))),
        ),
        Command::DeleteCluster(name) => {
            let mut slow = ctx();
            slow.deadline = Instant::now() + Duration::from_secs(120);
            Msg::Done(
                c.rpc
                    .delete_cluster(slow, name.clone())
                    .await
                    .flat()
                    .map(|_| format!("deleted cluster {name}"))
                    .map_err(|x| format!("delete cluster {name}: {}", e(x))),
            )
        }
        Command::FetchSparkProgress(id) => Msg::SparkProgress(
            id,
            c.rpc
                .spark_progress(ctx(), id)
                .await
                .flat()
                .map(Box::new)
                .map_err(e),
        ),
        Command::Kill(id) => Msg::Done(
            c.rpc
                .kill_run(ctx(), id)
                .await
                .flat()
                .map(|r| format!("run {id}: {}", r.state_label()))
                .map_err(|x| format!("kill run {id}: {}", e(x))),
        ),
        Command::Restart(id) => Msg::RunMade(
            c.rpc
                .restart_run(ctx(), id)
                .await
                .flat()
                .map(Box::new)
                .map_err(|x| format!("restart run {id}: {}", e(x))),
        ),
        Command::Submit(spec) => Msg::RunMade(
            c.rpc
                .submit(ctx(), *spec)
                .await
                .flat()
                .map(Box::new)
                .map_err(|x| format!("submit: {}", e(x))),
        ),
        Command::RunJob(id, name) => Msg::RunMade(
            c.rpc
                .run_job(ctx(), harbour_shared::JobRef::Id(id))
                .await
                .flat()
                .map(Box::new)
                .map_err(|x| format!("run {name}: {}", e(x))),
        ),
        Command::SetPaused(id, paused) => Msg::Done(
            c.rpc
                .set_job_paused(ctx(), harbour_shared::JobRef::Id(id), paused)
                .await
                .flat()
                .map(|j| {
                    format!(
                        "{} {}",
                        j.name(),
                        if j.paused { "paused" } else { "resumed" }
                    )
                })
                .map_err(e),
        ),
        Command::DeleteJob(id, name) => Msg::Done(
            c.rpc
                .delete_job(ctx(), harbour_shared::JobRef::Id(id))
                .await
                .flat()
                .map(|_| format!("deleted job {name}"))
                .map_err(|x| format!("delete {name}: {}", e(x))),
        ),
        Command::ReadLog {
            epoch,
            run,
            stream,
            offset,
            max,
            kind,
        } => {
            match c
                .rpc
                .read_log(
                    client::long_poll_ctx(0),
                    run,
                    stream,
                    offset,
                    max.min(MAX_LOG_CHUNK_BYTES),
                    0,
                )
                .await
                .flat()
            {
                Ok(chunk) => Msg::LogChunk {
                    epoch,
                    stream,
                    kind,
                    chunk,
                    at_ms: now_ms(),
                },
                Err(x) => Msg::LogFailed { epoch, why: e(x) },
            }
        }
        Command::SearchLog {
            epoch,
            run,
            from,
            query,
            forward,
        } => {
            let mut found = Ok(None);
            for (stream, offset) in from {
                match search_log(c, run, stream, offset, &query, forward).await {
                    Ok(None) => {}
                    Ok(Some(at)) => {
                        found = Ok(Some((stream, at)));
                        break;
                    }
                    Err(e) => {
                        found = Err(e);
                        break;
                    }
                }
            }
            Msg::SearchResult { epoch, found }
        }
        Command::SaveLog { run, streams, dir } => Msg::Done(save_log(c, run, &streams, &dir).await),
        Command::FetchMonitorHistory { series, window_ms } => Msg::MonitorHistory(
            c.rpc
                .metrics_history(ctx(), series, window_ms, 0)
                .await
                .flat()
                .map_err(e),
        ),
        Command::FetchMonitorLive => {
            let (now, health, containers) = futures::join!(
                c.rpc.metrics_now(ctx()),
                c.rpc.health(ctx()),
                c.rpc.containers(ctx(), false)
            );
            Msg::MonitorLive {
                now: now.flat().map(Box::new).map_err(e),
                health: health.flat().map_err(e),
                containers: containers.flat().map_err(e),
            }
        }
        Command::Container(id, action) => Msg::ContainerDone(
            c.rpc
                .container_action(client::long_poll_ctx(60_000), id, action)
                .await
                .flat()
                .map(|c| format!("{} {}: {}", action.as_str(), c.name, c.status))
                .map_err(e),
        ),
        Command::SaveText { name, text, dir } => {
            let path = dir.join(name);
            Msg::Done(
                tokio::fs::write(&path, &text)
                    .await
                    .map(|()| format!("saved {} lines to {}", text.lines().count(), path.display()))
                    .map_err(|e| format!("cannot write {}: {e}", path.display())),
            )
        }
        // --- Analytics ---
        Command::FetchSparkApps => Msg::SparkApps(c.rpc.spark_apps(ctx()).await.flat().map_err(e)),
        Command::FetchSparkApp(id) => Msg::SparkApp(
            id.clone(),
            c.rpc
                .spark_app(ctx(), id)
                .await
                .flat()
                .map(Box::new)
                .map_err(e),
        ),
        Command::FetchSparkJob(id, job) => Msg::SparkJob(
            id.clone(),
            job,
            c.rpc
                .spark_job(ctx(), id, job)
                .await
                .flat()
                .map(Box::new)
                .map_err(e),
        ),
        Command::Nb(cmd) => super::notebooks_shell::run(c, cmd).await,
        Command::FollowLog { .. }
        | Command::FollowContainerLog { .. }
        | Command::StopFollow
        | Command::Yank(_)
        | Command::Quit => {
            return None;
        }
    })
}

async fn save_log(
    c: &Client,
    run: RunId,
    streams: &[LogStream],
    dir: &std::path::Path,
) -> Result<String, String> {
    use tokio::io::AsyncWriteExt as _;
    let mut saved = Vec::new();
    for s in streams {
        let path = dir.join(format!("harbour-run-{run}.{s}.log"));
        let mut f = tokio::fs::File::create(&path)
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let mut off = 0;
        let mut total = 0u64;
        loop {
            let chunk = c
                .rpc
                .read_log(
                    client::long_poll_ctx(0),
                    run,
                    *s,
                    off,
                    MAX_LOG_CHUNK_BYTES,
                    0,
                )
                .await
                .flat()
                .map_err(|e| describe(&e))?;
            if chunk.data.is_empty() {
                break;
            }
            f.write_all(&chunk.data)
                .await
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            total += chunk.data.len() as u64;
            off = chunk.next_offset();
            if off >= chunk.size {
                break;
            }
        }
        f.flush().await.map_err(|e| e.to_string())?;
        if total == 0 && streams.len() > 1 {
            // An empty stream of the merged view is not worth a file.
            drop(f);
            let _ = tokio::fs::remove_file(&path).await;
            continue;
        }
        saved.push(format!(
            "{} ({})",
            path.display(),
            super::format::bytes(total)
        ));
    }
    if saved.is_empty() {
        return Ok(format!("run {run} printed nothing; no file written"));
    }
    Ok(format!("saved {}", saved.join(", ")))
}

/// The offset of the first line at or after `from` (forward), or the last line that ends at
/// or before `from` (backward), that matches `query` as the log view matches lines. Reads
/// the log in pages, holding one at a time.
async fn search_log(
    c: &Client,
    run: RunId,
    stream: LogStream,
    from: u64,
    query: &str,
    forward: bool,
) -> Result<Option<u64>, String> {
    let page = MAX_LOG_CHUNK_BYTES;
    let hit = |line: &[u8]| LogView::matches(query, &super::logs::sanitize(line));
    if forward {
        let mut off = from;
        loop {
            let chunk = read_page(c, run, stream, off, page).await?;
            if chunk.data.is_empty() {
                return Ok(None);
            }
            // Whole lines only, unless one line fills the page.
            let usable = chunk
                .data
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(chunk.data.len(), |nl| nl + 1);
            let mut pos = 0;
            for line in chunk.data[..usable].split_inclusive(|b| *b == b'\n') {
                if hit(line.strip_suffix(b"\n").unwrap_or(line)) {
                    return Ok(Some(off + pos as u64));
                }
                pos += line.len();
            }
            off += usable as u64;
            if off >= chunk.size {
                return Ok(None);
            }
        }
    }
    let mut end = from;
    while end > 0 {
        let start = end.saturating_sub(page);
        let chunk = read_page(c, run, stream, start, end - start).await?;
        let len = chunk
            .data
            .len()
            .min(usize::try_from(end - start).unwrap_or(0));
        let data = &chunk.data[..len];
        // Before `start` the first line may go on: leave it for the next page back.
        let skip = if start > 0 {
            data.iter().position(|b| *b == b'\n').map_or(0, |nl| nl + 1)
        } else {
            0
        };
        let mut found = None;
        let mut pos = skip;
        for line in data[skip..].split_inclusive(|b| *b == b'\n') {
            if hit(line.strip_suffix(b"\n").unwrap_or(line)) {
                found = Some(start + pos as u64);
            }
            pos += line.len();
        }
        if found.is_some() || start == 0 {
            return Ok(found);
        }
        // A line longer than a page has no newline here: step over it rather than loop.
        end = if skip == 0 {
            start
        } else {
            start + skip as u64
        };
    }
    Ok(None)
}

async fn read_page(
    c: &Client,
    run: RunId,
    stream: LogStream,
    offset: u64,
    max: u64,
) -> Result<harbour_shared::LogChunk, String> {
    c.rpc
        .read_log(client::long_poll_ctx(0), run, stream, offset, max, 0)
        .await
        .flat()
        .map_err(|e| describe(&e))
}

/// What one poll of a follower found: a message to pass on (none when nothing came) and
/// whether the output has ended.
struct Polled {
    msg: Option<Msg>,
    done: bool,
}

/// Polls with `poll` from `cursor` until the output ends, across reconnects: each poll
/// answers what it found and where the next one starts. An API error ends the follow with a
/// `LogFailed`; a lost connection waits for the supervisor to reconnect.
async fn follow_loop<K, Fut>(
    mut client: watch::Receiver<Option<Client>>,
    tx: mpsc::Sender<Msg>,
    epoch: u64,
    mut cursor: K,
    poll: impl Fn(Client, K) -> Fut,
) where
    K: Clone,
    Fut: Future<Output = Result<(Polled, K), ClientError>>,
{
    loop {
        let Some(c) = connected(&mut client).await else {
            return;
        };
        match poll(c, cursor.clone()).await {
            Ok((polled, next)) => {
                cursor = next;
                if let Some(msg) = polled.msg
                    && tx.send(msg).await.is_err()
                {
                    return;
                }
                if polled.done {
                    return;
                }
            }
            Err(ClientError::Api(e)) => {
                let _ = tx
                    .send(Msg::LogFailed {
                        epoch,
                        why: e.to_string(),
                    })
                    .await;
                return;
            }
            Err(e) => {
                tracing::info!(error = %e, "following interrupted; waiting for the connection");
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), client.wait_for(Option::is_none))
                        .await;
            }
        }
    }
}

/// Follows one stream until the run ends.
async fn follow(
    client: watch::Receiver<Option<Client>>,
    tx: mpsc::Sender<Msg>,
    epoch: u64,
    run: RunId,
    stream: LogStream,
    offset: u64,
) {
    follow_loop(
        client,
        tx,
        epoch,
        offset,
        move |c: Client, offset| async move {
            let chunk = c
                .rpc
                .read_log(
                    client::long_poll_ctx(WAIT_MS),
                    run,
                    stream,
                    offset,
                    FOLLOW_BYTES,
                    WAIT_MS,
                )
                .await
                .flat()?;
            let done = chunk.complete;
            let next = chunk.next_offset();
            let quiet = chunk.data.is_empty() && !done;
            let polled = Polled {
                msg: (!quiet).then(|| Msg::LogChunk {
                    epoch,
                    stream,
                    kind: ChunkKind::Append,
                    chunk,
                    at_ms: now_ms(),
                }),
                done,
            };
            Ok((polled, next))
        },
    )
    .await;
}

/// Follows a container's output until it stops.
async fn follow_container(
    client: watch::Receiver<Option<Client>>,
    tx: mpsc::Sender<Msg>,
    epoch: u64,
    id: String,
    after_ns: i64,
    tail: u32,
) {
    follow_loop(client, tx, epoch, after_ns, move |c: Client, after_ns| {
        let id = id.clone();
        async move {
            let chunk = c
                .rpc
                .container_logs(client::long_poll_ctx(WAIT_MS), id, tail, after_ns, WAIT_MS)
                .await
                .flat()?;
            let done = !chunk.running;
            let quiet = chunk.data.is_empty() && !done;
            let next = chunk.cursor_ns;
            let polled = Polled {
                msg: (!quiet).then(|| Msg::ContainerLogChunk {
                    epoch,
                    chunk,
                    at_ms: now_ms(),
                }),
                done,
            };
            Ok((polled, next))
        }
    })
    .await;
}

/// Runs the app in `terminal` until it quits.
pub async fn run(terminal: &mut DefaultTerminal, app: &mut App, opts: Options) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(256);
    let (log_tx, mut log_rx) = mpsc::channel::<Msg>(LOG_QUEUE);
    let (client_tx, client_rx) = watch::channel::<Option<Client>>(None);
    let supervisor = tokio::spawn(supervise(opts, tx.clone(), client_tx));
    let (nb_tx, nb_rx) = mpsc::unbounded_channel();
    let nb_worker = tokio::spawn(super::notebooks_shell::in_order(
        client_rx.clone(),
        tx.clone(),
        nb_rx,
    ));
    let mut exec = Exec {
        tx,
        log_tx,
        client: client_rx,
        followers: Vec::new(),
        nb_tx,
    };
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let size = terminal.size()?;
    app.update(Msg::Resize(size.width, size.height));
    let mut dirty = true;
    let mut last_draw = Instant::now()
        .checked_sub(FRAME)
        .unwrap_or_else(Instant::now);
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            terminal.draw(|f| ui::render(app, f))?;
            last_draw = Instant::now();
            dirty = false;
        }
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
        let msg = tokio::select! {
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Msg::Key(k),
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    MouseEventKind::ScrollDown => Msg::Scroll(3),
                    MouseEventKind::ScrollUp => Msg::Scroll(-3),
                    _ => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(m) = rx.recv() => m,
            Some(m) = log_rx.recv() => m,
            _ = tick.tick() => Msg::Tick(now_ms()),
            () = tokio::time::sleep_until(next_frame), if dirty => continue,
        };
        let immediate = matches!(msg, Msg::Key(_) | Msg::Scroll(_) | Msg::Resize(..));
        for cmd in app.update(msg) {
            exec.run(cmd);
        }
        dirty = true;
        if app.quit {
            break;
        }
        if immediate {
            last_draw = Instant::now().checked_sub(FRAME).unwrap_or(last_draw);
        }
    }
    supervisor.abort();
    nb_worker.abort();
    for h in exec.followers.drain(..) {
        h.abort();
    }
    Ok(())
}
