//! Logged-model operations written once over [`Conn`], shared by both backends.
//!
//! A logged model's metrics are not copied into a table of their own: they are the
//! points of the `metrics` table logged with the model's id.

use std::collections::HashMap;

use mlox_core::entities::*;
use mlox_core::logged_model::*;
use mlox_core::{page_token, MlflowError, Result};

use crate::db::{placeholders, Conn, DbError, Row, RowView, SqlValue};
use crate::search_sql;
use crate::tracking::{append_uri_path, get_experiment, now_ms};

const COLUMNS: &str = "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, lm.last_updated_timestamp_ms, lm.status, lm.lifecycle_stage, lm.model_type, lm.source_run_id, lm.status_message";

fn model_not_found(model_id: &str) -> MlflowError {
    MlflowError::not_found(format!("Logged model with ID '{model_id}' not found."))
}

fn from_row(r: &Row) -> Result<LoggedModel, DbError> {
    Ok(LoggedModel {
        model_id: r.text(0)?,
        experiment_id: r.int(1)?.to_string(),
        name: r.text(2)?,
        artifact_uri: r.text(3)?,
        creation_timestamp_ms: r.int(4)?,
        last_updated_timestamp_ms: r.int(5)?,
        status: LoggedModelStatus::from_int(r.int(6)?),
        lifecycle_stage: r.text(7)?,
        model_type: r.opt_text(8)?,
        source_run_id: r.opt_text(9)?,
        status_message: r.opt_text(10)?,
        tags: vec![],
        params: vec![],
        metrics: vec![],
    })
}

/// Loads tags, params and metrics of the given models, keeping their order.
fn load(c: &mut dyn Conn, mut models: Vec<LoggedModel>) -> Result<Vec<LoggedModel>> {
    let index: HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.model_id.clone(), i))
        .collect();
    let ids: Vec<String> = models.iter().map(|m| m.model_id.clone()).collect();
    for chunk in ids.chunks(500) {
        let args: Vec<SqlValue> = chunk.iter().map(SqlValue::from).collect();
        let ph = placeholders(chunk.len());
        for r in c.query(
            &format!("SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN ({ph}) ORDER BY key"),
            &args,
        )? {
            if let Some(&i) = index.get(&r.text(0)?) {
                models[i].tags.push(Tag::new(r.text(1)?, r.text(2)?));
            }
        }
        for r in c.query(
            &format!("SELECT model_id, key, value FROM logged_model_params WHERE model_id IN ({ph}) ORDER BY key"),
            &args,
        )? {
            if let Some(&i) = index.get(&r.text(0)?) {
                models[i].params.push(Tag::new(r.text(1)?, r.text(2)?));
            }
        }
        for r in c.query(
            &format!("SELECT model_id, run_uuid, key, value, is_nan, timestamp, step, dataset_name, dataset_digest FROM metrics WHERE model_id IN ({ph}) ORDER BY key, timestamp, step, run_uuid"),
            &args,
        )? {
            if let Some(&i) = index.get(&r.text(0)?) {
                let value = if r.int(4)? != 0 { f64::NAN } else { r.real(3)? };
                models[i].metrics.push(MetricWithRunId {
                    run_id: r.text(1)?,
                    metric: Metric {
                        key: r.text(2)?,
                        value,
                        timestamp: r.int(5)?,
                        step: r.int(6)?,
                        model_id: Some(r.text(0)?),
                        dataset_name: r.opt_text(7)?,
                        dataset_digest: r.opt_text(8)?,
                    },
                });
            }
        }
    }
    Ok(models)
}

/// The model row regardless of lifecycle (MLflow's `_get_logged_model_record`).
fn record(c: &mut dyn Conn, model_id: &str) -> Result<LoggedModel> {
    let row = c
        .query_opt(
            &format!("SELECT {COLUMNS} FROM logged_models lm WHERE lm.model_id = ?"),
            &[model_id.into()],
        )?
        .ok_or_else(|| model_not_found(model_id))?;
    Ok(from_row(&row)?)
}

pub(crate) fn get_logged_model(
    c: &mut dyn Conn,
    model_id: &str,
    allow_deleted: bool,
) -> Result<LoggedModel> {
    let model = record(c, model_id)?;
    if !allow_deleted && model.lifecycle_stage == LIFECYCLE_DELETED {
        return Err(model_not_found(model_id));
    }
    load(c, vec![model])?
        .pop()
        .ok_or_else(|| model_not_found(model_id))
}

