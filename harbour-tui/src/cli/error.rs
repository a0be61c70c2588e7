//! Why a `harbour` command failed, with its exit code and how it is reported.

use std::io;

use serde_json::{Value, json};

use super::exit;
use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line made sense to clap but not to us (a missing file, an empty update).
    #[error("{0}")]
    Usage(String),
    /// The call to the daemon failed, or the daemon said no.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Reading or writing on our side failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl CliError {
    pub fn usage(why: impl Into<String>) -> Self {
        Self::Usage(why.into())
    }

    /// What `harbour` exits with for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => exit::USAGE,
            Self::Client(e) => exit::for_client_error(e),
            Self::Io(_) => exit::FAILURE,
        }
    }

    /// Whether our output was closed under us (`harbour logs 1 | head`): not worth a word.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// A short, stable name for the kind of failure, for `--json` consumers.
    pub fn kind(&self) -> &'static str {
        use harbour_shared::Error as E;
        match self {
            Self::Usage(_) => "usage",
            Self::Io(_) => "io",
            Self::Client(ClientError::Unreachable { .. }) => "unreachable",
            Self::Client(ClientError::Rpc(_)) => "rpc",
            Self::Client(ClientError::Api(api)) => match api {
                E::NotFound { .. } => "not_found",
                E::Invalid { .. } => "invalid",
                E::Conflict(_) => "conflict",
                E::Unavailable { .. } => "unavailable",
                E::Internal { .. } => "internal",
                E::ProtocolMismatch { .. } => "protocol_mismatch",
            },
        }
    }

    /// The message for `harbour: <message>`, with the causes of transport failures appended.
    pub fn message(&self) -> String {
        let mut message = self.to_string();
        if let Self::Client(ClientError::Rpc(rpc)) = self {
            let mut source = std::error::Error::source(rpc);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
        }
        message
    }

    /// The `{"error": {...}}` object `--json` prints: kind, message and exit code always, and the
    /// daemon's error as it sent it when there is one.
    pub fn to_json(&self) -> Value {
        let mut error = json!({
            "kind": self.kind(),
            "message": self.message(),
            "exit_code": self.exit_code(),
        });
        if let Self::Client(ClientError::Api(api)) = self {
            error["api"] = serde_json::to_value(api).unwrap_or(Value::Null);
        }
        json!({ "error": error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::Error;

    #[test]
    fn api_errors_keep_their_shape_in_json() {
        let err = CliError::from(ClientError::Api(Error::not_found(
            "run 9",
            "`harbour runs` lists runs",
        )));
        let value = err.to_json();
        assert_eq!(value["error"]["kind"], "not_found");
        assert_eq!(value["error"]["exit_code"], 3);
        assert_eq!(value["error"]["api"]["NotFound"]["what"], "run 9");
        assert_eq!(
            value["error"]["message"],
            "run 9 not found; `harbour runs` lists runs"
        );
    }

    #[test]
    fn usage_errors_exit_2_and_broken_pipes_are_recognised() {
        let usage = CliError::usage("no such file");
        assert_eq!(usage.exit_code(), 2);
        assert_eq!(usage.to_json()["error"]["kind"], "usage");
        assert!(CliError::from(io::Error::from(io::ErrorKind::BrokenPipe)).is_broken_pipe());
        assert!(!usage.is_broken_pipe());
    }
}
