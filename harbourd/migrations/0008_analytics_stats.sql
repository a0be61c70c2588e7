-- Spark event-log analytics at scale (issue 8). Stage attempts keep a histogram of their
-- successful tasks' durations, grown as task rows are written (harbourd/src/analytics/
-- sketch.rs), so a query reads each stage's task-time figures instead of sorting its tasks.
ALTER TABLE analytics_stages ADD COLUMN task_ms_hist BLOB;
-- Stages written before have no histogram: built once from their task rows
-- (`stats_dirty`), the next time their application is asked for.
UPDATE analytics_stages SET stats_dirty = 1 WHERE succeeded > 0;

-- Tasks are looked up by stage only for the failed and killed attempts a job lists; every
-- successful task row no longer pays for an index entry.
DROP INDEX analytics_tasks_stage;
CREATE INDEX analytics_tasks_failed ON analytics_tasks(app, stage_id, stage_attempt)
    WHERE status != 'SUCCESS';
