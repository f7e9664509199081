-- Contract step: every row now has duration_minutes (2024.011's backfill and its verification).
-- VALIDATE scans the table under SHARE UPDATE EXCLUSIVE: reads and writes go on during the scan.
ALTER TABLE content.courses VALIDATE CONSTRAINT courses_duration_minutes_not_null;

-- With a validated CHECK (duration_minutes IS NOT NULL) PostgreSQL sets NOT NULL without scanning the table again,
-- so the ACCESS EXCLUSIVE lock this needs is held only for a moment.
-- squawk-ignore adding-not-nullable-field
ALTER TABLE content.courses ALTER COLUMN duration_minutes SET NOT NULL;

-- The NOT NULL constraint now says the same thing.
-- squawk-ignore ban-drop-constraint
ALTER TABLE content.courses DROP CONSTRAINT courses_duration_minutes_not_null;
