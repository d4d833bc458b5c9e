//! mlox-store: the SQL tracking store, one implementation of
//! [`mlox_core::store::TrackingStore`] (and of the logged-model and model-registry store
//! traits) over two backends — embedded SQLite (the default)
//! and PostgreSQL — with migrations embedded in the binary.
//!
//! It knows nothing about HTTP or MLflow's JSON; it speaks `mlox-core` types only.

pub mod artifact_locations;
mod auth;
mod chunks;
pub mod db;
pub(crate) mod eval;
mod group;
mod logged_models;
mod migrate;
pub mod mlflow_auth_import;
pub mod mlflow_export;
mod mlflow_file_store;
pub mod mlflow_import;
mod mlflow_mysql;
mod names;
mod ops;
mod postgres;
mod registry;
mod search_sql;
mod sqlite;
mod traces;
pub mod tracking;
mod webhook_secret;

/// The conformance suite every backend must pass (used by this crate's tests; only with
/// the `testsuite` feature).
#[cfg(feature = "testsuite")]
pub mod testsuite;

use std::path::PathBuf;

use async_trait::async_trait;
use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::{MlflowError, Result};

pub use migrate::latest_version as schema_version;
pub use ops::{backup_sqlite, restore_sqlite, PoolStats, SqliteStats, StoreStats};

use crate::db::Conn;

/// Where the store lives, parsed from a `--backend-store-uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUri {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreUri {
    /// Parses SQLAlchemy-style URIs as MLflow accepts them:
    /// `sqlite:///relative.db`, `sqlite:////absolute.db`, `postgresql://user:pass@host:port/db`
    /// (a `+driver` suffix such as `postgresql+psycopg2` is accepted and ignored).
    pub fn parse(uri: &str) -> Result<Self> {
        if let Some(rest) = uri.strip_prefix("sqlite://") {
            let path = rest.strip_prefix('/').unwrap_or(rest);
            if path.is_empty() || path == ":memory:" {
                return Err(MlflowError::invalid("an in-memory SQLite store is not supported; give a file path, e.g. sqlite:///mlox.db"));
            }
            let path = path.split('?').next().unwrap_or(path);
            return Ok(StoreUri::Sqlite(PathBuf::from(path)));
        }
        let (scheme, rest) = uri.split_once("://").ok_or_else(|| {
            MlflowError::invalid(format!(
                "unsupported backend store URI '{uri}': expected sqlite:///path or postgresql://…"
            ))
        })?;
        let base = scheme.split('+').next().unwrap_or(scheme);
        match base {
            "postgresql" | "postgres" => Ok(StoreUri::Postgres(format!("postgresql://{rest}"))),
            _ => Err(MlflowError::invalid(format!(
                "unsupported backend store URI scheme '{scheme}': mlox supports sqlite:///path and postgresql://user:pass@host:port/db"
            ))),
        }
    }
}

enum Db {
    Sqlite(sqlite::SqliteDb),
    Postgres(Box<postgres::PgDb>),
}

impl Db {
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.write(f).await,
            Db::Postgres(db) => db.write(f).await,
        }
    }

    /// A write of `run_id`'s metrics (and what comes with them in a log-batch): on
    /// PostgreSQL its group takes the run's lock first (see `postgres::lock_runs`).
    async fn write_run<T, F>(&self, run_id: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.write(f).await,
            Db::Postgres(db) => db.write_locked(run_id, f).await,
        }
    }

    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Conn) -> Result<T> + Send + 'static,
    {
        match self {
            Db::Sqlite(db) => db.read(f).await,
            Db::Postgres(db) => db.read(f).await,
        }
    }
}

/// The SQL tracking store.
pub struct SqlStore {
    db: Db,
    artifact_root: String,
    allowed_host_schemes: Vec<String>,
    planner_stats: PlannerStats,
    search_plans: SearchPlans,
}

/// Keeps the query planner's statistics in step with the data. Without them, SQLite and
/// PostgreSQL guess row counts and may probe every run of an experiment where an index on
/// a filtered param would find the few matches directly. The tables that searches join
/// are analyzed whenever the rows added to them (runs, params, tags, metric keys) since
/// the last analysis reach half of the rows it saw (first at [`PlannerStats::FIRST`]),
/// so the statistics never describe less than two thirds of the data, and the total cost
/// stays proportional to it (three times one analysis of the final tables).
struct PlannerStats {
    added: std::sync::atomic::AtomicU64,
    next: std::sync::atomic::AtomicU64,
}

impl PlannerStats {
    const FIRST: u64 = 500;

