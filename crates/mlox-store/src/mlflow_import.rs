//! `mlox import`: copies an MLflow tracking database (SQLite, PostgreSQL or MySQL — see
//! `mlflow_mysql.rs` —, any schema
//! revision MLflow 2.0–3.17 leaves behind) into an mlox store with the same ids and
//! timestamps.
//!
//! The source is opened read-only and read in one snapshot (a read transaction), table by
//! table, streaming: rows are grouped into batches and each batch is written to the target
//! in one transaction through the store's own writer, so memory stays flat at any size.
//! Columns a revision does not have yet read as NULL (the column list of every source
//! table is looked up first). MLflow's tables map onto mlox's as follows:
//!
//! - experiments, runs, params, tags, latest metrics, datasets, logged models, the registry
//!   and webhooks: one row each, same keys. A webhook's secret is stored by MLflow
//!   encrypted (Fernet) with its server's `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY`: given
//!   that key (`ImportOptions::webhook_secret_key`) it is decrypted and kept, else it is
//!   left unset (and said so).
//! - metric histories: the points of each (run, key) are packed into `metric_chunks` (see
//!   `chunks.rs`), except the points MLflow also keeps in `logged_model_metrics`, which
//!   keep a `metrics` row naming their model and dataset, as mlox logs them.
//! - inputs: dataset → run rows become `run_inputs` (their input tags `run_input_tags`),
//!   run → model rows `run_model_io`.
//! - traces: `trace_info` with its tags and request metadata (the columns MLflow promoted
//!   out of the metadata — trace name, session, token usage, cost — become the tag and
//!   metadata entries MLflow answers with), spans (MLflow's span JSON, one row per span)
//!   converted to OpenTelemetry spans in one compressed batch per trace, trace → run
//!   associations, and assessments.
//! - the scorer registry: `scorers`, `scorer_versions` and `online_scoring_configs`, row
//!   for row.
//! - evaluation datasets: `evaluation_datasets` and their tags row for row, their
//!   `entity_associations` to experiments as `eval_dataset_experiments`, and each
//!   `evaluation_dataset_records` row as the JSON body mlox keeps (what MLflow answers
//!   for it: outputs unwrapped, the source's id and type), with mlox's own inputs hash.
//!
//! An interrupted import can be run again: the target remembers the import in the
//! `mlox_import` table until it finishes, every insert skips rows already there, and
//! a metric history is written whole again after its earlier chunks are removed. Without
//! such an unfinished import of the same source, a target holding any id of the source
//! (besides an untouched default experiment) is refused before anything is written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use mlox_core::trace::{
    AnyValue, Assessment, AssessmentSource, KeyValue, Span, SpanEvent, SpanLink,
};
use mlox_core::{MlflowError, Result};

use crate::db::{Conn, DbError, Dialect, LenientRow, RowView, SqlValue};
use crate::{SqlStore, StoreOptions, StoreUri};

/// The token-usage and cost keys MLflow 3.17 keeps as `trace_info` columns, in column
/// order (read by the import, written by the export).
pub(crate) const TOKEN_KEYS: &[&str] = &[
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr",
];
pub(crate) const COST_KEYS: &[&str] = &["input_cost", "output_cost", "total_cost"];

/// Every alembic revision of MLflow's tracking schema up to 3.17 (MLflow's
/// `store/db_migrations/versions`). A database stamped with another one is newer than
/// this importer knows.
const KNOWN_REVISIONS: &[&str] = &[
    "0584bdc529eb",
    "0a8213491aaa",
    "0c779009ac13",
    "17e22815139b",
    "181f10493468",
    "1971f2d9a75b",
    "1a0cddfcaa16",
    "1b5f0d9ad7c1",
    "1bd49d398cd23",
    "27a6a02d2cf1",
    "2b4d017a5e9b",
    "2c33131f4dae",
    "2d6e25af4d3e",
    "3500859a5d39",
    "39d1c3be5f05",
    "3da73c924c2f",
    "400f98739977",
    "4465047574b1",
    "451aebb31d03",
    "534353b11cbc",
    "5b0e9adcef9c",
    "5d2d30f0abce",
    "6953534de441",
    "6f8d9c3b2a1e",
    "71994744cf8e",
    "728d730b5ebd",
    "75868b020152",
    "76601a5f987d",
    "770bee3ae1dd",
    "7ac759974ad8",
    "7d34483879f0",
    "7f2a7d5fae7d",
    "84291f40a231",
    "867495a8f9d4",
    "89d3d66ed43f",
    "89d4b8295536",
    "90e64c465722",
    "97727af70f4d",
    "a1b2c3d4e5f6",
    "a5b4c3d2e1f0",
    "a8b9c0d1e2f3",
    "a8c4a736bde6",
    "acf3f17fdcc7",
    "ae8bbe7743c9",
    "b7c8d9e0f1a2",
    "b7e2c1a4d9f3",
    "b7e4c1a90f23",
    "bd07f7e963c5",
    "bda7b8c39065",
    "bf29a5ff90ea",
    "c1d2e3f4a5b6",
    "c3d6457b6d8a",
    "c3d9e7f1a2b4",
    "c48cb773bb87",
    "c8d9e0f1a2b3",
    "c9d4e5f6a7b8",
    "cbc13b556ace",
    "cc1f77228345",
    "cfd24bdc0731",
    "d0e1f2a3b4c5",
    "d3e4f5a6b7c8",
    "da6fb0208061",
    "dc11669786a5",
    "de4033877273",
    "df50e92ffc5e",
    "e1f2a3b4c5d6",
    "f5a4f2784254",
];

/// Where progress goes: one bar per table (the CLI draws them with indicatif).
pub trait ImportProgress: Send + Sync {
    /// A table starts; `total` is its row count in the source.
    fn start(&self, table: &str, total: u64);
    /// `n` more rows of the current table are written.
    fn advance(&self, n: u64);
    fn finish(&self);
    /// Something the user should know (not an error).
    fn note(&self, message: &str);
}

/// No progress output.
pub struct Quiet;

impl ImportProgress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn note(&self, _: &str) {}
}

pub struct ImportOptions {
    /// Rows (metric points) per target transaction.
    pub batch_rows: usize,
    pub progress: Arc<dyn ImportProgress>,
    /// The folder an MLflow server served proxied artifacts from (`--artifacts-source`):
    /// a file store's traces with `mlflow-artifacts:/` locations have their spans there.
    pub artifacts_source: Option<std::path::PathBuf>,
    /// MLflow's `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY`: with it, webhook secrets are
    /// decrypted and kept; without it they are left out (and said so).
    pub webhook_secret_key: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_rows: 50_000,
            progress: Arc::new(Quiet),
            artifacts_source: None,
            webhook_secret_key: None,
        }
    }
}

/// What was copied: rows per table, in order.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub revision: String,
    pub tables: Vec<(String, u64)>,
    pub resumed: bool,
    /// The source was an MLflow file store (read through a temporary database at
    /// MLflow's schema head, which is then `revision`).
    pub file_store: bool,
    /// The ids of the experiments imported.
    pub experiment_ids: Vec<i64>,
}

fn invalid(msg: impl Into<String>) -> MlflowError {
    MlflowError::invalid(msg.into())
}

fn db(e: DbError) -> MlflowError {
    MlflowError::internal(format!("reading the MLflow database: {e}"))
}

/// A database opened for reading, in one snapshot (an MLflow database for `mlox import`,
/// an mlox store for `mlox export`).
pub(crate) enum Source {
    Sqlite(rusqlite::Connection),
    Postgres(Box<crate::postgres::Client>),
    /// An MLflow database on MySQL or MariaDB (an import source only).
    Mysql(Box<crate::mlflow_mysql::MysqlSource>),
}

impl Source {
    fn open(uri: &str) -> Result<Self> {
        let scheme = uri.split("://").next().unwrap_or("");
        let base = scheme.split('+').next().unwrap_or(scheme);
        if base == "mysql" || base == "mariadb" {
            return Ok(Source::Mysql(Box::new(
                crate::mlflow_mysql::MysqlSource::open(uri)?,
            )));
        }
        if base == "mssql" {
            return Err(invalid(format!(
                "importing from '{base}' is not supported: mlox reads MLflow databases on SQLite, PostgreSQL and MySQL"
            )));
        }
        Self::open_uri(&StoreUri::parse(uri)?, "MLflow database")
    }

    /// Opens `uri` read-only, in one snapshot; `what` names it in errors.
    pub(crate) fn open_uri(uri: &StoreUri, what: &str) -> Result<Self> {
        match uri {
            StoreUri::Sqlite(path) => {
                if !path.exists() {
                    return Err(invalid(format!(
                        "the {what} {} does not exist",
                        path.display()
                    )));
                }
                let conn = crate::sqlite::open(path, true).map_err(db)?;
                // One snapshot of the whole database, whatever MLflow writes meanwhile.
                conn.execute_batch("BEGIN").map_err(|e| db(e.into()))?;
                Ok(Source::Sqlite(conn))
            }
            StoreUri::Postgres(url) => {
                let config: postgres::Config = url
                    .parse()
                    .map_err(|e| invalid(format!("invalid PostgreSQL URI: {e}")))?;
                let mut client = crate::postgres::Client::connect(&config, crate::Durability::Full)
                    .map_err(db)?;
                client
                    .conn()
                    .execute(
                        "START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY",
                        &[],
                    )
                    .map_err(db)?;
                Ok(Source::Postgres(Box::new(client)))
            }
        }
    }

