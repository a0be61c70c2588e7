//! The one error type every RPC returns. Each variant's message says what was wrong and,
//! where a person can do something about it, what to do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Error {
    /// The thing named does not exist. `hint` says how to find what does.
    #[error("{what} not found; {hint}")]
    NotFound { what: String, hint: String },
    /// A field of the request is wrong. `why` says how to make it right.
    #[error("invalid {field}: {why}")]
    Invalid { field: String, why: String },
    /// The request is well formed but the current state forbids it.
    #[error("{0}")]
    Conflict(String),
    /// A part the request needs is missing or down.
    #[error("{component} unavailable: {why}")]
    Unavailable { component: String, why: String },
    /// The daemon failed in a way the caller cannot fix; `id` finds it in the daemon log.
    #[error("internal error {id} in harbourd; its log has the details under that id")]
    Internal { id: String },
    /// Client and daemon speak different protocol versions.
    #[error(
        "protocol mismatch: this client speaks version {client}, harbourd speaks {daemon}; \
         install matching versions of harbour and harbourd"
    )]
    ProtocolMismatch { client: u32, daemon: u32 },
}

impl Error {
    pub fn not_found(what: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::NotFound {
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            why: why.into(),
        }
    }

    pub fn conflict(why: impl Into<String>) -> Self {
        Self::Conflict(why.into())
    }

    pub fn unavailable(component: impl Into<String>, why: impl Into<String>) -> Self {
        Self::Unavailable {
            component: component.into(),
            why: why.into(),
        }
    }
}
