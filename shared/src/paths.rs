//! Where a daemon listens by default, so clients find it without being told.
//!
//! User mode: `$XDG_RUNTIME_DIR/harbour/harbourd.sock`, or `/tmp/harbour-$UID/harbourd.sock`
//! when there is no runtime dir. System mode: `/run/harbour/harbourd.sock`. `HARBOUR_SOCKET`
//! overrides both.

use std::path::PathBuf;

/// Environment variable naming the socket, for the daemon and every client.
pub const SOCKET_ENV: &str = "HARBOUR_SOCKET";

/// The socket of a system-mode daemon (the systemd unit).
pub const SYSTEM_SOCKET: &str = "/run/harbour/harbourd.sock";

/// The socket file name inside its directory.
pub const SOCKET_FILE: &str = "harbourd.sock";

/// The directory a user-mode daemon puts its socket in.
pub fn user_socket_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("harbour"),
        _ => PathBuf::from(format!("/tmp/harbour-{}", nix::unistd::getuid())),
    }
}

/// The socket a client uses when it is not told one: `HARBOUR_SOCKET`, else the user socket.
pub fn default_socket() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => user_socket_dir().join(SOCKET_FILE),
    }
}