    pub(crate) fn with<R>(&mut self, f: impl FnOnce(&mut dyn Conn) -> R) -> R {
        match self {
            Source::Sqlite(c) => f(&mut crate::sqlite::SqliteConn(c)),
            Source::Postgres(c) => f(&mut c.conn()),
            Source::Mysql(c) => f(&mut **c),
        }
    }

    pub(crate) fn each(&mut self, sql: &str, f: &mut dyn FnMut(&dyn RowView)) -> Result<()> {
        self.with(|c| {
            c.query_each(sql, &[], &mut |r| {
                f(r);
                Ok(())
            })
        })
        .map_err(db)
    }

    /// The columns of `table`, or `None` when the revision has no such table.
    fn columns(&mut self, table: &str) -> Result<Option<HashSet<String>>> {
        let sql = match self {
            Source::Sqlite(_) => "SELECT name FROM pragma_table_info(?)",
            Source::Postgres(_) => "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?",
            Source::Mysql(_) => "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?",
        };
        let rows = self.with(|c| c.query(sql, &[table.into()])).map_err(db)?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(rows.iter().map(|r| r.text_or_empty(0)).collect()))
    }
}

/// The source's tables and columns, for SELECT lists that fit its revision.
struct Schema(HashMap<String, HashSet<String>>);

impl Schema {
    fn has(&self, table: &str) -> bool {
        self.0.contains_key(table)
    }
    /// `table.column`'s name, or NULL when this revision lacks it.
    fn col(&self, table: &str, column: &str) -> String {
        match self.0.get(table) {
            Some(cols) if cols.contains(column) => format!("\"{column}\""),
            _ => "NULL".into(),
        }
    }
    /// 1 when `table.column` is NULL (or missing), else 0: both backends read a NULL
    /// number as 0 or NaN, so a nullable number is read with this flag next to it.
    fn null_flag(&self, table: &str, column: &str) -> String {
        format!("({} IS NULL)", self.col(table, column))
    }
    /// A condition keeping the default workspace's rows (MLflow 3.10+ has workspaces).
    fn default_workspace(&self, table: &str) -> &'static str {
        match self.0.get(table) {
            Some(cols) if cols.contains("workspace") => " WHERE workspace = 'default'",
            _ => "",
        }
    }
}

const TABLES: &[&str] = &[
    "alembic_version",
    "experiments",
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
    "webhooks",
    "webhook_events",
    "trace_info",
    "trace_tags",
    "trace_request_metadata",
    "spans",
    "assessments",
    "entity_associations",
    "scorers",
    "scorer_versions",
    "online_scoring_configs",
    "evaluation_datasets",
    "evaluation_dataset_tags",
    "evaluation_dataset_records",
];

/// Imports the MLflow database (or file store folder) at `source` into the mlox store
/// at `target`.
pub async fn import_mlflow(
    source: &str,
    target: &StoreUri,
    opts: ImportOptions,
) -> Result<ImportSummary> {
    // A key that is no Fernet key is refused before anything is read or written.
    if let Some(key) = opts.webhook_secret_key.as_deref() {
        crate::webhook_secret::Cipher::new(key)?;
    }
    let source = source.to_string();
    let progress = opts.progress.clone();
    let artifacts_source = opts.artifacts_source.clone();
    // The source is checked before the target is even opened. A file store is first
    // written into a temporary MLflow database (kept until the import ends), which is
    // then imported like any other; the import is known by the store's absolute path.
    let (mut src, schema, revision, _scratch) = tokio::task::spawn_blocking(move || {
        let (mut src, source, scratch) = match crate::mlflow_file_store::file_store_root(&source) {
            Some(root) => {
                let root = std::fs::canonicalize(&root).map_err(|e| {
                    invalid(format!(
                        "{source} is neither an MLflow database URI nor a readable folder: {e}"
                    ))
                })?;
                let scratch = tempfile::tempdir().map_err(|e| {
                    MlflowError::internal(format!("creating a temporary folder: {e}"))
                })?;
                let db = scratch.path().join("mlflow.db");
                progress.note(&format!("reading the MLflow file store {}", root.display()));
                let converted =
                    crate::mlflow_file_store::convert(&root, &db, artifacts_source.as_deref())?;
                for n in &converted.notes {
                    progress.note(n);
                }
                let src = Source::open_uri(&StoreUri::Sqlite(db), "MLflow database")?;
                (src, format!("file://{}", root.display()), Some(scratch))
            }
            None => (Source::open(&source)?, source, None),
        };
        let (schema, revision) = inspect(&mut src, &source)?;
        Ok::<_, MlflowError>(((src, source), schema, revision, scratch))
    })
    .await
    .map_err(|e| MlflowError::internal(e.to_string()))??;
    let file_store = _scratch.is_some();
    let store = Arc::new(SqlStore::open(target, StoreOptions::default()).await?);
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let (src_conn, source) = &mut src;
        Importer {
            src: src_conn,
            source: source.clone(),
            store,
            handle,
            opts,
            schema,
            summary: ImportSummary {
                revision,
                file_store,
                ..ImportSummary::default()
            },
        }
        .run()
    })
    .await
    .map_err(|e| MlflowError::internal(e.to_string()))?
}

type Batch = Vec<Vec<SqlValue>>;

/// Reads the source's tables and columns and checks that this importer can read it: an
/// MLflow tracking database at a known revision, with the default workspace only.
fn inspect(src: &mut Source, source: &str) -> Result<(Schema, String)> {
    let mut schema = Schema(HashMap::new());
    for t in TABLES {
        if let Some(cols) = src.columns(t)? {
            schema.0.insert((*t).to_string(), cols);
        }
    }
    if !schema.has("experiments") || !schema.has("runs") {
        return Err(invalid(format!(
            "{source} is not an MLflow tracking database (it has no experiments and runs tables)"
        )));
    }
    let mut revision = String::new();
    if schema.has("alembic_version") {
        src.each("SELECT version_num FROM alembic_version", &mut |r| {
            revision = r.opt_text_or_none(0).unwrap_or_default()
        })?;
    }
    if !KNOWN_REVISIONS.contains(&revision.as_str()) {
        return Err(invalid(format!(
            "the MLflow database is at schema revision '{revision}', which this mlox does not know (it reads every revision up to MLflow 3.17's dc11669786a5); upgrade mlox, or import from a database of an older MLflow"
        )));
    }
    for table in [
        "experiments",
        "registered_models",
        "webhooks",
        "evaluation_datasets",
    ] {
        if schema.default_workspace(table).is_empty() {
            continue;
        }
        let mut n = 0;
        src.each(
            &format!("SELECT COUNT(*) FROM {table} WHERE workspace <> 'default'"),
            &mut |r| n = r.int_or_zero(0),
        )?;
        if n > 0 {
            return Err(invalid(format!(
                "the MLflow database uses workspaces other than 'default' ({n} rows of {table}); mlox has no workspaces, so it cannot import them"
            )));
        }
    }
    Ok((schema, revision))
}

/// For the tests of resumption: `MLOX_IMPORT_FAIL_AFTER_BATCHES=N` makes the import stop
/// with an error once N batches are committed, as an interruption would.
fn batch_committed() -> Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static DONE: AtomicU64 = AtomicU64::new(0);
    let done = DONE.fetch_add(1, Ordering::Relaxed) + 1;
    match std::env::var("MLOX_IMPORT_FAIL_AFTER_BATCHES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(limit) if done >= limit => Err(MlflowError::internal(format!(
            "import interrupted after {done} batches (MLOX_IMPORT_FAIL_AFTER_BATCHES)"
        ))),
        _ => Ok(()),
    }
}

struct Importer<'a> {
    src: &'a mut Source,
    source: String,
    store: Arc<SqlStore>,
    handle: tokio::runtime::Handle,
    opts: ImportOptions,
    schema: Schema,
    summary: ImportSummary,
}

