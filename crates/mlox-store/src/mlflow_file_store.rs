//! `mlox import ./mlruns`: reads an MLflow file store (the folder layout of MLflow's
//! `FileStore` and file-based model registry) into a temporary MLflow tracking database
//! at MLflow 3.17's schema head, which `mlflow_import` then imports like any other: one
//! mapping from MLflow's tables to mlox's, whatever the source.
//!
//! The layout, as MLflow 3.17 writes it (`mlflow/store/tracking/file_store.py`,
//! `mlflow/store/model_registry/file_store.py`), and where each part goes:
//!
//! - `<exp>/meta.yaml`, `<exp>/tags/<key>` (deleted experiments under `.trash/<exp>`):
//!   `experiments`, `experiment_tags`.
//! - `<exp>/<run>/meta.yaml` (status and source type as MLflow's enum numbers),
//!   `params/<key>`, `tags/<key>` (keys with `/` are nested folders), `metrics/<key>`
//!   (a line per point: `timestamp value [step]`, or `timestamp value step dataset_name
//!   dataset_digest` for a point logged with a dataset): `runs`, `params`, `tags`,
//!   `metrics` and `latest_metrics` (the latest point as MLflow's file store picks it:
//!   largest step, then timestamp, then value). Values are stored as MLflow's SQL store
//!   stores them: NaN as 0 with the flag, infinities as the largest doubles.
//! - `<exp>/datasets/<id>/meta.yaml`, `<exp>/<run>/inputs/<id>/meta.yaml` (a dataset or a
//!   model input, with input tags), `<exp>/<run>/outputs/<model>/meta.yaml`: `datasets`,
//!   `inputs`, `input_tags`. The file store has no dataset or input UUIDs; they are
//!   derived from the experiment, run and folder names, so a rerun gives the same ones.
//! - `<exp>/models/<model_id>/` (`meta.yaml`, `params/`, `tags/`, `metrics/` with lines
//!   `timestamp value step run_id [dataset_name dataset_digest]`): `logged_models` and
//!   their params, tags and metrics.
//! - `<exp>/traces/<trace_id>/` (`trace_info.yaml` of trace schema v2 or v3, `tags/`,
//!   `request_metadata/`, `assessments/<id>.yaml`, spans in `artifacts/traces.json` or
//!   wherever the trace's `mlflow.artifactLocation` tag points when that is a local
//!   folder): `trace_info`, `trace_tags`, `trace_request_metadata`, `spans` (MLflow's span
//!   JSON, as its SQL store keeps it) and `assessments`.
//! - `models/<name>/` (`meta.yaml`, `tags/`, `aliases/<alias>` holding a version number,
//!   `version-<n>/meta.yaml` and `tags/`): the registry tables (prompts are registered
//!   models with prompt tags, so they come along).
//!
//! Artifacts stay where they are: runs keep their `artifact_uri`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mlox_core::{MlflowError, Result};
use serde_json::Value;
use sha2::{Digest, Sha256};
use yaml_rust2::{Yaml, YamlLoader};

use crate::db::SqlValue as Sql;
use crate::mlflow_export::{MLFLOW_HEAD_REVISION, SQLITE_SCHEMA};

/// The folder of an MLflow file store named by `source` (`./mlruns`, `/abs/mlruns`,
/// `file:///abs/mlruns`), or `None` when `source` is a database URI.
pub(crate) fn file_store_root(source: &str) -> Option<PathBuf> {
    if let Some(rest) = source.strip_prefix("file://") {
        // file:///abs/path, or file:/abs/path as Python's Path.as_uri() never writes
        // but MLflow accepts.
        return Some(PathBuf::from(rest));
    }
    if let Some(rest) = source.strip_prefix("file:") {
        return Some(PathBuf::from(rest));
    }
    if source.contains("://") {
        return None;
    }
    Some(PathBuf::from(source))
}

fn invalid(msg: impl Into<String>) -> MlflowError {
    MlflowError::invalid(msg.into())
}

fn io(path: &Path, e: std::io::Error) -> MlflowError {
    MlflowError::invalid(format!("reading {}: {e}", path.display()))
}

fn sql(e: rusqlite::Error) -> MlflowError {
    MlflowError::internal(format!("writing the temporary MLflow database: {e}"))
}

