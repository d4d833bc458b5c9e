//! MLflow's validation limits and messages (`mlflow/utils/validation.py`).
//!
//! Messages that MLflow clients show to users are reproduced verbatim.

use crate::entities::{Metric, Param, Tag};
use crate::error::{MlflowError, Result};

pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
pub const MAX_METRICS_PER_BATCH: usize = 1000;
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
pub const MAX_BATCH_LOG_REQUEST_SIZE: usize = 1_000_000;
pub const MAX_PARAM_VAL_LENGTH: usize = 6000;
pub const MAX_TAG_VAL_LENGTH: usize = 8000;
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
pub const MAX_EXPERIMENT_TAG_KEY_LENGTH: usize = 250;
pub const MAX_EXPERIMENT_TAG_VAL_LENGTH: usize = 20000;
pub const MAX_ENTITY_KEY_LENGTH: usize = 250;
pub const MAX_DATASET_NAME_SIZE: usize = 500;
pub const MAX_DATASET_DIGEST_SIZE: usize = 36;
pub const MAX_DATASET_SCHEMA_SIZE: usize = 1_048_575;
pub const MAX_DATASET_SOURCE_SIZE: usize = 65_535;
pub const MAX_DATASET_PROFILE_SIZE: usize = 16_777_215;
pub const MAX_INPUT_TAG_KEY_SIZE: usize = 255;
pub const MAX_INPUT_TAG_VALUE_SIZE: usize = 500;
pub const SEARCH_MAX_RESULTS_DEFAULT: i64 = 1000;
pub const SEARCH_MAX_RESULTS_THRESHOLD: i64 = 50000;

/// A string as Python's `json.dumps` writes it (ASCII only), as MLflow formats values
/// inside messages.
pub fn py_json_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as Python's `repr` writes it (`1.0`, `0.5`, `1e-05`, `inf`, `nan`).
pub fn py_float_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        let s = format!("{v:e}");
        return match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        };
    }
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

pub fn invalid_value(path: &str, value: &str, message: &str) -> MlflowError {
    invalid_raw_value(path, &py_json_str(value), message)
}

/// Like [`invalid_value`] for a value already rendered as JSON (numbers are unquoted).
pub fn invalid_raw_value(path: &str, rendered: &str, message: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid value {rendered} for parameter '{path}' supplied: {message}"
    ))
}

pub fn missing_value(path: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Missing value for required parameter '{path}'. See the API docs for more information about request parameters."
    ))
}

pub fn exceeds_maximum_length(path: &str, limit: usize) -> MlflowError {
    MlflowError::invalid(format!(
        "'{path}' exceeds the maximum length of {limit} characters"
    ))
}

const BAD_CHARACTER_MESSAGE: &str = "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).";

fn has_valid_characters(name: &str) -> bool {
    // Python's `\w` is Unicode-aware: letters, digits and underscore of any script.
    name.chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':'))
}

/// `posixpath.normpath` for the subset of behaviour MLflow relies on.
pub fn posix_normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let leading = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if leading == 0 && (parts.is_empty() || parts.last() == Some(&"..")) {
                    parts.push("..");
                } else if !parts.is_empty() {
                    parts.pop();
                }
            }
            c => parts.push(c),
        }
    }
    let mut out = "/".repeat(leading);
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        ".".to_string()
    } else {
        out
    }
}

fn path_not_unique(name: &str) -> bool {
    if !name.contains('/') {
        // One path component: it normalizes to itself unless it is empty, "." or "..".
        return name.is_empty() || name == "." || name.starts_with("..");
    }
    let norm = posix_normpath(name);
    norm != name || norm == "." || norm.starts_with("..") || norm.starts_with('/')
}

fn bad_path_message(name: &str) -> String {
    format!(
        "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{}'",
        posix_normpath(name)
    )
}

/// Checks a metric, param or tag key: characters and path safety.
pub fn validate_key(key: &str, path: &str) -> Result<()> {
    check_key(key, &|_| path.to_string(), "")
}

