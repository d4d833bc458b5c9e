//! `mlox export`: writes an mlox store out as an MLflow tracking database (SQLite, or
//! PostgreSQL through a temporary SQLite export copied table by table), at
//! MLflow 3.17's schema head, so that MLflow's own `mlflow server` opens it without a
//! migration and answers what mlox answered: same ids, timestamps, histories, registry,
//! logged models, webhooks, traces, the scorer registry and evaluation datasets.
//!
//! The schema is `mlflow_schema/sqlite.sql` (every table MLflow 3.17 expects, most of them
//! left empty). The store is read in one snapshot; the database is built under a
//! temporary name in one transaction and renamed into place when complete, so an
//! interrupted export leaves nothing behind. mlox's tables map back onto MLflow's:
//!
//! - metric histories: every point of `metric_chunks` and `metrics` becomes a `metrics`
//!   row (MLflow's primary key keeps one copy of a repeated point, as mlox's reads do);
//!   points naming a logged model are also `logged_model_metrics` rows.
//! - `run_inputs` (+ tags) and `run_model_io` become `inputs` (+ `input_tags`) rows with
//!   new input ids (MLflow never shows them).
//! - traces: the trace name tag and the session, token-usage and cost metadata go back
//!   into the columns MLflow keeps them in; spans become MLflow's span JSON (ids in
//!   base64, attribute values as JSON text), one row per span; run links become
//!   `entity_associations`; assessments get MLflow's value, error and aggregate columns.
//! - evaluation datasets: records' JSON bodies spread over MLflow's columns (outputs
//!   wrapped as `{"mlflow_wrapped": …}`), with MLflow's input hash (SHA-256 of Python's
//!   `json.dumps(inputs, sort_keys=True)`), so MLflow deduplicates later merges; experiment
//!   links become `entity_associations`.
//! - webhook signing secrets are written encrypted (Fernet) with the key the MLflow server
//!   will use (`MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY`, `ExportOptions::webhook_secret_key`);
//!   without it they are left out, and the export says so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use mlox_core::trace::{python_json, python_json_any, AnyValue, Assessment, KeyValue, Span, Trace};
use mlox_core::{MlflowError, Result};
use serde_json::{json, Map, Value};

use crate::db::{Conn, DbError, LenientRow, RowView, SqlValue};
use crate::mlflow_import::{ImportProgress, Source, COST_KEYS, TOKEN_KEYS};
use crate::StoreUri;

/// MLflow 3.17's alembic head: a database stamped with it is opened without migrating.
pub const MLFLOW_HEAD_REVISION: &str = "dc11669786a5";

pub(crate) const SQLITE_SCHEMA: &str = include_str!("mlflow_schema/sqlite.sql");

const POSTGRES_SCHEMA: &str = include_str!("mlflow_schema/postgres.sql");

/// How to export.
pub struct ExportOptions {
    pub progress: Arc<dyn ImportProgress>,
    /// The `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY` the MLflow server will run with:
    /// webhook secrets are written encrypted with it; without it they are left out.
    pub webhook_secret_key: Option<String>,
}

/// What was written: rows per MLflow table, in order.
#[derive(Debug, Default)]
pub struct ExportSummary {
    pub tables: Vec<(String, u64)>,
}

fn invalid(msg: impl Into<String>) -> MlflowError {
    MlflowError::invalid(msg.into())
}

fn internal(e: impl std::fmt::Display) -> MlflowError {
    MlflowError::internal(format!("writing the MLflow database: {e}"))
}

/// Exports the mlox store at `source` into a new MLflow database at `target`
/// (`sqlite:///path/mlflow.db`, a file that must not exist yet, or `postgresql://…`, an
/// empty database).
pub async fn export_mlflow(
    source: &StoreUri,
    target: &str,
    opts: ExportOptions,
) -> Result<ExportSummary> {
    let source = source.clone();
    let ExportOptions {
        progress,
        webhook_secret_key: key,
    } = opts;
    // A key that is no Fernet key is refused before anything is written.
    if let Some(key) = key.as_deref() {
        crate::webhook_secret::Cipher::new(key)?;
    }
    match StoreUri::parse(target)? {
        StoreUri::Sqlite(path) => {
            if path.exists() {
                return Err(invalid(format!(
                    "{} already exists: mlox export writes a new MLflow database",
                    path.display()
                )));
            }
            tokio::task::spawn_blocking(move || export_sqlite(&source, &path, progress, key))
                .await
                .map_err(|e| MlflowError::internal(e.to_string()))?
        }
        StoreUri::Postgres(url) => {
            tokio::task::spawn_blocking(move || export_postgres(&source, &url, progress, key))
                .await
                .map_err(|e| MlflowError::internal(e.to_string()))?
        }
    }
}

