//! Faults on purpose (issue 9): harbourd is killed with `kill -9` at random moments under load,
//! its data dir fills up, becomes unwritable, its socket is deleted, its config is corrupted;
//! and after each, nothing committed is lost and the daemon says what is wrong and recovers.
//!
//! `FAULT_ITERATIONS` (default 4) sets how many crashes the kill test makes; `FAULT_SEED`
//! replays a run's random moments (each run prints its seed). scripts/faults runs the long
//! variant.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use harbour_shared::{
    CellEdit, CellKind, JobKind, JobSource, JobSpec, LogStream, NotebookSpec, RunFilter, RunId,
    RunResult,
};
use harbour_tests::{Daemon, follow, run_detail, wait_terminated};
use harbour_tui::client::{self, Client, Flatten as _};

const LINES: u32 = 40;

/// A run that prints `LINES` numbered lines, a little apart, so kills land mid-output.
fn counting_run() -> JobSpec {
    JobSpec::new(
        JobKind::Shell,
        JobSource::Code(format!(
            "for i in $(seq 1 {LINES}); do echo \"line $i\"; sleep 0.005; done"
        )),
    )
}

fn expected_output() -> Vec<u8> {
    (1..=LINES)
        .map(|i| format!("line {i}\n"))
        .collect::<String>()
        .into_bytes()
}

/// xorshift64*: random moments that a seed replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// `PRAGMA integrity_check` on the daemon's database while the daemon is down.
fn integrity(data_dir: &Path) -> String {
    let db = rusqlite::Connection::open(data_dir.join("harbour.db")).unwrap();
    db.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .unwrap()
}

/// Every run the daemon has, paging back through the list.
async fn all_runs(client: &Client) -> Vec<harbour_shared::Run> {
    let mut out = Vec::new();
    let mut before: Option<RunId> = None;
    loop {
        let page = client
            .rpc
            .list_runs(
                client::ctx(),
                RunFilter {
                    limit: 500,
                    before,
                    ..Default::default()
                },
            )
            .await
            .flat()
            .unwrap();
        let Some(last) = page.last() else {
            return out;
        };
        before = Some(last.id);
        out.extend(page);
    }
}

/// What the load acknowledged before the crash: runs whose submit answered, and the newest
/// cell source whose edit answered (and the newest one attempted).
#[derive(Debug, Clone, Default)]
struct Acked {
    runs: Vec<RunId>,
    submits_tried: usize,
    cell_acked: Option<u64>,
    cell_tried: u64,
}

