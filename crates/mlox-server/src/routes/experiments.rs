use axum::extract::State;
use axum::Json;
use mlox_core::entities::{SearchExperimentsRequest, Tag, ViewType};
use mlox_core::MlflowError;
use serde_json::{json, Value};

use crate::error::ApiResult;
use crate::request::{obj_str, Params};
use crate::{wire, AppState};

pub(crate) fn parse_tags(p: &Params, key: &str) -> ApiResult<Vec<Tag>> {
    let mut tags = Vec::new();
    for obj in p.obj_list(key)? {
        let key = obj_str(&obj, "key")?.unwrap_or_default();
        let value = obj_str(&obj, "value")?.unwrap_or_default();
        tags.push(Tag { key, value });
    }
    Ok(tags)
}

pub(crate) async fn create(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let location = p.opt_str("artifact_location")?;
    let tags = parse_tags(&p, "tags")?;
    let id = s.store.create_experiment(name, location, tags).await?;
    Ok(Json(json!({ "experiment_id": id })))
}

pub(crate) async fn get(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let exp = s.store.get_experiment(&p.req_str("experiment_id")?).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&exp) })))
}

pub(crate) async fn get_by_name(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let exp = s
        .store
        .get_experiment_by_name(&p.req_str("experiment_name")?)
        .await?;
    Ok(Json(json!({ "experiment": wire::experiment(&exp) })))
}

pub(crate) async fn search(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let req = SearchExperimentsRequest {
        filter: p.opt_str("filter")?.unwrap_or_default(),
        view_type: p
            .opt_str("view_type")?
            .map(|v| ViewType::parse(&v))
            .transpose()?
            .unwrap_or_default(),
        max_results: p.opt_i64("max_results")?,
        order_by: p.str_list("order_by")?,
        page_token: p.opt_str("page_token")?,
    };
    let page = s.store.search_experiments(req).await?;
    let mut out = serde_json::Map::new();
    if !page.items.is_empty() {
        out.insert(
            "experiments".into(),
            Value::Array(page.items.iter().map(wire::experiment).collect()),
        );
    }
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

/// mlox's own run counts for the web UI's experiment list (MLflow's API has no count):
/// `experiment_ids` (a list, up to [`MAX_COUNTED_EXPERIMENTS`]) → `run_counts`, in order.
pub(crate) async fn run_counts(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let ids = p.str_list("experiment_ids")?;
    if ids.len() > MAX_COUNTED_EXPERIMENTS {
        return Err(MlflowError::invalid(format!(
            "at most {MAX_COUNTED_EXPERIMENTS} experiment_ids per request, got {}",
            ids.len()
        ))
        .into());
    }
    let counts = s.store.count_runs(&ids).await?;
    let counts: Vec<Value> = counts
        .into_iter()
        .map(|c| json!({ "experiment_id": c.experiment_id, "active": c.active, "total": c.total }))
        .collect();
    Ok(Json(json!({ "run_counts": counts })))
}

const MAX_COUNTED_EXPERIMENTS: usize = 1000;

pub(crate) async fn delete(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.store
        .delete_experiment(&p.req_str("experiment_id")?)
        .await?;
    Ok(Json(json!({})))
}

pub(crate) async fn restore(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.store
        .restore_experiment(&p.req_str("experiment_id")?)
        .await?;
    Ok(Json(json!({})))
}

pub(crate) async fn update(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let id = p.req_str("experiment_id")?;
    if let Some(new_name) = p.opt_str("new_name")? {
        s.store.rename_experiment(&id, new_name).await?;
    }
    Ok(Json(json!({})))
}

pub(crate) async fn set_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let id = p.req_str("experiment_id")?;
    let tag = Tag {
        key: p.req_str("key")?,
        value: p.req_str_allow_empty("value")?,
    };
    s.store.set_experiment_tag(&id, tag).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn delete_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.store
        .delete_experiment_tag(&p.req_str("experiment_id")?, &p.req_str("key")?)
        .await?;
    Ok(Json(json!({})))
}