/// The export into a new SQLite file at `path`, built under a temporary name.
fn export_sqlite(
    source: &StoreUri,
    path: &Path,
    progress: Arc<dyn ImportProgress>,
    webhook_secret_key: Option<String>,
) -> Result<ExportSummary> {
    let mut src = Source::open_uri(source, "mlox store")?;
    let is_mlox = src
        .with(|c| {
            c.query_opt(
                "SELECT 1 FROM metric_chunks WHERE 1 = 0 UNION ALL SELECT 1 FROM experiments WHERE 1 = 0",
                &[],
            )
        })
        .is_ok();
    if !is_mlox {
        return Err(invalid("the source is not an mlox store"));
    }
    let partial = partial_path(path);
    let _ = std::fs::remove_file(&partial);
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(internal)?;
        }
    }
    let result = (|| {
        let dst = rusqlite::Connection::open(&partial).map_err(internal)?;
        let mut exporter = Exporter {
            src: &mut src,
            dst,
            progress,
            summary: ExportSummary::default(),
            notes: Vec::new(),
            webhook_secret_key,
        };
        exporter.run()?;
        let Exporter {
            dst,
            summary,
            notes,
            progress,
            ..
        } = exporter;
        dst.close().map_err(|(_, e)| internal(e))?;
        for n in notes {
            progress.note(&n);
        }
        Ok(summary)
    })();
    match result {
        Ok(summary) => {
            std::fs::rename(&partial, path).map_err(internal)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// The export into an empty PostgreSQL database: the SQLite export is built in a
/// temporary folder, then MLflow's PostgreSQL schema (`mlflow_schema/postgres.sql`) is
/// created and every table copied over, in one transaction (parents before the tables
/// whose foreign keys name them; generated columns left to PostgreSQL), and the
/// experiment id sequence set after the highest id, as MLflow's inserts would leave it.
fn export_postgres(
    source: &StoreUri,
    url: &str,
    progress: Arc<dyn ImportProgress>,
    webhook_secret_key: Option<String>,
) -> Result<ExportSummary> {
    let config: postgres::Config = url
        .parse()
        .map_err(|e| invalid(format!("invalid PostgreSQL URI: {e}")))?;
    let mut client = crate::postgres::Client::connect(&config, crate::Durability::Full)
        .map_err(|e| MlflowError::internal(format!("connecting to the target: {e}")))?;
    let pg = |e: DbError| MlflowError::internal(format!("writing the MLflow database: {e}"));
    let mut c = client.conn();
    if let Some(r) = c
        .query_opt(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() LIMIT 1",
            &[],
        )
        .map_err(pg)?
    {
        return Err(invalid(format!(
            "the target database is not empty (it has a table '{}' in its current schema): mlox export writes a new MLflow database",
            r.text_or_empty(0)
        )));
    }
    let scratch = tempfile::tempdir().map_err(internal)?;
    let path = scratch.path().join("mlflow.db");
    let summary = export_sqlite(source, &path, progress.clone(), webhook_secret_key)?;
    let lite = rusqlite::Connection::open(&path).map_err(internal)?;
    let tables = tables_parents_first(&lite)?;
    c.execute("BEGIN", &[]).map_err(pg)?;
    let copied = (|| -> Result<()> {
        for statement in crate::migrate::statements(POSTGRES_SCHEMA) {
            c.execute(statement, &[]).map_err(pg)?;
        }
        for table in &tables {
            // Generated columns (hidden 2 or 3) are PostgreSQL's to compute.
            let columns: Vec<String> = {
                let mut stmt = lite
                    .prepare(&format!(
                        "SELECT name, hidden FROM pragma_table_xinfo('{table}')"
                    ))
                    .map_err(internal)?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(internal)?;
                rows.filter_map(|r| match r {
                    Ok((name, 0)) => Some(Ok(name)),
                    Ok(_) => None,
                    Err(e) => Some(Err(internal(e))),
                })
                .collect::<Result<_>>()?
            };
            let list = columns
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ");
            // Many rows per statement (PostgreSQL takes up to 65,535 parameters), the
            // same statement for every full batch.
            let per_batch = (30_000 / columns.len().max(1)).clamp(1, 1_000);
            let insert = |rows: usize| {
                let one = format!("({})", crate::db::placeholders(columns.len()));
                format!(
                    "INSERT INTO {table} ({list}) VALUES {}",
                    vec![one; rows].join(", ")
                )
            };
            let full = insert(per_batch);
            let total: i64 = lite
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
                .map_err(internal)?;
            if total == 0 {
                continue;
            }
            progress.start(&format!("PostgreSQL: {table}"), total as u64);
            let mut stmt = lite
                .prepare(&format!("SELECT {list} FROM {table}"))
                .map_err(internal)?;
            let mut rows = stmt.query([]).map_err(internal)?;
            let mut values: Vec<SqlValue> = Vec::with_capacity(per_batch * columns.len());
            let mut n = 0;
            while let Some(r) = rows.next().map_err(internal)? {
                for i in 0..columns.len() {
                    use rusqlite::types::ValueRef;
                    values.push(match r.get_ref(i).map_err(internal)? {
                        ValueRef::Null => SqlValue::Null,
                        ValueRef::Integer(v) => SqlValue::Int(v),
                        ValueRef::Real(v) => SqlValue::Real(v),
                        ValueRef::Text(t) => {
                            SqlValue::Text(String::from_utf8_lossy(t).into_owned())
                        }
                        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
                    });
                }
                n += 1;
                if n == per_batch {
                    c.execute(&full, &values).map_err(pg)?;
                    progress.advance(n as u64);
                    values.clear();
                    n = 0;
                }
            }
            if n > 0 {
                c.execute(&insert(n), &values).map_err(pg)?;
                progress.advance(n as u64);
            }
            progress.finish();
        }
        c.execute(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), GREATEST((SELECT MAX(experiment_id) FROM experiments), 1))",
            &[],
        )
        .map_err(pg)?;
        c.execute("COMMIT", &[]).map_err(pg)?;
        Ok(())
    })();
    if copied.is_err() {
        let _ = c.execute("ROLLBACK", &[]);
    }
    copied?;
    Ok(summary)
}

