-- Expand step of the interval -> minutes conversion. The application keeps writing duration_interval until the
-- contract set drops it; the trigger derives duration_minutes for every row it writes meanwhile, and the
-- backfill declared in migration.yml fills the existing rows in batches after this file has run.

ALTER TABLE content.courses ADD COLUMN duration_minutes integer;

CREATE FUNCTION content.courses_sync_duration_minutes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.duration_minutes IS NULL
       OR (TG_OP = 'UPDATE' AND NEW.duration_interval IS DISTINCT FROM OLD.duration_interval) THEN
        NEW.duration_minutes := round(extract(epoch FROM NEW.duration_interval) / 60)::integer;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER courses_sync_duration_minutes
    BEFORE INSERT OR UPDATE ON content.courses
    FOR EACH ROW EXECUTE FUNCTION content.courses_sync_duration_minutes();

-- NOT VALID: checked for every row written from now on (the trigger guarantees it holds), without scanning the
-- existing rows under an ACCESS EXCLUSIVE lock. 2024.012 validates it once the backfill is done.
ALTER TABLE content.courses
    ADD CONSTRAINT courses_duration_minutes_not_null CHECK (duration_minutes IS NOT NULL) NOT VALID;
