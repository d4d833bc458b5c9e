//! `/mlflow/logged-models…`: MLflow 3 logged models.

use crate::SharedState;
use axum::extract::{Path, State};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Json;
use mlox_core::logged_model::*;
use mlox_core::validation::missing_value;
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use super::experiments::parse_tags;
use crate::error::ApiResult;
use crate::request::{obj_str, value_i64, Params};
use crate::{wire, AppState};

pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<SharedState>)> {
    vec![
        ("/logged-models", post(create)),
        ("/logged-models/search", post(search)),
        (
            "/logged-models/{model_id}",
            get(get_model).patch(finalize).delete(delete_model),
        ),
        ("/logged-models/{model_id}/tags", patch(set_tags)),
        (
            "/logged-models/{model_id}/tags/{tag_key}",
            delete(delete_tag),
        ),
        ("/logged-models/{model_id}/params", post(log_params)),
    ]
}

fn model_response(m: &LoggedModel) -> Json<Value> {
    Json(json!({ "model": wire::logged_model(m) }))
}

async fn create(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let model = NewLoggedModel {
        experiment_id: p.req_str("experiment_id")?,
        name: p.opt_str("name")?.filter(|n| !n.is_empty()),
        model_type: p.opt_str("model_type")?,
        source_run_id: p.opt_str("source_run_id")?,
        params: parse_tags(&p, "params")?,
        tags: parse_tags(&p, "tags")?,
    };
    let model = s.models.logged_models.create_logged_model(model).await?;
    Ok(model_response(&model))
}

async fn get_model(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let allow_deleted = p
        .opt_str("allow_deleted")?
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let model = s
        .models
        .logged_models
        .get_logged_model(&model_id, allow_deleted)
        .await?;
    Ok(model_response(&model))
}

async fn finalize(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let status = match p.get("status") {
        None => return Err(missing_value("status").into()),
        Some(Value::Number(n)) => LoggedModelStatus::parse(&n.to_string())?,
        Some(Value::String(v)) => LoggedModelStatus::parse(v)?,
        Some(other) => {
            return Err(MlflowError::invalid(format!(
                "Invalid value {other} for parameter 'status' supplied"
            ))
            .into())
        }
    };
    let model = s
        .models
        .logged_models
        .finalize_logged_model(&model_id, status)
        .await?;
    Ok(model_response(&model))
}

async fn delete_model(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.models
        .logged_models
        .delete_logged_model(&model_id)
        .await?;
    Ok(Json(json!({})))
}

async fn set_tags(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let tags = parse_tags(&p, "tags")?;
    s.models
        .logged_models
        .set_logged_model_tags(&model_id, tags)
        .await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(s): State<AppState>,
    Path((model_id, tag_key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.models
        .logged_models
        .delete_logged_model_tag(&model_id, &tag_key)
        .await?;
    Ok(Json(json!({})))
}

async fn log_params(
    State(s): State<AppState>,
    Path(model_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let params = parse_tags(&p, "params")?;
    s.models
        .logged_models
        .log_logged_model_params(&model_id, params)
        .await?;
    Ok(Json(json!({})))
}

fn order_by_from(obj: &Map<String, Value>) -> Result<LoggedModelOrderBy, MlflowError> {
    let field_name = obj_str(obj, "field_name")?
        .filter(|f| !f.is_empty())
        .ok_or_else(|| missing_value("field_name"))?;
    let ascending = match obj.get("ascending") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(other) => {
            return Err(MlflowError::invalid(format!(
                "Invalid value {other} for parameter 'ascending' supplied"
            )))
        }
    };
    Ok(LoggedModelOrderBy {
        field_name,
        ascending,
        dataset_name: obj_str(obj, "dataset_name")?.filter(|d| !d.is_empty()),
        dataset_digest: obj_str(obj, "dataset_digest")?.filter(|d| !d.is_empty()),
    })
}

async fn search(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    if p.get("experiment_ids").is_none() {
        return Err(missing_value("experiment_ids").into());
    }
    let datasets = p
        .obj_list("datasets")?
        .iter()
        .map(|d| {
            Ok(LoggedModelDatasetFilter {
                dataset_name: obj_str(d, "dataset_name")?.unwrap_or_default(),
                dataset_digest: obj_str(d, "dataset_digest")?.filter(|v| !v.is_empty()),
            })
        })
        .collect::<Result<Vec<_>, MlflowError>>()?;
    let order_by = p
        .obj_list("order_by")?
        .iter()
        .map(order_by_from)
        .collect::<Result<Vec<_>, _>>()?;
    let max_results = p
        .get("max_results")
        .map(|v| value_i64("max_results", v))
        .transpose()?;
    let req = SearchLoggedModelsRequest {
        experiment_ids: p.str_list("experiment_ids")?,
        filter: p.opt_str("filter")?.unwrap_or_default(),
        datasets,
        max_results,
        order_by,
        page_token: p.opt_str("page_token")?,
    };
    let page = s.models.logged_models.search_logged_models(req).await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        out.insert(
            "models".into(),
            Value::Array(page.items.iter().map(wire::logged_model).collect()),
        );
    }
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}
