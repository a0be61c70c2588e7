//! Live updates, delivered by long-poll: a client asks for the events after the last sequence
//! number it saw and gets the next batch, or an empty one when its wait runs out.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;
use crate::jobs::{Job, JobId};
use crate::monitor::HealthTransition;
use crate::runs::{Run, RunId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Increases by one per event. A daemon starts counting from its boot time in
    /// microseconds, so sequence numbers from an earlier daemon are always older.
    pub seq: u64,
    pub at_ms: UnixMillis,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A run was made or changed state; the run as it is now (committed before it is sent).
    RunChanged(Run),
    /// A run's logs grew to these sizes.
    LogGrew {
        run: RunId,
        stdout_bytes: u64,
        stderr_bytes: u64,
    },
    /// A job was created or changed.
    JobChanged(Job),
    JobDeleted(JobId),
    /// A scheduled fire did not start a run, and why (an overlap, say).
    ScheduleSkipped {
        job: JobId,
        reason: String,
    },
    /// A cluster was made or changed state (or its health changed).
    ClusterChanged(crate::spark::Cluster),
    /// A cluster was deleted.
    ClusterDeleted(String),
    /// A health check went up, down or back to pending (also in the daemon log).
    HealthChanged(HealthTransition),
}

/// Events the client missed: the daemon's buffer moved past them, or the daemon restarted.
/// The client should refetch the state it shows, then go on from `EventBatch::last_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsLost {
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<Event>,
    /// Pass this as `after_seq` next time.
    pub last_seq: u64,
    pub lost: Option<EventsLost>,
}
