-- No rows when the column exists with its check constraint.
SELECT 'missing column or constraint'
WHERE NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'enrollments_last_content_block_id_check')
   OR NOT EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = 'content' AND table_name = 'enrollments'
                    AND column_name = 'last_content_block_id');
