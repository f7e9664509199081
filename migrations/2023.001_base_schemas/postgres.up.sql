-- The platform's three schemas and the tables the later sets change.
-- The whole file runs in one transaction: it is applied completely or not at all.

CREATE SCHEMA auth;
CREATE SCHEMA content;
CREATE SCHEMA analytics;

CREATE TABLE auth.users (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             text        NOT NULL,
    password_hash     text        NOT NULL,
    display_name      text,
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE auth.sessions (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    bigint      NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE content.courses (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug              text        NOT NULL,
    title             text        NOT NULL,
    instructor_id     bigint      NOT NULL REFERENCES auth.users (id),
    -- Replaced by duration_minutes (sets 2024.011 and 2024.012); dropped by a later contract set.
    duration_interval interval    NOT NULL,
    published_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT courses_slug_key UNIQUE (slug)
);

CREATE TABLE content.enrollments (
    user_id     bigint      NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    course_id   bigint      NOT NULL REFERENCES content.courses (id) ON DELETE CASCADE,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, course_id)
);

CREATE TABLE analytics.user_activities (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint      NOT NULL,
    activity_type text        NOT NULL,
    payload       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- These tables are created empty by this same transaction, so a plain CREATE INDEX locks nothing anyone uses.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX sessions_user_id_idx ON auth.sessions (user_id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX courses_instructor_id_idx ON content.courses (instructor_id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX enrollments_course_id_idx ON content.enrollments (course_id);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX user_activities_user_id_created_at_idx ON analytics.user_activities (user_id, created_at);
