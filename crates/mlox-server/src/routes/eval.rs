//! MLflow 3 GenAI evaluation: evaluation datasets (`/3.0/mlflow/datasets…`) and the scorer
//! registry (`/3.0/mlflow/scorers…`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Json;
use mlox_core::entities::LIFECYCLE_ACTIVE;
use mlox_core::eval::{
    check_serialized_scorer, tag_text, EvalDataset, OnlineScoringConfig, ScorerVersion,
    SearchDatasetsRequest,
};
use mlox_core::trace::python_json;
use mlox_core::validation::missing_value;
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use crate::error::ApiResult;
use crate::request::Params;
use crate::{AppState, SharedState};

/// Routes as `(path below /api or /ajax-api, handler)`.
pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<SharedState>)> {
    vec![
        ("/3.0/mlflow/datasets/create", post(create_dataset)),
        (
            "/3.0/mlflow/datasets/search",
            post(search_datasets).get(search_datasets),
        ),
        (
            "/3.0/mlflow/datasets/{dataset_id}",
            get(get_dataset).delete(delete_dataset),
        ),
        ("/3.0/mlflow/datasets/{dataset_id}/tags", patch(set_tags)),
        (
            "/3.0/mlflow/datasets/{dataset_id}/tags/{key}",
            delete(delete_tag),
        ),
        (
            "/3.0/mlflow/datasets/{dataset_id}/records",
            post(upsert_records).get(get_records).delete(delete_records),
        ),
        (
            "/3.0/mlflow/datasets/{dataset_id}/experiment-ids",
            get(experiment_ids),
        ),
        (
            "/3.0/mlflow/datasets/{dataset_id}/add-experiments",
            post(add_experiments),
        ),
        (
            "/3.0/mlflow/datasets/{dataset_id}/remove-experiments",
            post(remove_experiments),
        ),
        ("/3.0/mlflow/scorers/register", post(register_scorer)),
        ("/3.0/mlflow/scorers/list", get(list_scorers)),
        ("/3.0/mlflow/scorers/versions", get(list_scorer_versions)),
        ("/3.0/mlflow/scorers/get", get(get_scorer)),
        ("/3.0/mlflow/scorers/delete", delete(delete_scorer)),
        ("/3.0/mlflow/scorers/online-configs", get(online_configs)),
        (
            "/3.0/mlflow/scorers/online-config",
            put(upsert_online_config),
        ),
    ]
}

/// `Dataset` as MLflow's protobuf JSON writes it (tags as a JSON string).
fn dataset_json(d: &EvalDataset) -> Value {
    let mut m = Map::new();
    m.insert("dataset_id".into(), json!(d.dataset_id));
    m.insert("name".into(), json!(d.name));
    let tags: Map<String, Value> = d
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    m.insert("tags".into(), json!(python_json(&Value::Object(tags))));
    if let Some(s) = &d.schema {
        m.insert("schema".into(), json!(s));
    }
    if let Some(p) = &d.profile {
        m.insert("profile".into(), json!(p));
    }
    m.insert("digest".into(), json!(d.digest));
    m.insert("created_time".into(), json!(d.created_time));
    m.insert("last_update_time".into(), json!(d.last_update_time));
    if let Some(u) = &d.created_by {
        m.insert("created_by".into(), json!(u));
    }
    if let Some(u) = &d.last_updated_by {
        m.insert("last_updated_by".into(), json!(u));
    }
    if let Some(ids) = d.experiment_ids.as_ref().filter(|i| !i.is_empty()) {
        m.insert("experiment_ids".into(), json!(ids));
    }
    Value::Object(m)
}

/// A field that carries JSON text (`tags`, `records`), parsed.
fn json_field(p: &Params, key: &str) -> Result<Option<Value>, MlflowError> {
    let Some(text) = p.opt_str(key)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| MlflowError::invalid(format!("Invalid JSON in '{key}': {e}")))
}

fn tag_map(v: Option<Value>) -> Result<BTreeMap<String, String>, MlflowError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => Ok(m
            .iter()
            .filter_map(|(k, v)| tag_text(v).map(|t| (k.clone(), t)))
            .collect()),
        Some(_) => Err(MlflowError::invalid("'tags' must be a JSON object")),
    }
}

async fn create_dataset(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let tags = tag_map(json_field(&p, "tags")?)?;
    let experiment_ids = p.str_list("experiment_ids")?;
    let d = s
        .models
        .eval
        .create_dataset(name, tags, experiment_ids)
        .await?;
    Ok(Json(json!({ "dataset": dataset_json(&d) })))
}

