-- The index lives in schema auth (an unqualified name would look for it on the search_path).
DROP INDEX CONCURRENTLY IF EXISTS auth.idx_users_verification_token;
ALTER TABLE auth.users DROP COLUMN IF EXISTS email_verification_token;
