//! Log capture: a run that writes a gigabyte to stdout under harbourd, against the same
//! command writing to a file directly, with a follower (`read_log` long-polls of 4 MiB, as
//! `harbour logs -f` does) reading it as it grows and checking every byte.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harbour_shared::{
    EventKind, JobKind, JobSource, JobSpec, LogStream, MAX_LOG_CHUNK_BYTES, RunId, RunResult,
};
use harbour_tests::Daemon;
use harbour_tui::client::{self, Client, Flatten as _};

use crate::Options;
use crate::machine::{ProcSample, secs};
use crate::report::{Table, verdict};

const RATIO_TARGET: f64 = 1.2;
/// How long a follower's long-poll waits for new bytes.
const FOLLOW_WAIT_MS: u64 = 2_000;
const LINE: &str =
    "2026-11-21T12:00:00.000Z INFO worker{id=7}: processed batch of records, all is well";

/// What a workload writes, so a follower can check every byte it receives.
#[derive(Debug)]
enum Content {
    Zeros,
    /// This pattern again and again (the last repetition possibly cut short).
    Repeated(Vec<u8>),
}

impl Content {
    /// Where `data`, found at `offset` of the stream, first differs from what was written.
    fn first_mismatch(&self, offset: u64, data: &[u8]) -> Option<usize> {
        match self {
            Self::Zeros => data.iter().position(|&b| b != 0),
            Self::Repeated(pattern) => {
                let phase = (offset % pattern.len() as u64) as usize;
                let head = data.len().min(pattern.len() - phase);
                if data[..head] != pattern[phase..phase + head] {
                    return (0..head).find(|&i| data[i] != pattern[phase + i]);
                }
                data[head..]
                    .chunks(pattern.len())
                    .enumerate()
                    .find_map(|(n, piece)| {
                        (piece != &pattern[..piece.len()]).then(|| {
                            head + n * pattern.len()
                                + (0..piece.len())
                                    .find(|&i| piece[i] != pattern[i])
                                    .unwrap_or(0)
                        })
                    })
            }
        }
    }
}

#[derive(Debug)]
struct Workload {
    name: String,
    cmd: String,
    content: Arc<Content>,
}

fn workloads(bytes: u64) -> Vec<Workload> {
    vec![
        Workload {
            name: "zeros in 1 MiB writes (`dd`)".into(),
            cmd: format!(
                "dd if=/dev/zero bs=1048576 count={} status=none",
                bytes / (1 << 20)
            ),
            content: Arc::new(Content::Zeros),
        },
        Workload {
            name: format!("{}-byte log lines (`yes | head -c`)", LINE.len() + 1),
            cmd: format!("yes '{LINE}' | head -c {bytes}"),
            content: Arc::new(Content::Repeated(format!("{LINE}\n").into_bytes())),
        },
    ]
}

/// What a follower got.
#[derive(Debug, Clone, Copy)]
struct Followed {
    bytes: u64,
    /// The stream offset of the first byte that was not what the run wrote.
    first_bad: Option<u64>,
    pages: u64,
    /// From submit to the last page.
    done: Duration,
}

/// One run under harbourd.
#[derive(Debug, Clone, Copy)]
struct Captured {
    /// The run's own `ended_ms - started_ms`.
    run: Duration,
    /// Submit sent -> the client saw the run terminated (its `RunChanged` event).
    client: Duration,
    /// CPU time harbourd spent from submit to the follower's last page: serving `read_log`
    /// pages and watching the run.
    daemon_cpu: Duration,
    /// CPU time of the run's processes.
    run_cpu: Duration,
    followed: Option<Followed>,
}

#[derive(Debug)]
struct WorkloadResult {
    name: String,
    direct: Vec<Duration>,
    direct_cpu: Vec<Duration>,
    followed: Vec<Captured>,
    unfollowed: Vec<Captured>,
}

#[derive(Debug)]
pub struct LogResults {
    bytes: u64,
    repeats: usize,
    workloads: Vec<WorkloadResult>,
    /// The daemon after the runs, for the memory table.
    pub daemon_after: Option<ProcSample>,
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Direct,
    Followed,
    Unfollowed,
}