async fn get_dataset(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = s.models.eval.get_dataset(&dataset_id).await?;
    Ok(Json(json!({ "dataset": dataset_json(&d) })))
}

async fn delete_dataset(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.models.eval.delete_dataset(&dataset_id).await?;
    Ok(Json(json!({})))
}

async fn search_datasets(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let req = SearchDatasetsRequest {
        experiment_ids: p.str_list("experiment_ids")?,
        filter: p.opt_str("filter_string")?,
        max_results: p.opt_i64("max_results")?.filter(|n| *n != 0),
        order_by: p.str_list("order_by")?,
        page_token: p.opt_str("page_token")?,
    };
    let page = s.models.eval.search_datasets(req).await?;
    let mut out = Map::new();
    out.insert(
        "datasets".into(),
        Value::Array(page.items.iter().map(dataset_json).collect()),
    );
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

async fn set_tags(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let tags = json_field(&p, "tags")?.ok_or_else(|| missing_value("tags"))?;
    let tags = tag_map(Some(tags))?;
    s.models.eval.set_dataset_tags(&dataset_id, tags).await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(s): State<AppState>,
    Path((dataset_id, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.models.eval.delete_dataset_tag(&dataset_id, &key).await?;
    Ok(Json(json!({})))
}

async fn upsert_records(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let records = json_field(&p, "records")?.ok_or_else(|| missing_value("records"))?;
    let Value::Array(items) = records else {
        return Err(MlflowError::invalid("'records' must be a JSON list of records").into());
    };
    let records = items
        .into_iter()
        .map(|r| match r {
            Value::Object(m) => Ok(m),
            _ => Err(MlflowError::invalid("Each record must be a JSON object")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (inserted, updated) = s
        .models
        .eval
        .upsert_dataset_records(&dataset_id, records)
        .await?;
    Ok(Json(
        json!({"inserted_count": inserted, "updated_count": updated}),
    ))
}

async fn get_records(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let max_results = p.opt_i64("max_results")?.unwrap_or(0);
    let token = p.opt_str("page_token")?;
    let (records, next) = s
        .models
        .eval
        .get_dataset_records(&dataset_id, max_results, token)
        .await?;
    let list: Vec<Value> = records.iter().map(|r| r.to_json()).collect();
    let mut out = Map::new();
    out.insert("records".into(), json!(python_json(&Value::Array(list))));
    if let Some(t) = next {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

async fn delete_records(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let ids = p.str_list("dataset_record_ids")?;
    let n = s
        .models
        .eval
        .delete_dataset_records(&dataset_id, ids)
        .await?;
    Ok(Json(json!({ "deleted_count": n })))
}

async fn experiment_ids(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ids = s
        .models
        .eval
        .get_dataset_experiment_ids(&dataset_id)
        .await?;
    Ok(Json(json!({ "experiment_ids": ids })))
}

async fn add_experiments(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let ids = p.str_list("experiment_ids")?;
    let d = s
        .models
        .eval
        .add_dataset_to_experiments(&dataset_id, ids)
        .await?;
    Ok(Json(json!({ "dataset": dataset_json(&d) })))
}

async fn remove_experiments(
    State(s): State<AppState>,
    Path(dataset_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let ids = p.str_list("experiment_ids")?;
    let d = s
        .models
        .eval
        .remove_dataset_from_experiments(&dataset_id, ids)
        .await?;
    Ok(Json(json!({ "dataset": dataset_json(&d) })))
}

// ---- scorers -------------------------------------------------------------------------------

/// `Scorer` (its `experiment_id` is an int32 in the protobuf).
fn scorer_json(v: &ScorerVersion) -> Value {
    json!({
        "experiment_id": v.experiment_id.parse::<i64>().unwrap_or(0),
        "scorer_name": v.scorer_name,
        "scorer_version": v.scorer_version,
        "serialized_scorer": v.serialized_scorer,
        "creation_time": v.creation_time,
        "scorer_id": v.scorer_id,
    })
}

async fn register_scorer(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let experiment_id = p.req_str("experiment_id")?;
    let name = p.req_str("name")?;
    let serialized = p.req_str("serialized_scorer")?;
    check_serialized_scorer(&serialized, s.models.allow_custom_scorers)?;
    let v = s
        .models
        .eval
        .register_scorer(&experiment_id, &name, serialized)
        .await?;
    Ok(Json(json!({
        "version": v.scorer_version,
        "scorer_id": v.scorer_id,
        "experiment_id": v.experiment_id,
        "name": v.scorer_name,
        "serialized_scorer": v.serialized_scorer,
        "creation_time": v.creation_time,
    })))
}

async fn list_scorers(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let single = p.opt_str("experiment_id")?.filter(|e| !e.is_empty());
    let many = p.get("experiment_ids").is_some();
    if single.is_some() && many {
        return Err(MlflowError::invalid(
            "Cannot specify both 'experiment_id' and 'experiment_ids'. Use 'experiment_ids' to scope the query to multiple experiments, or 'experiment_id' to scope it to a single experiment.",
        )
        .into());
    }
    let ids = if let Some(id) = single {
        let exp = s.store.get_experiment(&id).await?;
        if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
            return Err(MlflowError::invalid(format!(
                "The experiment {} must be in the 'active' state. Current state is {}.",
                exp.experiment_id, exp.lifecycle_stage
            ))
            .into());
        }
        Some(vec![id])
    } else if many {
        Some(p.str_list("experiment_ids")?)
    } else {
        None
    };
    let list = s.models.eval.list_scorers(ids).await?;
    Ok(Json(
        json!({ "scorers": list.iter().map(scorer_json).collect::<Vec<_>>() }),
    ))
}

async fn list_scorer_versions(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let experiment_id = p.req_str("experiment_id")?;
    let name = p.req_str("name")?;
    let list = s
        .models
        .eval
        .list_scorer_versions(&experiment_id, &name)
        .await?;
    Ok(Json(
        json!({ "scorers": list.iter().map(scorer_json).collect::<Vec<_>>() }),
    ))
}

async fn get_scorer(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let experiment_id = p.req_str("experiment_id")?;
    let name = p.req_str("name")?;
    let version = p.opt_i64("version")?;
    let v = s
        .models
        .eval
        .get_scorer(&experiment_id, &name, version)
        .await?;
    Ok(Json(json!({ "scorer": scorer_json(&v) })))
}

async fn delete_scorer(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let experiment_id = p.req_str("experiment_id")?;
    let name = p.req_str("name")?;
    let version = p.opt_i64("version")?;
    s.models
        .eval
        .delete_scorer(&experiment_id, &name, version)
        .await?;
    Ok(Json(json!({})))
}

fn online_config_json(c: OnlineScoringConfig) -> Value {
    let mut v = json!({
        "online_scoring_config_id": c.online_scoring_config_id,
        "scorer_id": c.scorer_id,
        "sample_rate": c.sample_rate,
        "experiment_id": c.experiment_id,
    });
    if let Some(f) = c.filter_string {
        v["filter_string"] = json!(f);
    }
    v
}

/// Online scoring configurations of scorers, by scorer id. mlox stores them and never runs
/// a scorer.
async fn online_configs(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    if p.get("scorer_ids").is_none() {
        return Err(missing_value("scorer_ids").into());
    }
    let ids = p.str_list("scorer_ids")?;
    let configs = s.models.eval.get_online_scoring_configs(ids).await?;
    let configs: Vec<Value> = configs.into_iter().map(online_config_json).collect();
    Ok(Json(json!({ "configs": configs })))
}

/// `PUT /scorers/online-config`: sets how a registered scorer would sample traces.
async fn upsert_online_config(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let experiment_id = p.req_str("experiment_id")?;
    let name = p.req_str("name")?;
    let sample_rate = match p.get("sample_rate") {
        None => return Err(missing_value("sample_rate").into()),
        Some(v) => crate::request::value_f64("sample_rate", v)?,
    };
    let filter_string = match p.get("filter_string") {
        None => None,
        Some(Value::String(f)) => Some(f.clone()),
        Some(v) => {
            // MLflow's message names the Python type and repr of what it got.
            let (kind, repr) = match v {
                Value::Bool(b) => ("bool", if *b { "True" } else { "False" }.to_string()),
                Value::Number(n) if n.is_f64() => ("float", n.to_string()),
                Value::Number(n) => ("int", n.to_string()),
                Value::Array(_) => ("list", python_json(v)),
                _ => ("dict", python_json(v)),
            };
            return Err(MlflowError::invalid(format!(
                "Invalid value {repr} for parameter 'filter_string' supplied: Value was of type '{kind}'. Expected type 'str' or None."
            ))
            .into());
        }
    };
    let config = s
        .models
        .eval
        .upsert_online_scoring_config(&experiment_id, &name, sample_rate, filter_string)
        .await?;
    Ok(Json(json!({ "config": online_config_json(config) })))
}