impl Importer<'_> {
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let out = self.handle.block_on(self.store.db.write(f))?;
        batch_committed()?;
        Ok(out)
    }

    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.handle.block_on(self.store.db.read(f))
    }

    fn count(&mut self, from: &str) -> Result<u64> {
        let mut n = 0;
        self.src
            .each(&format!("SELECT COUNT(*) FROM {from}"), &mut |r| {
                n = r.int_or_zero(0) as u64
            })?;
        Ok(n)
    }

    fn run(mut self) -> Result<ImportSummary> {
        self.begin()?;
        self.experiments()?;
        self.runs()?;
        self.metrics()?;
        self.datasets_and_inputs()?;
        self.logged_models()?;
        self.registry()?;
        self.webhooks()?;
        self.traces()?;
        self.scorers()?;
        self.eval_datasets()?;
        let dialect = self.read(|c| Ok(c.dialect()))?;
        let source = self.source.clone();
        self.write(move |c| {
            if dialect == Dialect::Postgres {
                // New experiments continue after the imported ids.
                c.execute("SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), GREATEST((SELECT MAX(experiment_id) FROM experiments), 1))", &[])?;
            }
            c.execute("DELETE FROM mlox_import WHERE source = ?", &[source.into()])?;
            Ok(())
        })?;
        Ok(self.summary)
    }

    /// Records the import in the target, or finds the unfinished one it resumes; refuses
    /// a target that already holds ids of the source.
    fn begin(&mut self) -> Result<()> {
        let source = self.source.clone();
        let resumed = self.write(move |c| {
            c.execute(
                "CREATE TABLE IF NOT EXISTS mlox_import (source TEXT PRIMARY KEY, started_at BIGINT NOT NULL)",
                &[],
            )?;
            Ok(c.query_opt("SELECT 1 FROM mlox_import WHERE source = ?", &[source.into()])?
                .is_some())
        })?;
        self.summary.resumed = resumed;
        if !resumed {
            self.check_conflicts()?;
            let source = self.source.clone();
            self.write(move |c| {
                c.execute(
                    "INSERT INTO mlox_import (source, started_at) VALUES (?, ?)",
                    &[source.into(), crate::tracking::now_ms().into()],
                )?;
                Ok(())
            })?;
        } else {
            self.opts
                .progress
                .note("resuming an unfinished import of this source");
        }
        Ok(())
    }

    /// Ids of the source already in the target: experiments (but an untouched default
    /// experiment 0), runs, logged models, registered models, webhooks, traces.
    fn check_conflicts(&mut self) -> Result<()> {
        let checks: [(&str, &str, &str, &str); 8] = [
            (
                "experiments",
                "experiment_id",
                "experiments",
                "experiment_id",
            ),
            ("runs", "run_uuid", "runs", "run_uuid"),
            ("logged_models", "model_id", "logged_models", "model_id"),
            ("registered_models", "name", "registered_models", "name"),
            ("webhooks", "webhook_id", "webhooks", "webhook_id"),
            ("trace_info", "request_id", "traces", "trace_id"),
            ("scorers", "scorer_id", "scorers", "scorer_id"),
            (
                "evaluation_datasets",
                "dataset_id",
                "eval_datasets",
                "dataset_id",
            ),
        ];
        let default_untouched = self.read(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM experiments e WHERE experiment_id = 0 AND NOT EXISTS (SELECT 1 FROM runs WHERE experiment_id = 0) AND NOT EXISTS (SELECT 1 FROM experiment_tags WHERE experiment_id = 0) AND NOT EXISTS (SELECT 1 FROM logged_models WHERE experiment_id = 0) AND NOT EXISTS (SELECT 1 FROM traces WHERE experiment_id = 0)",
                &[],
            )?
            .is_some())
        })?;
        for (src_table, src_col, dst_table, dst_col) in checks {
            if !self.schema.has(src_table) {
                continue;
            }
            let mut ids: Vec<SqlValue> = Vec::new();
            let sql = format!("SELECT {src_col} FROM {src_table}");
            let mut found: Option<String> = None;
            let numeric = src_col == "experiment_id";
            let mut flush = |ids: &mut Vec<SqlValue>, this: &Self| -> Result<()> {
                if ids.is_empty() || found.is_some() {
                    return Ok(());
                }
                let batch = std::mem::take(ids);
                let q = format!(
                    "SELECT {dst_col} FROM {dst_table} WHERE {dst_col} IN ({}) LIMIT 1",
                    crate::db::placeholders(batch.len())
                );
                let hit =
                    this.read(move |c| Ok(c.query_opt(&q, &batch)?.map(|r| r.text_or_empty(0))))?;
                found = hit;
                Ok(())
            };
            let mut all = Vec::new();
            self.src.each(&sql, &mut |r| {
                if numeric {
                    let id = r.int_or_zero(0);
                    if !(id == 0 && default_untouched) {
                        all.push(SqlValue::Int(id));
                    }
                } else if let Some(s) = r.opt_text_or_none(0) {
                    all.push(SqlValue::Text(s));
                }
            })?;
            for id in all {
                ids.push(id);
                if ids.len() >= 500 {
                    flush(&mut ids, self)?;
                }
            }
            flush(&mut ids, self)?;
            if let Some(id) = found {
                return Err(MlflowError::already_exists(format!(
                        "the target store already holds {dst_table} '{id}' of the MLflow database; import into an empty store (nothing was written)"
                )));
            }
        }
        Ok(())
    }

    /// Streams `select` from the source and writes each batch of rows with `insert`
    /// (one statement per row, `ON CONFLICT DO NOTHING`), one transaction per batch.
    fn copy(
        &mut self,
        label: &str,
        count_from: &str,
        select: &str,
        insert: &str,
        map: &mut dyn FnMut(&dyn RowView) -> Option<Vec<SqlValue>>,
    ) -> Result<u64> {
        let total = self.count(count_from)?;
        self.opts.progress.start(label, total);
        let insert = Arc::new(insert.to_string());
        let limit = self.opts.batch_rows.max(1);
        let mut batch: Batch = Vec::new();
        let mut written = 0u64;
        let mut err: Option<MlflowError> = None;
        let src = &mut *self.src;
        let (store, handle, progress) = (&self.store, &self.handle, &self.opts.progress);
        let send = |batch: Batch| -> Result<()> {
            let n = batch.len() as u64;
            let insert = insert.clone();
            handle.block_on(store.db.write(move |c| {
                for row in &batch {
                    c.execute(&insert, row)?;
                }
                Ok(())
            }))?;
            batch_committed()?;
            progress.advance(n);
            Ok(())
        };
        src.each(select, &mut |r| {
            if err.is_some() {
                return;
            }
            if let Some(row) = map(r) {
                batch.push(row);
                written += 1;
            }
            if batch.len() >= limit {
                if let Err(e) = send(std::mem::take(&mut batch)) {
                    err = Some(e);
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        if !batch.is_empty() {
            send(batch)?;
        }
        self.opts.progress.finish();
        self.summary.tables.push((label.to_string(), written));
        Ok(written)
    }

    fn experiments(&mut self) -> Result<()> {
        let s = &self.schema;
        let select = format!(
            "SELECT experiment_id, name, {}, {}, {}, {} FROM experiments{} ORDER BY experiment_id",
            s.col("experiments", "artifact_location"),
            s.col("experiments", "lifecycle_stage"),
            s.col("experiments", "creation_time"),
            s.col("experiments", "last_update_time"),
            s.default_workspace("experiments"),
        );
        // The target's default experiment (untouched, checked above) takes the source's.
        let mut ids = Vec::new();
        self.copy(
            "experiments",
            &format!("experiments{}", s.default_workspace("experiments")),
            &select,
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (experiment_id) DO UPDATE SET name = excluded.name, artifact_location = excluded.artifact_location, lifecycle_stage = excluded.lifecycle_stage, creation_time = excluded.creation_time, last_update_time = excluded.last_update_time",
            &mut |r| {
                ids.push(r.int_or_zero(0));
                Some(vec![
                    r.int_or_zero(0).into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                    r.opt_text_or_none(3).unwrap_or_else(|| "active".into()).into(),
                    r.int_or_zero(4).into(),
                    r.int_or_zero(5).into(),
                ])
            },
        )?;
        self.summary.experiment_ids = ids;
        let ws = if self.schema.default_workspace("experiments").is_empty() {
            ""
        } else {
            " WHERE experiment_id IN (SELECT experiment_id FROM experiments WHERE workspace = 'default')"
        };
        self.copy(
            "experiment tags",
            &format!("experiment_tags{ws}"),
            &format!("SELECT experiment_id, key, value FROM experiment_tags{ws}"),
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.int_or_zero(0).into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                ])
            },
        )?;
        Ok(())
    }

    fn runs(&mut self) -> Result<()> {
        let s = &self.schema;
        let select = format!(
            "SELECT run_uuid, {}, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage, {}, (end_time IS NULL), {} FROM runs",
            s.col("runs", "name"),
            s.col("runs", "deleted_time"),
            s.null_flag("runs", "deleted_time"),
        );
        self.copy(
            "runs",
            "runs",
            &select,
            "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage, deleted_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.int_or_zero(2).into(),
                    r.opt_text_or_none(3).unwrap_or_default().into(),
                    r.opt_text_or_none(4).unwrap_or_else(|| "RUNNING".into()).into(),
                    r.int_or_zero(5).into(),
                    opt_int(r, 6, 10).into(),
                    r.opt_text_or_none(7).unwrap_or_default().into(),
                    r.opt_text_or_none(8).unwrap_or_else(|| "active".into()).into(),
                    opt_int(r, 9, 11).into(),
                ])
            },
        )?;
        for (label, table) in [("params", "params"), ("tags", "tags")] {
            self.copy(
                label,
                table,
                &format!("SELECT run_uuid, key, value FROM {table}"),
                &format!("INSERT INTO {table} (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                &mut |r| Some(texts(r, 3)),
            )?;
        }
        self.copy(
            "latest metrics",
            "latest_metrics",
            "SELECT run_uuid, key, step, timestamp, value, is_nan FROM latest_metrics",
            "INSERT INTO latest_metrics (run_uuid, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                let is_nan = r.int_or_zero(5) != 0;
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.int_or_zero(2).into(),
                    r.int_or_zero(3).into(),
                    SqlValue::Real(if is_nan { 0.0 } else { finite(r.real_or_nan(4)) }),
                    SqlValue::Int(is_nan.into()),
                ])
            },
        )?;
        Ok(())
    }

    /// Metric histories: the plain points of each (run, key) packed into chunks, the
    /// points of logged models as `metrics` rows naming the model and dataset.
    fn metrics(&mut self) -> Result<()> {
        // (run, key, timestamp, step) of the points MLflow also filed under a logged model.
        let mut linked: HashSet<(String, String, i64, i64)> = HashSet::new();
        if self.schema.has("logged_model_metrics") {
            let select = "SELECT run_id, metric_name, metric_timestamp_ms, metric_step, metric_value, model_id, dataset_name, dataset_digest, (metric_value IS NULL) FROM logged_model_metrics";
            let mut rows: Batch = Vec::new();
            self.src.each(select, &mut |r| {
                let run = r.opt_text_or_none(0).unwrap_or_default();
                let key = r.opt_text_or_none(1).unwrap_or_default();
                let (ts, step) = (r.int_or_zero(2), r.int_or_zero(3));
                linked.insert((run.clone(), key.clone(), ts, step));
                let v = if r.int_or_zero(8) != 0 {
                    f64::NAN
                } else {
                    r.real_or_nan(4)
                };
                let is_nan = v.is_nan();
                rows.push(vec![
                    run.into(),
                    key.into(),
                    step.into(),
                    ts.into(),
                    SqlValue::Real(if is_nan { 0.0 } else { finite(v) }),
                    SqlValue::Int(is_nan.into()),
                    r.opt_text_or_none(5).into(),
                    r.opt_text_or_none(6).into(),
                    r.opt_text_or_none(7).into(),
                ]);
            })?;
            let n = rows.len() as u64;
            self.opts.progress.start("logged-model metrics", n);
            for chunk in rows.chunks(self.opts.batch_rows.max(1)) {
                let chunk = chunk.to_vec();
                let len = chunk.len() as u64;
                self.write(move |c| {
                    for row in &chunk {
                        c.execute("INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", row)?;
                    }
                    Ok(())
                })?;
                self.opts.progress.advance(len);
            }
            self.opts.progress.finish();
            self.summary.tables.push(("logged-model metrics".into(), n));
        }

        let total = self.count("metrics")?;
        self.opts.progress.start("metric points", total);
        let limit = self.opts.batch_rows.max(1);
        // Points of the batch being built, per (run, key) in source order; `fresh` marks
        // the pairs whose history starts in this batch (their old chunks, from an
        // interrupted import, are removed first).
        let mut batch: Vec<(String, String, bool, Vec<crate::chunks::Plain>)> = Vec::new();
        let mut in_batch = 0usize;
        let mut written = 0u64;
        let mut err: Option<MlflowError> = None;
        let (store, handle, progress) = (&self.store, &self.handle, &self.opts.progress);
        // One batch is written while the next is read: `pending` is the write in flight.
        // An empty batch only waits for it.
        type Pending = (tokio::task::JoinHandle<Result<()>>, usize);
        let mut pending: Option<Pending> = None;
        let mut send = |batch: Vec<(String, String, bool, Vec<crate::chunks::Plain>)>,
                        n: usize|
         -> Result<()> {
            if let Some((write, n)) = pending.take() {
                handle
                    .block_on(write)
                    .map_err(|e| MlflowError::internal(e.to_string()))??;
                batch_committed()?;
                progress.advance(n as u64);
            }
            if batch.is_empty() {
                return Ok(());
            }
            let store = store.clone();
            let write = handle.spawn(async move {
                store
                    .db
                    .write(move |c| {
                        for (run, key, fresh, points) in &batch {
                            if *fresh {
                                c.execute(
                                    "DELETE FROM metric_chunks WHERE run_uuid = ? AND key = ?",
                                    &[run.as_str().into(), key.as_str().into()],
                                )?;
                            }
                            for part in points.chunks(crate::chunks::IMPORT_CHUNK_POINTS) {
                                crate::chunks::insert_chunk(c, run, key, part)?;
                            }
                        }
                        Ok(())
                    })
                    .await
            });
            pending = Some((write, n));
            Ok(())
        };
        // The points of a (run, key) must come together: MySQL's case-insensitive
        // collations would order 'loss' and 'LOSS' as one key, so it compares bytes.
        let key_order = match self.src {
            Source::Mysql(_) => "CAST(key AS BINARY)",
            _ => "key",
        };
        self.src.each(
            &format!("SELECT run_uuid, key, step, timestamp, value, is_nan FROM metrics ORDER BY run_uuid, {key_order}, step"),
            &mut |r| {
                if err.is_some() {
                    return;
                }
                let run = r.str_or_empty(0);
                let key = r.str_or_empty(1);
                let (step, ts) = (r.int_or_zero(2), r.int_or_zero(3));
                let same = batch
                    .last()
                    .is_some_and(|(lr, lk, _, _)| lr == run && lk == key);
                if !linked.is_empty()
                    && linked.contains(&(run.to_string(), key.to_string(), ts, step))
                {
                    return;
                }
                let value = if r.int_or_zero(5) != 0 { f64::NAN } else { r.real_or_nan(4) };
                let point = crate::chunks::Plain {
                    step,
                    timestamp: ts,
                    value,
                };
                if same {
                    batch.last_mut().expect("checked").3.push(point);
                } else {
                    // A pair continues from the previous batch only when that batch ended
                    // inside it.
                    batch.push((run.to_string(), key.to_string(), true, vec![point]));
                }
                in_batch += 1;
                written += 1;
                if in_batch >= limit {
                    let last = batch.last().map(|(r, k, _, _)| (r.clone(), k.clone()));
                    let full = std::mem::take(&mut batch);
                    if let Err(e) = send(full, in_batch) {
                        err = Some(e);
                    }
                    in_batch = 0;
                    // The pair in progress goes on in the next batch without a fresh start.
                    if let Some((r, k)) = last {
                        batch.push((r, k, false, Vec::new()));
                    }
                }
            },
        )?;
        if let Some(e) = err {
            return Err(e);
        }
        batch.retain(|(_, _, _, p)| !p.is_empty());
        if !batch.is_empty() {
            send(batch, in_batch)?;
        }
        send(Vec::new(), 0)?;
        self.opts.progress.finish();
        self.summary.tables.push(("metric points".into(), written));
        Ok(())
    }

    fn datasets_and_inputs(&mut self) -> Result<()> {
        if !self.schema.has("datasets") {
            return Ok(());
        }
        let s = &self.schema;
        let select = format!(
            "SELECT dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, {}, {} FROM datasets",
            s.col("datasets", "dataset_schema"),
            s.col("datasets", "dataset_profile"),
        );
        self.copy(
            "datasets",
            "datasets",
            &select,
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.int_or_zero(1).into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                    r.opt_text_or_none(3).unwrap_or_default().into(),
                    r.opt_text_or_none(4).unwrap_or_default().into(),
                    r.opt_text_or_none(5).unwrap_or_default().into(),
                    r.opt_text_or_none(6).into(),
                    r.opt_text_or_none(7).into(),
                ])
            },
        )?;
        if !self.schema.has("inputs") {
            return Ok(());
        }
        self.copy(
            "dataset inputs",
            "inputs WHERE source_type = 'DATASET' AND destination_type = 'RUN'",
            "SELECT destination_id, source_id FROM inputs WHERE source_type = 'DATASET' AND destination_type = 'RUN'",
            "INSERT INTO run_inputs (run_uuid, dataset_uuid) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &mut |r| Some(texts(r, 2)),
        )?;
        if self.schema.has("input_tags") {
            let from = "input_tags t JOIN inputs i ON i.input_uuid = t.input_uuid WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN'";
            self.copy(
                "input tags",
                from,
                &format!("SELECT i.destination_id, i.source_id, t.name, t.value FROM {from}"),
                "INSERT INTO run_input_tags (run_uuid, dataset_uuid, key, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                &mut |r| Some(texts(r, 4)),
            )?;
        }
        let step = self.schema.col("inputs", "step");
        let from = "inputs WHERE (source_type = 'RUN_INPUT' AND destination_type = 'MODEL_INPUT') OR (source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT')";
        self.copy(
            "model inputs and outputs",
            from,
            &format!("SELECT source_id, source_type, destination_id, {step} FROM {from}"),
            "INSERT INTO run_model_io (run_uuid, direction, model_id, step) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                let direction = if r.str_or_empty(1) == "RUN_INPUT" { "input" } else { "output" };
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    direction.into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                    r.int_or_zero(3).into(),
                ])
            },
        )?;
        Ok(())
    }

    fn logged_models(&mut self) -> Result<()> {
        if !self.schema.has("logged_models") {
            return Ok(());
        }
        self.copy(
            "logged models",
            "logged_models",
            "SELECT model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message FROM logged_models",
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.int_or_zero(1).into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                    r.opt_text_or_none(3).unwrap_or_default().into(),
                    r.int_or_zero(4).into(),
                    r.int_or_zero(5).into(),
                    r.int_or_zero(6).into(),
                    r.opt_text_or_none(7).unwrap_or_else(|| "active".into()).into(),
                    r.opt_text_or_none(8).into(),
                    r.opt_text_or_none(9).into(),
                    r.opt_text_or_none(10).into(),
                ])
            },
        )?;
        for (label, src, k, v, dst) in [
            (
                "logged-model params",
                "logged_model_params",
                "param_key",
                "param_value",
                "logged_model_params",
            ),
            (
                "logged-model tags",
                "logged_model_tags",
                "tag_key",
                "tag_value",
                "logged_model_tags",
            ),
        ] {
            if !self.schema.has(src) {
                continue;
            }
            self.copy(
                label,
                src,
                &format!("SELECT model_id, {k}, {v} FROM {src}"),
                &format!("INSERT INTO {dst} (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
                &mut |r| Some(texts(r, 3)),
            )?;
        }
        Ok(())
    }

    fn registry(&mut self) -> Result<()> {
        if !self.schema.has("registered_models") {
            return Ok(());
        }
        let ws = |s: &Schema, t: &str| s.default_workspace(t);
        let s = &self.schema;
        let from = format!("registered_models{}", ws(s, "registered_models"));
        self.copy(
            "registered models",
            &from,
            &format!("SELECT name, creation_time, last_updated_time, description FROM {from}"),
            "INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.int_or_zero(1).into(),
                    r.int_or_zero(2).into(),
                    r.opt_text_or_none(3).into(),
                ])
            },
        )?;
        let s = &self.schema;
        let from = format!("registered_model_tags{}", ws(s, "registered_model_tags"));
        self.copy(
            "registered-model tags",
            &from,
            &format!("SELECT name, key, value FROM {from}"),
            "INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| Some(texts(r, 3)),
        )?;
        let s = &self.schema;
        let from = format!("model_versions{}", ws(s, "model_versions"));
        let select = format!(
            "SELECT name, version, creation_time, last_updated_time, description, user_id, current_stage, source, {}, run_id, {}, status, status_message, {} FROM {from}",
            s.col("model_versions", "storage_location"),
            s.col("model_versions", "run_link"),
            // MLflow's tables have no such column; the temporary database made of a file
            // store (whose versions record it) does.
            s.col("model_versions", "model_id"),
        );
        self.copy(
            "model versions",
            &from,
            &select,
            "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message, model_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.int_or_zero(1).into(),
                    r.int_or_zero(2).into(),
                    r.int_or_zero(3).into(),
                    r.opt_text_or_none(4).into(),
                    r.opt_text_or_none(5).into(),
                    r.opt_text_or_none(6).unwrap_or_else(|| "None".into()).into(),
                    r.opt_text_or_none(7).into(),
                    r.opt_text_or_none(8).into(),
                    r.opt_text_or_none(9).into(),
                    r.opt_text_or_none(10).into(),
                    r.opt_text_or_none(11).unwrap_or_else(|| "READY".into()).into(),
                    r.opt_text_or_none(12).into(),
                    r.opt_text_or_none(13).into(),
                ])
            },
        )?;
        let s = &self.schema;
        let from = format!("model_version_tags{}", ws(s, "model_version_tags"));
        self.copy(
            "model-version tags",
            &from,
            &format!("SELECT name, version, key, value FROM {from}"),
            "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.int_or_zero(1).into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                    r.opt_text_or_none(3).unwrap_or_default().into(),
                ])
            },
        )?;
        if self.schema.has("registered_model_aliases") {
            let s = &self.schema;
            let from = format!(
                "registered_model_aliases{}",
                ws(s, "registered_model_aliases")
            );
            self.copy(
                "aliases",
                &from,
                &format!("SELECT name, alias, version FROM {from}"),
                "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                &mut |r| {
                    Some(vec![
                        r.opt_text_or_none(0).unwrap_or_default().into(),
                        r.opt_text_or_none(1).unwrap_or_default().into(),
                        r.int_or_zero(2).into(),
                    ])
                },
            )?;
        }
        Ok(())
    }

    fn webhooks(&mut self) -> Result<()> {
        if !self.schema.has("webhooks") {
            return Ok(());
        }
        let s = &self.schema;
        let from = format!("webhooks{}", s.default_workspace("webhooks"));
        let cipher = match self.opts.webhook_secret_key.as_deref() {
            Some(key) => Some(crate::webhook_secret::Cipher::new(key)?),
            None => None,
        };
        let (mut dropped, mut undecryptable) = (0, 0);
        self.copy(
            "webhooks",
            &from,
            &format!("SELECT webhook_id, name, description, url, status, secret, creation_timestamp, last_updated_timestamp, deleted_timestamp, (deleted_timestamp IS NULL) FROM {from}"),
            "INSERT INTO webhooks (webhook_id, name, description, url, status, secret, creation_timestamp, last_updated_timestamp, deleted_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                let secret = match (r.opt_text_or_none(5).filter(|s| !s.is_empty()), &cipher) {
                    (None, _) => None,
                    (Some(_), None) => {
                        dropped += 1;
                        None
                    }
                    (Some(token), Some(cipher)) => {
                        let plain = cipher.decrypt(&token);
                        if plain.is_none() {
                            undecryptable += 1;
                        }
                        plain
                    }
                };
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.opt_text_or_none(2).into(),
                    r.opt_text_or_none(3).unwrap_or_default().into(),
                    r.opt_text_or_none(4).unwrap_or_else(|| "ACTIVE".into()).into(),
                    secret.into(),
                    r.int_or_zero(6).into(),
                    r.int_or_zero(7).into(),
                    opt_int(r, 8, 9).into(),
                ])
            },
        )?;
        if dropped > 0 {
            self.opts.progress.note(&format!(
                "{dropped} webhook(s) had a signing secret, which MLflow keeps encrypted with its MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: they were imported without one; set that variable to the MLflow server's key to import them, or set the secret again with UpdateWebhook"
            ));
        }
        if undecryptable > 0 {
            self.opts.progress.note(&format!(
                "{undecryptable} webhook secret(s) could not be decrypted with MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY (not the key the MLflow server used?): they were imported without one; set them again with UpdateWebhook"
            ));
        }
        if self.schema.has("webhook_events") {
            self.copy(
                "webhook events",
                "webhook_events",
                "SELECT webhook_id, entity, action FROM webhook_events",
                "INSERT INTO webhook_events (webhook_id, entity, action) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                &mut |r| Some(texts(r, 3)),
            )?;
        }
        Ok(())
    }

    fn traces(&mut self) -> Result<()> {
        if !self.schema.has("trace_info") {
            return Ok(());
        }
        let s = &self.schema;
        let t = "trace_info";
        let select = format!(
            "SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, (execution_time_ms IS NULL), {} FROM trace_info",
            s.col(t, "client_request_id"),
            s.col(t, "request_preview"),
            s.col(t, "response_preview"),
            s.col(t, "trace_name"),
            s.col(t, "session_id"),
            s.col(t, "input_tokens"),
            s.col(t, "output_tokens"),
            s.col(t, "total_tokens"),
            s.col(t, "cache_read_input_tokens"),
            s.col(t, "cache_creation_input_tokens"),
            s.col(t, "cache_creation_input_tokens_above_1hr"),
            s.col(t, "input_cost"),
            s.col(t, "output_cost"),
            s.col(t, "total_cost"),
            TOKEN_KEYS
                .iter()
                .chain(COST_KEYS)
                .map(|c| s.null_flag(t, c))
            .collect::<Vec<_>>()
            .join(", "),
        );
        // Promoted columns become the entries MLflow answers with; extra rows of
        // (trace, table, key, value) are written after the traces.
        let mut extra: Vec<(String, &'static str, &'static str, String)> = Vec::new();
        self.copy(
            "traces",
            "trace_info",
            &select,
            "INSERT INTO traces (trace_id, experiment_id, request_time, execution_duration, state, client_request_id, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                let id = r.opt_text_or_none(0).unwrap_or_default();
                if let Some(name) = r.opt_text_or_none(8) {
                    extra.push((id.clone(), "trace_tags", "mlflow.traceName", name));
                }
                if let Some(session) = r.opt_text_or_none(9) {
                    extra.push((id.clone(), "trace_metadata", "mlflow.trace.session", session));
                }
                let tokens = [
                    ("input_tokens", 10),
                    ("output_tokens", 11),
                    ("total_tokens", 12),
                    ("cache_read_input_tokens", 13),
                    ("cache_creation_input_tokens", 14),
                    ("cache_creation_input_tokens_above_1hr", 15),
                ];
                let usage: Vec<String> = tokens
                    .iter()
                    .filter(|(_, i)| r.int_or_zero(i + 10) == 0)
                    .map(|(k, i)| format!("\"{k}\": {}", r.int_or_zero(*i)))
                    .collect();
                if !usage.is_empty() {
                    extra.push((
                        id.clone(),
                        "trace_metadata",
                        "mlflow.trace.tokenUsage",
                        format!("{{{}}}", usage.join(", ")),
                    ));
                }
                let costs = [("input_cost", 16), ("output_cost", 17), ("total_cost", 18)];
                let cost: Vec<String> = costs
                    .iter()
                    .filter(|(_, i)| r.int_or_zero(i + 10) == 0)
                    .map(|(k, i)| format!("\"{k}\": {}", python_float(r.real_or_nan(*i))))
                    .collect();
                if !cost.is_empty() {
                    extra.push((
                        id.clone(),
                        "trace_metadata",
                        "mlflow.trace.cost",
                        format!("{{{}}}", cost.join(", ")),
                    ));
                }
                Some(vec![
                    id.into(),
                    r.int_or_zero(1).into(),
                    r.int_or_zero(2).into(),
                    opt_int(r, 3, 19).into(),
                    r.opt_text_or_none(4).unwrap_or_else(|| "STATE_UNSPECIFIED".into()).into(),
                    r.opt_text_or_none(5).into(),
                    r.opt_text_or_none(6).into(),
                    r.opt_text_or_none(7).into(),
                ])
            },
        )?;
        let has_name_column = self.schema.col(t, "trace_name") != "NULL";
        self.copy(
            "trace tags",
            "trace_tags",
            "SELECT request_id, key, value FROM trace_tags",
            "INSERT INTO trace_tags (trace_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                // With a trace_name column, MLflow answers the column's name, not the tag's.
                if has_name_column && r.str_or_empty(1) == "mlflow.traceName" {
                    return None;
                }
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                ])
            },
        )?;
        let promoted = self.schema.col(t, "session_id") != "NULL";
        self.copy(
            "trace metadata",
            "trace_request_metadata",
            "SELECT request_id, key, value FROM trace_request_metadata",
            "INSERT INTO trace_metadata (trace_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                if promoted
                    && matches!(
                        r.str_or_empty(1),
                        "mlflow.trace.session" | "mlflow.trace.tokenUsage" | "mlflow.trace.cost"
                    )
                {
                    return None;
                }
                Some(vec![
                    r.opt_text_or_none(0).unwrap_or_default().into(),
                    r.opt_text_or_none(1).unwrap_or_default().into(),
                    r.opt_text_or_none(2).unwrap_or_default().into(),
                ])
            },
        )?;
        for chunk in extra.chunks(self.opts.batch_rows.max(1)) {
            let chunk = chunk.to_vec();
            self.write(move |c| {
                for (id, table, key, value) in &chunk {
                    c.execute(
                        &format!("INSERT INTO {table} (trace_id, key, value) VALUES (?, ?, ?) ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value"),
                        &[id.as_str().into(), (*key).into(), value.as_str().into()],
                    )?;
                }
                Ok(())
            })?;
        }
        self.spans()?;
        if self.schema.has("entity_associations") {
            let from =
                "entity_associations WHERE source_type = 'trace' AND destination_type = 'run'";
            self.copy(
                "trace runs",
                from,
                &format!("SELECT destination_id, source_id FROM {from}"),
                "INSERT INTO trace_runs (run_id, trace_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &mut |r| Some(texts(r, 2)),
            )?;
        }
        self.assessments()?;
        Ok(())
    }

    /// The scorer registry (MLflow 3): one `scorers` row per (experiment, name), one
    /// `scorer_versions` row per registered payload, same ids and times.
    fn scorers(&mut self) -> Result<()> {
        if !self.schema.has("scorers") || !self.schema.has("scorer_versions") {
            return Ok(());
        }
        self.copy(
            "scorers",
            "scorers",
            "SELECT scorer_id, experiment_id, scorer_name FROM scorers",
            "INSERT INTO scorers (scorer_id, experiment_id, name) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.text_or_empty(0).into(),
                    r.int_or_zero(1).into(),
                    r.text_or_empty(2).into(),
                ])
            },
        )?;
        self.copy(
            "scorer versions",
            "scorer_versions",
            "SELECT scorer_id, scorer_version, serialized_scorer, creation_time FROM scorer_versions",
            "INSERT INTO scorer_versions (scorer_id, version, serialized_scorer, creation_time) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.text_or_empty(0).into(),
                    r.int_or_zero(1).into(),
                    r.text_or_empty(2).into(),
                    r.int_or_zero(3).into(),
                ])
            },
        )?;
        if self.schema.has("online_scoring_configs") {
            self.copy(
                "online scoring configs",
                "online_scoring_configs",
                "SELECT online_scoring_config_id, scorer_id, sample_rate, experiment_id, filter_string FROM online_scoring_configs",
                "INSERT INTO online_scoring_configs (online_scoring_config_id, scorer_id, sample_rate, experiment_id, filter_string) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                &mut |r| {
                    Some(vec![
                        r.text_or_empty(0).into(),
                        r.text_or_empty(1).into(),
                        r.opt_real(2).ok().flatten().unwrap_or(0.0).into(),
                        r.int_or_zero(3).into(),
                        r.opt_text_or_none(4).into(),
                    ])
                },
            )?;
        }
        Ok(())
    }

    /// `column` of a JSON type as text: PostgreSQL's `json` and MySQL's `JSON` are read
    /// through a cast (SQLite and MariaDB keep JSON as text already).
    fn json_text(&self, column: &str) -> String {
        match self.src {
            Source::Postgres(_) => format!("CAST({column} AS TEXT)"),
            Source::Mysql(_) => format!("CAST({column} AS CHAR)"),
            Source::Sqlite(_) => column.to_string(),
        }
    }

    /// Evaluation datasets (MLflow 3): `evaluation_datasets` with their tags, the
    /// dataset → experiment rows of `entity_associations`, and each record as the JSON
    /// body mlox keeps (what MLflow's `DatasetRecord.to_dict()` answers), same ids and
    /// times; a record's inputs hash is mlox's own, recomputed from its inputs.
    fn eval_datasets(&mut self) -> Result<()> {
        if !self.schema.has("evaluation_datasets") {
            return Ok(());
        }
        let s = &self.schema;
        let t = "evaluation_datasets";
        let select = format!(
            "SELECT dataset_id, name, {}, {}, {}, {}, {}, {}, {} FROM evaluation_datasets{}",
            s.col(t, "schema"),
            s.col(t, "profile"),
            s.col(t, "digest"),
            s.col(t, "created_time"),
            s.col(t, "last_update_time"),
            s.col(t, "created_by"),
            s.col(t, "last_updated_by"),
            s.default_workspace(t),
        );
        self.copy(
            "evaluation datasets",
            &format!("evaluation_datasets{}", s.default_workspace(t)),
            &select,
            "INSERT INTO eval_datasets (dataset_id, name, schema_json, profile, digest, created_time, last_update_time, created_by, last_updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                Some(vec![
                    r.text_or_empty(0).into(),
                    r.text_or_empty(1).into(),
                    r.opt_text_or_none(2).into(),
                    r.opt_text_or_none(3).into(),
                    r.text_or_empty(4).into(),
                    r.int_or_zero(5).into(),
                    r.int_or_zero(6).into(),
                    r.opt_text_or_none(7).into(),
                    r.opt_text_or_none(8).into(),
                ])
            },
        )?;
        if self.schema.has("evaluation_dataset_tags") {
            self.copy(
                "evaluation dataset tags",
                "evaluation_dataset_tags",
                "SELECT dataset_id, key, value FROM evaluation_dataset_tags",
                "INSERT INTO eval_dataset_tags (dataset_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                &mut |r| Some(texts(r, 3)),
            )?;
        }
        if self.schema.has("entity_associations") {
            let from = "entity_associations WHERE source_type = 'evaluation_dataset' AND destination_type = 'experiment'";
            self.copy(
                "evaluation dataset experiments",
                from,
                &format!("SELECT source_id, destination_id FROM {from}"),
                "INSERT INTO eval_dataset_experiments (dataset_id, experiment_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &mut |r| {
                    let experiment_id = r.text_or_empty(1).trim().parse::<i64>().ok()?;
                    Some(vec![r.text_or_empty(0).into(), experiment_id.into()])
                },
            )?;
        }
        if !self.schema.has("evaluation_dataset_records") {
            return Ok(());
        }
        let t = "evaluation_dataset_records";
        let json = |c: &str| {
            let col = self.schema.col(t, c);
            if col == "NULL" {
                col
            } else {
                self.json_text(&col)
            }
        };
        let select = format!(
            "SELECT dataset_record_id, dataset_id, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM evaluation_dataset_records",
            json("inputs"),
            json("outputs"),
            json("expectations"),
            json("tags"),
            json("source"),
            self.schema.col(t, "source_id"),
            self.schema.col(t, "created_time"),
            self.schema.col(t, "last_update_time"),
            self.schema.col(t, "created_by"),
            self.schema.col(t, "last_updated_by"),
        );
        let mut unreadable = 0u64;
        self.copy(
            "evaluation dataset records",
            "evaluation_dataset_records",
            &select,
            "INSERT INTO eval_dataset_records (dataset_record_id, dataset_id, inputs_hash, created_time, last_update_time, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &mut |r| {
                let json = |i: usize| {
                    r.opt_text_or_none(i)
                        .map(|t| serde_json::from_str::<serde_json::Value>(&t))
                };
                let columns = RecordColumns {
                    inputs: json(2),
                    outputs: json(3),
                    expectations: json(4),
                    tags: json(5),
                    source: json(6),
                    source_id: r.opt_text_or_none(7),
                    created_by: r.opt_text_or_none(10),
                    last_updated_by: r.opt_text_or_none(11),
                };
                let Some(body) = columns.body() else {
                    unreadable += 1;
                    return None;
                };
                Some(vec![
                    r.text_or_empty(0).into(),
                    r.text_or_empty(1).into(),
                    crate::eval::inputs_hash(&body).into(),
                    r.int_or_zero(8).into(),
                    r.int_or_zero(9).into(),
                    serde_json::to_string(&body).unwrap_or_default().into(),
                ])
            },
        )?;
        if unreadable > 0 {
            self.opts.progress.note(&format!(
                "{unreadable} evaluation dataset record(s) had JSON that could not be read; they were left out"
            ));
        }
        Ok(())
    }

    /// Spans, one compressed batch per trace (batch 0, replaced on a rerun).
    fn spans(&mut self) -> Result<()> {
        if !self.schema.has("spans") {
            return Ok(());
        }
        let total = self.count("spans")?;
        self.opts.progress.start("spans", total);
        let limit = self.opts.batch_rows.max(1);
        let mut traces: Vec<(String, Vec<Span>)> = Vec::new();
        let mut in_batch = 0usize;
        let mut written = 0u64;
        let mut err: Option<MlflowError> = None;
        let (store, handle, progress) = (&self.store, &self.handle, &self.opts.progress);
        let send = |traces: Vec<(String, Vec<Span>)>, n: usize| -> Result<()> {
            handle.block_on(store.db.write(move |c| {
                for (trace_id, spans) in &traces {
                    write_spans(c, trace_id, spans)?;
                }
                Ok(())
            }))?;
            batch_committed()?;
            progress.advance(n as u64);
            Ok(())
        };
        self.src.each(
            "SELECT trace_id, content FROM spans ORDER BY trace_id, start_time_unix_nano",
            &mut |r| {
                if err.is_some() {
                    return;
                }
                let trace_id = r.str_or_empty(0);
                let span = match mlflow_span(r.str_or_empty(1)) {
                    Ok(s) => s,
                    Err(e) => {
                        err = Some(invalid(format!(
                            "trace {trace_id} has a span MLflow's format does not describe: {e}"
                        )));
                        return;
                    }
                };
                written += 1;
                in_batch += 1;
                match traces.last_mut() {
                    Some((id, spans)) if id == trace_id => spans.push(span),
                    _ => {
                        // A batch ends between traces only: a trace's spans are one row.
                        if in_batch > limit {
                            if let Err(e) = send(std::mem::take(&mut traces), in_batch - 1) {
                                err = Some(e);
                            }
                            in_batch = 1;
                        }
                        traces.push((trace_id.to_string(), vec![span]));
                    }
                }
            },
        )?;
        if let Some(e) = err {
            return Err(e);
        }
        if !traces.is_empty() {
            send(traces, in_batch)?;
        }
        self.opts.progress.finish();
        self.summary.tables.push(("spans".into(), written));
        Ok(())
    }

    fn assessments(&mut self) -> Result<()> {
        if !self.schema.has("assessments") {
            return Ok(());
        }
        let s = &self.schema;
        let a = "assessments";
        let select = format!(
            "SELECT assessment_id, trace_id, name, assessment_type, value, error, created_timestamp, last_updated_timestamp, source_type, source_id, run_id, span_id, rationale, {}, valid, {} FROM assessments",
            s.col(a, "overrides"),
            s.col(a, "assessment_metadata"),
        );
        let total = self.count("assessments")?;
        self.opts.progress.start("assessments", total);
        let mut list: Vec<Assessment> = Vec::new();
        let mut bad: Option<String> = None;
        self.src
            .each(&select, &mut |r| match mlflow_assessment(r) {
                Ok(a) => list.push(a),
                Err(e) => {
                    bad.get_or_insert(e);
                }
            })?;
        if let Some(e) = bad {
            return Err(invalid(format!("an assessment could not be read: {e}")));
        }
        let n = list.len() as u64;
        for chunk in list.chunks(self.opts.batch_rows.max(1)) {
            let chunk = chunk.to_vec();
            let len = chunk.len() as u64;
            self.write(move |c| {
                for a in &chunk {
                    c.execute(
                        "DELETE FROM assessments WHERE assessment_id = ?",
                        &[a.assessment_id.as_str().into()],
                    )?;
                    crate::traces::write_assessment(c, a, true)?;
                }
                Ok(())
            })?;
            self.opts.progress.advance(len);
        }
        self.opts.progress.finish();
        self.summary.tables.push(("assessments".into(), n));
        Ok(())
    }
}