/// The path under the artifact destination of an `mlflow-artifacts:` URI
/// (`mlflow-artifacts:/1/traces/…`, or `mlflow-artifacts://host/1/…`), or `None` for
/// another scheme.
fn proxied_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(rest.trim_start_matches('/'))
}

/// What the conversion found, for the import's notes.
#[derive(Debug, Default)]
pub(crate) struct Converted {
    pub notes: Vec<String>,
}

/// Writes the MLflow file store at `root` into a new SQLite database at `dst` (MLflow's
/// schema, stamped at its head revision). `artifacts_source` is the folder an MLflow
/// server served proxied artifacts from (its `--artifacts-destination`): the spans of
/// traces whose artifact location is `mlflow-artifacts:/…` are read there.
pub(crate) fn convert(
    root: &Path,
    dst: &Path,
    artifacts_source: Option<&Path>,
) -> Result<Converted> {
    let root = if root.join("mlruns").is_dir() && !root.join("0").is_dir() {
        root.join("mlruns")
    } else {
        root.to_path_buf()
    };
    if !root.is_dir() {
        return Err(invalid(format!(
            "{} is neither an MLflow database URI nor a folder (an MLflow file store such as ./mlruns)",
            root.display()
        )));
    }
    let experiments = experiment_dirs(&root)?;
    if experiments.is_empty() && !root.join("models").is_dir() {
        return Err(invalid(format!(
            "{} is not an MLflow file store: it has no experiment folders (numbered, with a meta.yaml) and no models folder",
            root.display()
        )));
    }
    let conn = rusqlite::Connection::open(dst).map_err(sql)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN",
    )
    .map_err(sql)?;
    conn.execute_batch(SQLITE_SCHEMA).map_err(sql)?;
    // Two departures from MLflow's tables, both read by `mlflow_import` as it reads
    // older revisions: the file store keeps a trace's name, session, token usage and
    // cost as the tags and metadata entries MLflow answers with, so `trace_info` is
    // given without the columns MLflow 3.17 promoted them into (the entries are then
    // copied as they are); and its model versions record their logged model, which
    // MLflow's `model_versions` has no column for.
    conn.execute_batch(
        "DROP TABLE trace_info;
         CREATE TABLE trace_info (request_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, timestamp_ms BIGINT NOT NULL, execution_time_ms BIGINT, status TEXT NOT NULL, client_request_id TEXT, request_preview TEXT, response_preview TEXT);
         ALTER TABLE model_versions ADD COLUMN model_id TEXT;",
    )
    .map_err(sql)?;
    let mut w = Writer {
        conn,
        out: Converted::default(),
        artifacts_source: artifacts_source.map(Path::to_path_buf),
    };
    w.put(
        "INSERT INTO alembic_version (version_num) VALUES (?)",
        vec![MLFLOW_HEAD_REVISION.into()],
    )?;
    for (dir, id) in &experiments {
        w.experiment(dir, *id)?;
    }
    w.registry(&root.join("models"))?;
    w.conn.execute_batch("COMMIT").map_err(sql)?;
    Ok(w.out)
}

/// The experiment folders (numbered, with a meta.yaml), active and in `.trash`.
fn experiment_dirs(root: &Path) -> Result<Vec<(PathBuf, i64)>> {
    let mut out = Vec::new();
    for parent in [root.to_path_buf(), root.join(".trash")] {
        for name in subdirs(&parent)? {
            if let Ok(id) = name.parse::<i64>() {
                let dir = parent.join(&name);
                if dir.join("meta.yaml").is_file() {
                    out.push((dir, id));
                }
            }
        }
    }
    Ok(out)
}

/// The names of the folders in `dir`, sorted (none when `dir` does not exist).
fn subdirs(dir: &Path) -> Result<Vec<String>> {
    entries(dir, true)
}

fn files(dir: &Path) -> Result<Vec<String>> {
    entries(dir, false)
}

