-- Only the copy goes: the live table was never changed (apart from the trigger).
DROP TRIGGER user_activities_mirror ON analytics.user_activities;
DROP FUNCTION analytics.user_activities_mirror();
DROP TABLE analytics.user_activities_partitioned;