/// The JSON columns of one MLflow `evaluation_dataset_records` row, each parsed (`None`
/// when NULL).
struct RecordColumns {
    inputs: Option<serde_json::Result<serde_json::Value>>,
    outputs: Option<serde_json::Result<serde_json::Value>>,
    expectations: Option<serde_json::Result<serde_json::Value>>,
    tags: Option<serde_json::Result<serde_json::Value>>,
    source: Option<serde_json::Result<serde_json::Value>>,
    source_id: Option<String>,
    created_by: Option<String>,
    last_updated_by: Option<String>,
}

impl RecordColumns {
    /// The record body mlox keeps: what MLflow's `SqlEvaluationDatasetRecord
    /// .to_mlflow_entity().to_dict()` answers for the row (ids and times aside). `None`
    /// when a JSON column does not parse.
    fn body(self) -> Option<serde_json::Map<String, serde_json::Value>> {
        use serde_json::{Map, Value};
        // SQLAlchemy's JSON type writes Python's None as JSON `null`: absent too.
        fn parsed(v: Option<serde_json::Result<Value>>) -> Option<Option<Value>> {
            match v {
                None => Some(None),
                Some(Ok(Value::Null)) => Some(None),
                Some(Ok(v)) => Some(Some(v)),
                Some(Err(_)) => None,
            }
        }
        let truthy = |v: &Value| match v {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::String(s) => !s.is_empty(),
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::Null => false,
        };
        let mut body = Map::new();
        body.insert(
            "inputs".into(),
            parsed(self.inputs)?.unwrap_or(Value::Object(Map::new())),
        );
        // MLflow wraps outputs as {"mlflow_wrapped": outputs}, so that any JSON fits.
        if let Some(wrapped) = parsed(self.outputs)?.filter(truthy) {
            if let Some(v) = wrapped.get("mlflow_wrapped").filter(|v| !v.is_null()) {
                body.insert("outputs".into(), v.clone());
            }
        }
        if let Some(e) = parsed(self.expectations)? {
            body.insert("expectations".into(), e);
        }
        body.insert(
            "tags".into(),
            parsed(self.tags)?.unwrap_or(Value::Object(Map::new())),
        );
        let mut source_id = self.source_id.filter(|s| !s.is_empty());
        if let Some(source) = parsed(self.source)?.filter(truthy) {
            let kind = source
                .get("source_type")
                .and_then(Value::as_str)
                .unwrap_or("UNSPECIFIED")
                .to_uppercase();
            let data = source
                .get("source_data")
                .filter(|d| !d.is_null())
                .cloned()
                .unwrap_or(Value::Object(Map::new()));
            if source_id.is_none() {
                let key = if kind == "TRACE" {
                    "trace_id"
                } else {
                    "source_id"
                };
                source_id = data.get(key).and_then(Value::as_str).map(str::to_string);
            }
            let mut src = Map::new();
            src.insert("source_type".into(), kind.clone().into());
            src.insert("source_data".into(), data);
            body.insert("source".into(), Value::Object(src));
            body.insert("source_type".into(), kind.into());
        }
        if let Some(id) = source_id {
            body.insert("source_id".into(), id.into());
        }
        if let Some(u) = self.created_by {
            body.insert("created_by".into(), u.into());
        }
        if let Some(u) = self.last_updated_by {
            body.insert("last_updated_by".into(), u.into());
        }
        Some(body)
    }
}

