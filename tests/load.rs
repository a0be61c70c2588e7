//! Load and adversarial clients (issue 9): a thousand queued runs through a concurrency limit
//! of 2, fifty clients following logs and events at once, thousands of idle connections and
//! half-written frames, requests for huge log ranges, and a million pushed Spark events. The
//! daemon keeps serving, keeps its memory bounded and reports it; nothing here asserts a
//! timing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{ErrorKind, Write as _};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

use harbour_shared::{
    JobKind, JobSource, JobSpec, LogStream, MAX_LOG_CHUNK_BYTES, RunId, RunResult,
};
use harbour_tests::{Daemon, follow, run_detail, submit, wait_terminated};
use harbour_tui::client::{self, Flatten as _};

fn shell(code: &str) -> JobSpec {
    JobSpec::new(JobKind::Shell, JobSource::Code(code.into()))
}

/// The daemon's resident memory, from /proc (kB).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The daemon's CPU time so far (utime + stime, in clock ticks of 10 ms).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// Generous: the idle daemon holds ~11 MB; this bound catches growth with the load.
const RSS_BOUND_KIB: u64 = 256 * 1024;

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_queued_runs_finish_through_a_limit_of_two() {
    let daemon = Daemon::start_with("[runs]\nmax_concurrent = 2\n");
    let client = daemon.client().await;
    let started = Instant::now();
    let mut runs: Vec<(RunId, bool)> = Vec::new();
    for i in 0..1000 {
        let fails = i % 10 == 0;
        let code = if fails { "exit 7" } else { "true" };
        runs.push((submit(&client, shell(code)).await, fails));
    }
    let mut most_active = 0;
    loop {
        let status = client.rpc.status(client::ctx()).await.flat().unwrap();
        let c = status.runs;
        most_active = most_active.max(c.starting + c.running + c.terminating);
        if c.queued + c.starting + c.running + c.terminating == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the queue did not drain: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(most_active <= 2, "{most_active} runs active at once");
    for (id, fails) in &runs {
        let detail = run_detail(&client, *id).await;
        let want = if *fails {
            RunResult::Failed { exit_code: Some(7) }
        } else {
            RunResult::Succeeded
        };
        assert_eq!(detail.run.result, Some(want), "run {id}");
    }
    let rss = rss_kib(daemon.pid());
    println!(
        "1000 runs through max_concurrent = 2 in {:.1} s; harbourd RSS {} MiB, CPU {:.1} s",
        started.elapsed().as_secs_f64(),
        rss / 1024,
        cpu_ticks(daemon.pid()) as f64 / 100.0
    );
    assert!(rss < RSS_BOUND_KIB, "harbourd RSS {rss} kB after 1000 runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_clients_follow_logs_and_events_at_once() {
    let daemon = Daemon::start();
    let setup = daemon.client().await;
    // About 4 MB of numbered lines, written over a second or two.
    let run = submit(
        &setup,
        shell("i=0; while [ $i -lt 50000 ]; do echo \"line $i of the load test log\"; i=$((i+1)); done"),
    )
    .await;
    let mut followers = Vec::new();
    for _ in 0..50 {
        let client = daemon.client().await;
        followers.push(tokio::spawn(async move {
            let events = {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut seq = 0;
                    let mut seen = 0usize;
                    for _ in 0..20 {
                        let Ok(Ok(batch)) = client
                            .rpc
                            .events(client::long_poll_ctx(200), seq, 200)
                            .await
                        else {
                            break;
                        };
                        seq = batch.last_seq;
                        seen += batch.events.len();
                    }
                    seen
                })
            };
            let log = follow(&client, run, LogStream::Stdout).await;
            let _ = events.await;
            log
        }));
    }
    let detail = wait_terminated(&setup, run, Duration::from_secs(300)).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    let expected: String = (0..50_000)
        .map(|i| format!("line {i} of the load test log\n"))
        .collect();
    for f in followers {
        let log = f.await.unwrap();
        assert!(log == expected.as_bytes(), "a follower got every byte once");
    }
    let rss = rss_kib(daemon.pid());
    println!(
        "50 followers of a {} kB log: harbourd RSS {} MiB",
        expected.len() / 1024,
        rss / 1024
    );
    assert!(rss < RSS_BOUND_KIB);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_half_open_connections_cannot_lock_others_out() {
    let daemon = Daemon::start_with("[daemon]\nmax_connections = 100\nhello_timeout = \"1s\"\n");
    // Some connections that send half a frame, then two thousand that never say anything.
    // Past `max_connections` the daemon closes new connections at once, so a write may meet
    // a closed socket: that is the daemon turning it away, not a failure.
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut s = StdUnixStream::connect(&daemon.socket).unwrap();
        match s.write_all(&[0, 0, 0, 200, 1, 2, 3]) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
            Err(e) => panic!("half-open connection: {e}"),
        }
        idle.push(s);
    }
    idle.extend((0..2000).map(|_| StdUnixStream::connect(&daemon.socket).unwrap()));
    // Once they have had their hello timeout, a real client gets in and is served.
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Ok(c) = client::connect(&daemon.socket).await {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "idle connections kept a client out; log:\n{}",
            daemon.log()
        );
    };
    client.rpc.status(client::ctx()).await.flat().unwrap();
    // A greeted client is not subject to the hello timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.rpc.status(client::ctx()).await.flat().unwrap();
    let rss = rss_kib(daemon.pid());
    println!(
        "2050 idle or half-open connections: harbourd RSS {} MiB",
        rss / 1024
    );
    assert!(rss < RSS_BOUND_KIB);
    drop(idle);
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_log_ranges_are_served_a_page_at_a_time() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let run = submit(&client, shell("head -c 12000000 /dev/zero | tr '\\0' x")).await;
    wait_terminated(&client, run, Duration::from_secs(60)).await;
    let chunk = client
        .rpc
        .read_log(client::ctx(), run, LogStream::Stdout, 0, u64::MAX, 0)
        .await
        .flat()
        .unwrap();
    assert_eq!(chunk.data.len() as u64, MAX_LOG_CHUNK_BYTES);
    assert!(!chunk.complete);
    let past = client
        .rpc
        .read_log(client::ctx(), run, LogStream::Stdout, u64::MAX, u64::MAX, 0)
        .await
        .flat();
    // Past the end: an empty, complete page or an error that says where the end is.
    match past {
        Ok(c) => assert!(c.data.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let all = follow(&client, run, LogStream::Stdout).await;
    assert_eq!(all.len(), 12_000_000);
}

/// How many task events `a_million_pushed_spark_events_are_kept_in_bounded_memory` pushes
/// (`LOAD_PUSH_TASKS`; a million unless told).
fn push_tasks() -> u64 {
    std::env::var("LOAD_PUSH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Listener events of one application in Spark's JSON: ten one-stage jobs sharing `tasks`
/// successful tasks, each job started and ended around its tasks.
fn synthetic_app(app: &str, tasks: u64) -> Vec<String> {
    const JOBS: u64 = 10;
    let per_job = tasks / JOBS;
    let mut lines = vec![format!(
        r#"{{"Event":"SparkListenerApplicationStart","App Name":"load","App ID":"{app}","Timestamp":1000,"User":"harbour"}}"#
    )];
    let mut task_id = 0;
    for job in 0..JOBS {
        let t0 = 10_000 + job * 1_000_000;
        lines.push(format!(
            r#"{{"Event":"SparkListenerJobStart","Job ID":{job},"Submission Time":{t0},"Stage Infos":[{{"Stage ID":{job},"Stage Attempt ID":0,"Stage Name":"load {job}","Number of Tasks":{per_job}}}],"Stage IDs":[{job}]}}"#
        ));
        for i in 0..per_job {
            let (launch, finish) = (t0 + i, t0 + i + 5 + i % 7);
            lines.push(format!(
                r#"{{"Event":"SparkListenerTaskEnd","Stage ID":{job},"Stage Attempt ID":0,"Task Type":"ResultTask","Task End Reason":{{"Reason":"Success"}},"Task Info":{{"Task ID":{task_id},"Index":{i},"Attempt":0,"Partition ID":{i},"Launch Time":{launch},"Executor ID":"{}","Host":"127.0.0.1","Speculative":false,"Finish Time":{finish},"Failed":false,"Killed":false,"Accumulables":[]}},"Task Metrics":{{"Executor Run Time":{},"JVM GC Time":0,"Input Metrics":{{"Bytes Read":1024}}}}}}"#,
                i % 4,
                finish - launch - 1
            ));
            task_id += 1;
        }
        lines.push(format!(
            r#"{{"Event":"SparkListenerJobEnd","Job ID":{job},"Completion Time":{},"Job Result":{{"Result":"JobSucceeded"}}}}"#,
            t0 + per_job + 20
        ));
    }
    lines.push(r#"{"Event":"SparkListenerApplicationEnd","Timestamp":99999999}"#.into());
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn a_million_pushed_spark_events_are_kept_in_bounded_memory() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let tasks = push_tasks();
    let lines = synthetic_app("app-load-1", tasks);
    let cpu_before = cpu_ticks(daemon.pid());
    let started = Instant::now();
    let mut stored = 0;
    let mut most_rss = 0;
    for (i, batch) in lines.chunks(10_000).enumerate() {
        let mut ctx = client::ctx();
        ctx.deadline = Instant::now() + Duration::from_secs(120);
        let report = client
            .rpc
            .spark_push_events(ctx, Some("app-load-1".into()), batch.to_vec())
            .await
            .flat()
            .unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(report.app_id, "app-load-1");
        stored += report.stored;
        if i % 10 == 0 {
            most_rss = most_rss.max(rss_kib(daemon.pid()));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    most_rss = most_rss.max(rss_kib(daemon.pid()));
    assert_eq!(stored, lines.len() as u64);

    let mut ctx = client::ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(120);
    let app = client
        .rpc
        .spark_app(ctx, "app-load-1".into())
        .await
        .flat()
        .unwrap();
    assert_eq!(app.jobs.len(), 10);
    for job in &app.jobs {
        assert_eq!(job.status, "SUCCEEDED", "{job:?}");
        assert_eq!(job.tasks.succeeded, tasks / 10, "{job:?}");
        assert_eq!(job.tasks.ended, tasks / 10, "{job:?}");
    }
    println!(
        "{} pushed events ({tasks} task ends) in {secs:.1} s ({:.0} events/s); harbourd RSS at \
         most {} MiB, CPU {:.1} s",
        lines.len(),
        lines.len() as f64 / secs,
        most_rss / 1024,
        (cpu_ticks(daemon.pid()) - cpu_before) as f64 / 100.0
    );
    assert!(most_rss < RSS_BOUND_KIB, "harbourd RSS {most_rss} kB");
}
