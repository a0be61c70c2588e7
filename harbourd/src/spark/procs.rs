//! Long-lived Spark processes the daemon owns (standalone masters and workers, Spark Connect
//! servers): started like runs are (own process group, output straight into a log file),
//! always reaped by a task that waits for them, stopped group-wide, and recognised after a
//! daemon restart by their kernel start time. Also: free loopback ports.

use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;

use crate::runs::process::{self, Launch};
use crate::store::clusters::Proc;

/// A started process: its group, and a flag that turns true when it has exited (and been
/// reaped).
#[derive(Debug, Clone)]
pub struct Owned {
    pub proc: Proc,
    pub exited: watch::Receiver<bool>,
}

impl Owned {
    pub fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }
}

/// Spawns `argv` in its own process group, stdout and stderr appended to `log`, and a task
/// that reaps it.
pub fn start(
    argv: &[String],
    env: Vec<(String, String)>,
    cwd: &Path,
    log: &Path,
) -> std::io::Result<Owned> {
    std::fs::create_dir_all(cwd)?;
    let launch = Launch {
        argv,
        env,
        cwd,
        stdout: log,
        stderr: log,
        // The cluster is the daemon's own machinery, not a run.
        limits: &[],
    };
    let spawned = process::spawn(&launch)?;
    let (tx, rx) = watch::channel(false);
    let mut child = spawned.child;
    let pid = spawned.pid;
    tokio::spawn(async move {
        let status = child.wait().await;
        tracing::debug!(pid, "spark process exited: {status:?}");
        let _ = tx.send(true);
    });
    Ok(Owned {
        proc: Proc {
            pgid: pid,
            start_ticks: spawned.start_ticks,
        },
        exited: rx,
    })
}

/// SIGTERM to the group, SIGKILL after `grace`; returns when the group is gone.
pub async fn stop(proc: Proc, grace: Duration) {
    let pgid = proc.pgid;
    if !process::signal_group(pgid, Signal::SIGTERM) {
        return;
    }
    if !wait_gone(pgid, grace).await {
        process::signal_group(pgid, Signal::SIGKILL);
        wait_gone(pgid, Duration::from_secs(5)).await;
    }
}

/// Stops what an earlier daemon left running, if it is still ours.
pub async fn stop_leftover(proc: Proc, grace: Duration) -> bool {
    if process::group_is_ours(proc.pgid, proc.start_ticks) {
        stop(proc, grace).await;
        true
    } else {
        false
    }
}

async fn wait_gone(pgid: u32, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while process::group_alive(pgid) {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// A loopback port nobody listens on right now. Spark binds it a moment later; the race is
/// narrow, and a lost race shows as the process's bind error in its log.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Whether something accepts connections on the loopback port.
pub async fn port_open(port: u16) -> bool {
    tokio::time::timeout(
        Duration::from_millis(300),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .is_ok_and(|r| r.is_ok())
}
