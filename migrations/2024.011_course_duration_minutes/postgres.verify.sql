-- Rows whose minutes are missing or disagree with the interval (no rows = the backfill is complete and right).
SELECT id, duration_interval, duration_minutes
FROM content.courses
WHERE duration_minutes IS DISTINCT FROM round(extract(epoch FROM duration_interval) / 60)::integer
ORDER BY id
LIMIT 10;