/// [`validate_key`], naming the field `path(field)` only when the key fails.
fn check_key(key: &str, path: FieldPath, field: &str) -> Result<()> {
    if !has_valid_characters(key) {
        return Err(invalid_value(&path(field), key, BAD_CHARACTER_MESSAGE));
    }
    if path_not_unique(key) {
        return Err(invalid_value(&path(field), key, &bad_path_message(key)));
    }
    Ok(())
}

fn join_path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

fn check_len(entity: &str, limit: usize, value: &str) -> Result<()> {
    // A string has at most as many characters as bytes.
    if value.len() > limit && value.chars().count() > limit {
        return Err(exceeds_maximum_length(entity, limit));
    }
    Ok(())
}

/// Cuts a value to `limit` characters, as MLflow does with `MLFLOW_TRUNCATE_LONG_VALUES` (default on).
fn truncate(value: &mut String, limit: usize) {
    if let Some((idx, _)) = value.char_indices().nth(limit) {
        value.truncate(idx);
    }
}

pub fn validate_metric(m: &Metric, path: &str) -> Result<()> {
    check_metric(m, &|field| join_path(path, field))
}

pub fn validate_param(p: &mut Param, path: &str) -> Result<()> {
    check_param(p, &|field| join_path(path, field))
}

pub fn validate_tag(t: &mut Tag, path: &str) -> Result<()> {
    check_tag(t, &|field| join_path(path, field))
}

/// The checks behind `validate_*`: `path(field)` names the field in an error message and
/// is only called to build one, so a valid entity costs no allocation.
type FieldPath<'a> = &'a dyn Fn(&str) -> String;

fn check_metric(m: &Metric, path: FieldPath) -> Result<()> {
    check_key(&m.key, path, "name")?;
    if m.timestamp < 0 {
        return Err(invalid_raw_value(
            &path("timestamp"),
            &m.timestamp.to_string(),
            &format!(
                "metric '{}' (value={}). Timestamp must be a nonnegative long (64-bit integer) ",
                m.key,
                py_float_repr(m.value)
            ),
        ));
    }
    check_len("Metric name", MAX_ENTITY_KEY_LENGTH, &m.key)
}

fn check_param(p: &mut Param, path: FieldPath) -> Result<()> {
    check_key(&p.key, path, "key")?;
    check_len("Param key", MAX_ENTITY_KEY_LENGTH, &p.key)?;
    truncate(&mut p.value, MAX_PARAM_VAL_LENGTH);
    Ok(())
}

fn check_tag(t: &mut Tag, path: FieldPath) -> Result<()> {
    check_key(&t.key, path, "key")?;
    if t.key.len() > MAX_ENTITY_KEY_LENGTH {
        check_len(&path("key"), MAX_ENTITY_KEY_LENGTH, &t.key)?;
    }
    truncate(&mut t.value, MAX_TAG_VAL_LENGTH);
    Ok(())
}

fn batch_limit(entity: &str, limit: usize, len: usize) -> Result<()> {
    if len > limit {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most {limit} {entity}. Got {len} {entity}. Please split up {entity} across multiple requests and try again."
        )));
    }
    Ok(())
}

/// Validates a log-batch request, truncating long param and tag values as MLflow does.
pub fn validate_batch(metrics: &[Metric], params: &mut [Param], tags: &mut [Tag]) -> Result<()> {
    validate_entities(metrics, params, tags, false)
}

