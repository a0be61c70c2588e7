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
    /// When the page's bytes were written, as far as the daemon saw: ascending marks, from
    /// the first that ends after `offset` to the first that reaches the page's end (empty
    /// for logs written before the index existed).
    pub marks: Vec<LogMark>,
}

/// The stream had reached `end` bytes at `at_ms`: every byte before `end` not covered by an
/// earlier mark was written at about that time (the daemon samples every 50 ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMark {
    pub end: u64,
    pub at_ms: crate::UnixMillis,
}

impl LogChunk {
    /// Where the next page starts.
    pub fn next_offset(&self) -> u64 {
        self.offset + self.data.len() as u64
    }

    /// When the byte at `offset` (within or before this page) was written, if a mark says.
    pub fn written_at(&self, offset: u64) -> Option<crate::UnixMillis> {
        let i = self.marks.partition_point(|m| m.end <= offset);
        self.marks.get(i).map(|m| m.at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_gets_the_time_of_the_first_mark_past_it() {
        let chunk = LogChunk {
            offset: 0,
            data: b"aaaa\nbbbb\n".to_vec(),
            size: 10,
            complete: true,
            marks: vec![
                LogMark { end: 5, at_ms: 100 },
                LogMark {
                    end: 10,
                    at_ms: 150,
                },
            ],
        };
        assert_eq!(chunk.written_at(0), Some(100));
        assert_eq!(chunk.written_at(4), Some(100));
        assert_eq!(chunk.written_at(5), Some(150));
        assert_eq!(chunk.written_at(10), None);
    }
}
