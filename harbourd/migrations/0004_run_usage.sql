-- What each run's processes used, summed by the metrics sampler: CPU time and peak memory.
ALTER TABLE runs ADD COLUMN cpu_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN peak_rss_bytes INTEGER NOT NULL DEFAULT 0;
