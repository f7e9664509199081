-- Sample rows, inserted only into empty tables (prints "seeded" when it inserted them).
WITH users AS (
    INSERT INTO auth.users (email, password_hash)
    SELECT format('user%s@example.invalid', g), 'x'
    FROM generate_series(1, 200) AS g
    WHERE NOT EXISTS (SELECT 1 FROM auth.users)
    RETURNING id
), courses AS (
    INSERT INTO content.courses (slug, title, instructor_id, duration_interval)
    SELECT format('course-%s', u.id), format('Course %s', u.id), u.id, make_interval(mins => (u.id * 7)::int)
    FROM users AS u
    RETURNING id
), activities AS (
    INSERT INTO analytics.user_activities (user_id, activity_type, created_at)
    SELECT u.id, 'lesson_viewed', timestamptz '2023-12-01' + g * interval '13 hours'
    FROM users AS u CROSS JOIN generate_series(1, 10) AS g
    RETURNING id
)
SELECT CASE WHEN (SELECT count(*) FROM courses) > 0 THEN 'seeded' ELSE 'already seeded' END
FROM (SELECT count(*) FROM activities) AS done;
