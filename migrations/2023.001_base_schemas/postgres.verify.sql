-- Returns the expected tables that are missing (no rows = correct).
SELECT expected.name AS missing_table
FROM (VALUES ('auth.users'), ('auth.sessions'), ('content.courses'), ('content.enrollments'),
             ('analytics.user_activities')) AS expected (name)
WHERE to_regclass(expected.name) IS NULL;
