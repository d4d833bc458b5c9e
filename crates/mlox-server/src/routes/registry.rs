//! `/mlflow/registered-models/…` and `/mlflow/model-versions/…`: the model registry.
//! Mutations that MLflow announces to webhooks queue a [`RegistryEvent`] after the store
//! call succeeds.

use crate::SharedState;
use axum::extract::State;
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Json;
use mlox_core::registry::*;
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use super::experiments::parse_tags;
use crate::error::ApiResult;
use crate::request::Params;
use crate::webhooks::RegistryEvent;
use crate::{wire, AppState};

pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<SharedState>)> {
    vec![
        ("/registered-models/create", post(create_registered_model)),
        ("/registered-models/get", get(get_registered_model)),
        ("/registered-models/rename", post(rename_registered_model)),
        ("/registered-models/update", patch(update_registered_model)),
        ("/registered-models/delete", delete(delete_registered_model)),
        ("/registered-models/search", get(search_registered_models)),
        (
            "/registered-models/get-latest-versions",
            post(get_latest_versions).get(get_latest_versions),
        ),
        ("/registered-models/set-tag", post(set_registered_model_tag)),
        (
            "/registered-models/delete-tag",
            delete(delete_registered_model_tag),
        ),
        (
            "/registered-models/alias",
            post(set_alias).get(get_by_alias).delete(delete_alias),
        ),
        ("/model-versions/create", post(create_model_version)),
        ("/model-versions/get", get(get_model_version)),
        ("/model-versions/update", patch(update_model_version)),
        ("/model-versions/delete", delete(delete_model_version)),
        ("/model-versions/search", get(search_model_versions)),
        ("/model-versions/get-download-uri", get(get_download_uri)),
        ("/model-versions/transition-stage", post(transition_stage)),
        ("/model-versions/set-tag", post(set_model_version_tag)),
        (
            "/model-versions/delete-tag",
            delete(delete_model_version_tag),
        ),
    ]
}

fn rm_response(m: &RegisteredModel) -> Json<Value> {
    Json(json!({ "registered_model": wire::registered_model(m) }))
}

fn mv_response(v: &ModelVersion) -> Json<Value> {
    Json(json!({ "model_version": wire::model_version(v) }))
}

/// `max_results` checked as MLflow's handler does (`_assert_less_than_or_equal`).
fn max_results(p: &Params, limit: i64) -> Result<Option<i64>, MlflowError> {
    let value = p.opt_i64("max_results")?;
    if let Some(v) = value.filter(|v| *v > limit) {
        // Query parameters are strings to MLflow; the message shows the value's type.
        let (shown, kind) = match p.get("max_results") {
            Some(Value::String(_)) => (format!("\"{v}\""), "str"),
            _ => (v.to_string(), "int"),
        };
        return Err(MlflowError::invalid(format!(
            "Invalid value {shown} for parameter 'max_results' supplied:  Hint: Value was of type '{kind}'. See the API docs for more information about request parameters."
        )));
    }
    Ok(value)
}

fn search_request(p: &Params, limit: i64) -> Result<RegistrySearchRequest, MlflowError> {
    Ok(RegistrySearchRequest {
        filter: p.opt_str("filter")?.unwrap_or_default(),
        max_results: max_results(p, limit)?,
        order_by: p.str_list("order_by")?,
        page_token: p.opt_str("page_token")?,
    })
}

async fn create_registered_model(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let tags = parse_tags(&p, "tags")?;
    let description = p.opt_str("description")?;
    let model = s
        .models
        .registry
        .create_registered_model(name.clone(), tags.clone(), description.clone())
        .await?;
    s.models
        .webhooks
        .emit(RegistryEvent::RegisteredModelCreated {
            name,
            tags,
            description: description.unwrap_or_default(),
        });
    Ok(rm_response(&model))
}

async fn get_registered_model(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let model = s
        .models
        .registry
        .get_registered_model(&p.req_str("name")?)
        .await?;
    Ok(rm_response(&model))
}

async fn rename_registered_model(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let new_name = p.req_str("new_name")?;
    let model = s
        .models
        .registry
        .rename_registered_model(&name, new_name)
        .await?;
    Ok(rm_response(&model))
}

async fn update_registered_model(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let model = s
        .models
        .registry
        .update_registered_model(&name, p.opt_str("description")?)
        .await?;
    Ok(rm_response(&model))
}

async fn delete_registered_model(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.models
        .registry
        .delete_registered_model(&p.req_str("name")?)
        .await?;
    Ok(Json(json!({})))
}

async fn search_registered_models(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let req = search_request(&p, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)?;
    let page = s.models.registry.search_registered_models(req).await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        out.insert(
            "registered_models".into(),
            Value::Array(page.items.iter().map(wire::registered_model).collect()),
        );
    }
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

fn versions_response(versions: &[ModelVersion], token: Option<String>) -> Json<Value> {
    let mut out = Map::new();
    if !versions.is_empty() {
        out.insert(
            "model_versions".into(),
            Value::Array(versions.iter().map(wire::model_version).collect()),
        );
    }
    if let Some(t) = token {
        out.insert("next_page_token".into(), json!(t));
    }
    Json(Value::Object(out))
}

