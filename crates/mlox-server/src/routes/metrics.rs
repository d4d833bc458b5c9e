use axum::extract::State;
use axum::Json;
use mlox_core::entities::{BulkIntervalRequest, MetricHistoryRequest};
use serde_json::{json, Map, Value};

use crate::error::ApiResult;
use crate::request::Params;
use crate::{wire, AppState};

pub(crate) async fn get_history(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let req = MetricHistoryRequest {
        run_id: p.run_id()?,
        metric_key: p.req_str("metric_key")?,
        max_results: p.opt_i64("max_results")?,
        page_token: p.opt_str("page_token")?,
    };
    let page = s.store.get_metric_history(req).await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        out.insert(
            "metrics".into(),
            Value::Array(page.items.iter().map(wire::metric).collect()),
        );
    }
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

pub(crate) async fn get_history_bulk_interval(
    State(s): State<AppState>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let req = BulkIntervalRequest {
        run_ids: p.str_list("run_ids")?,
        metric_key: p.req_str("metric_key")?,
        start_step: p.opt_i64("start_step")?,
        end_step: p.opt_i64("end_step")?,
        max_results: p.opt_i64("max_results")?,
    };
    let metrics = s.store.get_metric_history_bulk_interval(req).await?;
    let mut out = Map::new();
    if !metrics.is_empty() {
        out.insert(
            "metrics".into(),
            Value::Array(metrics.iter().map(wire::metric_with_run_id).collect()),
        );
    }
    Ok(Json(Value::Object(out)))
}
