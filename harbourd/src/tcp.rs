//! The optional TCP listener (`[daemon] listen`), for clients that cannot reach the Unix
//! socket. The socket's file permissions are its lock; TCP has none, so every TCP connection
//! must first present a token, one line, before any RPC:
//!
//! ```text
//! client: HARBOUR-TOKEN <token>\n
//! daemon: OK\n            (then the same framed RPC protocol as on the socket)
//!         DENIED <why>\n  (and the connection is closed)
//! ```
//!
//! The token lives in a file only its owner may read (created with 32 random bytes when
//! missing). Traffic is not encrypted: listen on loopback and reach it through an ssh tunnel,
//! or on a trusted network only; a non-loopback address is logged as a warning.

use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What a client writes before its token.
pub const TOKEN_PREFIX: &str = "HARBOUR-TOKEN ";
/// The longest handshake line accepted (the prefix and a token of up to 200 bytes).
const MAX_LINE: usize = 256;
/// How long a new connection may take to present its token.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TcpError {
    #[error("cannot listen on {addr} ([daemon] listen): {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("token file {}: {why}", path.display())]
    Token { path: PathBuf, why: String },
}

/// The TCP listener and the token its clients must present.
#[derive(Debug)]
pub struct Door {
    pub listener: TcpListener,
    pub token: Arc<str>,
    pub addr: SocketAddr,
}

impl Door {
    /// Loads (or creates) the token, then binds `addr`.
    pub async fn open(addr: SocketAddr, token_file: &Path) -> Result<Self, TcpError> {
        let token = load_or_create_token(token_file)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| TcpError::Bind { addr, source })?;
        let addr = listener.local_addr().unwrap_or(addr);
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "listening on a non-loopback address: the token and all traffic cross the \
                 network unencrypted; prefer a loopback address reached through an ssh tunnel"
            );
        }
        Ok(Self {
            listener,
            token: token.into(),
            addr,
        })
    }
}

/// Reads the token from `path`, refusing a file others may read; creates one when missing.
pub fn load_or_create_token(path: &Path) -> Result<String, TcpError> {
    let err = |why: String| TcpError::Token {
        path: path.to_owned(),
        why,
    };
    match fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.is_file() {
                return Err(err("is not a regular file".into()));
            }
            if meta.mode() & 0o077 != 0 {
                return Err(err(format!(
                    "its mode is {:o}: others could read the token; chmod 600 it",
                    meta.mode() & 0o777
                )));
            }
            let text = fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let token = text.trim().to_owned();
            if token.len() < 16 || token.len() > 200 || token.chars().any(char::is_whitespace) {
                return Err(err(
                    "the token must be 16 to 200 characters without spaces; delete the file \
                     to have harbourd make a new one"
                        .into(),
                ));
            }
            Ok(token)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut raw))
                .map_err(|e| err(format!("cannot read /dev/urandom: {e}")))?;
            let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| err(format!("cannot create: {e}")))?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| err(format!("cannot write: {e}")))?;
            tracing::info!(path = %path.display(), "created a token for the TCP listener");
            Ok(token)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// Equal without telling, by its timing, how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the client's token line and answers it; the stream is ready for RPCs on `Ok`.
pub async fn handshake(stream: TcpStream, token: &str) -> Result<TcpStream, String> {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let read = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line),
    )
    .await;
    // Nothing may be buffered past the line: the client waits for our answer.
    let mut stream = reader.into_inner();
    let given = line
        .strip_suffix(b"\n")
        .and_then(|l| l.strip_prefix(TOKEN_PREFIX.as_bytes()));
    let verdict = match (read, given) {
        (Err(_), _) => Err("no token within 5 s".to_owned()),
        (Ok(Err(e)), _) => Err(e.to_string()),
        (Ok(Ok(_)), None) => Err("the first line must be `HARBOUR-TOKEN <token>`".to_owned()),
        (Ok(Ok(_)), Some(t)) if same(t, token.as_bytes()) => Ok(()),
        (Ok(Ok(_)), Some(_)) => Err("wrong token".to_owned()),
    };
    let answer = match &verdict {
        Ok(()) => "OK\n".to_owned(),
        Err(why) => format!("DENIED {why}\n"),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    verdict.map(|()| stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_created_private_and_loose_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tcp.token");
        let token = load_or_create_token(&path).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            load_or_create_token(&path).unwrap(),
            token,
            "kept across starts"
        );
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_token(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        fs::write(&path, "short").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load_or_create_token(&path).is_err());
    }

    #[test]
    fn comparison_needs_every_byte() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
    }
}
