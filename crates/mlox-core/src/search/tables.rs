//! Attribute tables: the comparators and keys each search endpoint accepts.

/// Comparator sets as MLflow prints them in messages.
pub(super) const METRIC_CMPS: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
pub(super) const PARAM_TAG_CMPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
pub(super) const STRING_ATTR_CMPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
pub(super) const LOGGED_MODEL_NUMERIC_OPS: &[&str] = &["<", "<=", ">", ">=", "=", "!="];
pub(super) const LOGGED_MODEL_STRING_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];

pub(super) const RUN_FILTER_KEYS: &[&str] = &[
    "run_id",
    "run_name",
    "user_id",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "Created",
    "run name",
    "Run name",
    "Run Name",
];
pub(super) const RUN_ORDER_KEYS: &[&str] = &[
    "run_id",
    "run_name",
    "user_id",
    "status",
    "artifact_uri",
    "start_time",
    "end_time",
    "created",
    "Created",
];
pub(super) const DATASET_KEYS: &[&str] = &["name", "digest", "context"];
pub(super) const EXPERIMENT_KEYS: &[&str] =
    &["name", "experiment_id", "creation_time", "last_update_time"];
pub(super) const REGISTERED_MODEL_FILTER_KEYS: &[&str] = &["name"];
pub(super) const REGISTERED_MODEL_ORDER_KEYS_SHOWN: &[&str] = &["name", "timestamp"];
pub(super) const MODEL_VERSION_FILTER_KEYS: &[&str] =
    &["name", "version_number", "run_id", "source_path"];
pub(super) const MODEL_VERSION_ORDER_KEYS: &[&str] = &[
    "name",
    "version_number",
    "creation_timestamp",
    "last_updated_timestamp",
];
pub(super) const MODEL_VERSION_NUMERIC_KEYS: &[&str] = &[
    "creation_timestamp",
    "last_updated_timestamp",
    "version_number",
];
pub(super) const LOGGED_MODEL_KEYS: &[&str] = &[
    "name",
    "model_id",
    "model_type",
    "status",
    "source_run_id",
    "creation_timestamp",
    "creation_time",
    "last_updated_timestamp",
    "last_updated_time",
];

/// Canonical name of a run attribute as used in filters (`None` if unknown).
pub(super) fn canonical_run_attr(key: &str) -> Option<&'static str> {
    Some(match key {
        "run_id" => "run_id",
        "run_name" | "run name" | "Run name" | "Run Name" => "run_name",
        "user_id" => "user_id",
        "status" => "status",
        "artifact_uri" => "artifact_uri",
        "start_time" | "created" | "Created" => "start_time",
        "end_time" => "end_time",
        _ => return None,
    })
}

pub(super) fn is_numeric_run_attr(canonical: &str) -> bool {
    matches!(canonical, "start_time" | "end_time")
}

pub(super) fn canonical_logged_model_attr(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "name",
        "model_id" => "model_id",
        "model_type" => "model_type",
        "status" => "status",
        "source_run_id" => "source_run_id",
        "creation_timestamp" | "creation_time" => "creation_timestamp",
        "last_updated_timestamp" | "last_updated_time" => "last_updated_timestamp",
        _ => return None,
    })
}

pub(super) fn lookup(table: &[&'static str], key: &str) -> Option<&'static str> {
    table.iter().copied().find(|k| *k == key)
}