fn entries(dir: &Path, dirs: bool) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir, e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| io(dir, e))?;
        let is_dir = e.file_type().map_err(|err| io(&e.path(), err))?.is_dir();
        if is_dir == dirs {
            if let Some(n) = e.file_name().to_str() {
                out.push(n.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every file under `dir` as (key, content), the key its path below `dir` with `/`
/// (MLflow keeps a tag or param named `a/b` as the file `b` in the folder `a`).
fn key_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> Result<()> {
    for name in files(dir)? {
        let path = dir.join(&name);
        let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
        out.push((format!("{prefix}{name}"), text));
    }
    for name in subdirs(dir)? {
        walk(&dir.join(&name), &format!("{prefix}{name}/"), out)?;
    }
    Ok(())
}

/// A YAML file's top-level mapping (an empty one when the file is missing or empty).
fn read_yaml(path: &Path) -> Result<Yaml> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Yaml::Null),
        Err(e) => return Err(io(path, e)),
    };
    let docs = YamlLoader::load_from_str(&text)
        .map_err(|e| invalid(format!("{} is not valid YAML: {e}", path.display())))?;
    Ok(docs.into_iter().next().unwrap_or(Yaml::Null))
}

/// A scalar as text, as Python's `str()` of what PyYAML loaded would be for the fields
/// MLflow writes (strings, numbers); `None` for null or a missing key.
fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(if *b { "True" } else { "False" }.into()),
        _ => None,
    }
}

