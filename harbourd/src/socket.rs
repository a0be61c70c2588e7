//! The Unix socket is the door to the daemon, so it is set up with care:
//!
//! - user mode: the socket's directory is created 0700 and must be a real directory (not a
//!   symlink) owned by us and closed to others, or we refuse to start and say why;
//! - system mode: the directory must be ours and not writable by others; the socket is 0660
//!   with the configured group, set before `listen`, so there is no moment when a stranger
//!   could connect;
//! - an existing socket file is probed: a live daemon makes us refuse, a stale file (nobody
//!   listening) is removed;
//! - one daemon per data dir, enforced with an exclusive lock on `harbourd.lock`.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, PermissionsExt as _,
};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Group, Uid, chown};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::Mode;

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("another harbourd is already serving {}; stop it first, or give this one another --socket", .0.display())]
    AlreadyRunning(PathBuf),
    #[error("another harbourd (pid {pid}) is using the data dir {}; stop it, or give this one another --data-dir", dir.display())]
    DataDirLocked { dir: PathBuf, pid: String },
    #[error("{} is not safe for the socket: {why}", path.display())]
    Unsafe { path: PathBuf, why: String },
    #[error(
        "socket group '{0}' does not exist; create it (groupadd --system {0}) or set daemon.socket_group"
    )]
    NoGroup(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SocketError + use<> {
    let path = path.to_owned();
    move |source| SocketError::Io { what, path, source }
}

/// A listening socket that removes its file when dropped, if the file is still ours.
#[derive(Debug)]
pub struct Listener {
    pub listener: tokio::net::UnixListener,
    path: PathBuf,
    inode: (u64, u64),
}

impl Listener {
    /// Whether the socket file is still this listener's. A tmp cleaner or a careless `rm`
    /// may delete it; the daemon then listens again (see `api::serve`).
    pub fn in_place(&self) -> bool {
        fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.inode)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Another daemon may have replaced the file after ours was deleted: leave theirs.
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.inode
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Prepares the socket's directory, clears a stale socket, binds, sets permissions and only
/// then listens.
pub fn listen(mode: Mode, path: &Path, group: &str) -> Result<Listener, SocketError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let gid = match mode {
        Mode::User => {
            ensure_private_dir(dir)?;
            None
        }
        Mode::System => {
            let gid = Group::from_name(group)
                .ok()
                .flatten()
                .map(|g| g.gid)
                .ok_or_else(|| SocketError::NoGroup(group.to_owned()))?;
            ensure_system_dir(dir, gid)?;
            Some(gid)
        }
    };
    clear_stale(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(io_err("cannot create socket", path))?;
    let addr = SockAddr::unix(path).map_err(io_err("bad socket path", path))?;
    socket.bind(&addr).map_err(io_err("cannot bind", path))?;
    let mode_bits = if gid.is_some() { 0o660 } else { 0o600 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode_bits))
        .map_err(io_err("cannot chmod", path))?;
    if let Some(gid) = gid {
        chown(path, None, Some(gid)).map_err(|e| SocketError::Io {
            what: "cannot chown",
            path: path.to_owned(),
            source: e.into(),
        })?;
    }
    socket
        .listen(1024)
        .map_err(io_err("cannot listen on", path))?;
    socket
        .set_nonblocking(true)
        .map_err(io_err("cannot configure", path))?;
    let meta = fs::symlink_metadata(path).map_err(io_err("cannot stat", path))?;
    let std_listener: std::os::unix::net::UnixListener = socket.into();
    let listener = tokio::net::UnixListener::from_std(std_listener)
        .map_err(io_err("cannot register", path))?;
    Ok(Listener {
        listener,
        path: path.to_owned(),
        inode: (meta.dev(), meta.ino()),
    })
}

/// User mode: a 0700 directory of ours, created if missing.
fn ensure_private_dir(dir: &Path) -> Result<(), SocketError> {
    if fs::symlink_metadata(dir).is_err() {
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io_err("cannot create", parent))?;
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("cannot create", dir)(e)),
        }
    }
    let meta = fs::symlink_metadata(dir).map_err(io_err("cannot stat", dir))?;
    let unsafe_dir = |why: String| SocketError::Unsafe {
        path: dir.to_owned(),
        why,
    };
    if meta.file_type().is_symlink() {
        return Err(unsafe_dir("it is a symlink; use a real directory".into()));
    }
    if !meta.is_dir() {
        return Err(unsafe_dir("it is not a directory".into()));
    }
    if meta.uid() != Uid::current().as_raw() {
        return Err(unsafe_dir(format!(
            "it belongs to uid {}, not to you (uid {}); use a directory of your own",
            meta.uid(),
            Uid::current()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_dir(format!(
            "its mode is {:o}, open to others; run `chmod 700 {}`",
            meta.mode() & 0o777,
            dir.display()
        )));
    }
    Ok(())
}

/// System mode: a directory of ours (systemd's RuntimeDirectory), group-readable at most.
fn ensure_system_dir(dir: &Path, gid: Gid) -> Result<(), SocketError> {
    if fs::symlink_metadata(dir).is_err() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .map_err(io_err("cannot create", dir))?;
        chown(dir, None, Some(gid)).map_err(|e| SocketError::Io {
            what: "cannot chown",
            path: dir.to_owned(),
            source: e.into(),
        })?;
    }
    let meta = fs::symlink_metadata(dir).map_err(io_err("cannot stat", dir))?;
    let unsafe_dir = |why: String| SocketError::Unsafe {
        path: dir.to_owned(),
        why,
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(unsafe_dir("it is not a real directory".into()));
    }
    if meta.uid() != Uid::current().as_raw() {
        return Err(unsafe_dir(format!(
            "it belongs to uid {}, not to harbourd's user",
            meta.uid()
        )));
    }
    if meta.mode() & 0o002 != 0 {
        return Err(unsafe_dir(format!(
            "its mode is {:o}: anyone may write to it",
            meta.mode() & 0o777
        )));
    }
    Ok(())
}

