//! MLflow 3 tracing: `/mlflow/traces…` (v3, and the v2 paths the client still calls),
//! assessments, and OTLP/HTTP span ingest at `/v1/traces`.

use crate::SharedState;
use std::collections::BTreeMap;
use std::io::Read;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Json;
use mlox_core::trace::{AssessmentUpdate, DeleteTraces, SearchTracesRequest};
use mlox_core::validation::missing_value;
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use crate::error::ApiResult;
use crate::request::{Params, MAX_JSON_BODY};
use crate::{otlp, trace_wire as tw, AppState};

/// Routes as `(path below /api or /ajax-api, handler)`.
pub(crate) fn routes() -> Vec<(&'static str, MethodRouter<SharedState>)> {
    vec![
        ("/3.0/mlflow/traces", post(start_trace)),
        ("/3.0/mlflow/traces/get", get(get_trace)),
        ("/3.0/mlflow/traces/batchGet", get(batch_get)),
        ("/3.0/mlflow/traces/batchGetInfos", post(batch_get_infos)),
        ("/3.0/mlflow/traces/search", post(search)),
        ("/2.0/mlflow/traces/delete-traces", post(delete_traces)),
        ("/3.0/mlflow/traces/delete-traces", post(delete_traces)),
        ("/2.0/mlflow/traces/link-to-run", post(link_to_run)),
        ("/3.0/mlflow/traces/{trace_id}", get(get_trace_info)),
        (
            "/2.0/mlflow/traces/{trace_id}/tags",
            axum::routing::patch(set_tag).delete(delete_tag),
        ),
        (
            "/3.0/mlflow/traces/{trace_id}/tags",
            axum::routing::patch(set_tag).delete(delete_tag),
        ),
        (
            "/3.0/mlflow/traces/{trace_id}/assessments",
            post(create_assessment),
        ),
        (
            "/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}",
            get(get_assessment)
                .patch(update_assessment)
                .delete(delete_assessment),
        ),
    ]
}

async fn start_trace(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let trace = p.get("trace").ok_or_else(|| missing_value("trace"))?;
    let info = trace
        .get("trace_info")
        .ok_or_else(|| missing_value("trace_info"))?;
    let info = tw::parse_trace_info(info)?;
    let info = s.models.traces.start_trace(info).await?;
    Ok(Json(
        json!({"trace": {"trace_info": tw::trace_info(&info)}}),
    ))
}

