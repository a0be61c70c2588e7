-- Monitoring (issue 6): metric history in tiers, and health check transitions.
-- Self-contained: it depends on no table of another migration.

-- A series is a name like `cpu`, `cpu.3`, `mem.used`, `net.eth0.rx`.
CREATE TABLE metric_series (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- One point of one series in one tier (0 = every sample, then coarser means). The key puts
-- a series' points of a tier together in time order, so a window is one range scan and
-- retention one range delete. Values are the sample (tier 0) or the mean of a step.
CREATE TABLE metric_points (
    series INTEGER NOT NULL,
    tier   INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL,
    value  REAL    NOT NULL,
    PRIMARY KEY (series, tier, at_ms)
) WITHOUT ROWID;

CREATE TABLE health_transitions (
    id         INTEGER PRIMARY KEY,
    check_name TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    message    TEXT    NOT NULL,
    latency_ms INTEGER
);
CREATE INDEX health_transitions_by_check ON health_transitions (check_name, at_ms);
