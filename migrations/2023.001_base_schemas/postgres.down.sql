-- Inverse of postgres.up.sql: the three schemas and everything in them.
DROP TABLE analytics.user_activities;
DROP TABLE content.enrollments;
DROP TABLE content.courses;
DROP TABLE auth.sessions;
DROP TABLE auth.users;
DROP SCHEMA analytics;
DROP SCHEMA content;
DROP SCHEMA auth;
