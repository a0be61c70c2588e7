-- Ingestion (issue 7): definitions, their runs, the micro-batches and files each run
-- committed, and the table's schema versions. A batch or file replayed by a retry moves to
-- the retry's run (INSERT OR REPLACE on its key), so totals count each exactly once.
CREATE TABLE ingestions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    spec         TEXT    NOT NULL,          -- IngestSpec as JSON
    target_path  TEXT    NOT NULL,
    job_id       INTEGER NOT NULL REFERENCES jobs(id),   -- the hidden job its Spark runs belong to
    paused       INTEGER NOT NULL DEFAULT 0,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    last_fire_ms INTEGER                    -- the last trigger fire handled
);

CREATE TABLE ingest_runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ingestion_id   INTEGER NOT NULL REFERENCES ingestions(id) ON DELETE CASCADE,
    run_id         INTEGER REFERENCES runs(id),
    trigger        TEXT    NOT NULL,
    state          TEXT    NOT NULL,        -- IngestRunState
    started_ms     INTEGER NOT NULL,
    ended_ms       INTEGER,
    schema_version INTEGER,
    message        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ingest_runs_ingestion ON ingest_runs(ingestion_id, id);

CREATE TABLE ingest_batches (
    ingestion_id   INTEGER NOT NULL REFERENCES ingestions(id) ON DELETE CASCADE,
    batch_id       INTEGER NOT NULL,
    ingest_run_id  INTEGER NOT NULL,
    files          INTEGER NOT NULL,
    rows           INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    malformed_rows INTEGER NOT NULL,
    rescued_rows   INTEGER NOT NULL,
    duration_ms    INTEGER NOT NULL,
    PRIMARY KEY (ingestion_id, batch_id)
);
CREATE INDEX ingest_batches_run ON ingest_batches(ingest_run_id);

CREATE TABLE ingest_files (
    ingestion_id  INTEGER NOT NULL REFERENCES ingestions(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    bytes         INTEGER NOT NULL,
    modified_ms   INTEGER NOT NULL,
    batch_id      INTEGER NOT NULL,
    ingest_run_id INTEGER NOT NULL,
    PRIMARY KEY (ingestion_id, path)
);
CREATE INDEX ingest_files_run ON ingest_files(ingest_run_id);

CREATE TABLE ingest_schemas (
    ingestion_id  INTEGER NOT NULL REFERENCES ingestions(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    fields        TEXT    NOT NULL,         -- [SchemaField] as JSON
    created_ms    INTEGER NOT NULL,
    ingest_run_id INTEGER,
    change        TEXT    NOT NULL,
    PRIMARY KEY (ingestion_id, version)
);
