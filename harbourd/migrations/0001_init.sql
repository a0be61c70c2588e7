-- Jobs are definitions; runs are executions; transitions are a run's state history.
-- A job is soft-deleted (deleted_ms) so its runs keep their history.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    spec         TEXT    NOT NULL,          -- JobSpec as JSON
    one_off      INTEGER NOT NULL DEFAULT 0,
    paused       INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    deleted_ms   INTEGER,
    last_fire_ms INTEGER                     -- the last schedule fire handled (run or skipped)
);
CREATE UNIQUE INDEX jobs_live_name ON jobs(name) WHERE deleted_ms IS NULL AND one_off = 0;

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER NOT NULL REFERENCES jobs(id),
    job_name         TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    spec             TEXT    NOT NULL,      -- the job's JobSpec when the run was made
    trigger          TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,
    parent_id        INTEGER REFERENCES runs(id),
    lifecycle        TEXT    NOT NULL,
    result           TEXT,
    exit_code        INTEGER,
    state_message    TEXT    NOT NULL DEFAULT '',
    queued_ms        INTEGER NOT NULL,
    started_ms       INTEGER,
    ended_ms         INTEGER,
    retry_at_ms      INTEGER,
    pid              INTEGER,
    proc_start_ticks INTEGER,               -- tells our process from a reused pid after a crash
    argv             TEXT,                  -- JSON array, once started
    stdout_bytes     INTEGER NOT NULL DEFAULT 0,
    stderr_bytes     INTEGER NOT NULL DEFAULT 0,
    logs_pruned      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_job       ON runs(job_id, id);
CREATE INDEX runs_lifecycle ON runs(lifecycle);
CREATE INDEX runs_ended     ON runs(ended_ms);

CREATE TABLE run_transitions (
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    at_ms     INTEGER NOT NULL,
    lifecycle TEXT    NOT NULL,
    result    TEXT,
    exit_code INTEGER,
    message   TEXT    NOT NULL
);
CREATE INDEX run_transitions_run ON run_transitions(run_id);