fn upsert_kv(c: &mut dyn Conn, table: &str, model_id: &str, items: &[Tag]) -> Result<()> {
    // The last value of a repeated key wins, as in MLflow.
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut order = Vec::new();
    for t in items {
        if seen.insert(t.key.as_str(), t.value.as_str()).is_none() {
            order.push(t.key.as_str());
        }
    }
    for key in order {
        c.execute(
            &format!("INSERT INTO {table} (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"),
            &[model_id.into(), key.into(), seen[key].into()],
        )?;
    }
    Ok(())
}

pub(crate) fn create_logged_model(c: &mut dyn Conn, m: NewLoggedModel) -> Result<LoggedModel> {
    if let Some(name) = &m.name {
        validate_logged_model_name(name)?;
    }
    let exp = get_experiment(c, &m.experiment_id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {}.",
            exp.experiment_id, exp.lifecycle_stage
        )));
    }
    let model_id = format!("m-{}", uuid::Uuid::new_v4().simple());
    let artifact_location = append_uri_path(
        &exp.artifact_location,
        &format!("models/{model_id}/artifacts"),
    );
    let name = m.name.unwrap_or_else(crate::names::generate);
    let now = now_ms();
    let eid: i64 = exp
        .experiment_id
        .parse()
        .map_err(|_| MlflowError::internal("experiment id is not an integer"))?;
    c.execute(
        "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        &[
            model_id.as_str().into(),
            eid.into(),
            name.into(),
            artifact_location.into(),
            now.into(),
            now.into(),
            LoggedModelStatus::Pending.as_int().into(),
            LIFECYCLE_ACTIVE.into(),
            // MLflow stores what the request had, so absent fields read back as "".
            m.model_type.unwrap_or_default().into(),
            m.source_run_id.unwrap_or_default().into(),
        ],
    )?;
    upsert_kv(c, "logged_model_params", &model_id, &m.params)?;
    upsert_kv(c, "logged_model_tags", &model_id, &m.tags)?;
    get_logged_model(c, &model_id, false)
}

pub(crate) fn delete_logged_model(c: &mut dyn Conn, model_id: &str) -> Result<()> {
    record(c, model_id)?;
    c.execute(
        "UPDATE logged_models SET lifecycle_stage = ?, last_updated_timestamp_ms = ? WHERE model_id = ?",
        &[LIFECYCLE_DELETED.into(), now_ms().into(), model_id.into()],
    )?;
    Ok(())
}

pub(crate) fn finalize_logged_model(
    c: &mut dyn Conn,
    model_id: &str,
    status: LoggedModelStatus,
) -> Result<LoggedModel> {
    record(c, model_id)?;
    c.execute(
        "UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?",
        &[status.as_int().into(), now_ms().into(), model_id.into()],
    )?;
    get_logged_model(c, model_id, true)
}

pub(crate) fn set_logged_model_tags(
    c: &mut dyn Conn,
    model_id: &str,
    tags: Vec<Tag>,
) -> Result<()> {
    record(c, model_id)?;
    upsert_kv(c, "logged_model_tags", model_id, &tags)
}

pub(crate) fn delete_logged_model_tag(c: &mut dyn Conn, model_id: &str, key: &str) -> Result<()> {
    record(c, model_id)?;
    let n = c.execute(
        "DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?",
        &[model_id.into(), key.into()],
    )?;
    if n == 0 {
        return Err(MlflowError::not_found(format!(
            "No tag with key '{key}' found for model with ID '{model_id}'."
        )));
    }
    Ok(())
}

pub(crate) fn log_logged_model_params(
    c: &mut dyn Conn,
    model_id: &str,
    params: Vec<Param>,
) -> Result<()> {
    record(c, model_id)?;
    upsert_kv(c, "logged_model_params", model_id, &params)
}

