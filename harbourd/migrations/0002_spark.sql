-- Spark (issue 4): the application a pyspark run started, clusters, and SQL tables.

-- SparkAppRef as JSON: cluster, app id, driver UI URL, event log directory.
ALTER TABLE runs ADD COLUMN spark TEXT;

-- Managed and external clusters (`local` is built in and not stored).
CREATE TABLE clusters (
    name          TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,            -- 'standalone-managed' | 'external'
    spec          TEXT,                        -- ClusterSpec as JSON (managed)
    master_url    TEXT    NOT NULL DEFAULT '',
    connect_url   TEXT,
    state         TEXT    NOT NULL,            -- ClusterState as JSON
    state_message TEXT    NOT NULL DEFAULT '',
    ports         TEXT,                        -- the ports a managed cluster was given, JSON
    pids          TEXT,                        -- process groups of its processes, JSON
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL
);

CREATE TABLE sql_tables (
    name       TEXT    PRIMARY KEY,
    spec       TEXT    NOT NULL,               -- TableSpec as JSON
    created_ms INTEGER NOT NULL
);
