ALTER TABLE content.enrollments DROP CONSTRAINT enrollments_last_content_block_id_check;
ALTER TABLE content.enrollments DROP COLUMN last_content_block_id;
