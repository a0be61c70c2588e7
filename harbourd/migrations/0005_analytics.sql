-- Spark event-log analytics (issue 8). Rows are keyed by Spark's own ids, so the same event
-- stored twice counts once and events may arrive in any order. Counters on apps and stages
-- grow only when a task row is new.

CREATE TABLE analytics_apps (
    id          INTEGER PRIMARY KEY,
    app_id      TEXT NOT NULL UNIQUE,
    name        TEXT,
    user        TEXT,
    start_ms    INTEGER,
    end_ms      INTEGER,
    source      TEXT,
    updated_ms  INTEGER NOT NULL,
    ended       INTEGER NOT NULL DEFAULT 0,
    succeeded   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    killed      INTEGER NOT NULL DEFAULT 0,
    retries     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE analytics_jobs (
    app         INTEGER NOT NULL REFERENCES analytics_apps(id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL,
    name        TEXT,
    submit_ms   INTEGER,
    end_ms      INTEGER,
    -- NULL while running; 'JobSucceeded' or 'JobFailed'.
    result      TEXT,
    failure     TEXT,
    planned     INTEGER,
    PRIMARY KEY (app, job_id)
) WITHOUT ROWID;
CREATE INDEX analytics_jobs_submit ON analytics_jobs(submit_ms);

CREATE TABLE analytics_job_stages (
    app         INTEGER NOT NULL REFERENCES analytics_apps(id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL,
    stage_id    INTEGER NOT NULL,
    PRIMARY KEY (app, job_id, stage_id)
) WITHOUT ROWID;
CREATE INDEX analytics_job_stages_stage ON analytics_job_stages(app, stage_id);

CREATE TABLE analytics_stages (
    app         INTEGER NOT NULL REFERENCES analytics_apps(id) ON DELETE CASCADE,
    stage_id    INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    name        TEXT,
    num_tasks   INTEGER,
    submitted   INTEGER NOT NULL DEFAULT 0,
    completed   INTEGER NOT NULL DEFAULT 0,
    submit_ms   INTEGER,
    end_ms      INTEGER,
    failure     TEXT,
    first_launch_ms INTEGER,
    ended       INTEGER NOT NULL DEFAULT 0,
    succeeded   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    killed      INTEGER NOT NULL DEFAULT 0,
    retries     INTEGER NOT NULL DEFAULT 0,
    gc_ms       INTEGER NOT NULL DEFAULT 0,
    input_bytes INTEGER NOT NULL DEFAULT 0,
    shuffle_read_bytes  INTEGER NOT NULL DEFAULT 0,
    shuffle_write_bytes INTEGER NOT NULL DEFAULT 0,
    -- Task-time quantiles of successful attempts, recomputed when tasks arrived since.
    stats_dirty INTEGER NOT NULL DEFAULT 0,
    q_min INTEGER, q_25 INTEGER, q_50 INTEGER, q_75 INTEGER, q_max INTEGER,
    PRIMARY KEY (app, stage_id, attempt)
) WITHOUT ROWID;

CREATE TABLE analytics_tasks (
    app         INTEGER NOT NULL REFERENCES analytics_apps(id) ON DELETE CASCADE,
    task_id     INTEGER NOT NULL,
    stage_id    INTEGER NOT NULL,
    stage_attempt INTEGER NOT NULL,
    idx         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    executor    TEXT NOT NULL,
    host        TEXT NOT NULL,
    launch_ms   INTEGER,
    finish_ms   INTEGER,
    duration_ms INTEGER,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    message     TEXT,
    run_ms      INTEGER NOT NULL,
    gc_ms       INTEGER NOT NULL,
    input_bytes INTEGER NOT NULL,
    shuffle_read_bytes  INTEGER NOT NULL,
    shuffle_write_bytes INTEGER NOT NULL,
    speculative INTEGER NOT NULL,
    PRIMARY KEY (app, task_id)
) WITHOUT ROWID;
CREATE INDEX analytics_tasks_stage ON analytics_tasks(app, stage_id, stage_attempt, status);

CREATE TABLE analytics_executors (
    app         INTEGER NOT NULL REFERENCES analytics_apps(id) ON DELETE CASCADE,
    executor_id TEXT NOT NULL,
    host        TEXT,
    cores       INTEGER,
    added_ms    INTEGER,
    removed_ms  INTEGER,
    removed_reason TEXT,
    PRIMARY KEY (app, executor_id)
) WITHOUT ROWID;

-- How far each event-log file has been read: decompressed byte offset after the last
-- complete line, and that line's number. `done` once a finished file was read to its end.
CREATE TABLE analytics_files (
    path        TEXT PRIMARY KEY,
    app_id      TEXT,
    offset      INTEGER NOT NULL,
    line        INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    done        INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE analytics_problems (
    path        TEXT NOT NULL,
    line        INTEGER NOT NULL,
    why         TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    PRIMARY KEY (path, line)
);