/// Submits runs, edits a cell and follows logs until the daemon goes away.
async fn load(client: Client, notebook: String, cell: String, acked: Arc<Mutex<Acked>>) {
    let submitter = {
        let (client, acked) = (client.clone(), acked.clone());
        async move {
            loop {
                acked.lock().unwrap().submits_tried += 1;
                let Ok(Ok(run)) = client.rpc.submit(client::ctx(), counting_run()).await else {
                    return;
                };
                acked.lock().unwrap().runs.push(run.id);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
    };
    let editor = {
        let (client, acked) = (client.clone(), acked.clone());
        async move {
            loop {
                let n = {
                    let mut a = acked.lock().unwrap();
                    a.cell_tried += 1;
                    a.cell_tried
                };
                let edit = CellEdit::SetSource {
                    id: cell.clone(),
                    source: format!("v{n}"),
                };
                let Ok(Ok(_)) = client
                    .rpc
                    .notebook_edit(client::ctx(), notebook.clone(), vec![edit])
                    .await
                else {
                    return;
                };
                acked.lock().unwrap().cell_acked = Some(n);
            }
        }
    };
    let follower = {
        let (client, acked) = (client.clone(), acked.clone());
        async move {
            loop {
                let last = acked.lock().unwrap().runs.last().copied();
                if let Some(run) = last {
                    let read = client
                        .rpc
                        .read_log(client::ctx(), run, LogStream::Stdout, 0, 1 << 16, 0)
                        .await;
                    if !matches!(read, Ok(Ok(_))) {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    tokio::join!(submitter, editor, follower);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill9_under_load_loses_no_committed_run_log_line_or_cell() {
    let iterations = env_u64("FAULT_ITERATIONS").unwrap_or(4);
    let seed = env_u64("FAULT_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1
    });
    println!("FAULT_SEED={seed} FAULT_ITERATIONS={iterations}");
    let mut rng = Rng(seed);
    let mut daemon = Daemon::start_with("[runs]\nmax_concurrent = 3\n");
    let client = daemon.client().await;
    client
        .rpc
        .notebook_create(
            client::ctx(),
            NotebookSpec {
                name: "crashy".into(),
                cluster: None,
            },
        )
        .await
        .flat()
        .unwrap();
    let nb = client
        .rpc
        .notebook_edit(
            client::ctx(),
            "crashy".into(),
            vec![CellEdit::Insert {
                index: 0,
                kind: CellKind::Code,
                source: "v0".into(),
            }],
        )
        .await
        .flat()
        .unwrap();
    let cell = nb.cells[0].id.clone();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut client = client;
    for iteration in 0..iterations {
        let task = tokio::spawn(load(
            client.clone(),
            "crashy".into(),
            cell.clone(),
            acked.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1_200))).await;
        daemon.kill9();
        // The load ends by itself once its calls fail; a call caught mid-flight may wait
        // for its deadline, so do not wait on it.
        task.abort();
        let check = integrity(&daemon.data_dir);
        assert_eq!(check, "ok", "integrity_check after crash {iteration}");
        daemon.spawn();
        client = daemon.client().await;

        let a = acked.lock().unwrap().clone();
        let runs = all_runs(&client).await;
        let ids: BTreeMap<RunId, &harbour_shared::Run> = runs.iter().map(|r| (r.id, r)).collect();
        assert_eq!(ids.len(), runs.len(), "no run is listed twice");
        for id in &a.runs {
            assert!(
                ids.contains_key(id),
                "acknowledged run {id} survived crash {iteration}"
            );
        }
        assert!(
            runs.len() <= a.submits_tried,
            "{} runs for {} submits: none was made up or duplicated",
            runs.len(),
            a.submits_tried
        );
        let nb = client
            .rpc
            .notebook_get(client::ctx(), "crashy".into())
            .await
            .flat()
            .unwrap();
        let source = &nb.cells.iter().find(|c| c.id == cell).unwrap().source;
        let version: u64 = source.trim_start_matches('v').parse().unwrap();
        if let Some(done) = a.cell_acked {
            assert!(
                version >= done && version <= a.cell_tried,
                "crash {iteration}: cell is v{version}; v{done} was acknowledged, v{} tried",
                a.cell_tried
            );
        }
        println!(
            "crash {iteration}: {} runs, {} acknowledged, cell at v{version}",
            runs.len(),
            a.runs.len()
        );
    }

    // Every run ends, each with an output that is the program's, or a prefix of it when the
    // run was lost in a crash: no byte missing in the middle, none written twice.
    let expected = expected_output();
    let runs = all_runs(&client).await;
    for run in &runs {
        let detail = wait_terminated(&client, run.id, Duration::from_secs(120)).await;
        let out = follow(&client, run.id, LogStream::Stdout).await;
        match detail.run.result {
            Some(RunResult::Succeeded) => {
                assert_eq!(
                    out, expected,
                    "run {} succeeded with all its output",
                    run.id
                );
            }
            Some(RunResult::Lost) => {
                assert!(
                    expected.starts_with(&out),
                    "lost run {} kept a prefix of its output, got {:?}",
                    run.id,
                    String::from_utf8_lossy(&out)
                );
                assert!(!detail.run.state_message.is_empty());
            }
            other => panic!(
                "run {} ended {other:?}: {}",
                run.id, detail.run.state_message
            ),
        }
    }
    assert_eq!(integrity(&daemon.data_dir), "ok");
}

/// Runs `harbourd` with the daemon's dirs and `extra` args to completion.
fn harbourd_once(daemon: &Daemon, extra: &[&str]) -> (bool, String) {
    let out = daemon.command().args(extra).output().expect("run harbourd");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_config_is_refused_with_where_and_a_fixed_one_starts() {
    let mut daemon = Daemon::start();
    daemon.terminate();
    let config = daemon.config_dir.join("harbourd.toml");
    std::fs::write(&config, "[runs]\nmax_concurrent = \"many\"\n").unwrap();
    let (ok, err) = harbourd_once(&daemon, &[]);
    assert!(!ok, "a bad config stops the start");
    assert!(err.contains("harbourd.toml"), "names the file: {err}");
    assert!(err.contains("max_concurrent"), "names the key: {err}");
    std::fs::write(&config, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let (ok, err) = harbourd_once(&daemon, &[]);
    assert!(!ok);
    assert!(err.contains("harbourd.toml"), "{err}");
    std::fs::write(&config, "[runs]\nmax_concurrent = 2\n").unwrap();
    daemon.spawn();
    let client = daemon.client().await;
    client.rpc.status(client::ctx()).await.flat().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_data_dir_is_named_and_a_fixed_one_starts() {
    let mut daemon = Daemon::start();
    let client = daemon.client().await;
    let kept = harbour_tests::submit(&client, counting_run()).await;
    wait_terminated(&client, kept, Duration::from_secs(30)).await;
    daemon.terminate();
    // root writes through mode bits, so for root the data dir becomes a read-only mount.
    let root = nix::unistd::Uid::effective().is_root();
    let _mount = if root {
        let mount = BindMount::read_only(&daemon.data_dir).expect("root can bind-mount");
        Some(mount)
    } else {
        std::fs::set_permissions(&daemon.data_dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        None
    };
    let (ok, err) = harbourd_once(&daemon, &[]);
    assert!(!ok, "harbourd refuses an unwritable data dir");
    assert!(
        err.contains(&daemon.data_dir.display().to_string()),
        "names the dir: {err}"
    );
    drop(_mount);
    std::fs::set_permissions(&daemon.data_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    daemon.spawn();
    let client = daemon.client().await;
    let detail = run_detail(&client, kept).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
}

/// A read-only bind mount of a directory over itself; unmounted when dropped.
struct BindMount(std::path::PathBuf);

impl BindMount {
    fn read_only(dir: &Path) -> Option<Self> {
        let run = |args: &[&str]| {
            Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !run(&["--bind"]) {
            return None;
        }
        let mount = Self(dir.to_owned());
        let ok = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(mount)
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_socket_is_noticed_and_recreated() {
    let daemon = Daemon::start();
    let client = daemon.client().await;
    std::fs::remove_file(&daemon.socket).unwrap();
    // Connections already open keep working.
    client.rpc.status(client::ctx()).await.flat().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !daemon.socket.exists() {
        assert!(
            Instant::now() < deadline,
            "harbourd did not put its socket back; its log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again = daemon.client().await;
    again.rpc.status(client::ctx()).await.flat().unwrap();
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the new socket is as private as the first");
}

/// A small tmpfs mounted as the data dir; unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_runs_clearly_keeps_history_and_recovers() {
    let mut daemon = Daemon::start();
    daemon.terminate();
    std::fs::remove_dir_all(&daemon.data_dir).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&daemon.data_dir, "8m") else {
        assert!(
            !nix::unistd::Uid::effective().is_root(),
            "root could not mount a tmpfs"
        );
        println!("skipped: mounting a tmpfs needs root");
        return;
    };
    daemon.spawn();
    let client = daemon.client().await;
    let before = harbour_tests::submit(&client, counting_run()).await;
    wait_terminated(&client, before, Duration::from_secs(30)).await;

    // Fill the disk, leaving the daemon nothing.
    let filler = daemon.data_dir.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .output();
    let spec = JobSpec::new(
        JobKind::Shell,
        JobSource::Code("head -c 1000000 /dev/zero | tr '\\0' x".into()),
    );
    // The daemon either refuses the submit, naming the full disk, or the run fails, saying
    // its output could not be written. Never a hang, never a crash.
    match client.rpc.submit(client::ctx(), spec).await.flat() {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("space") || msg.contains("full"),
                "the error says the disk is full: {msg}"
            );
        }
        Ok(run) => {
            let detail = wait_terminated(&client, run.id, Duration::from_secs(30)).await;
            assert_ne!(detail.run.result, Some(RunResult::Succeeded));
        }
    }
    client.rpc.status(client::ctx()).await.flat().unwrap();

    // Free the space: the daemon works again, and kept what it had.
    std::fs::remove_file(&filler).unwrap();
    let detail = run_detail(&client, before).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    assert_eq!(
        follow(&client, before, LogStream::Stdout).await,
        expected_output()
    );
    let after = harbour_tests::submit(&client, counting_run()).await;
    let detail = wait_terminated(&client, after, Duration::from_secs(30)).await;
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    daemon.terminate();
    assert_eq!(integrity(&daemon.data_dir), "ok");
}