/// Validates logged entities; `single` names fields as the single-entity endpoints do
/// (`name`, `key`) rather than as log-batch does (`metrics[0].name`, `params[0].key`).
pub fn validate_entities(
    metrics: &[Metric],
    params: &mut [Param],
    tags: &mut [Tag],
    single: bool,
) -> Result<()> {
    let path = |kind: &str, i: usize, field: &str| {
        if single {
            field.to_string()
        } else {
            format!("{kind}[{i}].{field}")
        }
    };
    batch_limit("metrics", MAX_METRICS_PER_BATCH, metrics.len())?;
    batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, params.len())?;
    batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, tags.len())?;
    batch_limit(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        metrics.len() + params.len() + tags.len(),
    )?;
    for (i, m) in metrics.iter().enumerate() {
        check_metric(m, &|f| path("metrics", i, f))?;
    }
    for (i, p) in params.iter_mut().enumerate() {
        check_param(p, &|f| path("params", i, f))?;
    }
    for (i, t) in tags.iter_mut().enumerate() {
        check_tag(t, &|f| path("tags", i, f))?;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut dupes = std::collections::BTreeSet::new();
    for p in params.iter() {
        if !seen.insert(p.key.as_str()) {
            dupes.insert(p.key.as_str());
        }
    }
    if !dupes.is_empty() {
        let list: Vec<String> = dupes.iter().map(|k| format!("'{k}'")).collect();
        return Err(MlflowError::invalid(format!(
            "Duplicate parameter keys have been submitted: [{}]. Please ensure the request contains only one param value per param key.",
            list.join(", ")
        )));
    }
    Ok(())
}

pub fn validate_experiment_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(MlflowError::invalid(format!(
            "Invalid experiment name: '{name}'"
        )));
    }
    check_len("name", MAX_EXPERIMENT_NAME_LENGTH, name)
}

pub fn validate_experiment_tag(key: &str, value: &str) -> Result<()> {
    validate_key(key, "key")?;
    check_len("key", MAX_EXPERIMENT_TAG_KEY_LENGTH, key)?;
    check_len("value", MAX_EXPERIMENT_TAG_VAL_LENGTH, value)
}

/// Checks a `max_results` argument of the run and experiment searches.
pub fn validate_search_max_results(max_results: i64) -> Result<()> {
    if max_results <= 0 {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer"
        )));
    }
    if max_results > SEARCH_MAX_RESULTS_THRESHOLD {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be at most {SEARCH_MAX_RESULTS_THRESHOLD}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_matches_python() {
        for (input, expect) in [
            ("a/b", "a/b"),
            ("a//b", "a/b"),
            ("a/./b", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/a/../..", "/"),
            ("a/", "a"),
            ("", "."),
            (".", "."),
            ("//a", "//a"),
        ] {
            assert_eq!(posix_normpath(input), expect, "{input}");
        }
    }

    #[test]
    fn python_renderings() {
        assert_eq!(py_json_str("é*"), "\"\\u00e9*\"");
        assert_eq!(py_json_str("tab\tkey"), "\"tab\\tkey\"");
        assert_eq!(py_json_str("dq\""), "\"dq\\\"\"");
        assert_eq!(py_json_str("😀"), "\"\\ud83d\\ude00\"");
        for (v, expect) in [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (-2.0, "-2.0"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(py_float_repr(v), expect);
        }
    }

    #[test]
    fn keys() {
        assert!(validate_key("loss", "key").is_ok());
        assert!(validate_key("a b/c:d-e.f_g", "key").is_ok());
        assert!(validate_key("größe", "key").is_ok());
        let err = validate_key("a;DROP TABLE runs", "key").unwrap_err();
        assert!(err.message.starts_with("Invalid value \"a;DROP TABLE runs\" for parameter 'key' supplied: Names may only contain"), "{}", err.message);
        assert!(validate_key("../x", "key").is_err());
        assert!(validate_key("a/", "key").is_err());
        assert!(validate_key("/a", "key").is_err());
        assert!(validate_key(".", "key").is_err());
    }

    #[test]
    fn batch_limits_and_truncation() {
        let mut params: Vec<Param> = (0..101).map(|i| Tag::new(format!("p{i}"), "v")).collect();
        let err = validate_batch(&[], &mut params, &mut []).unwrap_err();
        assert_eq!(err.message, "A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.");
        let mut params = vec![Tag::new("p", "x".repeat(7000))];
        validate_batch(&[], &mut params, &mut []).unwrap();
        assert_eq!(params[0].value.len(), MAX_PARAM_VAL_LENGTH);
        let mut dup = vec![Tag::new("a", "1"), Tag::new("a", "2")];
        assert!(validate_batch(&[], &mut dup, &mut [])
            .unwrap_err()
            .message
            .contains("['a']"));
    }
}