/// The tables of an SQLite database, each after the tables its foreign keys name.
fn tables_parents_first(db: &rusqlite::Connection) -> Result<Vec<String>> {
    let mut stmt = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(internal)?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .map_err(internal)?
        .collect::<std::result::Result<_, _>>()
        .map_err(internal)?;
    let mut parents: HashMap<String, Vec<String>> = HashMap::new();
    for n in &names {
        let mut fk = db
            .prepare(&format!(
                "SELECT \"table\" FROM pragma_foreign_key_list('{n}')"
            ))
            .map_err(internal)?;
        let list: Vec<String> = fk
            .query_map([], |r| r.get(0))
            .map_err(internal)?
            .collect::<std::result::Result<_, _>>()
            .map_err(internal)?;
        parents.insert(n.clone(), list);
    }
    let mut out: Vec<String> = Vec::new();
    while out.len() < names.len() {
        let before = out.len();
        for n in &names {
            if out.contains(n) {
                continue;
            }
            if parents[n]
                .iter()
                .all(|p| p == n || out.contains(p) || !names.contains(p))
            {
                out.push(n.clone());
            }
        }
        if out.len() == before {
            return Err(MlflowError::internal(
                "the MLflow schema's foreign keys form a cycle",
            ));
        }
    }
    Ok(out)
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

struct Exporter<'a> {
    src: &'a mut Source,
    dst: rusqlite::Connection,
    progress: Arc<dyn ImportProgress>,
    summary: ExportSummary,
    notes: Vec<String>,
    webhook_secret_key: Option<String>,
}

fn put(dst: &rusqlite::Connection, sql: &str, row: &[SqlValue]) -> Result<()> {
    let mut stmt = dst.prepare_cached(sql).map_err(internal)?;
    stmt.execute(rusqlite::params_from_iter(row.iter()))
        .map_err(internal)?;
    Ok(())
}

fn text(r: &dyn RowView, i: usize) -> SqlValue {
    r.opt_text_or_none(i).into()
}

/// Column `i` as a number, NULL when the flag column `flag` is 1.
fn opt_int(r: &dyn RowView, i: usize, flag: usize) -> SqlValue {
    if r.int_or_zero(flag) != 0 {
        SqlValue::Null
    } else {
        SqlValue::Int(r.int_or_zero(i))
    }
}

