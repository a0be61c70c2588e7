//! Who harbourd and its runs are.
//!
//! - Started as root with `[daemon] user` set, harbourd makes its data dir and socket
//!   directory that user's (creating them if missing), takes on the user's groups, gid and
//!   uid, forbids itself new privileges (so no run can regain root through a setuid binary)
//!   and starts itself again as that user, before it opens its database or socket. Every
//!   run, kernel and Spark process it starts is then that user's.
//! - Each run starts under the `[runs.limits]` rlimits: the daemon starts `harbourd
//!   exec-run`, which sets them and then replaces itself with the run's program (same
//!   process, same process group), so the limits bind the run and not the daemon.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, ExitCode};

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::unistd::{Gid, Group, Uid, User, chown, geteuid, initgroups, setgid, setuid};

use crate::config::{Config, Mode, Paths, RunLimits};

/// The program that is harbourd itself, whatever has happened to its file since it started
/// (an upgrade in place, say): the child of a fork still runs this binary.
const SELF_EXE: &str = "/proc/self/exe";

/// The hidden subcommand that applies a run's limits, then becomes the run.
pub const EXEC_RUN: &str = "exec-run";

/// How harbourd settled who it runs as.
#[derive(Debug, PartialEq, Eq)]
pub enum Identity {
    /// As whoever started it: an unprivileged user, or the configured one.
    AsStarted,
    /// Root, with no `[daemon] user` to become: runs run as root too.
    RootUnconfigured,
}

/// Settles who harbourd runs as, before anything is opened. As root with `[daemon] user`
/// set this does not return on success: the process starts again as that user (same pid,
/// same arguments, the same resolved paths).
pub fn settle(config: &Config, paths: &Paths) -> Result<Identity, String> {
    let me = geteuid();
    let Some(name) = config.daemon.user.as_deref() else {
        return Ok(if me.is_root() {
            Identity::RootUnconfigured
        } else {
            Identity::AsStarted
        });
    };
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up daemon.user = '{name}': {e}"))?
        .ok_or_else(|| {
            format!(
                "daemon.user = '{name}': there is no such user; create it (useradd --system \
                 --shell /usr/sbin/nologin {name}) or name another"
            )
        })?;
    if user.uid.is_root() {
        return Err(format!(
            "daemon.user = '{name}' is root (uid 0); name an unprivileged user"
        ));
    }
    if me == user.uid {
        return Ok(Identity::AsStarted);
    }
    if !me.is_root() {
        let who = User::from_uid(me)
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {me}"), |u| u.name);
        return Err(format!(
            "daemon.user = '{name}', but harbourd runs as {who} and cannot switch users: start \
             it as root (it becomes {name}) or as {name}, or remove daemon.user"
        ));
    }
    become_user(config, paths, &user)
}

/// As root: hands the data dir and socket directory to `user`, drops to it and starts
/// harbourd again. Returns only on failure.
fn become_user(config: &Config, paths: &Paths, user: &User) -> Result<Identity, String> {
    let name = &user.name;
    own_dir(&paths.data_dir, 0o700, user.uid, user.gid, name)?;
    if let Some(dir) = paths.socket.parent() {
        let (mode, gid) = match paths.mode {
            // The socket's group may connect: the directory must let it through.
            Mode::System => (
                0o750,
                Group::from_name(&config.daemon.socket_group)
                    .ok()
                    .flatten()
                    .map_or(user.gid, |g| g.gid),
            ),
            Mode::User => (0o700, user.gid),
        };
        own_dir(dir, mode, user.uid, gid, name)?;
    }
    let c_name = CString::new(name.as_str())
        .map_err(|_| format!("daemon.user = '{name}' holds a NUL byte"))?;
    let dropped = initgroups(&c_name, user.gid)
        .and_then(|()| setgid(user.gid))
        .and_then(|()| setuid(user.uid));
    if let Err(e) = dropped {
        return Err(format!("cannot become daemon.user = '{name}': {e}"));
    }
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err(format!(
            "became '{name}' but could still return to root; refusing to go on"
        ));
    }
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| format!("cannot forbid new privileges to '{name}': {e}"))?;
    let config_dir = paths.config_file.parent().unwrap_or(Path::new("/"));
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| OsString::from("harbourd"));
    let e = Command::new(SELF_EXE)
        .arg0(arg0)
        .args(args)
        .env("HOME", &user.dir)
        .env("USER", name)
        .env("LOGNAME", name)
        // The paths root resolved, not the ones the user's own home would give.
        .env("HARBOUR_CONFIG_DIR", config_dir)
        .env("HARBOUR_DATA_DIR", &paths.data_dir)
        .env("HARBOUR_SOCKET", &paths.socket)
        .exec();
    Err(format!("cannot start harbourd again as '{name}': {e}"))
}

