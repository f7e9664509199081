-- Rows that differ between the live table and its partitioned copy (no rows = the copy is complete and exact).
(
    SELECT 'missing from analytics.user_activities_partitioned' AS problem, id, created_at
    FROM (
        SELECT * FROM analytics.user_activities
        EXCEPT
        SELECT * FROM analytics.user_activities_partitioned
    ) AS missing
    UNION ALL
    SELECT 'not in analytics.user_activities' AS problem, id, created_at
    FROM (
        SELECT * FROM analytics.user_activities_partitioned
        EXCEPT
        SELECT * FROM analytics.user_activities
    ) AS extra
)
ORDER BY id
LIMIT 10;
