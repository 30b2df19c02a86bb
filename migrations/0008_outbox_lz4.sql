-- Outbox bodies are rendered messages of about 2 KB, and every intake writes three or so:
-- compressed with lz4, several times faster than the default pglz, where the server was built
-- with it. A server without lz4 (or older than PostgreSQL 14) keeps pglz; rows written before
-- keep the compression they were written with.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE outbox ALTER COLUMN body SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value OR syntax_error THEN
    RAISE NOTICE 'outbox bodies stay compressed with the default method';
END
$$;