/// Makes `dir` (mode `mode`) if it is missing and gives it to `uid`:`gid`; an existing one
/// must already be `uid`'s: harbourd does not take over somebody else's files.
fn own_dir(dir: &Path, mode: u32, uid: Uid, gid: Gid, name: &str) -> Result<(), String> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => Err(format!(
            "{} is not a directory; remove it or point harbourd elsewhere",
            dir.display()
        )),
        Ok(meta) if meta.uid() != uid.as_raw() => Err(format!(
            "{} belongs to uid {}, not to daemon.user = '{name}' (uid {uid}), whom harbourd \
             becomes: `chown -R {name}: {}`, or point harbourd at another directory",
            dir.display(),
            meta.uid(),
            dir.display()
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            DirBuilder::new()
                .mode(mode)
                .create(dir)
                .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(mode)))
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            chown(dir, Some(uid), Some(gid))
                .map_err(|e| format!("cannot give {} to '{name}': {e}", dir.display()))
        }
        Err(e) => Err(format!("cannot look at {}: {e}", dir.display())),
    }
}

/// The `exec-run` arguments that apply `limits`: `--limit NAME=VALUE` each.
pub fn limit_args(limits: &RunLimits) -> Vec<String> {
    limits
        .entries()
        .into_iter()
        .flat_map(|(name, value, _)| ["--limit".to_owned(), format!("{name}={value}")])
        .collect()
}

/// Whether the daemon may give its runs `limits`: an unprivileged daemon cannot raise a
/// hard limit above its own.
pub fn check_limits(limits: &RunLimits) -> Result<(), String> {
    if geteuid().is_root() {
        return Ok(());
    }
    for (name, value, key) in limits.entries() {
        let Some(resource) = resource(name) else {
            continue;
        };
        if let Ok((_, hard)) = getrlimit(resource)
            && value > hard
        {
            return Err(format!(
                "runs.limits.{key} asks for more than harbourd's own hard limit ({name} \
                 {hard}), which a run cannot exceed; lower it, or raise harbourd's limit \
                 (Limit* in its systemd unit, or `ulimit -H`)"
            ));
        }
    }
    Ok(())
}

fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "nofile" => Resource::RLIMIT_NOFILE,
        "nproc" => Resource::RLIMIT_NPROC,
        "cpu" => Resource::RLIMIT_CPU,
        "fsize" => Resource::RLIMIT_FSIZE,
        "as" => Resource::RLIMIT_AS,
        "core" => Resource::RLIMIT_CORE,
        _ => return None,
    })
}