/// A metric value as MLflow stores it: NaN as 0 with the flag set, infinities clamped.
fn metric_value(v: f64) -> (f64, bool) {
    if v.is_nan() {
        (0.0, true)
    } else {
        (v.clamp(f64::MIN, f64::MAX), false)
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Exporter<'_> {
    fn run(&mut self) -> Result<()> {
        // A fresh file renamed into place at the end: no journal needed, one transaction.
        self.dst
            .execute_batch(
                "PRAGMA foreign_keys = OFF; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN",
            )
            .map_err(internal)?;
        self.dst.execute_batch(SQLITE_SCHEMA).map_err(internal)?;
        put(
            &self.dst,
            "INSERT INTO alembic_version (version_num) VALUES (?)",
            &[MLFLOW_HEAD_REVISION.into()],
        )?;
        put(
            &self.dst,
            "INSERT INTO workspaces (name, description) VALUES ('default', 'Default workspace for legacy resources')",
            &[],
        )?;
        self.tracking()?;
        self.logged_models()?;
        self.metrics()?;
        self.inputs()?;
        self.registry()?;
        self.webhooks()?;
        self.traces()?;
        self.scorers()?;
        self.eval_datasets()?;
        self.dst.execute_batch("COMMIT").map_err(internal)?;
        // MLflow does not have SQLite enforce its foreign keys, but they hold in what it
        // writes; so they must in an export.
        let broken: Vec<(String, String)> = {
            let mut stmt = self
                .dst
                .prepare("SELECT \"table\", parent FROM pragma_foreign_key_check")
                .map_err(internal)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(internal)?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(internal)?
        };
        if let Some((table, parent)) = broken.first() {
            return Err(MlflowError::internal(format!(
                "the export has {} row(s) whose foreign key does not resolve, the first in {table} (to {parent})",
                broken.len()
            )));
        }
        Ok(())
    }

    /// Streams `select` from the store into `insert`, one row each.
    fn copy(
        &mut self,
        label: &str,
        select: &str,
        insert: &str,
        map: &mut dyn FnMut(&dyn RowView) -> Vec<SqlValue>,
    ) -> Result<u64> {
        let mut total = 0;
        self.src
            .each(&format!("SELECT COUNT(*) FROM ({select}) x"), &mut |r| {
                total = r.int_or_zero(0) as u64
            })?;
        self.progress.start(label, total);
        let mut n = 0u64;
        let mut err = None;
        let dst = &self.dst;
        let progress = &self.progress;
        self.src.each(select, &mut |r| {
            if err.is_some() {
                return;
            }
            if let Err(e) = put(dst, insert, &map(r)) {
                err = Some(e);
            }
            n += 1;
            if n.is_multiple_of(10_000) {
                progress.advance(10_000);
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        self.progress.advance(n % 10_000);
        self.progress.finish();
        self.summary.tables.push((label.to_string(), n));
        Ok(n)
    }

    fn tracking(&mut self) -> Result<()> {
        self.copy(
            "experiments",
            "SELECT experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM experiments ORDER BY experiment_id",
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, workspace) VALUES (?, ?, ?, ?, ?, ?, 'default')",
            &mut |r| vec![r.int_or_zero(0).into(), text(r, 1), text(r, 2), text(r, 3), r.int_or_zero(4).into(), r.int_or_zero(5).into()],
        )?;
        self.copy(
            "experiment_tags",
            "SELECT key, value, experiment_id FROM experiment_tags",
            "INSERT INTO experiment_tags (key, value, experiment_id) VALUES (?, ?, ?)",
            &mut |r| vec![text(r, 0), text(r, 1), r.int_or_zero(2).into()],
        )?;
        // MLflow's create_run fills the source columns it no longer uses with these.
        self.copy(
            "runs",
            "SELECT run_uuid, name, user_id, status, start_time, end_time, (end_time IS NULL), lifecycle_stage, artifact_uri, experiment_id, deleted_time, (deleted_time IS NULL) FROM runs",
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) VALUES (?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, '', ?, ?, ?, ?)",
            &mut |r| {
                vec![
                    text(r, 0),
                    text(r, 1),
                    text(r, 2),
                    text(r, 3),
                    r.int_or_zero(4).into(),
                    opt_int(r, 5, 6),
                    text(r, 7),
                    text(r, 8),
                    r.int_or_zero(9).into(),
                    opt_int(r, 10, 11),
                ]
            },
        )?;
        for table in ["params", "tags"] {
            self.copy(
                table,
                &format!("SELECT key, value, run_uuid FROM {table}"),
                &format!("INSERT INTO {table} (key, value, run_uuid) VALUES (?, ?, ?)"),
                &mut |r| vec![text(r, 0), text(r, 1), text(r, 2)],
            )?;
        }
        self.copy(
            "latest_metrics",
            "SELECT key, value, timestamp, step, is_nan, run_uuid FROM latest_metrics",
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
            &mut |r| {
                let nan = r.int_or_zero(4) != 0;
                let (v, _) = metric_value(if nan { f64::NAN } else { r.real_or_nan(1) });
                vec![text(r, 0), SqlValue::Real(v), r.int_or_zero(2).into(), r.int_or_zero(3).into(), SqlValue::Int(nan.into()), text(r, 5)]
            },
        )?;
        Ok(())
    }

    fn metrics(&mut self) -> Result<()> {
        const INSERT: &str = "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)";
        let mut total = 0;
        self.src
            .each("SELECT COALESCE(SUM(n), 0) FROM metric_chunks", &mut |r| {
                total = r.int_or_zero(0) as u64
            })?;
        self.progress.start("metric points", total);
        let (dst, progress) = (&self.dst, &self.progress);
        let mut err = None;
        let mut n = 0u64;
        let mut points = Vec::new();
        self.src.each(
            "SELECT run_uuid, key, points FROM metric_chunks ORDER BY run_uuid, key, chunk_id",
            &mut |r| {
                if err.is_some() {
                    return;
                }
                points.clear();
                crate::chunks::decode_into(r.blob_or_empty(2), None, &mut points);
                let (run, key) = (r.str_or_empty(0), r.str_or_empty(1));
                for p in &points {
                    let (v, nan) = metric_value(p.value);
                    let row = [
                        key.into(),
                        SqlValue::Real(v),
                        p.timestamp.into(),
                        run.into(),
                        p.step.into(),
                        SqlValue::Int(nan.into()),
                    ];
                    if let Err(e) = put(dst, INSERT, &row) {
                        err = Some(e);
                        return;
                    }
                }
                n += points.len() as u64;
                progress.advance(points.len() as u64);
            },
        )?;
        if let Some(e) = err {
            return Err(e);
        }
        self.progress.finish();
        self.summary.tables.push(("metric points".into(), n));
        // Points stored a row each (those naming a model or dataset).
        let mut linked = 0u64;
        let mut rows = 0u64;
        let mut err = None;
        let dst = &self.dst;
        self.src.each(
            "SELECT m.run_uuid, m.key, m.step, m.timestamp, m.value, m.is_nan, m.model_id, m.dataset_name, m.dataset_digest, r.experiment_id FROM metrics m JOIN runs r ON r.run_uuid = m.run_uuid",
            &mut |r| {
                if err.is_some() {
                    return;
                }
                let nan = r.int_or_zero(5) != 0;
                let (v, _) = metric_value(if nan { f64::NAN } else { r.real_or_nan(4) });
                let row = [
                    text(r, 1),
                    SqlValue::Real(v),
                    r.int_or_zero(3).into(),
                    text(r, 0),
                    r.int_or_zero(2).into(),
                    SqlValue::Int(nan.into()),
                ];
                let mut res = put(dst, INSERT, &row);
                rows += 1;
                if let (Ok(()), Some(model)) = (&res, r.opt_text_or_none(6)) {
                    // MLflow keeps a NaN model metric as NULL.
                    let value = if nan { SqlValue::Null } else { SqlValue::Real(v) };
                    res = put(
                        dst,
                        "INSERT OR IGNORE INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                        &[
                            model.into(),
                            text(r, 1),
                            r.int_or_zero(3).into(),
                            r.int_or_zero(2).into(),
                            value,
                            r.int_or_zero(9).into(),
                            text(r, 0),
                            text(r, 7),
                            text(r, 8),
                        ],
                    );
                    linked += 1;
                }
                if let Err(e) = res {
                    err = Some(e);
                }
            },
        )?;
        if let Some(e) = err {
            return Err(e);
        }
        self.summary.tables.push(("metric rows".into(), rows));
        self.summary
            .tables
            .push(("logged_model_metrics".into(), linked));
        Ok(())
    }

    fn inputs(&mut self) -> Result<()> {
        self.copy(
            "datasets",
            "SELECT dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile FROM datasets",
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &mut |r| vec![text(r, 0), r.int_or_zero(1).into(), text(r, 2), text(r, 3), text(r, 4), text(r, 5), text(r, 6), text(r, 7)],
        )?;
        // MLflow names each input row; its tags refer to that name.
        let mut ids: HashMap<(String, String), String> = HashMap::new();
        self.copy(
            "inputs",
            "SELECT run_uuid, dataset_uuid FROM run_inputs",
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'DATASET', ?, 'RUN', ?, 0)",
            &mut |r| {
                let id = new_id();
                ids.insert((r.str_or_empty(0).to_string(), r.str_or_empty(1).to_string()), id.clone());
                vec![id.into(), text(r, 1), text(r, 0)]
            },
        )?;
        let mut missing = false;
        self.copy(
            "input_tags",
            "SELECT t.run_uuid, t.dataset_uuid, t.key, t.value FROM run_input_tags t JOIN run_inputs i ON i.run_uuid = t.run_uuid AND i.dataset_uuid = t.dataset_uuid",
            "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)",
            &mut |r| {
                let id = ids
                    .get(&(r.str_or_empty(0).to_string(), r.str_or_empty(1).to_string()))
                    .cloned()
                    .unwrap_or_else(|| {
                        missing = true;
                        String::new()
                    });
                vec![id.into(), text(r, 2), text(r, 3)]
            },
        )?;
        if missing {
            return Err(MlflowError::internal("an input tag lost its input"));
        }
        self.copy(
            "model inputs and outputs",
            "SELECT run_uuid, direction, model_id, step FROM run_model_io",
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, ?, ?, ?, ?, ?)",
            &mut |r| {
                let (src, dst) = if r.str_or_empty(1) == "input" {
                    ("RUN_INPUT", "MODEL_INPUT")
                } else {
                    ("RUN_OUTPUT", "MODEL_OUTPUT")
                };
                vec![new_id().into(), src.into(), text(r, 0), dst.into(), text(r, 2), r.int_or_zero(3).into()]
            },
        )?;
        Ok(())
    }

    fn logged_models(&mut self) -> Result<()> {
        self.copy(
            "logged_models",
            "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message FROM logged_models",
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &mut |r| {
                vec![
                    text(r, 0),
                    r.int_or_zero(1).into(),
                    text(r, 2),
                    text(r, 3),
                    r.int_or_zero(4).into(),
                    r.int_or_zero(5).into(),
                    r.int_or_zero(6).into(),
                    text(r, 7),
                    text(r, 8),
                    text(r, 9),
                    text(r, 10),
                ]
            },
        )?;
        for (table, k, v) in [
            ("logged_model_params", "param_key", "param_value"),
            ("logged_model_tags", "tag_key", "tag_value"),
        ] {
            self.copy(
                table,
                &format!("SELECT x.model_id, m.experiment_id, x.key, x.value FROM {table} x JOIN logged_models m ON m.model_id = x.model_id"),
                &format!("INSERT INTO {table} (model_id, experiment_id, {k}, {v}) VALUES (?, ?, ?, ?)"),
                &mut |r| vec![text(r, 0), r.int_or_zero(1).into(), text(r, 2), text(r, 3)],
            )?;
        }
        Ok(())
    }

    fn registry(&mut self) -> Result<()> {
        self.copy(
            "registered_models",
            "SELECT name, creation_time, last_updated_time, description FROM registered_models",
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) VALUES (?, ?, ?, ?, 'default')",
            &mut |r| vec![text(r, 0), r.int_or_zero(1).into(), r.int_or_zero(2).into(), text(r, 3)],
        )?;
        self.copy(
            "registered_model_tags",
            "SELECT key, value, name FROM registered_model_tags",
            "INSERT INTO registered_model_tags (key, value, name, workspace) VALUES (?, ?, ?, 'default')",
            &mut |r| vec![text(r, 0), text(r, 1), text(r, 2)],
        )?;
        self.copy(
            "model_versions",
            "SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location FROM model_versions",
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'default')",
            &mut |r| {
                let mut row = vec![text(r, 0), r.int_or_zero(1).into(), r.int_or_zero(2).into(), r.int_or_zero(3).into()];
                row.extend((4..13).map(|i| text(r, i)));
                row
            },
        )?;
        self.copy(
            "model_version_tags",
            "SELECT key, value, name, version FROM model_version_tags",
            "INSERT INTO model_version_tags (key, value, name, version, workspace) VALUES (?, ?, ?, ?, 'default')",
            &mut |r| vec![text(r, 0), text(r, 1), text(r, 2), r.int_or_zero(3).into()],
        )?;
        self.copy(
            "registered_model_aliases",
            "SELECT alias, version, name FROM registered_model_aliases",
            "INSERT INTO registered_model_aliases (alias, version, name, workspace) VALUES (?, ?, ?, 'default')",
            &mut |r| vec![text(r, 0), r.int_or_zero(1).into(), text(r, 2)],
        )?;
        Ok(())
    }

    fn webhooks(&mut self) -> Result<()> {
        let cipher = match self.webhook_secret_key.as_deref() {
            Some(key) => Some(crate::webhook_secret::Cipher::new(key)?),
            None => None,
        };
        let mut dropped = 0;
        self.copy(
            "webhooks",
            "SELECT webhook_id, name, description, url, status, creation_timestamp, last_updated_timestamp, deleted_timestamp, (deleted_timestamp IS NULL), secret FROM webhooks",
            "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, last_updated_timestamp, deleted_timestamp, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'default')",
            &mut |r| {
                let secret = match (r.opt_text_or_none(9).filter(|s| !s.is_empty()), &cipher) {
                    (Some(plain), Some(cipher)) => cipher.encrypt(&plain).into(),
                    (Some(_), None) => {
                        dropped += 1;
                        SqlValue::Null
                    }
                    (None, _) => SqlValue::Null,
                };
                vec![text(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4), secret, r.int_or_zero(5).into(), r.int_or_zero(6).into(), opt_int(r, 7, 8)]
            },
        )?;
        if dropped > 0 {
            self.notes.push(format!(
                "{dropped} webhook(s) had a signing secret, which MLflow keeps encrypted with its server's MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: they were exported without one; set that variable to the key the MLflow server will use to export them, or set the secret again with MLflow's update_webhook"
            ));
        }
        self.copy(
            "webhook_events",
            "SELECT webhook_id, entity, action FROM webhook_events",
            "INSERT INTO webhook_events (webhook_id, entity, action) VALUES (?, ?, ?)",
            &mut |r| vec![text(r, 0), text(r, 1), text(r, 2)],
        )?;
        Ok(())
    }

    fn scorers(&mut self) -> Result<()> {
        self.copy(
            "scorers",
            "SELECT experiment_id, name, scorer_id FROM scorers",
            "INSERT INTO scorers (experiment_id, scorer_name, scorer_id) VALUES (?, ?, ?)",
            &mut |r| vec![r.int_or_zero(0).into(), text(r, 1), text(r, 2)],
        )?;
        self.copy(
            "scorer_versions",
            "SELECT scorer_id, version, serialized_scorer, creation_time FROM scorer_versions",
            "INSERT INTO scorer_versions (scorer_id, scorer_version, serialized_scorer, creation_time) VALUES (?, ?, ?, ?)",
            &mut |r| vec![text(r, 0), r.int_or_zero(1).into(), text(r, 2), r.int_or_zero(3).into()],
        )?;
        self.copy(
            "online_scoring_configs",
            "SELECT online_scoring_config_id, scorer_id, sample_rate, experiment_id, filter_string FROM online_scoring_configs",
            "INSERT INTO online_scoring_configs (online_scoring_config_id, scorer_id, sample_rate, experiment_id, filter_string) VALUES (?, ?, ?, ?, ?)",
            &mut |r| vec![text(r, 0), text(r, 1), r.opt_real(2).ok().flatten().unwrap_or(0.0).into(), r.int_or_zero(3).into(), text(r, 4)],
        )?;
        Ok(())
    }

    /// Evaluation datasets: `eval_datasets` and tags as they are, experiment links as
    /// `entity_associations`, each record's JSON body spread back over MLflow's columns
    /// (outputs wrapped as MLflow wraps them) with MLflow's own input hash.
    fn eval_datasets(&mut self) -> Result<()> {
        self.copy(
            "evaluation_datasets",
            "SELECT dataset_id, name, schema_json, profile, digest, created_time, last_update_time, created_by, last_updated_by FROM eval_datasets",
            "INSERT INTO evaluation_datasets (dataset_id, name, schema, profile, digest, created_time, last_update_time, created_by, last_updated_by, workspace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'default')",
            &mut |r| {
                vec![text(r, 0), text(r, 1), text(r, 2), text(r, 3), text(r, 4), r.int_or_zero(5).into(), r.int_or_zero(6).into(), text(r, 7), text(r, 8)]
            },
        )?;
        self.copy(
            "evaluation_dataset_tags",
            "SELECT dataset_id, key, value FROM eval_dataset_tags",
            "INSERT INTO evaluation_dataset_tags (dataset_id, key, value) VALUES (?, ?, ?)",
            &mut |r| vec![text(r, 0), text(r, 1), text(r, 2)],
        )?;
        // MLflow dates a link when it is made; mlox keeps no such time, so the
        // dataset's creation stands in (MLflow never shows it).
        self.copy(
            "dataset experiment links",
            "SELECT l.dataset_id, l.experiment_id, d.created_time FROM eval_dataset_experiments l JOIN eval_datasets d ON d.dataset_id = l.dataset_id",
            "INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) VALUES (?, 'evaluation_dataset', ?, 'experiment', ?, ?)",
            &mut |r| vec![new_id().into(), text(r, 0), r.int_or_zero(1).to_string().into(), r.int_or_zero(2).into()],
        )?;
        let mut unreadable = 0u64;
        self.copy(
            "evaluation_dataset_records",
            "SELECT dataset_record_id, dataset_id, created_time, last_update_time, body FROM eval_dataset_records",
            "INSERT INTO evaluation_dataset_records (dataset_record_id, dataset_id, inputs, outputs, expectations, tags, source, source_id, source_type, created_time, last_update_time, created_by, last_updated_by, input_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &mut |r| {
                let body: Map<String, Value> = match serde_json::from_str(r.str_or_empty(4)) {
                    Ok(b) => b,
                    Err(_) => {
                        unreadable += 1;
                        Map::new()
                    }
                };
                let inputs = body.get("inputs").cloned().unwrap_or_else(|| json!({}));
                let json_col = |key: &str| -> SqlValue {
                    body.get(key)
                        .filter(|v| !v.is_null())
                        .map_or(SqlValue::Null, |v| python_json(v).into())
                };
                let text_of = |key: &str| -> SqlValue {
                    body.get(key)
                        .and_then(Value::as_str)
                        .map_or(SqlValue::Null, |s| s.into())
                };
                let outputs = match body.get("outputs") {
                    Some(v) if !v.is_null() => python_json(&json!({"mlflow_wrapped": v})).into(),
                    _ => SqlValue::Null,
                };
                vec![
                    text(r, 0),
                    text(r, 1),
                    python_json(&inputs).into(),
                    outputs,
                    json_col("expectations"),
                    json_col("tags"),
                    json_col("source"),
                    text_of("source_id"),
                    text_of("source_type"),
                    r.int_or_zero(2).into(),
                    r.int_or_zero(3).into(),
                    text_of("created_by"),
                    text_of("last_updated_by"),
                    mlflow_input_hash(&inputs).into(),
                ]
            },
        )?;
        if unreadable > 0 {
            self.notes.push(format!(
                "{unreadable} evaluation dataset record(s) had a body that could not be read; they were written with empty inputs"
            ));
        }
        Ok(())
    }

    fn traces(&mut self) -> Result<()> {
        let mut ids = Vec::new();
        self.src
            .each("SELECT trace_id FROM traces ORDER BY trace_id", &mut |r| {
                ids.push(r.str_or_empty(0).to_string())
            })?;
        self.progress.start("traces", ids.len() as u64);
        let (mut spans, mut assessments) = (0u64, 0u64);
        for chunk in ids.chunks(100) {
            let traces = self
                .src
                .with(|c| crate::traces::get_traces(c, chunk.to_vec(), true))?;
            for t in &traces {
                write_trace(&self.dst, t)?;
                spans += t.spans.len() as u64;
                assessments += t.info.assessments.len() as u64;
            }
            self.progress.advance(chunk.len() as u64);
        }
        self.progress.finish();
        self.summary
            .tables
            .push(("trace_info".into(), ids.len() as u64));
        self.summary.tables.push(("spans".into(), spans));
        self.summary
            .tables
            .push(("assessments".into(), assessments));
        let now = crate::tracking::now_ms();
        self.copy(
            "trace-run links",
            "SELECT trace_id, run_id FROM trace_runs",
            "INSERT INTO entity_associations (association_id, source_type, source_id, destination_type, destination_id, created_time) VALUES (?, 'trace', ?, 'run', ?, ?)",
            &mut |r| vec![new_id().into(), text(r, 0), text(r, 1), now.into()],
        )?;
        Ok(())
    }
}