fn int(y: &Yaml) -> Option<i64> {
    match y {
        Yaml::Integer(i) => Some(*i),
        Yaml::String(s) => s.trim().parse().ok(),
        Yaml::Real(s) => s.parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

fn opt_text(y: &Yaml) -> Sql {
    text(y).map(Sql::Text).unwrap_or(Sql::Null)
}

fn opt_int(y: &Yaml) -> Sql {
    int(y).map(Sql::Int).unwrap_or(Sql::Null)
}

/// A YAML value as JSON (for assessment values, errors and metadata).
fn json(y: &Yaml) -> Value {
    match y {
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .filter_map(|(k, v)| Some((text(k)?, json(v))))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// A timestamp MLflow wrote as RFC 3339 text (trace v3, assessments) or as milliseconds.
fn millis(y: &Yaml) -> Option<i64> {
    if let Some(i) = int(y) {
        return Some(i);
    }
    let s = text(y)?;
    let s = s.trim_end_matches('Z');
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// A stable 32-hex-digit id for something the file store keeps no id of.
fn derived_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// MLflow's `RunStatus` numbers (`mlflow/protos/service.proto`).
fn run_status(y: &Yaml) -> String {
    match y {
        Yaml::Integer(1) => "RUNNING".into(),
        Yaml::Integer(2) => "SCHEDULED".into(),
        Yaml::Integer(3) => "FINISHED".into(),
        Yaml::Integer(4) => "FAILED".into(),
        Yaml::Integer(5) => "KILLED".into(),
        Yaml::String(s) => s.clone(),
        _ => "RUNNING".into(),
    }
}

/// MLflow's `SourceType` numbers.
fn source_type(y: &Yaml) -> String {
    match y {
        Yaml::Integer(1) => "NOTEBOOK".into(),
        Yaml::Integer(2) => "JOB".into(),
        Yaml::Integer(3) => "PROJECT".into(),
        Yaml::Integer(4) => "LOCAL".into(),
        Yaml::String(s) => s.clone(),
        _ => "UNKNOWN".into(),
    }
}

/// A metric value as MLflow's SQL store keeps it: (value, is_nan).
fn stored_value(v: f64) -> (f64, bool) {
    if v.is_nan() {
        (0.0, true)
    } else {
        (v.clamp(f64::MIN, f64::MAX), false)
    }
}

/// Python's `float()` of a metric field (`nan`, `inf`, `-inf` included).
fn parse_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" | "-nan" => Some(f64::NAN),
        "inf" | "infinity" | "+inf" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

struct Writer {
    conn: rusqlite::Connection,
    /// Where `mlflow-artifacts:/…` locations are read (see [`convert`]).
    artifacts_source: Option<PathBuf>,
    out: Converted,
}

impl Writer {
    fn put(&self, statement: &str, row: Vec<Sql>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(statement).map_err(sql)?;
        stmt.execute(rusqlite::params_from_iter(row)).map_err(sql)?;
        Ok(())
    }

    fn experiment(&mut self, dir: &Path, id: i64) -> Result<()> {
        let meta = read_yaml(&dir.join("meta.yaml"))?;
        let in_trash = dir
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == ".trash");
        let stage = text(&meta["lifecycle_stage"])
            .unwrap_or_else(|| if in_trash { "deleted" } else { "active" }.into());
        self.put(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                text(&meta["name"]).unwrap_or_else(|| format!("experiment_{id}")).into(),
                opt_text(&meta["artifact_location"]),
                stage.into(),
                opt_int(&meta["creation_time"]),
                opt_int(&meta["last_update_time"]),
            ],
        )?;
        for (k, v) in key_files(&dir.join("tags"))? {
            self.put(
                "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)",
                vec![k.into(), v.into(), id.into()],
            )?;
        }
        // Datasets first: inputs name them by their folder.
        let mut datasets: HashMap<String, String> = HashMap::new();
        let ds_root = dir.join("datasets");
        for name in subdirs(&ds_root)? {
            let meta = read_yaml(&ds_root.join(&name).join("meta.yaml"))?;
            if meta.is_null() {
                continue;
            }
            let uuid = text(&meta["dataset_uuid"])
                .unwrap_or_else(|| derived_id(&["dataset", &id.to_string(), &name]));
            self.put(
                "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    uuid.clone().into(),
                    id.into(),
                    text(&meta["name"]).unwrap_or_default().into(),
                    text(&meta["digest"]).unwrap_or_default().into(),
                    text(&meta["source_type"]).unwrap_or_default().into(),
                    text(&meta["source"]).unwrap_or_default().into(),
                    opt_text(&meta["schema"]),
                    opt_text(&meta["profile"]),
                ],
            )?;
            datasets.insert(name, uuid);
        }
        const RESERVED: &[&str] = &["tags", "datasets", "traces", "models"];
        for run in subdirs(dir)? {
            if RESERVED.contains(&run.as_str()) || !dir.join(&run).join("meta.yaml").is_file() {
                continue;
            }
            self.run(&dir.join(&run), id, &datasets)?;
        }
        let models = dir.join("models");
        for m in subdirs(&models)? {
            self.logged_model(&models.join(&m), &m, id)?;
        }
        let traces = dir.join("traces");
        for t in subdirs(&traces)? {
            self.trace(&traces.join(&t), &t, id)?;
        }
        Ok(())
    }

    fn run(&mut self, dir: &Path, exp: i64, datasets: &HashMap<String, String>) -> Result<()> {
        let meta = read_yaml(&dir.join("meta.yaml"))?;
        let Some(run_id) = text(&meta["run_uuid"]).or_else(|| text(&meta["run_id"])) else {
            self.out.notes.push(format!(
                "{} has no run id in its meta.yaml: skipped",
                dir.display()
            ));
            return Ok(());
        };
        self.put(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                run_id.clone().into(),
                text(&meta["run_name"]).or_else(|| text(&meta["name"])).map(Sql::Text).unwrap_or(Sql::Null),
                source_type(&meta["source_type"]).into(),
                text(&meta["source_name"]).unwrap_or_default().into(),
                text(&meta["entry_point_name"]).unwrap_or_default().into(),
                opt_text(&meta["user_id"]),
                run_status(&meta["status"]).into(),
                opt_int(&meta["start_time"]),
                opt_int(&meta["end_time"]),
                opt_int(&meta["deleted_time"]),
                text(&meta["source_version"]).unwrap_or_default().into(),
                text(&meta["lifecycle_stage"]).unwrap_or_else(|| "active".into()).into(),
                opt_text(&meta["artifact_uri"]),
                exp.into(),
            ],
        )?;
        for (k, v) in key_files(&dir.join("params"))? {
            self.put(
                "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                vec![k.into(), v.into(), run_id.clone().into()],
            )?;
        }
        for (k, v) in key_files(&dir.join("tags"))? {
            self.put(
                "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                vec![k.into(), v.into(), run_id.clone().into()],
            )?;
        }
        for (key, body) in key_files(&dir.join("metrics"))? {
            self.run_metric(&run_id, &key, &body)?;
        }
        let inputs = dir.join("inputs");
        for name in subdirs(&inputs)? {
            let meta = read_yaml(&inputs.join(&name).join("meta.yaml"))?;
            let source = text(&meta["source_id"]).unwrap_or_default();
            let uuid = derived_id(&["input", &run_id, &name]);
            let kind = text(&meta["source_type"]).unwrap_or_else(|| "DATASET".into());
            let row: Vec<Sql> = match kind.as_str() {
                "DATASET" => {
                    let Some(ds) = datasets.get(&source) else {
                        self.out.notes.push(format!(
                            "run {run_id} names dataset {source}, which its experiment does not have: that input is skipped"
                        ));
                        continue;
                    };
                    vec![
                        uuid.clone().into(),
                        "DATASET".into(),
                        ds.clone().into(),
                        "RUN".into(),
                        run_id.clone().into(),
                    ]
                }
                // The file store keeps a model input as MODEL → RUN; MLflow's SQL store as
                // RUN_INPUT → MODEL_INPUT.
                "MODEL" => vec![
                    uuid.clone().into(),
                    "RUN_INPUT".into(),
                    run_id.clone().into(),
                    "MODEL_INPUT".into(),
                    source.into(),
                ],
                _ => continue,
            };
            self.put(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES (?, ?, ?, ?, ?)",
                row,
            )?;
            if let Yaml::Hash(tags) = &meta["tags"] {
                for (k, v) in tags {
                    self.put(
                        "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)",
                        vec![
                            uuid.clone().into(),
                            text(k).unwrap_or_default().into(),
                            text(v).unwrap_or_default().into(),
                        ],
                    )?;
                }
            }
        }
        let outputs = dir.join("outputs");
        for model in subdirs(&outputs)? {
            let meta = read_yaml(&outputs.join(&model).join("meta.yaml"))?;
            self.put(
                "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, ?)",
                vec![
                    derived_id(&["output", &run_id, &model]).into(),
                    run_id.clone().into(),
                    model.into(),
                    int(&meta["step"]).unwrap_or(0).into(),
                ],
            )?;
        }
        Ok(())
    }

    /// A run's metric file: every point, and the latest one.
    fn run_metric(&mut self, run_id: &str, key: &str, body: &str) -> Result<()> {
        // (step, timestamp, value) of the latest point; NaN compares as 0 (MLflow's
        // `mlflow migrate-filestore` does the same).
        let mut latest: Option<(i64, i64, f64, bool)> = None;
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (ts, v, step) = match f.as_slice() {
                [ts, v] => (ts.parse::<i64>().ok(), parse_float(v), Some(0i64)),
                [ts, v, step, ..] => (
                    ts.parse::<i64>().ok(),
                    parse_float(v),
                    step.parse::<i64>().ok(),
                ),
                _ => (None, None, None),
            };
            let (Some(ts), Some(v), Some(step)) = (ts, v, step) else {
                return Err(invalid(format!(
                    "metric '{key}' of run {run_id} has a malformed line: {line:?}"
                )));
            };
            let (value, is_nan) = stored_value(v);
            self.put(
                "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    key.into(),
                    value.into(),
                    ts.into(),
                    run_id.into(),
                    step.into(),
                    Sql::Int(is_nan.into()),
                ],
            )?;
            let cand = (step, ts, value, is_nan);
            let newer = match latest {
                None => true,
                Some(l) => (cand.0, cand.1)
                    .cmp(&(l.0, l.1))
                    .then(cand.2.total_cmp(&l.2))
                    .is_gt(),
            };
            if newer {
                latest = Some(cand);
            }
        }
        if let Some((step, ts, value, is_nan)) = latest {
            self.put(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    key.into(),
                    value.into(),
                    ts.into(),
                    step.into(),
                    Sql::Int(is_nan.into()),
                    run_id.into(),
                ],
            )?;
        }
        Ok(())
    }

    fn logged_model(&mut self, dir: &Path, folder: &str, exp: i64) -> Result<()> {
        let meta = read_yaml(&dir.join("meta.yaml"))?;
        if meta.is_null() {
            return Ok(());
        }
        let id = text(&meta["model_id"]).unwrap_or_else(|| folder.to_string());
        let status = match &meta["status"] {
            Yaml::Integer(i) => *i,
            Yaml::String(s) => match s.as_str() {
                "PENDING" => 1,
                "READY" => 2,
                "FAILED" => 3,
                _ => 0,
            },
            _ => 1,
        };
        self.put(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.clone().into(),
                exp.into(),
                text(&meta["name"]).unwrap_or_default().into(),
                text(&meta["artifact_location"]).unwrap_or_default().into(),
                int(&meta["creation_timestamp"]).unwrap_or(0).into(),
                int(&meta["last_updated_timestamp"]).unwrap_or(0).into(),
                status.into(),
                text(&meta["lifecycle_stage"]).unwrap_or_else(|| "active".into()).into(),
                opt_text(&meta["model_type"]),
                opt_text(&meta["source_run_id"]),
                opt_text(&meta["status_message"]),
            ],
        )?;
        for (k, v) in key_files(&dir.join("params"))? {
            self.put(
                "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?)",
                vec![id.clone().into(), exp.into(), k.into(), v.into()],
            )?;
        }
        for (k, v) in key_files(&dir.join("tags"))? {
            self.put(
                "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, ?, ?)",
                vec![id.clone().into(), exp.into(), k.into(), v.into()],
            )?;
        }
        for (key, body) in key_files(&dir.join("metrics"))? {
            for line in body.lines().filter(|l| !l.trim().is_empty()) {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (ts, v, step, run, ds) = match f.as_slice() {
                    [ts, v, step, run] => (ts, v, step, run, None),
                    [ts, v, step, run, name, digest] => (ts, v, step, run, Some((name, digest))),
                    _ => {
                        return Err(invalid(format!(
                            "metric '{key}' of logged model {id} has a malformed line: {line:?}"
                        )))
                    }
                };
                let (Ok(ts), Some(v), Ok(step)) =
                    (ts.parse::<i64>(), parse_float(v), step.parse::<i64>())
                else {
                    return Err(invalid(format!(
                        "metric '{key}' of logged model {id} has a malformed line: {line:?}"
                    )));
                };
                self.put(
                    "INSERT OR IGNORE INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        id.clone().into(),
                        key.clone().into(),
                        ts.into(),
                        step.into(),
                        if v.is_nan() { Sql::Null } else { Sql::Real(v.clamp(f64::MIN, f64::MAX)) },
                        exp.into(),
                        (*run).into(),
                        ds.map(|(n, _)| Sql::Text(n.to_string())).unwrap_or(Sql::Null),
                        ds.map(|(_, d)| Sql::Text(d.to_string())).unwrap_or(Sql::Null),
                    ],
                )?;
            }
        }
        Ok(())
    }

    fn trace(&mut self, dir: &Path, folder: &str, exp: i64) -> Result<()> {
        let meta = read_yaml(&dir.join("trace_info.yaml"))?;
        if meta.is_null() {
            return Ok(());
        }
        // Trace schema v3 writes trace_id, request_time (RFC 3339), execution_duration_ms
        // and state; v2 request_id, timestamp_ms, execution_time_ms and status.
        let id = text(&meta["trace_id"])
            .or_else(|| text(&meta["request_id"]))
            .unwrap_or_else(|| folder.to_string());
        let time = millis(&meta["timestamp_ms"])
            .or_else(|| millis(&meta["request_time"]))
            .unwrap_or(0);
        let duration =
            int(&meta["execution_duration_ms"]).or_else(|| int(&meta["execution_time_ms"]));
        let state = text(&meta["state"])
            .or_else(|| text(&meta["status"]))
            .unwrap_or_else(|| "OK".into());
        self.put(
            "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.clone().into(),
                exp.into(),
                time.into(),
                duration.map(Sql::Int).unwrap_or(Sql::Null),
                state.into(),
                opt_text(&meta["client_request_id"]),
                opt_text(&meta["request_preview"]),
                opt_text(&meta["response_preview"]),
            ],
        )?;
        let tags = key_files(&dir.join("tags"))?;
        let mut artifacts = dir.join("artifacts");
        let mut proxied = None;
        for (k, v) in &tags {
            if k == "mlflow.artifactLocation" {
                if let Some(rel) = proxied_path(v) {
                    match &self.artifacts_source {
                        Some(src) => artifacts = src.join(rel),
                        None => proxied = Some(v.clone()),
                    }
                } else if let Some(p) = file_store_root(v) {
                    if p.is_absolute() {
                        artifacts = p;
                    }
                }
            }
            self.put(
                "INSERT INTO trace_tags (key, value, request_id) VALUES (?, ?, ?)",
                vec![k.clone().into(), v.clone().into(), id.clone().into()],
            )?;
        }
        for (k, v) in key_files(&dir.join("request_metadata"))? {
            self.put(
                "INSERT INTO trace_request_metadata (key, value, request_id) VALUES (?, ?, ?)",
                vec![k.into(), v.into(), id.clone().into()],
            )?;
        }
        match proxied {
            // Served by an MLflow server from a destination not given.
            Some(location) => self.out.notes.push(format!(
                "trace {id} keeps its spans at {location}: give --artifacts-source (the --artifacts-destination folder of the MLflow server) to import them"
            )),
            None => self.spans(&id, exp, &artifacts.join("traces.json"))?,
        }
        let assessments = dir.join("assessments");
        for f in files(&assessments)? {
            let Some(aid) = f.strip_suffix(".yaml") else {
                continue;
            };
            let a = read_yaml(&assessments.join(&f))?;
            self.assessment(&id, exp, time, aid, &a)?;
        }
        Ok(())
    }

    /// The spans of a trace from its `traces.json` (`{"spans": [MLflow span JSON…]}`),
    /// one `spans` row each, as MLflow's SQL store keeps them.
    fn spans(&mut self, trace_id: &str, exp: i64, path: &Path) -> Result<()> {
        let body = match std::fs::read_to_string(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.out.notes.push(format!(
                    "trace {trace_id} has no spans at {} (its spans are not imported)",
                    path.display()
                ));
                return Ok(());
            }
            Err(e) => return Err(io(path, e)),
        };
        let data: Value = serde_json::from_str(&body)
            .map_err(|e| invalid(format!("{} is not valid JSON: {e}", path.display())))?;
        let spans = data
            .get("spans")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for span in spans {
            let s = |k: &str| span.get(k).and_then(Value::as_str).map(str::to_string);
            let n = |k: &str| span.get(k).and_then(Value::as_i64);
            let status = span
                .pointer("/status/code")
                .and_then(Value::as_str)
                .unwrap_or("STATUS_CODE_UNSET")
                .to_string();
            self.put(
                "INSERT OR IGNORE INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, status, start_time_unix_nano, end_time_unix_nano, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vec![
                    trace_id.into(),
                    exp.into(),
                    s("span_id").unwrap_or_default().into(),
                    s("parent_span_id").map(Sql::Text).unwrap_or(Sql::Null),
                    s("name").map(Sql::Text).unwrap_or(Sql::Null),
                    status.into(),
                    n("start_time_unix_nano").unwrap_or(0).into(),
                    n("end_time_unix_nano").map(Sql::Int).unwrap_or(Sql::Null),
                    span.to_string().into(),
                ],
            )?;
        }
        Ok(())
    }

    fn assessment(
        &mut self,
        trace: &str,
        exp: i64,
        trace_time: i64,
        file_id: &str,
        a: &Yaml,
    ) -> Result<()> {
        let (kind, body) = if !a["feedback"].is_badvalue() && !a["feedback"].is_null() {
            ("feedback", &a["feedback"])
        } else if !a["expectation"].is_badvalue() && !a["expectation"].is_null() {
            ("expectation", &a["expectation"])
        } else {
            return Ok(());
        };
        // An expectation that is not a plain value is kept serialized as JSON text.
        let value = match &body["serialized_value"] {
            Yaml::Hash(_) => text(&body["serialized_value"]["value"])
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null),
            _ => json(&body["value"]),
        };
        let error = match &body["error"] {
            Yaml::Hash(_) => Sql::Text(json(&body["error"]).to_string()),
            _ => Sql::Null,
        };
        let created = millis(&a["create_time_ms"])
            .or_else(|| millis(&a["create_time"]))
            .unwrap_or(0);
        let updated = millis(&a["last_update_time_ms"])
            .or_else(|| millis(&a["last_update_time"]))
            .unwrap_or(created);
        let metadata = match &a["metadata"] {
            Yaml::Hash(h) if !h.is_empty() => Sql::Text(json(&a["metadata"]).to_string()),
            _ => Sql::Null,
        };
        let name = text(&a["assessment_name"])
            .or_else(|| text(&a["name"]))
            .unwrap_or_default();
        self.put(
            "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata, experiment_id, trace_timestamp_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                text(&a["assessment_id"]).unwrap_or_else(|| file_id.to_string()).into(),
                trace.into(),
                name.into(),
                kind.into(),
                value.to_string().into(),
                error,
                created.into(),
                updated.into(),
                text(&a["source"]["source_type"]).unwrap_or_else(|| "CODE".into()).into(),
                opt_text(&a["source"]["source_id"]),
                opt_text(&a["run_id"]),
                opt_text(&a["span_id"]),
                opt_text(&a["rationale"]),
                opt_text(&a["overrides"]),
                Sql::Int((!matches!(a["valid"], Yaml::Boolean(false))).into()),
                metadata,
                exp.into(),
                trace_time.into(),
            ],
        )?;
        Ok(())
    }

    fn registry(&mut self, root: &Path) -> Result<()> {
        for folder in subdirs(root)? {
            let dir = root.join(&folder);
            let meta = read_yaml(&dir.join("meta.yaml"))?;
            if meta.is_null() {
                continue;
            }
            let name = text(&meta["name"]).unwrap_or(folder);
            self.put(
                "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)",
                vec![
                    name.clone().into(),
                    opt_int(&meta["creation_timestamp"]),
                    opt_int(&meta["last_updated_timestamp"]),
                    opt_text(&meta["description"]),
                ],
            )?;
            for (k, v) in key_files(&dir.join("tags"))? {
                self.put(
                    "INSERT INTO registered_model_tags (key, value, name) VALUES (?, ?, ?)",
                    vec![k.into(), v.into(), name.clone().into()],
                )?;
            }
            for v in subdirs(&dir)? {
                if !v.starts_with("version-") {
                    continue;
                }
                let vdir = dir.join(&v);
                let m = read_yaml(&vdir.join("meta.yaml"))?;
                let Some(version) = int(&m["version"]) else {
                    continue;
                };
                self.put(
                    "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message, model_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        name.clone().into(),
                        version.into(),
                        opt_int(&m["creation_timestamp"]),
                        opt_int(&m["last_updated_timestamp"]),
                        opt_text(&m["description"]),
                        opt_text(&m["user_id"]),
                        text(&m["current_stage"]).unwrap_or_else(|| "None".into()).into(),
                        opt_text(&m["source"]),
                        opt_text(&m["storage_location"]),
                        opt_text(&m["run_id"]),
                        opt_text(&m["run_link"]),
                        text(&m["status"]).unwrap_or_else(|| "READY".into()).into(),
                        opt_text(&m["status_message"]),
                        opt_text(&m["model_id"]),
                    ],
                )?;
                for (k, val) in key_files(&vdir.join("tags"))? {
                    self.put(
                        "INSERT INTO model_version_tags (key, value, name, version) VALUES (?, ?, ?, ?)",
                        vec![k.into(), val.into(), name.clone().into(), version.into()],
                    )?;
                }
            }
            // Aliases: files under aliases/ (what MLflow reads); meta.yaml repeats them.
            let aliases = dir.join("aliases");
            for alias in files(&aliases)? {
                let path = aliases.join(&alias);
                let body = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                let Ok(version) = body.trim().parse::<i64>() else {
                    continue;
                };
                self.put(
                    "INSERT INTO registered_model_aliases (alias, version, name) VALUES (?, ?, ?)",
                    vec![alias.into(), version.into(), name.clone().into()],
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_that_are_file_stores() {
        assert_eq!(file_store_root("./mlruns"), Some(PathBuf::from("./mlruns")));
        assert_eq!(
            file_store_root("file:///a/mlruns"),
            Some(PathBuf::from("/a/mlruns"))
        );
        assert_eq!(file_store_root("sqlite:///mlflow.db"), None);
        assert_eq!(file_store_root("postgresql://u@h/db"), None);
    }

    #[test]
    fn rfc3339_and_millisecond_times() {
        let y = Yaml::String("2026-12-07T15:39:43.588Z".into());
        assert_eq!(millis(&y), Some(1_796_657_983_588));
        assert_eq!(millis(&Yaml::Integer(42)), Some(42));
        let y = Yaml::String("2026-12-07 15:39:43.588123".into());
        assert_eq!(millis(&y), Some(1_796_657_983_588));
        let y = Yaml::String("1969-12-31T23:59:59.5Z".into());
        assert_eq!(millis(&y), Some(-500));
        assert_eq!(millis(&Yaml::String("2026-02-30T00:00:00".into())), None);
    }

    #[test]
    fn proxied_locations() {
        assert_eq!(
            proxied_path("mlflow-artifacts:/1/traces/tr-1/artifacts"),
            Some("1/traces/tr-1/artifacts")
        );
        assert_eq!(
            proxied_path("mlflow-artifacts://host:5000/1/traces/x"),
            Some("1/traces/x")
        );
        assert_eq!(proxied_path("file:///a/b"), None);
    }

    #[test]
    fn metric_fields_as_python_reads_them() {
        assert!(parse_float("nan").unwrap().is_nan());
        assert_eq!(parse_float("-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("0.77"), Some(0.77));
        assert_eq!(stored_value(f64::INFINITY), (f64::MAX, false));
    }
}
