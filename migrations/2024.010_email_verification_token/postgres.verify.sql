-- No rows when the column exists and its index is valid (a failed CONCURRENTLY build leaves it invalid).
SELECT 'index auth.idx_users_verification_token is missing or invalid' AS problem
WHERE NOT EXISTS (
    SELECT 1
    FROM pg_index AS i
    WHERE i.indexrelid = to_regclass('auth.idx_users_verification_token')
      AND i.indisvalid
)
UNION ALL
SELECT 'column auth.users.email_verification_token is missing'
WHERE NOT EXISTS (
    SELECT 1
    FROM information_schema.columns
    WHERE table_schema = 'auth' AND table_name = 'users' AND column_name = 'email_verification_token'
);