pub async fn run(bin: &Path, opts: &Options) -> LogResults {
    let daemon = Daemon::start_with_bin(bin, "");
    let control = daemon.client().await;
    let follower = daemon.client().await;
    // Beside the daemon's data dir, so both sides write to the same filesystem.
    let direct_dir = daemon.root.path().join("direct");
    let ticks = crate::machine::clock_ticks();
    std::fs::create_dir_all(&direct_dir).expect("direct dir");
    let mut results = Vec::new();
    for workload in workloads(opts.log_bytes) {
        let mut result = WorkloadResult {
            name: workload.name.clone(),
            direct: Vec::new(),
            direct_cpu: Vec::new(),
            followed: Vec::new(),
            unfollowed: Vec::new(),
        };
        for repeat in 0..opts.log_repeats {
            // The sides take turns going first, so whatever one leaves behind (dirty pages,
            // a burst of load from elsewhere) is not charged to the same other side each time.
            let mut sides = [Side::Direct, Side::Followed, Side::Unfollowed];
            sides.rotate_left(repeat % 3);
            for side in sides {
                settle(&direct_dir, opts.log_bytes).await;
                match side {
                    Side::Direct => {
                        let (dir, cmd, bytes) =
                            (direct_dir.clone(), workload.cmd.clone(), opts.log_bytes);
                        let took =
                            tokio::task::spawn_blocking(move || direct(&dir, &cmd, bytes, ticks))
                                .await
                                .expect("direct run");
                        result.direct.push(took.0);
                        result.direct_cpu.push(took.1);
                    }
                    Side::Followed | Side::Unfollowed => {
                        let follow = matches!(side, Side::Followed).then_some(&follower);
                        let captured = under_harbourd(
                            &daemon,
                            &control,
                            follow,
                            &workload,
                            opts.log_bytes,
                            ticks,
                        )
                        .await;
                        if follow.is_some() {
                            result.followed.push(captured);
                        } else {
                            result.unfollowed.push(captured);
                        }
                    }
                }
                eprintln!(
                    "  log capture: {} / {side:?} / repeat {repeat}: done",
                    workload.name
                );
            }
        }
        results.push(result);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    LogResults {
        bytes: opts.log_bytes,
        repeats: opts.log_repeats,
        workloads: results,
        daemon_after: ProcSample::take(daemon.pid()),
    }
}

/// Readies the machine for the next side: flushes what the previous one left dirty, then
/// writes and deletes a scratch file of the same size right before the side starts.
///
/// Why the scratch file: on this kind of VM the guest hands freed memory back to the host
/// (virtio-balloon free page reporting, a couple of seconds after it is freed), and faulting
/// it back in made a 1 GiB write take 1.5-4.4 s instead of 0.3-0.4 s, at random. Writing the
/// same amount just before leaves the page cache's memory backed for whichever side comes next.
async fn settle(dir: &Path, bytes: u64) {
    let scratch = dir.join("scratch");
    tokio::task::spawn_blocking(move || {
        let _ = Command::new("sync").status();
        let status = Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", scratch.display()))
            .args([
                "bs=1048576",
                &format!("count={}", bytes.div_ceil(1 << 20)),
                "status=none",
            ])
            .status()
            .expect("spawn dd");
        assert!(
            status.success(),
            "writing the scratch file failed: {status}"
        );
        std::fs::remove_file(&scratch).expect("remove the scratch file");
    })
    .await
    .expect("settle");
}

/// `sh -c 'cmd > file'`, timed from spawn to exit; and the CPU time of its processes.
fn direct(dir: &Path, cmd: &str, bytes: u64, ticks: u64) -> (Duration, Duration) {
    let file = dir.join("stdout.log");
    let before = ProcSample::own().expect("our /proc entry");
    let start = Instant::now();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{cmd} > '{}'", file.display()))
        .stdin(Stdio::null())
        .status()
        .expect("spawn sh");
    let took = start.elapsed();
    let after = ProcSample::own().expect("our /proc entry");
    assert!(status.success(), "`{cmd}` failed: {status}");
    let size = std::fs::metadata(&file).expect("direct output").len();
    assert_eq!(size, bytes, "`{cmd}` wrote {size} bytes");
    std::fs::remove_file(&file).expect("remove the direct output");
    (took, children_cpu(&before, &after, ticks))
}

fn children_cpu(before: &ProcSample, after: &ProcSample, ticks: u64) -> Duration {
    Duration::from_secs_f64(
        after.children_ticks.saturating_sub(before.children_ticks) as f64 / ticks as f64,
    )
}

async fn under_harbourd(
    daemon: &Daemon,
    control: &Client,
    follower: Option<&Client>,
    workload: &Workload,
    bytes: u64,
    ticks: u64,
) -> Captured {
    let rpc = &control.rpc;
    let mut after = rpc
        .events(client::ctx(), 0, 0)
        .await
        .flat()
        .expect("events")
        .last_seq;
    let spec = JobSpec::new(JobKind::Shell, JobSource::Code(workload.cmd.clone()));
    let cpu_before = ProcSample::take(daemon.pid()).expect("harbourd's /proc entry");
    let start = Instant::now();
    let id = rpc
        .submit(client::ctx(), spec)
        .await
        .flat()
        .expect("submit")
        .id;
    let follow =
        follower.map(|f| tokio::spawn(follow_log(f.clone(), id, workload.content.clone(), start)));
    let client_view = loop {
        let batch = rpc
            .events(client::long_poll_ctx(1_000), after, 1_000)
            .await
            .flat()
            .expect("events");
        let seen = start.elapsed();
        after = batch.last_seq;
        let ended = batch.events.iter().any(
            |e| matches!(&e.kind, EventKind::RunChanged(run) if run.id == id && !run.is_active()),
        );
        assert!(batch.lost.is_none(), "events were lost: {:?}", batch.lost);
        if ended {
            break seen;
        }
    };
    let followed = match follow {
        Some(task) => Some(task.await.expect("follower task")),
        None => None,
    };
    let cpu_after = ProcSample::take(daemon.pid()).expect("harbourd's /proc entry");
    let daemon_cpu = Duration::from_secs_f64(
        cpu_after.cpu_ticks.saturating_sub(cpu_before.cpu_ticks) as f64 / ticks as f64,
    );
    let run = rpc
        .get_run(client::ctx(), id)
        .await
        .flat()
        .expect("get_run")
        .run;
    assert_eq!(
        run.result,
        Some(RunResult::Succeeded),
        "{}",
        run.state_message
    );
    assert_eq!(run.stdout_bytes, bytes, "the run's recorded stdout size");
    if let Some(f) = followed {
        assert_eq!(f.bytes, bytes, "the follower missed bytes");
        assert_eq!(f.first_bad, None, "the follower got wrong bytes");
    }
    let log = daemon
        .data_dir
        .join("runs")
        .join(id.0.to_string())
        .join(format!("{}.log", LogStream::Stdout));
    std::fs::remove_file(&log)
        .unwrap_or_else(|e| panic!("remove the run's log {}: {e}", log.display()));
    let ms = |v: Option<i64>| v.expect("a terminated run has its times");
    let run_ms = ms(run.ended_ms) - ms(run.started_ms);
    Captured {
        run: Duration::from_millis(u64::try_from(run_ms).expect("ended after started")),
        client: client_view,
        daemon_cpu,
        run_cpu: children_cpu(&cpu_before, &cpu_after, ticks),
        followed,
    }
}

async fn follow_log(client: Client, id: RunId, content: Arc<Content>, start: Instant) -> Followed {
    let mut offset = 0;
    let mut first_bad = None;
    let mut pages = 0;
    loop {
        let chunk = client
            .rpc
            .read_log(
                client::long_poll_ctx(FOLLOW_WAIT_MS),
                id,
                LogStream::Stdout,
                offset,
                MAX_LOG_CHUNK_BYTES,
                FOLLOW_WAIT_MS,
            )
            .await
            .flat()
            .expect("read_log");
        assert_eq!(chunk.offset, offset, "a page from the wrong offset");
        if first_bad.is_none() {
            first_bad = content
                .first_mismatch(offset, &chunk.data)
                .map(|i| offset + i as u64);
        }
        offset = chunk.next_offset();
        pages += u64::from(!chunk.data.is_empty());
        if chunk.complete {
            return Followed {
                bytes: offset,
                first_bad,
                pages,
                done: start.elapsed(),
            };
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn gib(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

impl LogResults {
    pub fn tables(&self) -> Vec<Table> {
        let mut wall = Table::new(
            &format!(
                "Log capture: {} to stdout, wall time (median of {} interleaved repeats; all repeats in brackets)",
                gib(self.bytes),
                self.repeats
            ),
            &[
                "workload",
                "how",
                "wall time",
                "/ direct",
                "the command's CPU (median)",
                "harbourd's CPU (median)",
                "target",
                "result",
            ],
        );
        let mut follow = Table::new(
            "Log capture: the follower (`read_log` long-polls of 4 MiB, concurrent with the run)",
            &[
                "workload",
                "bytes received",
                "content",
                "pages",
                "last page after submit",
                "rate",
                "after the run's end",
            ],
        );
        for w in &self.workloads {
            let direct = median(w.direct.clone());
            let all = |v: &[Duration]| {
                let parts: Vec<String> = v
                    .iter()
                    .map(|d| format!("{:.2}", d.as_secs_f64()))
                    .collect();
                format!("[{}]", parts.join(", "))
            };
            let mut row = |how: &str,
                           v: Vec<Duration>,
                           run_cpu: Vec<Duration>,
                           cpu: Option<Vec<Duration>>| {
                let m = median(v.clone());
                let r = m.as_secs_f64() / direct.as_secs_f64();
                let judged = cpu.is_some();
                wall.row(vec![
                    w.name.clone(),
                    how.to_owned(),
                    format!("{} {}", secs(m), all(&v)),
                    format!("{r:.2}"),
                    secs(median(run_cpu)),
                    cpu.map(|c| secs(median(c))).unwrap_or_default(),
                    if judged {
                        format!("<= {RATIO_TARGET}")
                    } else {
                        String::new()
                    },
                    if judged {
                        verdict(r <= RATIO_TARGET)
                    } else {
                        String::new()
                    },
                ]);
            };
            let cpu = |v: &[Captured]| Some(v.iter().map(|c| c.daemon_cpu).collect());
            let run_cpu = |v: &[Captured]| v.iter().map(|c| c.run_cpu).collect();
            row(
                "direct: `sh -c 'cmd > file'`",
                w.direct.clone(),
                w.direct_cpu.clone(),
                None,
            );
            for (how, runs) in [("followed", &w.followed), ("no follower", &w.unfollowed)] {
                row(
                    &format!("harbourd, {how}: run started -> ended"),
                    runs.iter().map(|c| c.run).collect(),
                    run_cpu(runs),
                    cpu(runs),
                );
                row(
                    &format!("harbourd, {how}: client submit -> terminated"),
                    runs.iter().map(|c| c.client).collect(),
                    run_cpu(runs),
                    cpu(runs),
                );
            }
            for c in &w.followed {
                let Some(f) = c.followed else { continue };
                follow.row(vec![
                    w.name.clone(),
                    format!("{} of {}", f.bytes, self.bytes),
                    match f.first_bad {
                        None => "every byte as written".into(),
                        Some(at) => format!("**wrong from byte {at}**"),
                    },
                    f.pages.to_string(),
                    secs(f.done),
                    format!(
                        "{:.0} MiB/s",
                        f.bytes as f64 / (1 << 20) as f64 / f.done.as_secs_f64()
                    ),
                    format!(
                        "{:+.0} ms",
                        (f.done.as_secs_f64() - c.client.as_secs_f64()) * 1e3
                    ),
                ]);
            }
        }
        vec![wall, follow]
    }
}
