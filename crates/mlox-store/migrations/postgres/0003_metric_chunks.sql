-- Metric points without a model or dataset, packed: one row holds many points of one
-- (run, key), 24 bytes each (see src/chunks.rs). `metrics` keeps the points that name a
-- model or dataset, and every point logged before this migration.
CREATE TABLE metric_chunks (
    chunk_id BIGSERIAL PRIMARY KEY,
    run_uuid TEXT NOT NULL,
    key TEXT NOT NULL,
    min_step BIGINT NOT NULL,
    max_step BIGINT NOT NULL,
    n BIGINT NOT NULL,
    points BYTEA NOT NULL
);
CREATE INDEX metric_chunks_by_run ON metric_chunks (run_uuid, key, chunk_id);
