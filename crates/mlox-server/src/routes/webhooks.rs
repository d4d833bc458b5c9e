//! `/mlflow/webhooks…`: webhook CRUD and test deliveries (`mlflow/protos/webhooks.proto`).

use crate::SharedState;
use axum::extract::{Path, State};
use axum::routing::{get, post, MethodRouter};
use axum::Json;
use mlox_core::registry::*;
use mlox_core::validation::missing_value;
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use crate::error::ApiResult;
use crate::request::Params;
use crate::{wire, AppState};

pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<SharedState>)> {
    vec![
        ("/webhooks", post(create).get(list)),
        (
            "/webhooks/{webhook_id}",
            get(get_webhook).patch(update).delete(delete_webhook),
        ),
        ("/webhooks/{webhook_id}/test", post(test)),
    ]
}

fn enum_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_event(v: &Value) -> Result<WebhookEvent, MlflowError> {
    let obj = v
        .as_object()
        .ok_or_else(|| MlflowError::invalid(format!("Invalid webhook event: {v}")))?;
    let entity = obj.get("entity").and_then(enum_text).unwrap_or_default();
    let action = obj.get("action").and_then(enum_text).unwrap_or_default();
    let entity = WebhookEntity::parse(&entity)
        .ok_or_else(|| MlflowError::invalid(format!("Invalid webhook entity: '{entity}'")))?;
    let action = WebhookAction::parse(&action)
        .ok_or_else(|| MlflowError::invalid(format!("Invalid webhook action: '{action}'")))?;
    WebhookEvent::new(entity, action)
}

fn parse_events(p: &Params) -> Result<Option<Vec<WebhookEvent>>, MlflowError> {
    match p.get("events") {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(parse_event)
            .collect::<Result<_, _>>()
            .map(Some),
        Some(other) => Err(MlflowError::invalid(format!(
            "Invalid value {other} for parameter 'events' supplied"
        ))),
    }
}

fn parse_status(p: &Params) -> Result<Option<WebhookStatus>, MlflowError> {
    match p.get("status").and_then(enum_text) {
        None => Ok(None),
        Some(s) => WebhookStatus::parse(&s)
            .map(Some)
            .ok_or_else(|| MlflowError::invalid(format!("Invalid webhook status: '{s}'"))),
    }
}

fn webhook_response(w: &Webhook) -> Json<Value> {
    Json(json!({ "webhook": wire::webhook(w) }))
}

async fn create(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let name = p.req_str("name")?;
    let url = p.req_str("url")?;
    let events = parse_events(&p)?.ok_or_else(|| missing_value("events"))?;
    validate_webhook_name(&name)?;
    s.models.webhooks.validate_url(&url).await?;
    let webhook = NewWebhook {
        name,
        url,
        events,
        description: p.opt_str("description")?.filter(|d| !d.is_empty()),
        secret: p.opt_str("secret")?.filter(|d| !d.is_empty()),
        status: parse_status(&p)?,
    };
    let webhook = s.models.registry.create_webhook(webhook).await?;
    Ok(webhook_response(&webhook))
}

async fn list(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let page = s
        .models
        .registry
        .list_webhooks(p.opt_i64("max_results")?, p.opt_str("page_token")?)
        .await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        out.insert(
            "webhooks".into(),
            Value::Array(page.items.iter().map(wire::webhook).collect()),
        );
    }
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

async fn get_webhook(
    State(s): State<AppState>,
    Path(webhook_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let webhook = s.models.registry.get_webhook(&webhook_id).await?;
    Ok(webhook_response(&webhook))
}

async fn update(
    State(s): State<AppState>,
    Path(webhook_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let url = p.opt_str("url")?.filter(|u| !u.is_empty());
    if let Some(url) = &url {
        s.models.webhooks.validate_url(url).await?;
    }
    let update = WebhookUpdate {
        name: p.opt_str("name")?.filter(|n| !n.is_empty()),
        description: p.opt_str("description")?,
        url,
        events: parse_events(&p)?.filter(|e| !e.is_empty()),
        secret: p.opt_str("secret")?,
        status: parse_status(&p)?,
    };
    let webhook = s
        .models
        .registry
        .update_webhook(&webhook_id, update)
        .await?;
    Ok(webhook_response(&webhook))
}

async fn delete_webhook(
    State(s): State<AppState>,
    Path(webhook_id): Path<String>,
) -> ApiResult<Json<Value>> {
    s.models.registry.delete_webhook(&webhook_id).await?;
    Ok(Json(json!({})))
}

async fn test(
    State(s): State<AppState>,
    Path(webhook_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let event = p.get("event").map(parse_event).transpose()?;
    let webhook = s.models.registry.get_webhook(&webhook_id).await?;
    let result = s.models.webhooks.test(&webhook, event).await;
    Ok(Json(
        json!({ "result": wire::webhook_test_result(&result) }),
    ))
}
