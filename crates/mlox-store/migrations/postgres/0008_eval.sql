-- MLflow 3 GenAI evaluation (issue 15): evaluation datasets with their tags, experiment
-- links and records, and the scorer registry. A record is one JSON document, `inputs_hash`
-- (SHA-256 of its inputs as canonical JSON) deduplicates records of a dataset as MLflow's
-- input hash does. Scorers are serialized payloads the client sends, stored as text.
CREATE TABLE eval_datasets (
    dataset_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    schema_json TEXT,
    profile TEXT,
    digest TEXT NOT NULL,
    created_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    created_by TEXT,
    last_updated_by TEXT
);
CREATE INDEX eval_datasets_by_created ON eval_datasets (created_time, dataset_id);
CREATE INDEX eval_datasets_by_name ON eval_datasets (name);
CREATE TABLE eval_dataset_tags (
    dataset_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (dataset_id, key)
);
CREATE TABLE eval_dataset_experiments (
    dataset_id TEXT NOT NULL,
    experiment_id BIGINT NOT NULL,
    PRIMARY KEY (dataset_id, experiment_id)
);
CREATE INDEX eval_dataset_experiments_by_experiment ON eval_dataset_experiments (experiment_id, dataset_id);
CREATE TABLE eval_dataset_records (
    dataset_record_id TEXT PRIMARY KEY,
    dataset_id TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    created_time BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (dataset_id, inputs_hash)
);
CREATE INDEX eval_dataset_records_by_time ON eval_dataset_records (dataset_id, created_time, dataset_record_id);
CREATE TABLE scorers (
    scorer_id TEXT PRIMARY KEY,
    experiment_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (experiment_id, name)
);
CREATE TABLE scorer_versions (
    scorer_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    serialized_scorer TEXT NOT NULL,
    creation_time BIGINT NOT NULL,
    PRIMARY KEY (scorer_id, version)
);
