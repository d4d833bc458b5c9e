-- Online scoring configurations of registered scorers (MLflow's online_scoring_configs):
-- at most one per scorer, replaced by each upsert; mlox stores them and never runs them.
CREATE TABLE online_scoring_configs (
    online_scoring_config_id TEXT PRIMARY KEY,
    scorer_id TEXT NOT NULL,
    sample_rate DOUBLE PRECISION NOT NULL,
    experiment_id BIGINT NOT NULL,
    filter_string TEXT
);
CREATE INDEX online_scoring_configs_by_scorer ON online_scoring_configs (scorer_id);