/// MLflow's `input_hash` of a record: SHA-256 (hex) of `json.dumps(inputs,
/// sort_keys=True)`, Python's separators and ASCII escapes, nested keys sorted too.
fn mlflow_input_hash(inputs: &Value) -> String {
    use sha2::{Digest, Sha256};
    fn sort_keys(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sort_keys(v)))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
            v => v.clone(),
        }
    }
    crate::eval::hex(&Sha256::digest(python_json(&sort_keys(inputs)).as_bytes()))
}

fn write_trace(dst: &rusqlite::Connection, t: &Trace) -> Result<()> {
    let info = &t.info;
    let id = info.trace_id.as_str();
    let experiment_id: i64 = info.experiment_id.parse().unwrap_or(0);
    // The metadata MLflow promotes into columns (read back from them).
    let object = |key: &str| -> Map<String, Value> {
        match info.metadata.get(key).map(|s| serde_json::from_str(s)) {
            Some(Ok(Value::Object(m))) => m,
            _ => Map::new(),
        }
    };
    let (tokens, cost) = (object(TOKEN_USAGE), object(COST));
    let mut row: Vec<SqlValue> = vec![
        id.into(),
        experiment_id.into(),
        info.request_time.into(),
        info.execution_duration.into(),
        info.state.as_str().into(),
        info.client_request_id.clone().into(),
        info.request_preview.clone().into(),
        info.response_preview.clone().into(),
        SqlValue::Int((!t.spans.is_empty()).into()),
        info.tags.get(TRACE_NAME).cloned().into(),
        info.metadata.get(SESSION).cloned().into(),
    ];
    for k in TOKEN_KEYS {
        row.push(tokens.get(*k).and_then(Value::as_i64).into());
    }
    for k in COST_KEYS {
        row.push(
            cost.get(*k)
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite())
                .map_or(SqlValue::Null, SqlValue::Real),
        );
    }
    put(
        dst,
        "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview, db_payload_generation, trace_name, session_id, input_tokens, output_tokens, total_tokens, cache_read_input_tokens, cache_creation_input_tokens, cache_creation_input_tokens_above_1hr, input_cost, output_cost, total_cost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &row,
    )?;
    for (k, v) in &info.tags {
        if k != TRACE_NAME {
            put(
                dst,
                "INSERT INTO trace_tags (key, value, request_id) VALUES (?, ?, ?)",
                &[k.as_str().into(), v.as_str().into(), id.into()],
            )?;
        }
    }
    for (k, v) in &info.metadata {
        if k != SESSION && k != TOKEN_USAGE && k != COST {
            put(
                dst,
                "INSERT INTO trace_request_metadata (key, value, request_id) VALUES (?, ?, ?)",
                &[k.as_str().into(), v.as_str().into(), id.into()],
            )?;
        }
    }
    for s in &t.spans {
        put(
            dst,
            "INSERT OR REPLACE INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                id.into(),
                experiment_id.into(),
                s.span_id.as_str().into(),
                s.parent_span_id.clone().into(),
                s.name.as_str().into(),
                s.span_type().into(),
                crate::traces::status_name(s.status_code).into(),
                (s.start_time_unix_nano as i64).into(),
                (s.end_time_unix_nano != 0)
                    .then_some(s.end_time_unix_nano as i64)
                    .into(),
                span_content(s).into(),
            ],
        )?;
    }
    for a in &info.assessments {
        write_assessment(dst, a, experiment_id, info.request_time)?;
    }
    Ok(())
}

