//! Run processes: building a run's argv from its spec (never through a shell string),
//! spawning it as the leader of its own process group with its output going straight into
//! its log files, and signalling or checking that whole group.
//!
//! The child writes to the log files itself (they are its stdout and stderr), so the daemon
//! copies nothing, a run that prints gigabytes never waits on us, and output keeps landing
//! even while the daemon restarts.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use harbour_shared::{JobKind, JobSource, JobSpec};
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;

use super::state::Exit;
use crate::spark::submit::SparkLaunch;

/// The programs runs are executed with.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub shell: PathBuf,
    pub python: PathBuf,
    pub spark_home: Option<PathBuf>,
    /// `[runs.limits]` as `exec-run` arguments ([`crate::privileges::limit_args`]).
    pub limits: Vec<String>,
}

/// Why a run's command could not be built. The message is shown as the run's state message.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(
        "Spark runtime not configured: run `harbourd runtime install`, or set [spark] home in \
         harbourd.toml to a Spark install (a SPARK_HOME with bin/spark-submit)"
    )]
    SparkNotConfigured,
    #[error("script {0} is not there any more (or not readable by harbourd): {1}")]
    ScriptMissing(String, io::Error),
    #[error("cannot write the inline application to {0}: {1}")]
    WriteApp(PathBuf, io::Error),
}

/// The argv of a run. Inline pyspark code is written to `app_dir/app.py` first, because
/// spark-submit takes a file. A pyspark run needs its `spark` launch (master, event log, UI
/// port); without one it falls back to `rt.spark_home` with Spark's defaults.
pub fn argv(
    spec: &JobSpec,
    rt: &Runtime,
    app_dir: &Path,
    spark: Option<&SparkLaunch>,
) -> Result<Vec<String>, CommandError> {
    let text = |p: &Path| p.to_string_lossy().into_owned();
    let check_file = |path: &str| {
        fs::metadata(path)
            .and_then(|m| {
                if m.is_file() {
                    Ok(())
                } else {
                    Err(io::Error::other("not a file"))
                }
            })
            .map_err(|e| CommandError::ScriptMissing(path.to_owned(), e))
    };
    let mut argv = match (&spec.kind, &spec.source) {
        // `$0` of an inline script is the job's name, so its messages say where they come
        // from; a one-off's generated name (its first line of code) would only confuse.
        (JobKind::Shell, JobSource::Code(code)) => {
            let arg0 = if crate::api::is_job_name(&spec.name) {
                &spec.name
            } else {
                "harbour"
            };
            vec![text(&rt.shell), "-c".into(), code.clone(), arg0.to_owned()]
        }
        (JobKind::Shell, JobSource::File(path)) => {
            check_file(path)?;
            vec![text(&rt.shell), path.clone()]
        }
        (JobKind::Python, JobSource::Code(code)) => {
            vec![text(&rt.python), "-c".into(), code.clone()]
        }
        (JobKind::Python, JobSource::File(path)) => {
            check_file(path)?;
            vec![text(&rt.python), path.clone()]
        }
        (JobKind::Pyspark, source) => {
            let submit = match (spark, &rt.spark_home) {
                (Some(launch), _) => launch.spark_submit.clone(),
                (None, Some(home)) => home.join("bin/spark-submit"),
                (None, None) => return Err(CommandError::SparkNotConfigured),
            };
            let app = match source {
                JobSource::File(path) => {
                    check_file(path)?;
                    path.clone()
                }
                JobSource::Code(code) => {
                    let app = app_dir.join("app.py");
                    fs::write(&app, code).map_err(|e| CommandError::WriteApp(app.clone(), e))?;
                    text(&app)
                }
            };
            let mut argv = vec![text(&submit)];
            match spark {
                Some(launch) => argv.extend(launch.options(spec)),
                None => {
                    for (key, value) in &spec.spark_conf {
                        argv.push("--conf".into());
                        argv.push(format!("{key}={value}"));
                    }
                }
            }
            argv.push(app);
            argv
        }
    };
    argv.extend(spec.args.iter().cloned());
    Ok(argv)
}

/// A started run process.
#[derive(Debug)]
pub struct Spawned {
    pub child: Child,
    /// The process id, which is also its process group id.
    pub pid: u32,
    /// The kernel's start time of the process, to recognise it after a daemon restart.
    pub start_ticks: Option<u64>,
}

/// What a run is started with besides its argv.
#[derive(Debug)]
pub struct Launch<'a> {
    pub argv: &'a [String],
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
    pub stdout: &'a Path,
    pub stderr: &'a Path,
    /// `[runs.limits]` as `exec-run` arguments; empty, the program is started directly.
    pub limits: &'a [String],
}

/// Opens a log file for appending, creating it private to the daemon's user and group.
pub fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Starts the run as the leader of a new process group, stdin from /dev/null, its output
/// appended to its log files and, through `harbourd exec-run`, under its limits.
pub fn spawn(launch: &Launch<'_>) -> io::Result<Spawned> {
    let (program, args) = launch
        .argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty argv"))?;
    let child = crate::privileges::command(launch.limits, program, args)
        // systemd's notification socket is the daemon's alone.
        .env_remove("NOTIFY_SOCKET")
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(launch.cwd)
        .stdin(Stdio::null())
        .stdout(open_log(launch.stdout)?)
        .stderr(open_log(launch.stderr)?)
        .process_group(0)
        .kill_on_drop(false)
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the child exited before it had an id"))?;
    Ok(Spawned {
        child,
        pid,
        start_ticks: start_ticks(pid),
    })
}

