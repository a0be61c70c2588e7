//! Connecting to `harbourd`: the framed bincode transport over its Unix socket, the `hello`
//! handshake, and request contexts whose deadlines fit long-polls.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harbour_shared::{HarbourClient, Hello, MAX_FRAME_BYTES, PROTOCOL_VERSION};
use tarpc::client::RpcError;
use tarpc::context::Context;
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpStream, UnixStream};

/// Why a call did not get an answer from the daemon's logic.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answers on the socket (or we may not open it).
    #[error("cannot reach harbourd at {}: {why}", socket.display())]
    Unreachable { socket: PathBuf, why: String },
    /// The daemon answered with an error.
    #[error(transparent)]
    Api(#[from] harbour_shared::Error),
    /// The connection failed mid-call, or the call ran past its deadline.
    #[error("the call to harbourd failed: {0}")]
    Rpc(#[from] RpcError),
}

impl ClientError {
    /// Whether the daemon is gone (as opposed to having answered "no").
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::Rpc(RpcError::Shutdown | RpcError::Send(_) | RpcError::Channel(_))
        )
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// Turns tarpc's nested result into one.
pub trait Flatten<T> {
    fn flat(self) -> ClientResult<T>;
}

impl<T> Flatten<T> for Result<Result<T, harbour_shared::Error>, RpcError> {
    fn flat(self) -> ClientResult<T> {
        Ok(self??)
    }
}

/// A connected, greeted client.
#[derive(Debug, Clone)]
pub struct Client {
    pub rpc: HarbourClient,
    pub hello: Hello,
    pub socket: PathBuf,
}

/// The prefix that makes a "socket" a TCP address (`tcp://127.0.0.1:7411`).
pub const TCP_PREFIX: &str = "tcp://";
/// The token for a TCP address, or [`TOKEN_FILE_ENV`] naming a file that holds it.
pub const TOKEN_ENV: &str = "HARBOUR_TOKEN";
pub const TOKEN_FILE_ENV: &str = "HARBOUR_TOKEN_FILE";

/// Connects to the daemon at `socket` and says hello. A `tcp://HOST:PORT` socket is the
/// daemon's optional TCP listener, with the token from `HARBOUR_TOKEN` or the file
/// `HARBOUR_TOKEN_FILE` names.
pub async fn connect(socket: &Path) -> ClientResult<Client> {
    let unreachable = |why: String| ClientError::Unreachable {
        socket: socket.to_owned(),
        why,
    };
    if let Some(addr) = socket.to_str().and_then(|s| s.strip_prefix(TCP_PREFIX)) {
        let token = token_from_env().map_err(unreachable)?;
        let stream = connect_tcp(addr, &token).await.map_err(unreachable)?;
        return greet(socket, transport(stream)).await;
    }
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| unreachable(explain_connect_error(&e)))?;
    greet(socket, transport(stream)).await
}

async fn greet<S>(socket: &Path, transport: ClientTransport<S>) -> ClientResult<Client>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let rpc = HarbourClient::new(tarpc::client::Config::default(), transport).spawn();
    let hello = rpc.hello(ctx(), PROTOCOL_VERSION).await.flat()?;
    Ok(Client {
        rpc,
        hello,
        socket: socket.to_owned(),
    })
}

fn token_from_env() -> Result<String, String> {
    if let Some(token) = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        return Ok(token);
    }
    let Some(file) = std::env::var_os(TOKEN_FILE_ENV) else {
        return Err(format!(
            "a tcp:// address needs the daemon's token: set {TOKEN_ENV}, or {TOKEN_FILE_ENV} \
             to its file (the daemon's DATA_DIR/tcp.token unless [daemon] token_file says)"
        ));
    };
    std::fs::read_to_string(&file)
        .map(|t| t.trim().to_owned())
        .map_err(|e| {
            format!(
                "cannot read the token file {}: {e}",
                Path::new(&file).display()
            )
        })
}

/// Opens a TCP connection to the daemon's listener and presents `token`.
pub async fn connect_tcp(addr: &str, token: &str) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("{e}; is harbourd's [daemon] listen set to {addr}?"))?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("HARBOUR-TOKEN {token}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut answer));
    match read.await {
        Ok(Ok(_)) if answer == "OK\n" => Ok(reader.into_inner()),
        Ok(Ok(_)) => Err(format!(
            "the daemon refused the connection: {}",
            answer.trim().trim_start_matches("DENIED ")
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the daemon did not answer the token within 10 s".into()),
    }
}

/// The framing and encoding the daemon speaks: length-delimited bincode, frames capped at
/// `MAX_FRAME_BYTES`.
type Request = tarpc::ClientMessage<harbour_shared::HarbourRequest>;
type Response = tarpc::Response<harbour_shared::HarbourResponse>;

/// The client side of the transport.
pub type ClientTransport<S = UnixStream> =
    tarpc::serde_transport::Transport<S, Response, Request, Bincode<Response, Request>>;

pub fn transport<S: AsyncRead + AsyncWrite>(stream: S) -> ClientTransport<S> {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec();
    tarpc::serde_transport::new(Framed::new(stream, codec), Bincode::default())
}

fn explain_connect_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => {
            format!(
                "{e}; harbourd is not running there: start it with `harbourd`, or point at \
                     another socket with --socket or HARBOUR_SOCKET"
            )
        }
        io::ErrorKind::PermissionDenied => format!(
            "{e}; the socket belongs to another user or group: in system mode, join the \
             `harbour` group"
        ),
        _ => e.to_string(),
    }
}

/// A context for an ordinary call (10 s deadline).
pub fn ctx() -> Context {
    tarpc::context::current()
}

/// A context for a long-poll that may wait `wait_ms` on the daemon.
pub fn long_poll_ctx(wait_ms: u64) -> Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = Instant::now() + Duration::from_millis(wait_ms) + Duration::from_secs(10);
    ctx
}