/// `harbourd exec-run [--limit NAME=VALUE]... -- PROGRAM ARGS...`: sets the limits, then
/// becomes PROGRAM. Returns only on failure, having said why on stderr (the run's stderr
/// log): 126 when a limit or the program cannot be applied, 127 when the program is missing.
pub fn exec_run(limits: &[String], argv: &[OsString]) -> ExitCode {
    for limit in limits {
        let parsed = limit
            .split_once('=')
            .and_then(|(name, value)| Some((name, resource(name)?, value.parse::<u64>().ok()?)));
        let Some((name, resource, value)) = parsed else {
            eprintln!("harbourd exec-run: '{limit}' is not NAME=VALUE with a known NAME");
            return ExitCode::from(126);
        };
        // At a CPU hard limit the kernel sends SIGKILL, at the soft one SIGXCPU: a second
        // between them lets the run die of (or handle) the signal that names the cause.
        let hard = if name == "cpu" {
            value.saturating_add(1)
        } else {
            value
        };
        if let Err(e) = setrlimit(resource, value, hard) {
            let hard = getrlimit(resource).map_or_else(|_| "?".into(), |(_, h)| h.to_string());
            eprintln!(
                "harbourd: cannot set this run's {name} limit to {value}: {e} (the hard limit \
                 is {hard}); lower [runs.limits] in harbourd.toml"
            );
            return ExitCode::from(126);
        }
    }
    let Some((program, args)) = argv.split_first() else {
        eprintln!("harbourd exec-run: no program to run");
        return ExitCode::from(126);
    };
    let e = Command::new(program).args(args).exec();
    eprintln!(
        "harbourd: cannot start {}: {e}; check the job's kind and the daemon's PATH",
        program.to_string_lossy()
    );
    ExitCode::from(if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

/// The command that starts `program` with `args` under `limits` (given as [`limit_args`]):
/// through `harbourd exec-run` when there are any, directly when there are none.
pub fn command<A: AsRef<OsStr>>(
    limits: &[String],
    program: impl AsRef<OsStr>,
    args: impl IntoIterator<Item = A>,
) -> tokio::process::Command {
    if limits.is_empty() {
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args);
        return cmd;
    }
    let mut cmd = tokio::process::Command::new(SELF_EXE);
    cmd.arg(EXEC_RUN)
        .args(limits)
        .arg("--")
        .arg(program)
        .args(args);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_become_exec_run_arguments() {
        let limits = RunLimits {
            open_files: Some(64),
            core_mib: Some(0),
            ..RunLimits::default()
        };
        assert_eq!(
            limit_args(&limits),
            ["--limit", "nofile=64", "--limit", "core=0"]
        );
        assert!(limit_args(&RunLimits::default()).is_empty());
        for (name, _, _) in (RunLimits {
            open_files: Some(64),
            processes: Some(1),
            cpu_secs: Some(1),
            file_size_mib: Some(1),
            address_space_mib: Some(64),
            core_mib: Some(0),
        })
        .entries()
        {
            assert!(resource(name).is_some(), "{name}");
        }
    }

    #[test]
    fn no_configured_user_keeps_who_started_it() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            mode: Mode::User,
            config_file: dir.path().join("harbourd.toml"),
            data_dir: dir.path().join("data"),
            socket: dir.path().join("harbourd.sock"),
        };
        let expected = if geteuid().is_root() {
            Identity::RootUnconfigured
        } else {
            Identity::AsStarted
        };
        assert_eq!(settle(&Config::default(), &paths), Ok(expected));
        let mut config = Config::default();
        config.daemon.user = Some("no-such-user-harbour-test".into());
        let err = settle(&config, &paths).unwrap_err();
        assert!(err.contains("there is no such user"), "{err}");
    }

    #[test]
    fn a_directory_of_someone_else_is_not_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let me = geteuid();
        let other = Uid::from_raw(me.as_raw().wrapping_add(1));
        let err = own_dir(dir.path(), 0o700, other, Gid::current(), "someone").unwrap_err();
        assert!(err.contains("chown -R someone:"), "{err}");
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let err = own_dir(&file, 0o700, me, Gid::current(), "me").unwrap_err();
        assert!(err.contains("is not a directory"), "{err}");
        let fresh = dir.path().join("a/b");
        own_dir(&fresh, 0o700, me, Gid::current(), "me").unwrap();
        let mode = fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