async fn get_latest_versions(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let versions = s
        .models
        .registry
        .get_latest_versions(&p.req_str("name")?, p.str_list("stages")?)
        .await?;
    Ok(versions_response(&versions, None))
}

async fn set_registered_model_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let key = p.req_str("key")?;
    let value = p.opt_str("value")?.unwrap_or_default();
    s.models
        .registry
        .set_registered_model_tag(&name, mlox_core::entities::Tag::new(&key, &value))
        .await?;
    s.models
        .webhooks
        .emit(RegistryEvent::RegisteredModelTagSet { name, key, value });
    Ok(Json(json!({})))
}

async fn delete_registered_model_tag(
    State(s): State<AppState>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let key = p.req_str("key")?;
    s.models
        .registry
        .delete_registered_model_tag(&name, &key)
        .await?;
    s.models
        .webhooks
        .emit(RegistryEvent::RegisteredModelTagDeleted { name, key });
    Ok(Json(json!({})))
}

async fn set_alias(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let alias = p.req_str("alias")?;
    let version = p.req_str("version")?;
    s.models
        .registry
        .set_registered_model_alias(&name, &alias, &version)
        .await?;
    s.models.webhooks.emit(RegistryEvent::AliasCreated {
        name,
        alias,
        version,
    });
    Ok(Json(json!({})))
}

async fn delete_alias(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let alias = p.req_str("alias")?;
    s.models
        .registry
        .delete_registered_model_alias(&name, &alias)
        .await?;
    s.models
        .webhooks
        .emit(RegistryEvent::AliasDeleted { name, alias });
    Ok(Json(json!({})))
}

async fn get_by_alias(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let version = s
        .models
        .registry
        .get_model_version_by_alias(&p.req_str("name")?, &p.req_str("alias")?)
        .await?;
    Ok(mv_response(&version))
}

async fn create_model_version(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let req = NewModelVersion {
        name: p.req_str("name")?,
        source: p.req_str("source")?,
        run_id: p.opt_str("run_id")?,
        tags: parse_tags(&p, "tags")?,
        run_link: p.opt_str("run_link")?,
        description: p.opt_str("description")?,
        model_id: p.opt_str("model_id")?,
    };
    let version = s.models.registry.create_model_version(req.clone()).await?;
    s.models.webhooks.emit(RegistryEvent::ModelVersionCreated {
        name: req.name,
        version: version.version.to_string(),
        source: version.source.clone().unwrap_or(req.source),
        run_id: req.run_id.filter(|r| !r.is_empty()),
        tags: req.tags,
        description: req.description.filter(|d| !d.is_empty()),
    });
    Ok(mv_response(&version))
}

async fn get_model_version(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let version = s
        .models
        .registry
        .get_model_version(&p.req_str("name")?, &p.req_str("version")?)
        .await?;
    Ok(mv_response(&version))
}

async fn update_model_version(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let version = s
        .models
        .registry
        .update_model_version(
            &p.req_str("name")?,
            &p.req_str("version")?,
            p.opt_str("description")?,
        )
        .await?;
    Ok(mv_response(&version))
}

async fn delete_model_version(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.models
        .registry
        .delete_model_version(&p.req_str("name")?, &p.req_str("version")?)
        .await?;
    Ok(Json(json!({})))
}

async fn search_model_versions(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let mut req = search_request(&p, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)?;
    // Absent, the proto's default applies (200000), not the store's (10000).
    req.max_results = req
        .max_results
        .or(Some(SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD));
    let page = s.models.registry.search_model_versions(req).await?;
    Ok(versions_response(&page.items, page.next_page_token))
}

async fn get_download_uri(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let uri = s
        .models
        .registry
        .get_model_version_download_uri(&p.req_str("name")?, &p.req_str("version")?)
        .await?;
    Ok(Json(json!({ "artifact_uri": uri })))
}

async fn transition_stage(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let version = p.req_str("version")?;
    let stage = p.req_str("stage")?;
    // Required by the proto but not checked by MLflow's handler: absent means false.
    let archive = p.opt_bool("archive_existing_versions")?.unwrap_or(false);
    let version = s
        .models
        .registry
        .transition_model_version_stage(&name, &version, &stage, archive)
        .await?;
    Ok(mv_response(&version))
}

async fn set_model_version_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let version = p.req_str("version")?;
    let key = p.req_str("key")?;
    let value = p.opt_str("value")?.unwrap_or_default();
    s.models
        .registry
        .set_model_version_tag(&name, &version, mlox_core::entities::Tag::new(&key, &value))
        .await?;
    s.models.webhooks.emit(RegistryEvent::ModelVersionTagSet {
        name,
        version,
        key,
        value,
    });
    Ok(Json(json!({})))
}

async fn delete_model_version_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let version = p.req_str("version")?;
    let key = p.req_str("key")?;
    s.models
        .registry
        .delete_model_version_tag(&name, &version, &key)
        .await?;
    s.models
        .webhooks
        .emit(RegistryEvent::ModelVersionTagDeleted { name, version, key });
    Ok(Json(json!({})))
}
