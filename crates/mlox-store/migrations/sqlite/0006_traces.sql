-- MLflow 3 traces (issue 15). A trace's info is one row, tags and metadata are key-value
-- rows indexed by (key, value prefix) for searches, spans are stored as gzip-compressed JSON
-- batches, one row per batch of spans of a trace as it arrived (never one row per span or
-- attribute), and trace_span_names keeps each distinct (name, type, status) of a trace's spans
-- for `span.*` filters.
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    request_time BIGINT NOT NULL,
    execution_duration BIGINT,
    state TEXT NOT NULL,
    client_request_id TEXT,
    request_preview TEXT,
    response_preview TEXT
);
CREATE INDEX traces_by_experiment ON traces (experiment_id, request_time DESC, trace_id);
CREATE TABLE trace_tags (
    trace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trace_id, key)
);
CREATE INDEX trace_tags_by_value ON trace_tags (key, substr(value, 1, 200), trace_id);
CREATE TABLE trace_metadata (
    trace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trace_id, key)
);
CREATE INDEX trace_metadata_by_value ON trace_metadata (key, substr(value, 1, 200), trace_id);
CREATE TABLE trace_spans (
    trace_id TEXT NOT NULL,
    batch BIGINT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (trace_id, batch)
);
CREATE TABLE trace_span_names (
    trace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    span_type TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (trace_id, name, span_type, status)
);
CREATE INDEX trace_span_names_by_name ON trace_span_names (name, trace_id);
CREATE INDEX trace_span_names_by_type ON trace_span_names (span_type, trace_id);
CREATE TABLE trace_runs (
    run_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    PRIMARY KEY (run_id, trace_id)
);
CREATE INDEX trace_runs_by_trace ON trace_runs (trace_id);
CREATE TABLE assessments (
    assessment_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    valid INTEGER NOT NULL,
    value_text TEXT,
    create_time BIGINT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX assessments_by_trace ON assessments (trace_id, create_time);
CREATE INDEX assessments_by_name ON assessments (name, kind, trace_id)