/// Sets the logged model's `mlflow.modelVersions` tag to include `{name, version}`, as
/// MLflow's `set_model_versions_tags` does (a JSON list in `json.dumps` format).
pub(crate) fn add_model_version_to_tag(
    c: &mut dyn Conn,
    model_id: &str,
    name: &str,
    version: i64,
) -> Result<()> {
    use mlox_core::registry::MODEL_VERSIONS_TAG_KEY;
    let model = get_logged_model(c, model_id, false)?;
    let entry = serde_json::json!({"name": name, "version": version});
    let mut list: Vec<serde_json::Value> = model
        .tags
        .iter()
        .find(|t| t.key == MODEL_VERSIONS_TAG_KEY)
        .and_then(|t| serde_json::from_str(&t.value).ok())
        .unwrap_or_default();
    if !list.contains(&entry) {
        list.push(entry);
    }
    let items: Vec<String> = list
        .iter()
        .map(|v| match (v.get("name"), v.get("version")) {
            (Some(n), Some(ver)) => format!("{{\"name\": {n}, \"version\": {ver}}}"),
            _ => v.to_string(),
        })
        .collect();
    upsert_kv(
        c,
        "logged_model_tags",
        model_id,
        &[Tag::new(
            MODEL_VERSIONS_TAG_KEY,
            format!("[{}]", items.join(", ")),
        )],
    )
}

pub(crate) fn search_logged_models(
    c: &mut dyn Conn,
    req: SearchLoggedModelsRequest,
) -> Result<Page<LoggedModel>> {
    if req.datasets.iter().any(|d| d.dataset_name.is_empty()) {
        return Err(MlflowError::invalid(
            "`dataset_name` in the `datasets` clause must be specified.",
        ));
    }
    let max_results = req.max_results.filter(|m| *m > 0).unwrap_or(50);
    let offset = page_token::decode(req.page_token.as_deref())?;
    let mut experiment_ids = Vec::with_capacity(req.experiment_ids.len());
    for id in &req.experiment_ids {
        experiment_ids.push(id.trim().parse::<i64>().map_err(|_| {
            MlflowError::invalid(format!(
                "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
            ))
        })?);
    }
    if experiment_ids.is_empty() {
        return Ok(Page {
            items: vec![],
            next_page_token: None,
        });
    }
    let query = search_sql::logged_models_query(
        &experiment_ids,
        &req.filter,
        &req.datasets,
        &req.order_by,
    )?;
    let mut params = query.params;
    params.push(SqlValue::Int(max_results + 1));
    params.push(SqlValue::Int(offset as i64));
    let sql = format!(
        "SELECT {COLUMNS} FROM logged_models lm {} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
        query.joins, query.where_sql, query.order_sql
    );
    let rows = c.query_replanned(&sql, &params)?;
    let mut models: Vec<LoggedModel> = rows.iter().map(from_row).collect::<Result<_, DbError>>()?;
    let next = page_token::finish_page(&mut models, max_results, offset);
    Ok(Page {
        items: load(c, models)?,
        next_page_token: next,
    })
}

#[async_trait::async_trait]
impl mlox_core::store::LoggedModelStore for crate::SqlStore {
    async fn create_logged_model(&self, model: NewLoggedModel) -> Result<LoggedModel> {
        self.db.write(move |c| create_logged_model(c, model)).await
    }
    async fn get_logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        let id = model_id.to_string();
        self.db
            .read(move |c| get_logged_model(c, &id, allow_deleted))
            .await
    }
    async fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        let id = model_id.to_string();
        self.db.write(move |c| delete_logged_model(c, &id)).await
    }
    async fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        let id = model_id.to_string();
        self.db
            .write(move |c| finalize_logged_model(c, &id, status))
            .await
    }
    async fn set_logged_model_tags(&self, model_id: &str, tags: Vec<Tag>) -> Result<()> {
        let id = model_id.to_string();
        self.db
            .write(move |c| set_logged_model_tags(c, &id, tags))
            .await
    }
    async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        let (id, key) = (model_id.to_string(), key.to_string());
        self.db
            .write(move |c| delete_logged_model_tag(c, &id, &key))
            .await
    }
    async fn log_logged_model_params(&self, model_id: &str, params: Vec<Param>) -> Result<()> {
        let id = model_id.to_string();
        self.db
            .write(move |c| log_logged_model_params(c, &id, params))
            .await
    }
    async fn search_logged_models(
        &self,
        req: SearchLoggedModelsRequest,
    ) -> Result<Page<LoggedModel>> {
        self.db.read(move |c| search_logged_models(c, req)).await
    }
}