const TRACE_NAME: &str = "mlflow.traceName";
const SESSION: &str = "mlflow.trace.session";
const TOKEN_USAGE: &str = "mlflow.trace.tokenUsage";
const COST: &str = "mlflow.trace.cost";

fn b64(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `python_json_any` leaves only ASCII; MLflow dumps span attributes with
/// `ensure_ascii=False`: the `\uXXXX` escapes of characters from U+007F up become the
/// characters again (escaped backslashes are kept).
fn unescape_non_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    let hex4 = |at: usize| -> Option<u32> {
        s.get(at..at + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1] == b'u' {
                if let Some(u) = hex4(i + 2) {
                    if (0xD800..0xDC00).contains(&u) && s.get(i + 6..i + 8) == Some("\\u") {
                        if let Some(l) = hex4(i + 8) {
                            let c = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
                            if let Some(ch) = char::from_u32(c) {
                                out.push(ch);
                                i += 12;
                                continue;
                            }
                        }
                    }
                    if u >= 0x7f {
                        if let Some(ch) = char::from_u32(u) {
                            out.push(ch);
                            i += 6;
                            continue;
                        }
                    }
                }
            }
            out.push_str(&s[i..i + 2]);
            i += 2;
            continue;
        }
        let ch = s[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// A decoded OTLP value as the JSON value Python would hold.
fn json_value(v: &AnyValue) -> Value {
    match v {
        AnyValue::Str(s) => json!(s),
        AnyValue::Bool(b) => json!(b),
        AnyValue::Int(i) => json!(i),
        AnyValue::Double(d) => serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number),
        AnyValue::Bytes(b) => json!(String::from_utf8_lossy(b)),
        AnyValue::Array(items) => Value::Array(items.iter().map(json_value).collect()),
        AnyValue::KvList(kvs) => Value::Object(
            kvs.iter()
                .map(|kv| (kv.key.clone(), json_value(&kv.value)))
                .collect(),
        ),
        AnyValue::Empty => Value::Null,
    }
}

fn raw_attributes(kvs: &[KeyValue]) -> Value {
    Value::Object(
        kvs.iter()
            .map(|kv| (kv.key.clone(), json_value(&kv.value)))
            .collect(),
    )
}

/// A span as MLflow stores it (`Span.to_dict()`): ids in base64, attribute values as the
/// JSON text MLflow dumps them to.
fn span_content(s: &Span) -> String {
    let attributes: Map<String, Value> = s
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                json!(unescape_non_ascii(&python_json_any(&kv.value))),
            )
        })
        .collect();
    let code = match s.status_code {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    };
    let v = json!({
        "trace_id": b64(&s.trace_id),
        "span_id": b64(&s.span_id),
        "parent_span_id": s.parent_span_id.as_deref().map(b64),
        "name": s.name,
        "start_time_unix_nano": s.start_time_unix_nano,
        "end_time_unix_nano": (s.end_time_unix_nano != 0).then_some(s.end_time_unix_nano),
        "events": s.events.iter().map(|e| json!({
            "name": e.name,
            "time_unix_nano": e.time_unix_nano,
            "attributes": raw_attributes(&e.attributes),
        })).collect::<Vec<_>>(),
        "status": {"code": code, "message": s.status_message},
        "attributes": attributes,
        "links": s.links.iter().map(|l| json!({
            "trace_id": format!("tr-{}", l.trace_id),
            "span_id": l.span_id,
            "attributes": raw_attributes(&l.attributes),
        })).collect::<Vec<_>>(),
    });
    v.to_string()
}

