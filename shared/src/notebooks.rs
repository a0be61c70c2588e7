//! Notebooks on the wire: a notebook as clients see it (cells with their outputs, the kernel's
//! state), the edits a client can make, and which cells to run.
//!
//! The daemon keeps the full `.ipynb` (unknown metadata, attachments, every mime type of an
//! output); this view carries what a client shows and edits. `export` hands out the file itself.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

/// Where a notebook stands after each change; clients long-poll for a larger one.
pub type NotebookVersion = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellKind {
    Code,
    Markdown,
    Raw,
}

impl CellKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Markdown => "markdown",
            Self::Raw => "raw",
        }
    }
}

impl std::str::FromStr for CellKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "code" => Ok(Self::Code),
            "markdown" | "md" => Ok(Self::Markdown),
            "raw" => Ok(Self::Raw),
            other => Err(format!(
                "'{other}' is not a cell type; use code, markdown or raw"
            )),
        }
    }
}

/// A cell execution's state, while the daemon tracks it (none for cells never run here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecState {
    Queued,
    Running,
    Done,
    Error,
    Cancelled,
}

/// One output, reduced to what a terminal shows. The `.ipynb` keeps the whole mime bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    Stream {
        /// `stdout` or `stderr`.
        name: String,
        text: String,
    },
    /// `display_data` or `execute_result` (with its count).
    Data {
        execution_count: Option<u32>,
        /// The mime types of the bundle, richest first as the kernel sent them.
        mimes: Vec<String>,
        /// The best text form: `text/plain`, or markdown/HTML reduced to text.
        text: String,
    },
    Error {
        ename: String,
        evalue: String,
        /// With ANSI colours removed.
        traceback: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// nbformat 4.5 cell id: stable across edits, moves and round trips.
    pub id: String,
    pub kind: CellKind,
    pub source: String,
    pub execution_count: Option<u32>,
    pub outputs: Vec<Output>,
    pub state: Option<ExecState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KernelState {
    /// No kernel: never started, shut down, or culled while idle.
    Stopped,
    Starting,
    Idle,
    Busy,
    /// Exited on its own; `why` has the exit status and the end of its stderr.
    Dead {
        why: String,
    },
}

impl KernelState {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Idle => "idle",
            Self::Busy => "busy",
            Self::Dead { .. } => "dead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelInfo {
    pub state: KernelState,
    pub pid: Option<u32>,
    /// The kernel's last execution count.
    pub execution_count: u32,
    /// Cells waiting behind the one running.
    pub queued: u32,
    /// The Spark cluster `spark` is bound to, if any.
    pub cluster: Option<String>,
    /// Set when the Spark startup failed; the kernel still runs Python.
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookSummary {
    pub name: String,
    pub cells: u32,
    pub cluster: Option<String>,
    pub kernel: KernelState,
    pub modified_ms: UnixMillis,
    pub version: NotebookVersion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notebook {
    pub name: String,
    pub cluster: Option<String>,
    pub version: NotebookVersion,
    pub modified_ms: UnixMillis,
    pub kernel: KernelInfo,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotebookSpec {
    pub name: String,
    /// A cluster (e.g. `local`) whose `spark` session the kernel starts with.
    pub cluster: Option<String>,
}

/// One change to a notebook's cells. Cells are named by id, positions are 0-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellEdit {
    /// Adds a cell at `index` (clamped to the end); the answer has its id.
    Insert {
        index: u32,
        kind: CellKind,
        source: String,
    },
    Delete {
        id: String,
    },
    /// Moves a cell to position `index` (clamped).
    Move {
        id: String,
        index: u32,
    },
    /// Changing a code cell to another kind drops its outputs, like Jupyter.
    SetKind {
        id: String,
        kind: CellKind,
    },
    SetSource {
        id: String,
        source: String,
    },
    /// Clears one cell's outputs, or every cell's with `None`.
    ClearOutputs {
        id: Option<String>,
    },
    /// Sets the Spark cluster the kernel binds `spark` to (takes effect on restart).
    SetCluster {
        cluster: Option<String>,
    },
}

/// Which cells `notebook_run` queues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunCells {
    One(String),
    All,
    /// Every code cell before this one.
    Above(String),
    /// This cell and every code cell after it.
    FromHere(String),
}

/// What `notebook_watch` answers: the notebook when its version passed the one given, else
/// `None` when the wait ran out.
pub type NotebookWatch = Option<Notebook>;
