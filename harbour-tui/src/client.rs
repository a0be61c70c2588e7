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
use tokio::net::UnixStream;

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

/// Connects to the daemon at `socket` and says hello.
pub async fn connect(socket: &Path) -> ClientResult<Client> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| ClientError::Unreachable {
            socket: socket.to_owned(),
            why: explain_connect_error(&e),
        })?;
    let rpc = HarbourClient::new(tarpc::client::Config::default(), transport(stream)).spawn();
    let hello = rpc.hello(ctx(), PROTOCOL_VERSION).await.flat()?;
    Ok(Client {
        rpc,
        hello,
        socket: socket.to_owned(),
    })
}

/// The framing and encoding the daemon speaks: length-delimited bincode, frames capped at
/// `MAX_FRAME_BYTES`.
type Request = tarpc::ClientMessage<harbour_shared::HarbourRequest>;
type Response = tarpc::Response<harbour_shared::HarbourResponse>;

/// The client side of the transport.
pub type ClientTransport =
    tarpc::serde_transport::Transport<UnixStream, Response, Request, Bincode<Response, Request>>;

pub fn transport(stream: UnixStream) -> ClientTransport {
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