/// Removes a socket file nobody listens on; refuses when a daemon answers.
fn clear_stale(path: &Path) -> Result<(), SocketError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(SocketError::Unsafe {
            path: path.to_owned(),
            why: "a file that is not a socket is in the way; move it".into(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(SocketError::AlreadyRunning(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(
                "removing stale socket {} (nobody listens on it)",
                path.display()
            );
            fs::remove_file(path).map_err(io_err("cannot remove stale socket", path))
        }
        Err(e) => Err(io_err("cannot probe the existing socket", path)(e)),
    }
}

/// The exclusive lock on a data dir, held for the daemon's life.
#[derive(Debug)]
pub struct DataDirLock {
    _lock: Flock<File>,
}

/// Creates the data dir (0700) if needed and locks it for this daemon.
pub fn lock_data_dir(dir: &Path) -> Result<DataDirLock, SocketError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err("cannot create the data dir", dir))?;
    let path = dir.join("harbourd.lock");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err("cannot open", &path))?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, _)) => {
            let pid = fs::read_to_string(&path)
                .unwrap_or_default()
                .trim()
                .to_owned();
            return Err(SocketError::DataDirLocked {
                dir: dir.to_owned(),
                pid,
            });
        }
    };
    lock.set_len(0).map_err(io_err("cannot write", &path))?;
    write!(lock, "{}", std::process::id()).map_err(io_err("cannot write", &path))?;
    Ok(DataDirLock { _lock: lock })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_a_second_daemon_and_clears_a_stale_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/harbourd.sock");
        let first = listen(Mode::User, &path, "").unwrap();
        let mode = fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert!(matches!(
            listen(Mode::User, &path, ""),
            Err(SocketError::AlreadyRunning(_))
        ));
        // A file left by a daemon that died (bound, nobody listening) is stale.
        drop(first);
        assert!(
            !path.exists(),
            "the socket file is removed with its listener"
        );
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale);
        assert!(path.exists());
        let _second = listen(Mode::User, &path, "").unwrap();
    }

    #[test]
    fn refuses_open_or_linked_directories() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        let err = listen(Mode::User, &open.join("s.sock"), "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("chmod 700"), "{err}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        let err = listen(Mode::User, &link.join("s.sock"), "")
            .unwrap_err()
            .to_string();
        assert!(err.contains("symlink"), "{err}");
    }

    #[test]
    fn refuses_a_file_in_the_sockets_place() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.path().join("s.sock");
        fs::write(&path, "not a socket").unwrap();
        let err = listen(Mode::User, &path, "").unwrap_err().to_string();
        assert!(err.contains("not a socket"), "{err}");
    }

    #[test]
    fn one_daemon_per_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let _held = lock_data_dir(dir.path()).unwrap();
        let err = lock_data_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&std::process::id().to_string()), "{err}");
    }
}
