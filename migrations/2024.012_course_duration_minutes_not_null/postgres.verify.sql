SELECT 'content.courses.duration_minutes is still nullable' AS problem
FROM information_schema.columns
WHERE table_schema = 'content' AND table_name = 'courses' AND column_name = 'duration_minutes'
  AND is_nullable = 'YES';