fn write_spans(c: &mut dyn Conn, trace_id: &str, spans: &[Span]) -> Result<()> {
    c.execute(
        "DELETE FROM trace_spans WHERE trace_id = ?",
        &[trace_id.into()],
    )?;
    c.execute(
        "INSERT INTO trace_spans (trace_id, batch, content) VALUES (?, 0, ?)",
        &[
            trace_id.into(),
            SqlValue::Blob(crate::traces::encode_spans(spans)?),
        ],
    )?;
    let mut names = HashSet::new();
    for s in spans {
        names.insert((
            s.name.clone(),
            s.span_type().unwrap_or_default(),
            crate::traces::status_name(s.status_code),
        ));
    }
    for (name, span_type, status) in names {
        c.execute(
            "INSERT INTO trace_span_names (trace_id, name, span_type, status) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &[trace_id.into(), name.into(), span_type.into(), status.into()],
        )?;
    }
    Ok(())
}

/// Column `i`, NULL when the flag in column `null_flag` (see [`Schema::null_flag`]) says so.
fn opt_int(r: &dyn RowView, i: usize, null_flag: usize) -> Option<i64> {
    (r.int_or_zero(null_flag) == 0).then(|| r.int_or_zero(i))
}

/// MLflow clamps infinities to the largest doubles; so does mlox.
fn finite(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(f64::MIN, f64::MAX)
    }
}

