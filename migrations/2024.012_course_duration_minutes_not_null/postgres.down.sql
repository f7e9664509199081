-- Back to 2024.011's state: nullable column guarded by a NOT VALID check constraint.
ALTER TABLE content.courses ALTER COLUMN duration_minutes DROP NOT NULL;
ALTER TABLE content.courses
    ADD CONSTRAINT courses_duration_minutes_not_null CHECK (duration_minutes IS NOT NULL) NOT VALID;