    fn new(added: u64, analyzed_at: u64) -> Self {
        PlannerStats {
            added: added.into(),
            next: Self::after(analyzed_at).max(Self::FIRST).into(),
        }
    }

    /// When the statistics are next due, after an analysis that saw `rows`.
    fn after(rows: u64) -> u64 {
        rows + rows / 2
    }

    /// Counts `rows` added to the searched tables; true when the statistics are now due.
    fn rows_added(&self, rows: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let added = self.added.fetch_add(rows, Relaxed) + rows;
        let next = self.next.load(Relaxed);
        added >= next
            && self
                .next
                .compare_exchange(next, Self::after(added), Relaxed, Relaxed)
                .is_ok()
    }
}

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Root under which new experiments get their artifact location (`<root>/<id>`).
    pub default_artifact_root: String,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    /// How a SQLite run search ordered by a metric, param or tag picks its plan.
    pub search_plans: SearchPlans,
    /// What an acknowledged write survives.
    pub durability: Durability,
    /// A PostgreSQL streaming standby of the backend store that serves reads
    /// (`--read-replica-backend-store-uri`); PostgreSQL stores only.
    pub read_replica: Option<StoreUri>,
    /// URI schemes a model version's source may use with a host in it (`s3`, `gs`, …),
    /// besides the server's own artifact root: MLflow's
    /// `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`, lower-case. The binary reads the
    /// variable; the store does not.
    pub allowed_host_schemes: Vec<String>,
}

/// What a write has survived when it is acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// On stable storage: the commit was synced (SQLite `synchronous=FULL` in WAL mode,
    /// one sync per group commit; PostgreSQL `synchronous_commit=on`). Survives a power
    /// cut or a kernel crash.
    #[default]
    Full,
    /// In the operating system's hands: survives a crash or `kill -9` of the process, not
    /// a power cut or a kernel crash, which may lose the last acknowledged writes (never
    /// corrupt the database). SQLite `synchronous=NORMAL` (syncs at checkpoints only);
    /// PostgreSQL `synchronous_commit=off` for mlox's sessions.
    Process,
}

/// The plans a SQLite run search ordered by a metric, param or tag may use (see
/// `tracking::search_runs`). Each gives the same runs; only the work differs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchPlans {
    /// The planner's plan when it is cheap, else a walk of the key's index when that is,
    /// else the planner's plan whole.
    #[default]
    Either,
    /// Only the planner's plan (PostgreSQL always plans this way).
    Planner,
    /// Only the walk of the key's index, however long (for tests).
    IndexWalk,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            default_artifact_root: "mlflow-artifacts:".into(),
            max_connections: 10,
            search_plans: SearchPlans::default(),
            durability: Durability::default(),
            read_replica: None,
            allowed_host_schemes: Vec::new(),
        }
    }
}

impl SqlStore {
    /// Opens the store, applying pending migrations under a lock and creating the
    /// default experiment.
    pub async fn open(uri: &StoreUri, opts: StoreOptions) -> Result<Self> {
        let db = match uri {
            StoreUri::Sqlite(_) if opts.read_replica.is_some() => {
                return Err(MlflowError::invalid(
                    "a read replica needs a PostgreSQL backend store",
                ))
            }
            StoreUri::Sqlite(path) => {
                let path = path.clone();
                let durability = opts.durability;
                tokio::task::spawn_blocking(move || sqlite::SqliteDb::open(&path, durability))
                    .await
                    .map_err(|e| MlflowError::internal(e.to_string()))?
                    .map(Db::Sqlite)
            }
            StoreUri::Postgres(url) => {
                let url = url.clone();
                let max = opts.max_connections;
                let durability = opts.durability;
                let replica = match &opts.read_replica {
                    None => None,
                    Some(StoreUri::Postgres(u)) => Some(u.clone()),
                    Some(StoreUri::Sqlite(_)) => {
                        return Err(MlflowError::invalid(
                            "a read replica must be a PostgreSQL database (postgresql://…)",
                        ))
                    }
                };
                tokio::task::spawn_blocking(move || {
                    postgres::PgDb::open(&url, replica.as_deref(), max, durability)
                })
                .await
                .map_err(|e| MlflowError::internal(e.to_string()))?
                .map(|db| Db::Postgres(Box::new(db)))
            }
        }
        .map_err(|e| MlflowError::internal(format!("cannot open the backend store: {e}")))?;
        let root = opts.default_artifact_root.clone();
        db.write(move |c| tracking::ensure_default_experiment(c, &root))
            .await?;
        let (runs, analyzed_at) = db
            .read(|c| tracking::planner_stats_state(c, PlannerStats::FIRST))
            .await?;
        let store = SqlStore {
            db,
            artifact_root: opts.default_artifact_root,
            allowed_host_schemes: opts.allowed_host_schemes,
            search_plans: opts.search_plans,
            planner_stats: PlannerStats::new(runs.max(analyzed_at), analyzed_at),
        };
        if runs >= PlannerStats::FIRST && analyzed_at == 0 {
            store.analyze().await?;
        }
        Ok(store)
    }