/// MLflow's numeric summary of an assessment value (for its charts): booleans and
/// yes/no as 1/0, finite numbers as themselves (the only "numeric" ones).
fn aggregate(v: &Value) -> (Option<f64>, bool) {
    match v {
        Value::Bool(b) => (Some(if *b { 1.0 } else { 0.0 }), false),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => (Some(f), true),
            _ => (None, false),
        },
        Value::String(s) => match s.trim().to_lowercase().as_str() {
            "yes" => (Some(1.0), false),
            "no" => (Some(0.0), false),
            _ => (None, false),
        },
        _ => (None, false),
    }
}

fn write_assessment(
    dst: &rusqlite::Connection,
    a: &Assessment,
    experiment_id: i64,
    trace_time: i64,
) -> Result<()> {
    let (kind, body) = match (&a.feedback, &a.expectation) {
        (Some(f), _) => ("feedback", f),
        (None, Some(e)) => ("expectation", e),
        (None, None) => return Ok(()),
    };
    // An expectation may carry its value serialized as JSON text.
    let value = match body.get("serialized_value") {
        Some(sv) => sv
            .get("value")
            .and_then(Value::as_str)
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null),
        None => body.get("value").cloned().unwrap_or(Value::Null),
    };
    let error = body.get("error").filter(|_| kind == "feedback").map(|e| {
        let field = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("error_code".into(), field("error_code"));
        m.insert("error_message".into(), field("error_message"));
        m.insert("stack_trace".into(), field("stack_trace"));
        python_json(&Value::Object(m))
    });
    let metadata = (!a.metadata.is_empty()).then(|| python_json(&json!(a.metadata)));
    let (agg, numeric) = aggregate(&value);
    let source = a.source.clone().unwrap_or_default();
    put(
        dst,
        "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, overrides, valid, assessment_metadata, experiment_id, trace_timestamp_ms, aggregate_value, is_numeric_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            a.assessment_id.as_str().into(),
            a.trace_id.as_str().into(),
            a.name.as_str().into(),
            kind.into(),
            python_json(&value).into(),
            error.into(),
            a.create_time_ms.into(),
            a.last_update_time_ms.into(),
            source.source_type.into(),
            Some(source.source_id).filter(|s| !s.is_empty()).into(),
            a.run_id.clone().into(),
            a.span_id.clone().into(),
            a.rationale.clone().into(),
            a.overrides.clone().into(),
            SqlValue::Int(a.valid.into()),
            metadata.into(),
            experiment_id.into(),
            trace_time.into(),
            agg.map_or(SqlValue::Null, SqlValue::Real),
            SqlValue::Int(numeric.into()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_hash_is_mlflows() {
        // hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        let inputs = json!({"question": "Ünïcode?", "x": 1.5, "a": {"z": 1e-05, "b": [1, null, true, 1e16, 2.0]}});
        assert_eq!(
            mlflow_input_hash(&inputs),
            "111f9d7d5b8a0b4234762d8488c5b68d20ad929cde3fc0ebeb1e0128f48847ad"
        );
    }

    #[test]
    fn non_ascii_comes_back_unescaped() {
        let v = AnyValue::Str("é\\u00e9😀".into());
        assert_eq!(unescape_non_ascii(&python_json_any(&v)), "\"é\\\\u00e9😀\"");
    }

    #[test]
    fn assessment_aggregates() {
        assert_eq!(aggregate(&json!(true)), (Some(1.0), false));
        assert_eq!(aggregate(&json!(0.5)), (Some(0.5), true));
        assert_eq!(aggregate(&json!(" Yes")), (Some(1.0), false));
        assert_eq!(aggregate(&json!({"a": 1})), (None, false));
    }
}
