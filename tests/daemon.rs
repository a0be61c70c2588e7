//! The daemon end to end: the real `harbourd` binary on a temp dir, driven through the real
//! client over its Unix socket.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::time::{Duration, Instant};

use harbour_shared::{
    Error, EventKind, JobKind, JobPatch, JobRef, JobSource, JobSpec, Lifecycle, LogStream,
    PROTOCOL_VERSION, RunFilter, RunId, RunResult, RunStateFilter, Trigger,
};
use harbour_tests::{
    Daemon, follow, processes_in_group, run_detail, submit, wait_run, wait_terminated,
};
use harbour_tui::client::{self, ClientError, Flatten as _};

const LONG: Duration = Duration::from_secs(30);

fn shell(code: &str) -> JobSpec {
    JobSpec::new(JobKind::Shell, JobSource::Code(code.into()))
}

fn api_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> Error {
    match result {
        Err(ClientError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_the_daemon() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    assert_eq!(client.hello.protocol, PROTOCOL_VERSION);
    let status = client.rpc.status(client::ctx()).await.flat().unwrap();
    assert_eq!(status.mode, "user");
    assert_eq!(status.socket, daemon.socket.display().to_string());
    assert_eq!(status.data_dir, daemon.data_dir.display().to_string());
    assert_eq!(status.runs.total(), 0);
    assert_eq!(status.pid, daemon.pid());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shell_run_succeeds_with_its_output_and_history() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let mut spec = shell("echo hi; echo oops >&2; echo \"arg=$1 env=$GREETING\"");
    spec.args = vec!["a b; $(rm -rf /)".into()];
    spec.env = vec!["GREETING=hello".parse().unwrap()];
    let id = submit(&client, spec).await;
    let out = follow(&client, id, LogStream::Stdout).await;
    assert_eq!(
        String::from_utf8_lossy(&out),
        "hi\narg=a b; $(rm -rf /) env=hello\n"
    );
    assert_eq!(follow(&client, id, LogStream::Stderr).await, b"oops\n");
    let detail = wait_terminated(&client, id, LONG).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    assert_eq!(detail.run.trigger, Trigger::Submit);
    assert_eq!(detail.run.stdout_bytes, out.len() as u64);
    let lifecycles: Vec<_> = detail.transitions.iter().map(|t| t.lifecycle).collect();
    assert_eq!(
        lifecycles,
        [
            Lifecycle::Queued,
            Lifecycle::Starting,
            Lifecycle::Running,
            Lifecycle::Terminated
        ]
    );
    assert_eq!(detail.argv[0], "/bin/sh");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_gets_every_byte_once_while_the_run_writes() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    // ~6 MB in many small writes, followed while it is being written.
    let id = submit(&client, shell("i=0; while [ $i -lt 60000 ]; do echo \"line $i ........................................................................................\"; i=$((i+1)); done")).await;
    let out = follow(&client, id, LogStream::Stdout).await;
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 60_000);
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("line {i} ")),
            "line {i} is {line:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_carry_the_exit_code_and_python_gets_argv() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let failed = submit(&client, shell("exit 3")).await;
    let mut py = JobSpec::new(
        JobKind::Python,
        JobSource::Code("import sys; print(sys.argv[1:]); sys.exit(int(sys.argv[2]))".into()),
    );
    // Arguments are argv: spaces, quotes and shell syntax arrive verbatim, never run.
    py.args = vec![
        "--arg".into(),
        "0".into(),
        "a b; echo pwned $(id) 'q'".into(),
    ];
    let python = submit(&client, py).await;
    let failed = wait_terminated(&client, failed, LONG).await;
    assert_eq!(
        failed.run.result,
        Some(RunResult::Failed { exit_code: Some(3) })
    );
    assert_eq!(failed.run.state_message, "exited with code 3");
    let python = wait_terminated(&client, python, LONG).await;
    assert_eq!(
        python.run.result,
        Some(RunResult::Succeeded),
        "{}",
        python.run.state_message
    );
    assert_eq!(
        follow(&client, python.run.id, LogStream::Stdout).await,
        b"['--arg', '0', \"a b; echo pwned $(id) 'q'\"]\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_stops_the_whole_process_group_and_leaves_no_orphan() {
    let daemon = Daemon::start_with("[runs]\nkill_grace_secs = 1\n");
    let client = daemon.client().await;
    // A run whose children ignore nothing and one that ignores SIGTERM: both must go.
    let id = submit(
        &client,
        shell("sleep 300 & (trap '' TERM; sleep 300) & echo started; wait"),
    )
    .await;
    let running = wait_run(&client, id, LONG, |r| {
        r.lifecycle == Lifecycle::Running && r.stdout_bytes > 0
    })
    .await;
    let pgid = running.run.pid.expect("pid");
    assert!(
        processes_in_group(pgid).len() >= 3,
        "the run and its children are in one group"
    );
    let killed = client.rpc.kill_run(client::ctx(), id).await.flat().unwrap();
    assert_eq!(killed.lifecycle, Lifecycle::Terminating);
    let done = wait_terminated(&client, id, LONG).await;
    assert_eq!(done.run.result, Some(RunResult::Cancelled));
    assert!(
        done.run.state_message.starts_with("cancelled by a user"),
        "{}",
        done.run.state_message
    );
    assert_eq!(
        processes_in_group(pgid),
        Vec::<u32>::new(),
        "no process of the run survives"
    );
    // Killing it again is a conflict that says what to do.
    let again = api_error(client.rpc.kill_run(client::ctx(), id).await.flat());
    assert!(again.to_string().contains("harbour restart"), "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn leftover_children_are_stopped_when_the_run_ends() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let id = submit(&client, shell("sleep 300 & echo $! ; exit 0")).await;
    let done = wait_terminated(&client, id, LONG).await;
    assert_eq!(done.run.result, Some(RunResult::Succeeded));
    assert!(processes_in_group(done.run.pid.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_and_retries_with_backoff() {
    let daemon = Daemon::start_with("[runs]\nkill_grace_secs = 1\n");
    let client = daemon.client().await;
    let mut spec = shell("echo attempt $HARBOUR_ATTEMPT; sleep 30");
    spec.timeout_secs = Some(1);
    spec.retries = 1;
    spec.retry_backoff_secs = 1;
    let first = submit(&client, spec).await;
    let first = wait_terminated(&client, first, LONG).await;
    assert_eq!(first.run.result, Some(RunResult::TimedOut));
    // Its retry waits, then runs as attempt 2, and times out too; no third attempt.
    let retry = client
        .rpc
        .list_runs(
            client::ctx(),
            RunFilter {
                job: Some(JobRef::Id(first.run.job_id)),
                ..Default::default()
            },
        )
        .await
        .flat()
        .unwrap()
        .into_iter()
        .find(|r| r.parent == Some(first.run.id))
        .expect("a retry run");
    assert_eq!(retry.trigger, Trigger::Retry);
    assert_eq!(retry.attempt, 2);
    let retried = wait_terminated(&client, retry.id, LONG).await;
    assert!(
        retried
            .transitions
            .iter()
            .any(|t| t.lifecycle == Lifecycle::WaitingForRetry)
    );
    assert_eq!(retried.run.result, Some(RunResult::TimedOut));
    assert_eq!(
        follow(&client, retry.id, LogStream::Stdout).await,
        b"attempt 2\n"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = client
        .rpc
        .list_runs(
            client::ctx(),
            RunFilter {
                job: Some(JobRef::Id(first.run.job_id)),
                ..Default::default()
            },
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(all.len(), 2, "retries = 1 means two attempts in all");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_respects_the_concurrency_limit() {
    let daemon = Daemon::start_with("[runs]\nmax_concurrent = 1\n");
    let client = daemon.client().await;
    let first = submit(&client, shell("sleep 1")).await;
    let second = submit(&client, shell("true")).await;
    wait_run(&client, first, LONG, |r| r.lifecycle == Lifecycle::Running).await;
    let queued = run_detail(&client, second).await;
    assert_eq!(queued.run.lifecycle, Lifecycle::Queued);
    let second = wait_terminated(&client, second, LONG).await;
    let first = run_detail(&client, first).await;
    assert!(
        second.run.started_ms >= first.run.ended_ms,
        "the second starts after the first ends"
    );
    // A queued run can be cancelled before it starts.
    let blocker = submit(&client, shell("sleep 5")).await;
    let waiting = submit(&client, shell("true")).await;
    let cancelled = client
        .rpc
        .kill_run(client::ctx(), waiting)
        .await
        .flat()
        .unwrap();
    assert_eq!(cancelled.result, Some(RunResult::Cancelled));
    assert_eq!(cancelled.started_ms, None);
    client
        .rpc
        .kill_run(client::ctx(), blocker)
        .await
        .flat()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_leaves_history_intact_and_active_runs_lost_and_retried() {
    let mut daemon = Daemon::start();
    let client = daemon.client().await;
    let done = submit(&client, shell("echo finished")).await;
    wait_terminated(&client, done, LONG).await;
    let mut spec = shell("echo before; sleep 300");
    spec.retries = 1;
    spec.retry_backoff_secs = 0;
    let active = submit(&client, spec).await;
    let running = wait_run(&client, active, LONG, |r| {
        r.lifecycle == Lifecycle::Running && r.stdout_bytes > 0
    })
    .await;
    let pgid = running.run.pid.unwrap();
    daemon.kill9();
    assert!(
        !processes_in_group(pgid).is_empty(),
        "the run outlives a crashed daemon"
    );
    daemon.spawn();
    let client = daemon.client().await;
    let done = run_detail(&client, done).await;
    assert_eq!(done.run.result, Some(RunResult::Succeeded));
    assert_eq!(
        follow(&client, done.run.id, LogStream::Stdout).await,
        b"finished\n"
    );
    let lost = run_detail(&client, active).await;
    assert_eq!(lost.run.result, Some(RunResult::Lost));
    assert!(
        lost.run
            .state_message
            .contains("leftover processes were stopped"),
        "{}",
        lost.run.state_message
    );
    assert_eq!(
        follow(&client, active, LogStream::Stdout).await,
        b"before\n"
    );
    assert!(
        processes_in_group(pgid).is_empty(),
        "the new daemon stopped the old run's processes"
    );
    let retry = client
        .rpc
        .list_runs(
            client::ctx(),
            RunFilter {
                state: Some(RunStateFilter::Active),
                ..Default::default()
            },
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(retry.len(), 1, "the lost run is retried per its policy");
    assert_eq!(retry[0].parent, Some(active));
    client
        .rpc
        .kill_run(client::ctx(), retry[0].id)
        .await
        .flat()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_and_removes_the_socket() {
    let mut daemon = Daemon::start_with("[runs]\nkill_grace_secs = 2\n");
    let client = daemon.client().await;
    let id = submit(&client, shell("echo up; sleep 300")).await;
    let running = wait_run(&client, id, LONG, |r| {
        r.lifecycle == Lifecycle::Running && r.stdout_bytes > 0
    })
    .await;
    let status = daemon.terminate();
    assert!(status.success(), "{status}");
    assert!(
        !daemon.socket.exists(),
        "the socket file is removed on exit"
    );
    assert!(processes_in_group(running.run.pid.unwrap()).is_empty());
    daemon.spawn();
    let client = daemon.client().await;
    let run = run_detail(&client, id).await;
    assert_eq!(run.run.result, Some(RunResult::Lost));
    assert!(
        run.run.state_message.contains("harbourd stopped"),
        "{}",
        run.run.state_message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_refuses_to_start_and_says_why() {
    let daemon = Daemon::start();
    let output = daemon.command().output().expect("run harbourd");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another harbourd"), "{stderr}");
    // The first one is unharmed.
    let client = daemon.client().await;
    client.rpc.status(client::ctx()).await.flat().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_clear_errors() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let rpc = &client.rpc;
    let unknown = api_error(rpc.get_run(client::ctx(), RunId(999)).await.flat());
    assert!(matches!(unknown, Error::NotFound { .. }), "{unknown}");
    assert!(unknown.to_string().contains("run 999 not found"));
    let unknown_job = api_error(
        rpc.run_job(client::ctx(), JobRef::Name("nope".into()))
            .await
            .flat(),
    );
    assert!(
        matches!(unknown_job, Error::NotFound { .. }),
        "{unknown_job}"
    );
    let typo = RunFilter {
        job: Some(JobRef::Name("nope".into())),
        ..Default::default()
    };
    let typo = api_error(rpc.list_runs(client::ctx(), typo).await.flat());
    assert!(
        matches!(typo, Error::NotFound { .. }),
        "runs of a job that never was: {typo}"
    );
    let empty = api_error(rpc.submit(client::ctx(), shell("   ")).await.flat());
    assert!(
        matches!(&empty, Error::Invalid { field, .. } if field == "code"),
        "{empty}"
    );
    let missing = JobSpec::new(
        JobKind::Python,
        JobSource::File("/no/such/script.py".into()),
    );
    let missing = api_error(rpc.submit(client::ctx(), missing).await.flat());
    assert!(
        matches!(&missing, Error::Invalid { field, .. } if field == "file"),
        "{missing}"
    );
    let mut cron = shell("true");
    cron.name = "nightly".into();
    cron.schedule = Some("at noon".into());
    let cron = api_error(rpc.create_job(client::ctx(), cron).await.flat());
    assert!(
        matches!(&cron, Error::Invalid { field, .. } if field == "schedule"),
        "{cron}"
    );
    let mut env = shell("true");
    env.env = vec![harbour_shared::EnvVar::new("NOT VALID", "1")];
    let env = api_error(rpc.submit(client::ctx(), env).await.flat());
    assert!(
        matches!(&env, Error::Invalid { field, .. } if field == "env"),
        "{env}"
    );
    let pyspark = JobSpec::new(JobKind::Pyspark, JobSource::Code("print(1)".into()));
    let pyspark = api_error(rpc.submit(client::ctx(), pyspark).await.flat());
    assert!(
        pyspark
            .to_string()
            .contains("Spark runtime unavailable: not configured"),
        "{pyspark}"
    );
    let patch = api_error(
        rpc.update_job(client::ctx(), JobRef::Name("x".into()), JobPatch::default())
            .await
            .flat(),
    );
    assert!(matches!(patch, Error::Invalid { .. }), "{patch}");
    // Nothing of that was stored.
    let status = rpc.status(client::ctx()).await.flat().unwrap();
    assert_eq!(status.runs.total(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_and_framing_abuse_is_contained() {
    let daemon = Daemon::start();
    let good = daemon.client().await;
    // Another protocol version is told so.
    let stream = tokio::net::UnixStream::connect(&daemon.socket)
        .await
        .unwrap();
    let other =
        harbour_shared::HarbourClient::new(Default::default(), client::transport(stream)).spawn();
    let mismatch = other
        .hello(client::ctx(), PROTOCOL_VERSION + 1)
        .await
        .flat();
    assert!(matches!(
        api_error(mismatch),
        Error::ProtocolMismatch { .. }
    ));
    // Skipping hello is refused.
    let status = other.status(client::ctx()).await.flat();
    assert!(api_error(status).to_string().contains("call hello"));
    // Garbage bytes, an oversized frame and a half-written frame end those connections only.
    let mut garbage = StdUnixStream::connect(&daemon.socket).unwrap();
    garbage
        .write_all(b"\x00\x00\x00\x10this is not bincode at all")
        .unwrap();
    let mut oversize = StdUnixStream::connect(&daemon.socket).unwrap();
    oversize.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let mut partial = StdUnixStream::connect(&daemon.socket).unwrap();
    partial.write_all(&[0, 0, 1]).unwrap();
    for conn in [&mut garbage, &mut oversize] {
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        let n = std::io::Read::read(conn, &mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the daemon closes a connection that sends garbage");
    }
    let status = good.rpc.status(client::ctx()).await.flat().unwrap();
    assert_eq!(status.runs.total(), 0);
    drop(partial);
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_definitions_with_runs_restarts_and_pauses() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let rpc = &client.rpc;
    let mut spec = shell("echo job $HARBOUR_JOB_NAME");
    spec.name = "greeter".into();
    let job = rpc
        .create_job(client::ctx(), spec.clone())
        .await
        .flat()
        .unwrap();
    let dup = api_error(rpc.create_job(client::ctx(), spec).await.flat());
    assert!(matches!(dup, Error::Conflict(_)), "{dup}");
    let run = rpc
        .run_job(client::ctx(), JobRef::Name("greeter".into()))
        .await
        .flat()
        .unwrap();
    assert_eq!(run.trigger, Trigger::Manual);
    wait_terminated(&client, run.id, LONG).await;
    assert_eq!(
        follow(&client, run.id, LogStream::Stdout).await,
        b"job greeter\n"
    );
    let patch = JobPatch {
        source: Some(JobSource::Code("echo v2".into())),
        ..Default::default()
    };
    rpc.update_job(client::ctx(), JobRef::Id(job.id), patch)
        .await
        .flat()
        .unwrap();
    // The kind can change too; the code here reads the same in both.
    let to_python = JobPatch {
        kind: Some(JobKind::Python),
        ..Default::default()
    };
    let changed = rpc
        .update_job(client::ctx(), JobRef::Id(job.id), to_python)
        .await
        .flat()
        .unwrap();
    assert_eq!(changed.spec.kind, JobKind::Python);
    let back = JobPatch {
        kind: Some(JobKind::Shell),
        ..Default::default()
    };
    rpc.update_job(client::ctx(), JobRef::Id(job.id), back)
        .await
        .flat()
        .unwrap();
    let restarted = rpc.restart_run(client::ctx(), run.id).await.flat().unwrap();
    assert_eq!(
        (restarted.trigger, restarted.parent),
        (Trigger::Restart, Some(run.id))
    );
    wait_terminated(&client, restarted.id, LONG).await;
    assert_eq!(
        follow(&client, restarted.id, LogStream::Stdout).await,
        b"v2\n",
        "restart runs the job as it is now"
    );
    let old = rpc.get_run(client::ctx(), run.id).await.flat().unwrap();
    assert_eq!(
        old.spec.source,
        JobSource::Code("echo job $HARBOUR_JOB_NAME".into()),
        "a run keeps what it ran"
    );
    let paused = rpc
        .set_job_paused(client::ctx(), JobRef::Id(job.id), true)
        .await
        .flat()
        .unwrap();
    assert!(paused.paused);
    let listed = rpc.list_jobs(client::ctx(), false).await.flat().unwrap();
    assert_eq!(
        listed.len(),
        1,
        "one-off submissions are not listed as jobs"
    );
    assert_eq!(
        listed[0].last_run.as_ref().map(|r| r.id),
        Some(restarted.id)
    );
    rpc.delete_job(client::ctx(), JobRef::Id(job.id))
        .await
        .flat()
        .unwrap();
    assert!(
        rpc.list_jobs(client::ctx(), false)
            .await
            .flat()
            .unwrap()
            .is_empty()
    );
    // Its runs stay in the history.
    rpc.get_run(client::ctx(), run.id).await.flat().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cron_schedules_fire_on_time_and_skip_overlaps() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let rpc = &client.rpc;
    let mut spec = shell("sleep 60");
    spec.name = "every-second".into();
    spec.schedule = Some("* * * * * *".into());
    let job = rpc.create_job(client::ctx(), spec).await.flat().unwrap();
    let next = job.next_fire_ms.expect("a next fire time");
    assert!(next > job.created_ms && next - job.created_ms <= 1_000);
    let after = rpc
        .events(client::ctx(), 0, 0)
        .await
        .flat()
        .unwrap()
        .last_seq;
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let runs = rpc
        .list_runs(
            client::ctx(),
            RunFilter {
                job: Some(JobRef::Id(job.id)),
                ..Default::default()
            },
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(
        runs.len(),
        1,
        "fires while the first run is active are skipped: {runs:?}"
    );
    assert_eq!(runs[0].trigger, Trigger::Schedule);
    let events = rpc
        .events(client::long_poll_ctx(0), after, 0)
        .await
        .flat()
        .unwrap();
    assert!(
        events
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ScheduleSkipped { .. }))
    );
    rpc.set_job_paused(client::ctx(), JobRef::Id(job.id), true)
        .await
        .flat()
        .unwrap();
    let paused = rpc
        .get_job(client::ctx(), JobRef::Id(job.id))
        .await
        .flat()
        .unwrap();
    assert_eq!(paused.next_fire_ms, None);
    rpc.kill_run(client::ctx(), runs[0].id)
        .await
        .flat()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn events_follow_state_changes_in_commit_order() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let start = client
        .rpc
        .events(client::ctx(), 0, 0)
        .await
        .flat()
        .unwrap()
        .last_seq;
    let id = submit(&client, shell("echo x")).await;
    let mut after = start;
    let mut seen = Vec::new();
    let deadline = Instant::now() + LONG;
    while !seen.contains(&Lifecycle::Terminated) {
        assert!(Instant::now() < deadline, "saw only {seen:?}");
        let batch = client
            .rpc
            .events(client::long_poll_ctx(1_000), after, 1_000)
            .await
            .flat()
            .unwrap();
        assert!(batch.lost.is_none());
        for event in &batch.events {
            assert!(event.seq > after);
            after = event.seq;
            if let EventKind::RunChanged(run) = &event.kind
                && run.id == id
            {
                seen.push(run.lifecycle);
            }
        }
        after = batch.last_seq;
    }
    assert_eq!(
        seen,
        [
            Lifecycle::Queued,
            Lifecycle::Starting,
            Lifecycle::Running,
            Lifecycle::Terminated
        ]
    );
    // A sequence number from another daemon is reported as lost, not silently skipped.
    let lost = client.rpc.events(client::ctx(), 1, 0).await.flat().unwrap();
    assert!(lost.lost.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_counts_and_trend() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let ok = submit(&client, shell("true")).await;
    let bad = submit(&client, shell("false")).await;
    wait_terminated(&client, ok, LONG).await;
    wait_terminated(&client, bad, LONG).await;
    let dash = client.rpc.dashboard(client::ctx()).await.flat().unwrap();
    assert_eq!((dash.runs.succeeded, dash.runs.failed), (1, 1));
    assert_eq!(dash.trend.len(), 7);
    let today = dash.trend.last().unwrap();
    assert_eq!((today.succeeded, today.failed), (1, 1));
    assert_eq!(
        dash.recent_failures
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        [bad]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn system_mode_socket_is_group_shared() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let mut daemon = Daemon::start();
    daemon.terminate();
    let group = nix::unistd::Group::from_gid(nix::unistd::getgid())
        .unwrap()
        .unwrap();
    let run_dir = daemon.root.path().join("run");
    let socket = run_dir.join("harbourd.sock");
    let mut cmd = daemon.command();
    cmd.arg("--system")
        .env("HARBOUR_SOCKET", &socket)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    std::fs::write(
        daemon.config_dir.join("harbourd.toml"),
        format!("[daemon]\nsocket_group = \"{}\"\n", group.name),
    )
    .unwrap();
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no socket in system mode");
        std::thread::sleep(Duration::from_millis(20));
    }
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), group.gid.as_raw());
    let dir_mode = std::fs::metadata(&run_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode & 0o002, 0, "the socket dir is not world-writable");
    let client = client::connect(&socket).await.unwrap();
    let status = client.rpc.status(client::ctx()).await.flat().unwrap();
    assert_eq!(status.mode, "system");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!socket.exists());
}

#[test]
fn a_bad_config_is_refused_by_name() {
    let mut daemon = Daemon::start();
    daemon.terminate();
    std::fs::write(
        daemon.config_dir.join("harbourd.toml"),
        "[runs]\nmax_concurent = 2\n",
    )
    .unwrap();
    let output = daemon.command().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_concurent"), "{stderr}");
    let check = daemon.command().arg("check-config").output().unwrap();
    assert_eq!(check.status.code(), Some(2));
    std::fs::write(
        daemon.config_dir.join("harbourd.toml"),
        "[runs]\nmax_concurrent = 2\n",
    )
    .unwrap();
    let check = daemon.command().arg("check-config").output().unwrap();
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("max_concurrent = 2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_with_invalid_utf8_ends_only_that_connection() {
    use bincode::Options as _;
    use std::io::Read as _;
    let daemon = Daemon::start();
    let good = daemon.client().await;
    // A well-formed submit whose code is then corrupted into bytes that are not UTF-8.
    let marker = "MARKERMARKER";
    let request = tarpc::ClientMessage::Request(tarpc::Request {
        context: tarpc::context::current(),
        id: 1,
        message: harbour_shared::HarbourRequest::Submit {
            spec: shell(marker),
        },
    });
    let mut frame = bincode::DefaultOptions::new().serialize(&request).unwrap();
    let at = frame
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap();
    frame[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xfd, 0xfc]);
    let mut raw = StdUnixStream::connect(&daemon.socket).unwrap();
    raw.write_all(&(frame.len() as u32).to_be_bytes()).unwrap();
    raw.write_all(&frame).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        raw.read(&mut buf).unwrap_or(0),
        0,
        "the connection is closed"
    );
    let status = good.rpc.status(client::ctx()).await.flat().unwrap();
    assert_eq!(status.runs.total(), 0, "nothing was submitted");
}

#[tokio::test(flavor = "multi_thread")]
async fn log_pages_say_when_their_bytes_were_written() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    let id = submit(&client, shell("echo first; sleep 0.4; echo second")).await;
    let done = wait_terminated(&client, id, LONG).await;
    let chunk = client
        .rpc
        .read_log(client::ctx(), id, LogStream::Stdout, 0, 0, 0)
        .await
        .flat()
        .unwrap();
    assert_eq!(chunk.data, b"first\nsecond\n");
    let first = chunk.written_at(0).expect("a mark for the first line");
    let second = chunk.written_at(6).expect("a mark for the second line");
    assert!(second - first >= 300, "marks {:?}", chunk.marks);
    let (started, ended) = (done.run.started_ms.unwrap(), done.run.ended_ms.unwrap());
    assert!(
        started <= first && second <= ended,
        "marks {:?} outside the run",
        chunk.marks
    );
    // A page that starts mid-log gets the marks that cover it.
    let tail = client
        .rpc
        .read_log(client::ctx(), id, LogStream::Stdout, 6, 0, 0)
        .await
        .flat()
        .unwrap();
    assert_eq!(tail.written_at(6), Some(second));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tcp_listener_serves_only_clients_with_the_token() {
    // A free loopback port (a tiny race with other processes, acceptable in a test).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let daemon = Daemon::start_with(&format!("[daemon]\nlisten = \"127.0.0.1:{port}\"\n"));
    let token_file = daemon.data_dir.join("tcp.token");
    let meta = std::fs::metadata(&token_file).unwrap();
    let mode = std::os::unix::fs::MetadataExt::mode(&meta) & 0o777;
    assert_eq!(mode, 0o600, "the token is its owner's only");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let addr = format!("127.0.0.1:{port}");

    // The right token: the same protocol as on the socket.
    let stream = client::connect_tcp(&addr, &token).await.unwrap();
    let rpc =
        harbour_shared::HarbourClient::new(Default::default(), client::transport(stream)).spawn();
    rpc.hello(client::ctx(), PROTOCOL_VERSION)
        .await
        .flat()
        .unwrap();
    let run = rpc
        .submit(client::ctx(), shell("echo over tcp"))
        .await
        .flat()
        .unwrap();
    let local = daemon.client().await;
    wait_terminated(&local, run.id, LONG).await;
    assert_eq!(
        follow(&local, run.id, LogStream::Stdout).await,
        b"over tcp\n"
    );

    // A wrong token, no token, or silence: refused, and the daemon says why.
    let wrong = client::connect_tcp(&addr, "0123456789abcdef0123").await;
    assert!(wrong.unwrap_err().contains("wrong token"));
    let mut raw = std::net::TcpStream::connect(&addr).unwrap();
    raw.write_all(b"\x00\x00\x00\x10not a token line\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut raw, &mut answer).unwrap();
    assert!(answer.starts_with("DENIED"), "{answer}");
    let silent = std::net::TcpStream::connect(&addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut buf = String::new();
    std::io::Read::read_to_string(&mut &silent, &mut buf).unwrap();
    assert!(
        buf.contains("no token"),
        "a silent client is dropped: {buf}"
    );

    // The CLI reaches it with HARBOUR_SOCKET=tcp://... and the token file.
    let out = std::process::Command::new(harbour_tests::bin("harbour"))
        .env("HARBOUR_SOCKET", format!("tcp://{addr}"))
        .env("HARBOUR_TOKEN_FILE", &token_file)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(harbour_tests::bin("harbour"))
        .env("HARBOUR_SOCKET", format!("tcp://{addr}"))
        .env_remove("HARBOUR_TOKEN")
        .env_remove("HARBOUR_TOKEN_FILE")
        .arg("status")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HARBOUR_TOKEN"),
        "says how to give the token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_configuration_nothing_listens_on_tcp() {
    let daemon = Daemon::start();
    let pid = daemon.pid();
    // Sockets the daemon holds, by inode, against the kernel's TCP tables.
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // st 0A is LISTEN; field 9 is the inode.
            if fields.get(3) == Some(&"0A") {
                assert!(
                    !fields.get(9).is_some_and(|i| inodes.iter().any(|x| x == i)),
                    "harbourd listens on TCP without being configured to: {line}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_start_under_the_configured_limits() {
    let daemon = Daemon::start_with(
        "[runs.limits]\nopen_files = 64\ncpu_secs = 1\nfile_size_mib = 1\ncore_mib = 0\n",
    );
    let client = daemon.client().await;
    let limits = JobSpec::new(
        JobKind::Python,
        JobSource::Code(
            "import resource as r\n\
             for n in ('NOFILE', 'CPU', 'FSIZE', 'CORE'):\n    \
             print(n, *r.getrlimit(getattr(r, 'RLIMIT_' + n)))\n"
                .into(),
        ),
    );
    let run = submit(&client, limits).await;
    let done = wait_terminated(&client, run, LONG).await.run;
    assert_eq!(done.result, Some(RunResult::Succeeded), "{done:?}");
    let out = String::from_utf8(follow(&client, run, LogStream::Stdout).await).unwrap();
    assert_eq!(
        out,
        "NOFILE 64 64\nCPU 1 2\nFSIZE 1048576 1048576\nCORE 0 0\n"
    );
    // The run's pid is its program's: exec-run replaced itself, it did not wait as a parent.
    assert!(done.pid.is_some());

    // Past the file size limit the writer gets SIGXFSZ and the file stops at the limit.
    let big = submit(
        &client,
        shell("head -c 3000000 /dev/zero > big; wc -c < big"),
    )
    .await;
    wait_terminated(&client, big, LONG).await;
    let out = String::from_utf8(follow(&client, big, LogStream::Stdout).await).unwrap();
    assert_eq!(out.trim(), "1048576");

    // A run that spins past its CPU seconds is killed by SIGXCPU, and says so.
    let spin = submit(&client, shell("while :; do :; done")).await;
    let done = wait_terminated(&client, spin, LONG).await.run;
    assert_eq!(
        done.result,
        Some(RunResult::Failed { exit_code: None }),
        "{done:?}"
    );
    assert!(
        done.state_message.contains("SIGXCPU"),
        "{}",
        done.state_message
    );
}

/// Started as root with `[daemon] user`, harbourd becomes that user (here `nobody`) before
/// it opens anything: its data dir is that user's, and its runs are. Started as anyone else,
/// it refuses to pretend and says what to do.
#[tokio::test(flavor = "multi_thread")]
async fn a_root_daemon_becomes_its_configured_user() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let root = nix::unistd::geteuid().is_root();
    let mut daemon = Daemon::prepare("[daemon]\nuser = \"nobody\"\n");
    if !root {
        let out = daemon.command().output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("cannot switch users"), "{err}");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    // `nobody` must reach its directories and read the config: the test's root is
    // traversable (not listable), the socket gets a directory of its own.
    let base = daemon.root.path().to_owned();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o711)).unwrap();
    daemon.socket = base.join("run/harbourd.sock");

    // A data dir that already belongs to someone else is not taken over.
    std::fs::create_dir(&daemon.data_dir).unwrap();
    let out = daemon.command().output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("chown -R nobody:"), "{err}");
    std::fs::remove_dir(&daemon.data_dir).unwrap();

    daemon.spawn();
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.pid())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let uid = nobody.uid.as_raw();
    assert_eq!(field("Uid:"), format!("{uid} {uid} {uid} {uid}"));
    assert_eq!(field("NoNewPrivs:"), "1");
    let data = std::fs::metadata(&daemon.data_dir).unwrap();
    assert_eq!((data.uid(), data.mode() & 0o777), (uid, 0o700));
    assert!(!daemon.log().contains("runs as root"), "{}", daemon.log());

    let client = daemon.client().await;
    let run = submit(
        &client,
        shell("id -u; id -g; echo \"$HOME $USER\"; touch /root/x"),
    )
    .await;
    let done = wait_terminated(&client, run, LONG).await.run;
    let out = String::from_utf8(follow(&client, run, LogStream::Stdout).await).unwrap();
    assert_eq!(
        out,
        format!(
            "{uid}\n{}\n{} nobody\n",
            nobody.gid.as_raw(),
            nobody.dir.display()
        )
    );
    // Root's files are out of reach.
    assert_eq!(
        done.result,
        Some(RunResult::Failed { exit_code: Some(1) }),
        "{done:?}"
    );
    let err = String::from_utf8(follow(&client, run, LogStream::Stderr).await).unwrap();
    assert!(err.contains("Permission denied"), "{err}");

    // Root without the setting stays root, and says what that means.
    let unconfigured = Daemon::start();
    assert!(
        unconfigured
            .log()
            .contains("harbourd runs as root and [daemon] user is not set"),
        "{}",
        unconfigured.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_reach_the_run_and_no_answer_or_log() {
    const SECRET: &str = "s3cr3t-v4lue";
    let daemon = Daemon::start();
    let client = daemon.client().await;
    // The script checks the value without holding it (the spec is in answers).
    let mut spec = shell(
        "[ \"$(echo \"$TOKEN\" | tr a-z A-Z)\" = S3CR3T-V4LUE ] && echo match; \
         echo \"token=$TOKEN.\"; echo $TOKEN >&2",
    );
    spec.name = "with-secret".into();
    spec.env = vec![
        harbour_shared::EnvVar::new("PLAIN", "shown"),
        harbour_shared::EnvVar::secret("TOKEN", SECRET),
    ];
    let job = client
        .rpc
        .create_job(client::ctx(), spec)
        .await
        .flat()
        .unwrap();
    assert_eq!(
        job.spec.env[1].value, "",
        "create_job's answer carries no secret"
    );
    assert!(job.spec.env[1].secret);
    let listed = client
        .rpc
        .list_jobs(client::ctx(), false)
        .await
        .flat()
        .unwrap();
    assert!(!format!("{listed:?}").contains(SECRET));

    // Sending the redacted env back (plus a change) keeps the secret.
    let mut env = job.spec.env.clone();
    env.push(harbour_shared::EnvVar::new("EXTRA", "1"));
    let patch = JobPatch {
        env: Some(env),
        ..Default::default()
    };
    let updated = client
        .rpc
        .update_job(client::ctx(), JobRef::Id(job.id), patch)
        .await
        .flat()
        .unwrap();
    assert!(!format!("{updated:?}").contains(SECRET));

    let run = client
        .rpc
        .run_job(client::ctx(), JobRef::Id(job.id))
        .await
        .flat()
        .unwrap();
    let detail = wait_terminated(&client, run.id, LONG).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    assert!(!format!("{detail:?}").contains(SECRET), "get_run hides it");
    let out = follow(&client, run.id, LogStream::Stdout).await;
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "match\ntoken=************.\n",
        "the run had the value; its log shows it masked, same length"
    );
    let err = follow(&client, run.id, LogStream::Stderr).await;
    assert_eq!(err, b"************\n");
    // Events carried the job only redacted.
    let events = client.rpc.events(client::ctx(), 0, 0).await.flat().unwrap();
    assert!(!format!("{events:?}").contains(SECRET));

    // The CLI takes a secret from the caller's environment, never its command line.
    let out = std::process::Command::new(harbour_tests::bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .env("API_KEY", "from-the-env-123")
        .args([
            "submit",
            "--kind",
            "shell",
            "--secret",
            "API_KEY",
            "--wait",
            "-c",
            "[ \"$API_KEY\" = from-the-env-123 ] && echo ok",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(harbour_tests::bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .env_remove("NOT_SET_ANYWHERE")
        .args([
            "submit",
            "--kind",
            "shell",
            "--secret",
            "NOT_SET_ANYWHERE",
            "-c",
            "true",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not set in your environment"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_serving_restores_runs_logs_and_notebooks() {
    let mut daemon = Daemon::start();
    let client = daemon.client().await;
    let done = submit(&client, shell("echo kept in the backup")).await;
    wait_terminated(&client, done, LONG).await;
    client
        .rpc
        .notebook_create(
            client::ctx(),
            harbour_shared::NotebookSpec {
                name: "saved".into(),
                cluster: None,
            },
        )
        .await
        .flat()
        .unwrap();
    // A run still writing while the backup is taken.
    let busy = submit(&client, shell("while true; do echo tick; sleep 0.01; done")).await;
    wait_run(&client, busy, LONG, |r| r.stdout_bytes > 0).await;

    let dest = daemon.root.path().join("backup");
    let out = daemon.command().arg("backup").arg(&dest).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backed up"));
    let again = daemon.command().arg("backup").arg(&dest).output().unwrap();
    assert!(!again.status.success(), "a backup never overwrites");

    // Restore: stop, put the backup in place of the data dir, start.
    daemon.terminate();
    std::fs::remove_dir_all(&daemon.data_dir).unwrap();
    std::fs::rename(&dest, &daemon.data_dir).unwrap();
    daemon.spawn();
    let client = daemon.client().await;
    let detail = run_detail(&client, done).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    assert_eq!(
        follow(&client, done, LogStream::Stdout).await,
        b"kept in the backup\n"
    );
    let busy = run_detail(&client, busy).await;
    assert_eq!(
        busy.run.result,
        Some(RunResult::Lost),
        "active then: lost now, as after a crash"
    );
    let nbs = client.rpc.notebooks(client::ctx()).await.flat().unwrap();
    assert!(nbs.iter().any(|n| n.name == "saved"));
}