    async fn log_entities(&self, run_id: &str, entities: tracking::Entities) -> Result<()> {
        let id = run_id.to_string();
        let added = self
            .db
            .write_run(run_id, move |c| tracking::log_entities(c, &id, entities))
            .await?;
        self.rows_added(added).await;
        Ok(())
    }

    /// Counts rows added to the searched tables and refreshes the planner's statistics
    /// when they are due (rarely: see [`PlannerStats`]).
    async fn rows_added(&self, rows: u64) {
        if self.planner_stats.rows_added(rows) {
            if let Err(e) = self.analyze().await {
                tracing::warn!(error = %e, "updating the planner's statistics failed");
            }
        }
    }

    /// Refreshes the planner's statistics, and makes every later read plan with them.
    async fn analyze(&self) -> Result<()> {
        self.db.write(tracking::analyze).await?;
        if let Db::Sqlite(db) = &self.db {
            db.statistics_refreshed();
        }
        Ok(())
    }

    /// Applies pending migrations only (`mlox db upgrade`); returns the schema version.
    pub async fn upgrade(uri: &StoreUri) -> Result<i64> {
        SqlStore::open(uri, StoreOptions::default()).await?;
        Ok(schema_version())
    }
}

#[async_trait]
impl TrackingStore for SqlStore {
    async fn create_experiment(
        &self,
        name: String,
        artifact_location: Option<String>,
        tags: Vec<Tag>,
    ) -> Result<String> {
        let root = self.artifact_root.clone();
        self.db
            .write(move |c| tracking::create_experiment(c, &root, name, artifact_location, tags))
            .await
    }
    async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let id = experiment_id.to_string();
        self.db
            .read(move |c| tracking::get_experiment(c, &id))
            .await
    }
    async fn get_experiment_by_name(&self, name: &str) -> Result<Experiment> {
        let name = name.to_string();
        self.db
            .read(move |c| tracking::get_experiment_by_name(c, &name))
            .await
    }
    async fn search_experiments(&self, req: SearchExperimentsRequest) -> Result<Page<Experiment>> {
        self.db
            .read(move |c| tracking::search_experiments(c, req))
            .await
    }
    async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = experiment_id.to_string();
        self.db
            .write(move |c| tracking::set_experiment_lifecycle(c, &id, true))
            .await
    }
    async fn restore_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = experiment_id.to_string();
        self.db
            .write(move |c| tracking::set_experiment_lifecycle(c, &id, false))
            .await
    }
    async fn rename_experiment(&self, experiment_id: &str, new_name: String) -> Result<()> {
        let id = experiment_id.to_string();
        self.db
            .write(move |c| tracking::rename_experiment(c, &id, new_name))
            .await
    }
    async fn set_experiment_tag(&self, experiment_id: &str, tag: Tag) -> Result<()> {
        let id = experiment_id.to_string();
        self.db
            .write(move |c| tracking::set_experiment_tag(c, &id, tag))
            .await
    }
    async fn delete_experiment_tag(&self, experiment_id: &str, key: &str) -> Result<()> {
        let (id, key) = (experiment_id.to_string(), key.to_string());
        self.db
            .write(move |c| tracking::delete_experiment_tag(c, &id, &key))
            .await
    }
    async fn count_runs(&self, experiment_ids: &[String]) -> Result<Vec<RunCounts>> {
        let ids = experiment_ids.to_vec();
        self.db.read(move |c| tracking::count_runs(c, &ids)).await
    }
    async fn create_run(&self, run: NewRun) -> Result<Run> {
        let rows = 1 + run.tags.len() as u64;
        let run = self.db.write(move |c| tracking::create_run(c, run)).await?;
        self.rows_added(rows).await;
        Ok(run)
    }
    async fn get_run(&self, run_id: &str) -> Result<Run> {
        let id = run_id.to_string();
        self.db.read(move |c| tracking::get_run(c, &id)).await
    }
    async fn update_run(&self, run_id: &str, update: RunUpdate) -> Result<RunInfo> {
        let id = run_id.to_string();
        self.db
            .write(move |c| tracking::update_run(c, &id, update))
            .await
    }
    async fn delete_run(&self, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.db
            .write(move |c| tracking::set_run_lifecycle(c, &id, true))
            .await
    }
    async fn restore_run(&self, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.db
            .write(move |c| tracking::set_run_lifecycle(c, &id, false))
            .await
    }
    async fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> Result<()> {
        self.log_entities(
            run_id,
            tracking::Entities::validate(metrics, params, tags, false)?,
        )
        .await
    }
    async fn log_metric(&self, run_id: &str, metric: Metric) -> Result<()> {
        self.log_entities(
            run_id,
            tracking::Entities::validate(vec![metric], vec![], vec![], true)?,
        )
        .await
    }
    async fn log_param(&self, run_id: &str, param: Param) -> Result<()> {
        self.log_entities(
            run_id,
            tracking::Entities::validate(vec![], vec![param], vec![], true)?,
        )
        .await
    }
    async fn set_tag(&self, run_id: &str, tag: Tag) -> Result<()> {
        self.log_entities(
            run_id,
            tracking::Entities::validate(vec![], vec![], vec![tag], true)?,
        )
        .await
    }
    async fn delete_tag(&self, run_id: &str, key: &str) -> Result<()> {
        let (id, key) = (run_id.to_string(), key.to_string());
        self.db
            .write(move |c| tracking::delete_tag(c, &id, &key))
            .await
    }
    async fn log_inputs(
        &self,
        run_id: &str,
        datasets: Vec<DatasetInput>,
        model_ids: Vec<String>,
    ) -> Result<()> {
        let id = run_id.to_string();
        self.db
            .write(move |c| tracking::log_inputs(c, &id, datasets, model_ids))
            .await
    }
    async fn log_outputs(&self, run_id: &str, models: Vec<(String, i64)>) -> Result<()> {
        let id = run_id.to_string();
        self.db
            .write(move |c| tracking::log_outputs(c, &id, models))
            .await
    }
    async fn search_runs(&self, req: SearchRunsRequest) -> Result<Page<Run>> {
        let plans = self.search_plans;
        self.db
            .read(move |c| tracking::search_runs(c, req, plans))
            .await
    }
    async fn get_metric_history(&self, req: MetricHistoryRequest) -> Result<Page<MetricPoint>> {
        self.db
            .read(move |c| tracking::get_metric_history(c, req))
            .await
    }
    async fn get_metric_history_bulk_interval(
        &self,
        req: BulkIntervalRequest,
    ) -> Result<Vec<MetricWithRunId>> {
        self.db
            .read(move |c| tracking::get_metric_history_bulk_interval(c, req))
            .await
    }
    async fn deleted_runs(&self, deleted_before: Option<i64>) -> Result<Vec<RunInfo>> {
        self.db
            .read(move |c| tracking::deleted_runs(c, deleted_before))
            .await
    }
    async fn hard_delete_run(&self, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.db
            .write(move |c| tracking::hard_delete_run(c, &id))
            .await
    }
    async fn deleted_experiments(&self) -> Result<Vec<Experiment>> {
        self.db.read(tracking::deleted_experiments).await
    }
    async fn hard_delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let id = experiment_id.to_string();
        self.db
            .write(move |c| tracking::hard_delete_experiment(c, &id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_uris() {
        assert_eq!(
            StoreUri::parse("sqlite:///mlox.db").unwrap(),
            StoreUri::Sqlite("mlox.db".into())
        );
        assert_eq!(
            StoreUri::parse("sqlite:////tmp/x.db").unwrap(),
            StoreUri::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            StoreUri::parse("postgresql+psycopg2://u:p@h:5432/db").unwrap(),
            StoreUri::Postgres("postgresql://u:p@h:5432/db".into())
        );
        assert!(StoreUri::parse("mysql://x").is_err());
        assert!(StoreUri::parse("nonsense").is_err());
    }

    #[test]
    fn planner_stats_are_due_each_time_the_rows_grow_by_half() {
        let fresh = PlannerStats::new(0, 0);
        let due: Vec<u64> = (1..=3000u64).filter(|_| fresh.rows_added(1)).collect();
        assert_eq!(due, [500, 750, 1125, 1687, 2530]);
        // Analyzed at 3000 runs, now 3500: due again at 4500.
        let reopened = PlannerStats::new(3500, 3000);
        let due: Vec<u64> = (3501..=6000u64)
            .filter(|_| reopened.rows_added(1))
            .collect();
        assert_eq!(due, [4500]);
        // A batch of many rows counts them all: 300 + 300 reach 500.
        let batches = PlannerStats::new(0, 0);
        assert!(!batches.rows_added(300));
        assert!(batches.rows_added(300));
        assert!(!batches.rows_added(200), "next due at 900");
    }
}