/// A float as Python's `json.dumps` writes it.
fn python_float(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        serde_json::Number::from_f64(v).map_or_else(|| "NaN".into(), |n| n.to_string())
    }
}

fn hex_id(b64: &str, bytes: usize) -> std::result::Result<String, String> {
    if b64.len() == bytes * 2 && b64.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(b64.to_ascii_lowercase());
    }
    let raw = base64_decode(b64).ok_or_else(|| format!("bad id '{b64}'"))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => continue,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// An attribute value of MLflow's span JSON (values are JSON-encoded text) as OTLP.
fn any_value(v: &serde_json::Value) -> AnyValue {
    use serde_json::Value;
    match v {
        Value::String(s) => AnyValue::Str(s.clone()),
        Value::Bool(b) => AnyValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::Array(items) => AnyValue::Array(items.iter().map(any_value).collect()),
        Value::Object(map) => AnyValue::KvList(attributes(map)),
        Value::Null => AnyValue::Empty,
    }
}

/// A JSON text as an OTLP value, keeping the order of object keys (the client writes
/// the value back with `json.dumps`, so the order is part of the text it shows).
struct Ordered(AnyValue);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Ordered, E> {
                Ok(Ordered(AnyValue::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Ordered, E> {
                Ok(Ordered(AnyValue::Int(v)))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Ordered, E> {
                Ok(Ordered(match i64::try_from(v) {
                    Ok(i) => AnyValue::Int(i),
                    Err(_) => AnyValue::Double(v as f64),
                }))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Ordered, E> {
                Ok(Ordered(AnyValue::Double(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Ordered, E> {
                Ok(Ordered(AnyValue::Str(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Ordered, E> {
                Ok(Ordered(AnyValue::Str(v)))
            }
            fn visit_unit<E>(self) -> std::result::Result<Ordered, E> {
                Ok(Ordered(AnyValue::Empty))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(Ordered(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Ordered(AnyValue::Array(items)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Ordered, A::Error> {
                let mut kvs = Vec::new();
                while let Some((key, Ordered(value))) = map.next_entry::<String, Ordered>()? {
                    kvs.push(KeyValue { key, value });
                }
                Ok(Ordered(AnyValue::KvList(kvs)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A span attribute as MLflow stores it (JSON text of the value) as the OTLP value the
/// client sends for it (the decoded value); text that is not JSON stays text.
fn attribute_value(v: &serde_json::Value) -> AnyValue {
    match v {
        serde_json::Value::String(s) => match serde_json::from_str::<Ordered>(s) {
            Ok(Ordered(decoded)) => decoded,
            Err(_) => AnyValue::Str(s.clone()),
        },
        other => any_value(other),
    }
}

fn span_attributes(map: &serde_json::Map<String, serde_json::Value>) -> Vec<KeyValue> {
    map.iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: attribute_value(v),
        })
        .collect()
}

fn attributes(map: &serde_json::Map<String, serde_json::Value>) -> Vec<KeyValue> {
    map.iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: any_value(v),
        })
        .collect()
}

fn status_code(v: Option<&serde_json::Value>) -> i32 {
    match v {
        Some(serde_json::Value::String(s)) => match s.as_str() {
            "STATUS_CODE_OK" | "OK" => 1,
            "STATUS_CODE_ERROR" | "ERROR" => 2,
            _ => 0,
        },
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0) as i32,
        _ => 0,
    }
}

/// One span as MLflow stores it (`spans.content`, its `Span.to_dict()`: OpenTelemetry
/// fields, ids in base64, attribute values as JSON text) as an mlox span.
fn mlflow_span(content: &str) -> std::result::Result<Span, String> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(content).map_err(|e| e.to_string())?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    let nanos = |x: Option<&Value>| -> u64 {
        match x {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        }
    };
    let parent = match v.get("parent_span_id") {
        Some(Value::String(s)) if !s.is_empty() => Some(hex_id(s, 8)?),
        _ => None,
    };
    let empty = serde_json::Map::new();
    let obj = |x: Option<&Value>| x.and_then(Value::as_object).cloned().unwrap_or_default();
    let events = v
        .get("events")
        .and_then(Value::as_array)
        .map(|evs| {
            evs.iter()
                .map(|e| SpanEvent {
                    time_unix_nano: nanos(e.get("time_unix_nano")),
                    name: e.get("name").and_then(Value::as_str).unwrap_or("").into(),
                    attributes: attributes(&obj(e.get("attributes"))),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut links = Vec::new();
    for l in v
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        links.push(SpanLink {
            trace_id: hex_id(l.get("trace_id").and_then(Value::as_str).unwrap_or(""), 16)?,
            span_id: hex_id(l.get("span_id").and_then(Value::as_str).unwrap_or(""), 8)?,
            trace_state: l
                .get("trace_state")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            attributes: attributes(&obj(l.get("attributes"))),
        });
    }
    let status = v.get("status");
    Ok(Span {
        trace_id: hex_id(text("trace_id"), 16)?,
        span_id: hex_id(text("span_id"), 8)?,
        parent_span_id: parent,
        trace_state: text("trace_state").into(),
        name: text("name").into(),
        kind: match v.get("kind") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(0) as i32,
            Some(Value::String(s)) => match s.as_str() {
                "SPAN_KIND_INTERNAL" => 1,
                "SPAN_KIND_SERVER" => 2,
                "SPAN_KIND_CLIENT" => 3,
                "SPAN_KIND_PRODUCER" => 4,
                "SPAN_KIND_CONSUMER" => 5,
                _ => 0,
            },
            _ => 0,
        },
        start_time_unix_nano: nanos(v.get("start_time_unix_nano")),
        end_time_unix_nano: nanos(v.get("end_time_unix_nano")),
        attributes: span_attributes(
            v.get("attributes")
                .and_then(Value::as_object)
                .unwrap_or(&empty),
        ),
        events,
        links,
        status_code: status_code(status.and_then(|s| s.get("code"))),
        status_message: status
            .and_then(|s| s.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
    })
}

/// One row of MLflow's `assessments` as mlox's assessment (the Feedback / Expectation
/// message JSON the client sends).
fn mlflow_assessment(r: &dyn RowView) -> std::result::Result<Assessment, String> {
    use serde_json::{json, Value};
    let parse = |i: usize| -> std::result::Result<Option<Value>, String> {
        match r.opt_text_or_none(i) {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    };
    let value = parse(4)?.unwrap_or(Value::Null);
    let error = parse(5)?;
    let kind = r.opt_text_or_none(3).unwrap_or_default();
    let (feedback, expectation) = if kind == "expectation" {
        let body = match &value {
            Value::Object(_) | Value::Array(_) => json!({
                "serialized_value": {"serialization_format": "JSON_FORMAT", "value": value.to_string()}
            }),
            _ => json!({ "value": value }),
        };
        (None, Some(body))
    } else {
        let mut body = serde_json::Map::new();
        if !value.is_null() || error.is_none() {
            body.insert("value".into(), value);
        }
        if let Some(e) = error {
            body.insert("error".into(), e);
        }
        (Some(Value::Object(body)), None)
    };
    let metadata: BTreeMap<String, String> = match parse(15)? {
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(Assessment {
        assessment_id: r.opt_text_or_none(0).unwrap_or_default(),
        trace_id: r.opt_text_or_none(1).unwrap_or_default(),
        name: r.opt_text_or_none(2).unwrap_or_default(),
        source: Some(AssessmentSource {
            source_type: r.opt_text_or_none(8).unwrap_or_default(),
            source_id: r.opt_text_or_none(9).unwrap_or_default(),
        }),
        create_time_ms: r.int_or_zero(6),
        last_update_time_ms: r.int_or_zero(7),
        feedback,
        expectation,
        rationale: r.opt_text_or_none(12),
        metadata,
        span_id: r.opt_text_or_none(11),
        run_id: r.opt_text_or_none(10),
        overrides: r.opt_text_or_none(13),
        valid: r.int_or_zero(14) != 0,
    })
}

/// The first `n` columns of a row as text (NULL as ""), for tables copied as they are.
fn texts(r: &dyn RowView, n: usize) -> Vec<SqlValue> {
    (0..n)
        .map(|i| r.opt_text_or_none(i).unwrap_or_default().into())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_ids_and_values_convert() {
        let s = mlflow_span(r#"{"trace_id": "RS+JOt/BOmIRjHgOthMeHA==", "span_id": "7b7AUZ1I7pA=", "parent_span_id": "Cv/HmLCc11I=", "name": "child_fn", "start_time_unix_nano": 1796627343747339071, "end_time_unix_nano": 1796627343751831320, "events": [], "status": {"code": "STATUS_CODE_OK", "message": ""}, "attributes": {"mlflow.spanType": "\"LLM\""}, "links": []}"#).unwrap();
        assert_eq!(s.trace_id, "452f893adfc13a62118c780eb6131e1c");
        assert_eq!(s.span_id, "edbec0519d48ee90");
        assert_eq!(s.parent_span_id.as_deref(), Some("0affc798b09cd752"));
        assert_eq!(s.status_code, 1);
        assert_eq!(s.span_type().as_deref(), Some("LLM"));
        assert_eq!(
            s.attribute("mlflow.spanType"),
            Some(&AnyValue::Str("LLM".into()))
        );
        assert_eq!(s.start_time_unix_nano, 1796627343747339071);
    }

    #[test]
    fn dataset_records_read_as_mlflow_answers_them() {
        let json = |t: &str| Some(serde_json::from_str::<serde_json::Value>(t));
        let body = RecordColumns {
            inputs: json(r#"{"q": "a"}"#),
            outputs: json(r#"{"mlflow_wrapped": "text"}"#),
            expectations: json("null"),
            tags: None,
            source: json(r#"{"source_type": "trace", "source_data": {"trace_id": "tr-1"}}"#),
            source_id: None,
            created_by: Some("alice".into()),
            last_updated_by: None,
        }
        .body()
        .unwrap();
        assert_eq!(
            serde_json::Value::Object(body),
            serde_json::json!({
                "inputs": {"q": "a"}, "outputs": "text", "tags": {},
                "source": {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}},
                "source_type": "TRACE", "source_id": "tr-1", "created_by": "alice",
            })
        );
        // Empty wrapped outputs and an unwrapped object are no outputs; bad JSON is refused.
        let body = |outputs: &str| {
            RecordColumns {
                inputs: json("{}"),
                outputs: json(outputs),
                expectations: None,
                tags: None,
                source: None,
                source_id: Some("s".into()),
                created_by: None,
                last_updated_by: None,
            }
            .body()
        };
        assert!(!body("{}").unwrap().contains_key("outputs"));
        assert!(!body(r#"{"text": 1}"#).unwrap().contains_key("outputs"));
        assert_eq!(
            body(r#"{"mlflow_wrapped": {}}"#).unwrap()["outputs"],
            serde_json::json!({})
        );
        assert_eq!(body("{}").unwrap()["source_id"], "s");
        assert!(body("{not json").is_none());
    }

    #[test]
    fn python_floats() {
        assert_eq!(python_float(1.0), "1.0");
        assert_eq!(python_float(0.25), "0.25");
    }
}
