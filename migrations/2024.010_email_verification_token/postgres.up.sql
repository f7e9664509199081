-- Zero-downtime column addition. A nullable column without a default is a catalog-only change.
-- The engine runs the ALTER in a transaction of its own and the CONCURRENTLY build outside any transaction,
-- so the table stays writable while the index is built; a rerun after a crash does not repeat the ALTER.
ALTER TABLE auth.users ADD COLUMN IF NOT EXISTS email_verification_token text;

-- Only users with a pending verification have a token: a partial index stays small.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_verification_token
    ON auth.users (email_verification_token)
    WHERE email_verification_token IS NOT NULL;