async fn get_trace_info(
    State(s): State<AppState>,
    Path(trace_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let info = s.models.traces.get_trace_info(&trace_id).await?;
    Ok(Json(
        json!({"trace": {"trace_info": tw::trace_info(&info)}}),
    ))
}

async fn get_trace(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let trace_id = p.req_str("trace_id")?;
    let trace = s
        .models
        .traces
        .get_traces(vec![trace_id.clone()], true)
        .await?
        .pop()
        .ok_or_else(|| MlflowError::not_found(format!("Trace with ID {trace_id} is not found.")))?;
    Ok(Json(json!({"trace": tw::trace(&trace)})))
}

/// The traces of `ids` within `experiment_ids` when that field was sent (MLflow scopes
/// batch reads to it).
fn scope(p: &Params) -> Result<Option<Vec<String>>, MlflowError> {
    Ok(match p.get("experiment_ids") {
        None => None,
        Some(_) => Some(p.str_list("experiment_ids")?),
    })
}

async fn batch_get(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let ids = p.str_list("trace_ids")?;
    let experiments = scope(&p)?;
    let traces = s.models.traces.get_traces(ids, true).await?;
    let traces: Vec<Value> = traces
        .iter()
        .filter(|t| {
            experiments
                .as_ref()
                .is_none_or(|e| e.contains(&t.info.experiment_id))
        })
        .map(tw::trace)
        .collect();
    Ok(Json(json!({ "traces": traces })))
}

async fn batch_get_infos(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let ids = p.str_list("trace_ids")?;
    let experiments = scope(&p)?;
    let traces = s.models.traces.get_traces(ids, false).await?;
    let infos: Vec<Value> = traces
        .iter()
        .filter(|t| {
            experiments
                .as_ref()
                .is_none_or(|e| e.contains(&t.info.experiment_id))
        })
        .map(|t| tw::trace_info(&t.info))
        .collect();
    Ok(Json(json!({ "trace_infos": infos })))
}

async fn search(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let mut experiment_ids = Vec::new();
    for loc in p.obj_list("locations")? {
        if let Some(id) = loc
            .get("mlflow_experiment")
            .and_then(|e| e.get("experiment_id"))
        {
            experiment_ids.push(match id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    let req = SearchTracesRequest {
        experiment_ids,
        filter: p.opt_str("filter")?.unwrap_or_default(),
        max_results: p.opt_i64("max_results")?,
        order_by: p.str_list("order_by")?,
        page_token: p.opt_str("page_token")?,
    };
    let page = s.models.traces.search_traces(req).await?;
    let mut out = Map::new();
    out.insert(
        "traces".into(),
        Value::Array(page.items.iter().map(tw::trace_info).collect()),
    );
    if let Some(t) = page.next_page_token {
        out.insert("next_page_token".into(), json!(t));
    }
    Ok(Json(Value::Object(out)))
}

async fn delete_traces(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let req = DeleteTraces {
        experiment_id: p.req_str("experiment_id")?,
        max_timestamp_millis: p.opt_i64("max_timestamp_millis")?,
        max_traces: p.opt_i64("max_traces")?,
        trace_ids: p.str_list("request_ids")?,
    };
    let n = s.models.traces.delete_traces(req).await?;
    Ok(Json(json!({ "traces_deleted": n })))
}

async fn link_to_run(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let ids = p.str_list("trace_ids")?;
    let run_id = p.req_str("run_id")?;
    s.models.traces.link_traces_to_run(ids, &run_id).await?;
    Ok(Json(json!({})))
}

async fn set_tag(
    State(s): State<AppState>,
    Path(trace_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let key = p.req_str("key")?;
    let value = p.opt_str("value")?.unwrap_or_default();
    s.models.traces.set_trace_tag(&trace_id, key, value).await?;
    Ok(Json(json!({})))
}

async fn delete_tag(
    State(s): State<AppState>,
    Path(trace_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let key = p.req_str("key")?;
    s.models.traces.delete_trace_tag(&trace_id, &key).await?;
    Ok(Json(json!({})))
}

async fn create_assessment(
    State(s): State<AppState>,
    Path(trace_id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let body = p
        .get("assessment")
        .ok_or_else(|| missing_value("assessment"))?;
    let mut a = tw::parse_assessment(body)?;
    a.trace_id = trace_id;
    // The server assigns ids and times.
    a.assessment_id.clear();
    a.create_time_ms = 0;
    a.last_update_time_ms = 0;
    let a = s.models.traces.create_assessment(a).await?;
    Ok(Json(json!({"assessment": tw::assessment(&a)})))
}

async fn get_assessment(
    State(s): State<AppState>,
    Path((trace_id, assessment_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let a = s
        .models
        .traces
        .get_assessment(&trace_id, &assessment_id)
        .await?;
    Ok(Json(json!({"assessment": tw::assessment(&a)})))
}

/// `update_mask` is a FieldMask: comma-separated paths, in camelCase on the wire.
fn mask_paths(v: Option<&Value>) -> Vec<String> {
    let normalize = |p: &str| {
        let mut out = String::new();
        for c in p.trim().chars() {
            if c.is_ascii_uppercase() {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    };
    match v {
        Some(Value::String(s)) => s
            .split(',')
            .map(normalize)
            .filter(|p| !p.is_empty())
            .collect(),
        Some(Value::Object(o)) => match o.get("paths") {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(normalize).collect(),
            _ => vec![],
        },
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(normalize).collect(),
        _ => vec![],
    }
}

async fn update_assessment(
    State(s): State<AppState>,
    Path((trace_id, assessment_id)): Path<(String, String)>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let body = p
        .get("assessment")
        .and_then(Value::as_object)
        .ok_or_else(|| missing_value("assessment"))?;
    let mut u = AssessmentUpdate::default();
    for path in mask_paths(p.get("update_mask")) {
        match path.as_str() {
            "assessment_name" => {
                u.name = body
                    .get("assessment_name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }
            "feedback" => u.feedback = body.get("feedback").cloned(),
            "expectation" => u.expectation = body.get("expectation").cloned(),
            "rationale" => {
                u.rationale = body
                    .get("rationale")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }
            "metadata" => {
                let mut m = BTreeMap::new();
                if let Some(Value::Object(o)) = body.get("metadata") {
                    for (k, v) in o {
                        m.insert(
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        );
                    }
                }
                u.metadata = Some(m);
            }
            "valid" => u.valid = body.get("valid").and_then(Value::as_bool),
            _ => {}
        }
    }
    let a = s
        .models
        .traces
        .update_assessment(&trace_id, &assessment_id, u)
        .await?;
    Ok(Json(json!({"assessment": tw::assessment(&a)})))
}

async fn delete_assessment(
    State(s): State<AppState>,
    Path((trace_id, assessment_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    s.models
        .traces
        .delete_assessment(&trace_id, &assessment_id)
        .await?;
    Ok(Json(json!({})))
}

// ---- OTLP --------------------------------------------------------------------------------

/// An OTLP failure: FastAPI's `{"detail": …}` with the status MLflow's endpoint uses.
fn otlp_error(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn decompress(body: &[u8], encoding: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let limited = |r: &mut dyn Read, out: &mut Vec<u8>| {
        r.take(MAX_JSON_BODY as u64 * 8).read_to_end(out).ok()
    };
    match encoding {
        "gzip" => limited(&mut flate2::read::GzDecoder::new(body), &mut out)?,
        "deflate" => {
            if limited(&mut flate2::read::ZlibDecoder::new(body), &mut out).is_none() {
                out.clear();
                limited(&mut flate2::read::DeflateDecoder::new(body), &mut out)?;
            }
            0
        }
        "identity" => return Some(body.to_vec()),
        _ => return None,
    };
    Some(out)
}

/// `POST /v1/traces`: OTLP/HTTP export, protobuf or JSON, optionally compressed, into the
/// experiment named by `x-mlflow-experiment-id` (and linked to `x-mlflow-run-id`). A
/// payload that cannot be read stores nothing.
pub(crate) async fn otlp_traces(State(s): State<AppState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let Some(experiment_id) = header_str(&headers, "x-mlflow-experiment-id")
        .map(str::to_string)
        .filter(|e| !e.is_empty())
    else {
        return otlp_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Missing required header: X-MLflow-Experiment-Id",
        );
    };
    let run_id = header_str(&headers, "x-mlflow-run-id").map(str::to_string);
    let content_type = header_str(&headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = match media.as_str() {
        "application/x-protobuf" => false,
        "application/json" => true,
        _ => {
            return otlp_error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid Content-Type: {content_type}. Expected: application/x-protobuf or application/json"),
            )
        }
    };
    let encoding = header_str(&headers, header::CONTENT_ENCODING.as_str())
        .map(|e| e.trim().to_ascii_lowercase());
    let body = match axum::body::to_bytes(Body::new(req.into_body()), MAX_JSON_BODY).await {
        Ok(b) => b,
        Err(_) => return otlp_error(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large"),
    };
    let body = match encoding.as_deref() {
        None | Some("") => body.to_vec(),
        Some(enc) => match decompress(&body, enc) {
            Some(b) => b,
            None => {
                return otlp_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Failed to decompress payload with Content-Encoding: {enc}"),
                )
            }
        },
    };
    let decoded = if json {
        otlp::decode_json(&body)
    } else {
        otlp::decode_protobuf(&body)
    };
    let spans = match decoded {
        Ok((_, false)) => {
            return otlp_error(
                StatusCode::BAD_REQUEST,
                "Invalid OpenTelemetry format - no spans found",
            )
        }
        Ok((spans, true)) => spans,
        Err(e) => {
            tracing::debug!(error = %e.0, "unreadable OTLP payload");
            return otlp_error(StatusCode::BAD_REQUEST, "Invalid OpenTelemetry format");
        }
    };
    if spans
        .iter()
        .any(|s| s.trace_id.is_empty() || s.span_id.is_empty())
    {
        return otlp_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Cannot convert OpenTelemetry span to MLflow span",
        );
    }
    let roots: Vec<String> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_none())
        .map(|s| s.mlflow_trace_id())
        .collect();
    if !spans.is_empty() {
        if let Err(e) = s.models.traces.log_spans(&experiment_id, spans).await {
            return crate::error::ApiError::from(e).into_response();
        }
        if let (Some(run_id), false) = (run_id, roots.is_empty()) {
            if let Err(e) = s.models.traces.link_traces_to_run(roots, &run_id).await {
                tracing::warn!(error = %e, "linking OTLP traces to a run failed");
            }
        }
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::<u8>::new(),
    )
        .into_response()
}
