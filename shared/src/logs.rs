//! Pages of a run's output. Logs are append-only byte streams addressed by offset, so a
//! follower asks for "from offset N" and never misses or repeats a byte.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

impl fmt::Display for LogStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogStream {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stdout" | "out" => Ok(Self::Stdout),
            "stderr" | "err" => Ok(Self::Stderr),
            _ => Err(Error::invalid(
                "stream",
                format!("'{s}' is not a stream; use stdout or stderr"),
            )),
        }
    }
}

/// Bytes `[offset, offset + data.len())` of one stream of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    pub offset: u64,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// The stream's size when the page was read.
    pub size: u64,
    /// The run has terminated and this page reaches the end: nothing more will come.
    pub complete: bool,
}

impl LogChunk {
    /// Where the next page starts.
    pub fn next_offset(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}
