-- The _id (24 hex digits) of the content_blocks document (MongoDB, set 2024.002) the learner last opened.
ALTER TABLE content.enrollments ADD COLUMN last_content_block_id text;

-- NOT VALID: no scan of existing rows under the lock (they are all NULL here); new rows are checked.
ALTER TABLE content.enrollments
    ADD CONSTRAINT enrollments_last_content_block_id_check
    CHECK (last_content_block_id ~ '^[0-9a-f]{24}$') NOT VALID;

COMMENT ON COLUMN content.enrollments.last_content_block_id IS
    'MongoDB content_blocks._id (hex) of the block the learner last opened';
