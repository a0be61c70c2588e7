//! Starting a user-mode `harbourd` when none answers on the user socket: the binary next to
//! this one, else the one on `PATH`, in its own process group (so the terminal's ctrl-c and
//! hangup do not reach it), with its output in a log file in the data dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::os::unix::process::CommandExt;

/// Where the daemon binary is: beside our executable, else found on `PATH` by name.
pub fn daemon_binary() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("harbourd")))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("harbourd"))
}

fn log_path() -> PathBuf {
    let dir = std::env::var_os("HARBOUR_DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|b| b.data_dir().join("harbour")))
        .unwrap_or_else(std::env::temp_dir);
    dir.join("harbourd.log")
}

/// Starts the daemon detached. Returns a sentence for the status bar.
pub fn start(socket: &Path) -> Result<String, String> {
    let bin = daemon_binary();
    let log = log_path();
    let out = log
        .parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .ok()
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .ok()
        });
    let (stdout, stderr) = match out
        .as_ref()
        .and_then(|f| f.try_clone().ok().map(|g| (f, g)))
    {
        Some((f, g)) => (
            Stdio::from(f.try_clone().map_err(|e| e.to_string())?),
            Stdio::from(g),
        ),
        None => (Stdio::null(), Stdio::null()),
    };
    let mut child = Command::new(&bin)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            format!(
                "no harbourd is running and starting {} failed: {e}",
                bin.display()
            )
        })?;
    let pid = child.id();
    // Reap it if it exits while we run, so it does not linger as a zombie.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    tracing::info!(pid, bin = %bin.display(), "started harbourd");
    Ok(format!(
        "no harbourd was running: started one (pid {pid}, log {})",
        log.display()
    ))
}
