-- Partitioned copy of analytics.user_activities. LIKE ... INCLUDING ALL would copy the primary key on (id)
-- alone, which PostgreSQL refuses on a partitioned table (a unique key must include the partition key), and
-- the identity: the copy keeps the original ids instead.
CREATE TABLE analytics.user_activities_partitioned (
    LIKE analytics.user_activities INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS,
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);

CREATE TABLE analytics.user_activities_2024_q1
    PARTITION OF analytics.user_activities_partitioned FOR VALUES FROM ('2024-01-01') TO ('2024-04-01');
CREATE TABLE analytics.user_activities_2024_q2
    PARTITION OF analytics.user_activities_partitioned FOR VALUES FROM ('2024-04-01') TO ('2024-07-01');
CREATE TABLE analytics.user_activities_2024_q3
    PARTITION OF analytics.user_activities_partitioned FOR VALUES FROM ('2024-07-01') TO ('2024-10-01');
CREATE TABLE analytics.user_activities_2024_q4
    PARTITION OF analytics.user_activities_partitioned FOR VALUES FROM ('2024-10-01') TO ('2025-01-01');
-- Rows outside the quarters above (older history, or dates not yet partitioned) land here instead of failing
-- the copy or the application's inserts. Split them out before attaching a partition for their range.
CREATE TABLE analytics.user_activities_default
    PARTITION OF analytics.user_activities_partitioned DEFAULT;

-- The table is empty and unused until the swap, so a plain index build locks nothing anyone needs.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX user_activities_partitioned_user_id_created_at_idx
    ON analytics.user_activities_partitioned (user_id, created_at);

-- Every write to the live table is repeated on the partitioned copy, in the same transaction.
CREATE FUNCTION analytics.user_activities_mirror() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM analytics.user_activities_partitioned
        WHERE id = OLD.id AND created_at = OLD.created_at;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics.user_activities_partitioned (id, user_id, activity_type, payload, created_at)
        VALUES (NEW.id, NEW.user_id, NEW.activity_type, NEW.payload, NEW.created_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_activities_mirror
    AFTER INSERT OR UPDATE OR DELETE ON analytics.user_activities
    FOR EACH ROW EXECUTE FUNCTION analytics.user_activities_mirror();
