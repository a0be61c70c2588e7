//! A connection that outlives a daemon restart, for commands that follow a run for a long time
//! (`logs -f`, `--wait`). Their calls are reads (`read_log`, `get_run`, `list_runs`), so a call
//! that was cut off is simply made again on a new connection; offsets make that exact.

use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use tarpc::client::RpcError;

use super::error::CliError;
use crate::client::{self, Client, ClientError, ClientResult};

/// How long to keep trying to reach a daemon that went away (a systemd restart takes seconds).
const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// How many calls in a row may run past their deadline before we give up on the daemon.
const MAX_DEADLINES: u32 = 3;

#[derive(Debug, Clone)]
pub struct Conn {
    client: Client,
    /// Whether to say on stderr that we are reconnecting (only to a person, not into a pipe).
    chatty: bool,
}

impl Conn {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            chatty: std::io::stderr().is_terminal(),
        }
    }

    /// Makes a read-only call, reconnecting and calling again if the daemon went away, for up
    /// to [`RECONNECT_FOR`]. Errors the daemon answered with are returned as they are.
    pub async fn call<T, F, Fut>(&mut self, call: F) -> Result<T, CliError>
    where
        F: Fn(Client) -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        let mut lost_since: Option<Instant> = None;
        let mut deadlines = 0;
        loop {
            match call(self.client.clone()).await {
                Ok(value) => return Ok(value),
                Err(ClientError::Rpc(RpcError::DeadlineExceeded))
                    if deadlines + 1 < MAX_DEADLINES =>
                {
                    deadlines += 1;
                }
                Err(e) if is_connection_lost(&e) => {
                    let since = *lost_since.get_or_insert_with(|| {
                        if self.chatty {
                            eprintln!("harbour: lost harbourd ({e}); reconnecting");
                        }
                        Instant::now()
                    });
                    self.reconnect(since, e).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Connects again, retrying with backoff until [`RECONNECT_FOR`] after `since`.
    async fn reconnect(&mut self, since: Instant, mut last: ClientError) -> Result<(), CliError> {
        let mut pause = Duration::from_millis(100);
        loop {
            if since.elapsed() >= RECONNECT_FOR {
                return Err(last.into());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            match client::connect(&self.client.socket).await {
                Ok(client) => {
                    if self.chatty {
                        eprintln!("harbour: reconnected to harbourd");
                    }
                    self.client = client;
                    return Ok(());
                }
                Err(e) if is_connection_lost(&e) => last = e,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The daemon is gone or the connection broke, as opposed to an answer.
fn is_connection_lost(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Unreachable { .. }
            | ClientError::Rpc(RpcError::Shutdown | RpcError::Send(_) | RpcError::Channel(_))
    )
}
