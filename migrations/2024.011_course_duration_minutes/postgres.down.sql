DROP TRIGGER courses_sync_duration_minutes ON content.courses;
DROP FUNCTION content.courses_sync_duration_minutes();
ALTER TABLE content.courses DROP CONSTRAINT courses_duration_minutes_not_null;
ALTER TABLE content.courses DROP COLUMN duration_minutes;