/// Sends `signal` to every process of the group. False when the group is gone.
pub fn signal_group(pgid: u32, signal: Signal) -> bool {
    match i32::try_from(pgid) {
        Ok(pgid) if pgid > 1 => killpg(Pid::from_raw(pgid), signal) != Err(Errno::ESRCH),
        _ => false,
    }
}

/// Whether any process of the group is still alive. Zombies do not count: they are dead,
/// only waiting for a parent (init, or whoever adopted them) to reap them.
pub fn group_alive(pgid: u32) -> bool {
    let exists = match i32::try_from(pgid) {
        Ok(pgid) if pgid > 1 => killpg(Pid::from_raw(pgid), None) != Err(Errno::ESRCH),
        _ => false,
    };
    exists && live_members(pgid)
}

/// Whether `/proc` shows a member of the group that is not a zombie.
fn live_members(pgid: u32) -> bool {
    live_processes().any(|(_, f)| f.pgrp == pgid)
}

/// Every process `/proc` shows that is not a zombie, with its stat fields.
fn live_processes() -> impl Iterator<Item = (u32, StatFields)> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat_fields(pid)?)))
        .filter(|(_, f)| f.state != 'Z')
}

struct StatFields {
    state: char,
    pgrp: u32,
    start_ticks: u64,
}

/// The fields of `/proc/PID/stat` we use. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from after its last ')'.
fn stat_fields(pid: u32) -> Option<StatFields> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?; // field 3
    let pgrp = rest.nth(1)?.parse().ok()?; // field 5
    let start_ticks = rest.nth(16)?.parse().ok()?; // field 22
    Some(StatFields {
        state,
        pgrp,
        start_ticks,
    })
}

/// The start time (clock ticks since boot) of a process, from `/proc/PID/stat`.
pub fn start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid).map(|f| f.start_ticks)
}

/// The process group of a process, from `/proc/PID/stat`.
pub fn process_group_of(pid: u32) -> Option<u32> {
    stat_fields(pid).map(|f| f.pgrp)
}

/// Whether the group `pgid` still holds processes that belong to the run whose leader
/// started at `leader_ticks`: the leader itself, or any member started no earlier than it.
/// Guards against signalling a stranger's group after the ids were reused.
pub fn group_is_ours(pgid: u32, leader_ticks: Option<u64>) -> bool {
    let Some(leader_ticks) = leader_ticks else {
        return false;
    };
    live_processes().any(|(pid, f)| {
        f.pgrp == pgid
            && if pid == pgid {
                f.start_ticks == leader_ticks
            } else {
                f.start_ticks >= leader_ticks
            }
    })
}

pub fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        (None, None) => Exit::Code(-1),
    }
}

/// A signal number as its name (`SIGKILL`), for messages.
pub fn signal_name(signal: i32) -> String {
    Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::JobSource;

    fn rt() -> Runtime {
        Runtime {
            shell: "/bin/sh".into(),
            python: "python3".into(),
            spark_home: None,
            limits: Vec::new(),
        }
    }

    #[test]
    fn argv_passes_arguments_without_a_shell_string() {
        let mut spec = JobSpec::new(JobKind::Shell, JobSource::Code("echo \"$1\"".into()));
        spec.name = "greet".into();
        spec.args = vec!["a b; rm -rf /".into()];
        let argv = argv(&spec, &rt(), Path::new("/nonexistent"), None).unwrap();
        assert_eq!(
            argv,
            ["/bin/sh", "-c", "echo \"$1\"", "greet", "a b; rm -rf /"]
        );
    }

    #[test]
    fn pyspark_needs_a_runtime_and_a_script() {
        let spec = JobSpec::new(JobKind::Pyspark, JobSource::File("/etc/hostname".into()));
        let err = argv(&spec, &rt(), Path::new("/"), None).unwrap_err();
        assert!(
            err.to_string().contains("Spark runtime not configured"),
            "{err}"
        );
        let with_spark = Runtime {
            spark_home: Some("/opt/spark".into()),
            ..rt()
        };
        let missing = JobSpec::new(JobKind::Pyspark, JobSource::File("/no/such/app.py".into()));
        assert!(matches!(
            argv(&missing, &with_spark, Path::new("/"), None),
            Err(CommandError::ScriptMissing(..))
        ));
        let ok = argv(&spec, &with_spark, Path::new("/"), None).unwrap();
        assert_eq!(ok, ["/opt/spark/bin/spark-submit", "/etc/hostname"]);
    }

    #[test]
    fn reads_its_own_start_time_and_group() {
        let me = std::process::id();
        assert!(start_ticks(me).is_some());
        assert!(process_group_of(me).is_some());
        assert_eq!(signal_name(9), "SIGKILL");
    }
}
