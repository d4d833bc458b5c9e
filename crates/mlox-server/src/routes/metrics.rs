use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mlox_core::entities::{BulkIntervalRequest, MetricHistoryRequest};

use crate::error::ApiResult;
use crate::request::Params;
use crate::{wire, AppState};

pub(crate) async fn get_history(State(s): State<AppState>, p: Params) -> ApiResult<Response> {
    let req = MetricHistoryRequest {
        run_id: p.run_id()?,
        metric_key: p.req_str("metric_key")?,
        max_results: p.opt_i64("max_results")?,
        page_token: p.opt_str("page_token")?,
    };
    let key = req.metric_key.clone();
    let page = s.store.get_metric_history(req).await?;
    Ok(json_text(wire::metrics_response(
        page.items.iter().map(|p| wire::PointRef::of_point(&key, p)),
        page.next_page_token.as_deref(),
    )))
}

/// A response whose body is already JSON text.
fn json_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) async fn get_history_bulk_interval(
    State(s): State<AppState>,
    p: Params,
) -> ApiResult<Response> {
    let req = BulkIntervalRequest {
        run_ids: p.str_list("run_ids")?,
        metric_key: p.req_str("metric_key")?,
        start_step: p.opt_i64("start_step")?,
        end_step: p.opt_i64("end_step")?,
        max_results: p.opt_i64("max_results")?,
    };
    let points = s.store.get_metric_history_bulk_interval(req).await?;
    Ok(json_text(wire::metrics_response(
        points
            .iter()
            .map(|p| wire::PointRef::of_metric(&p.metric, Some(&p.run_id))),
        None,
    )))
}
