use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mlox_core::entities::*;
use mlox_core::validation::{missing_value, MAX_BATCH_LOG_REQUEST_SIZE};
use mlox_core::MlflowError;
use serde_json::{json, Map, Value};

use super::experiments::parse_tags;
use crate::error::ApiResult;
use crate::request::{obj_str, value_f64, value_i64, Params, RawRequest};
use crate::{wire, AppState};

pub(crate) async fn create(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run = NewRun {
        experiment_id: p.opt_str("experiment_id")?,
        user_id: p.opt_str("user_id")?,
        run_name: p.opt_str("run_name")?,
        start_time: p.opt_i64("start_time")?,
        tags: parse_tags(&p, "tags")?,
    };
    let run = s.store.create_run(run).await?;
    Ok(Json(json!({ "run": wire::run(&run) })))
}

pub(crate) async fn get(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run = s.store.get_run(&p.run_id()?).await?;
    Ok(Json(json!({ "run": wire::run(&run) })))
}

pub(crate) async fn update(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let update = RunUpdate {
        status: p
            .opt_str("status")?
            .map(|v| RunStatus::parse(&v))
            .transpose()?,
        end_time: p.opt_i64("end_time")?,
        run_name: p.opt_str("run_name")?,
    };
    let info = s.store.update_run(&p.run_id()?, update).await?;
    Ok(Json(json!({ "run_info": wire::run_info(&info) })))
}

pub(crate) async fn delete(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.store.delete_run(&p.req_str("run_id")?).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn restore(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.store.restore_run(&p.req_str("run_id")?).await?;
    Ok(Json(json!({})))
}

fn metric_from(obj: &Map<String, Value>, require_ts: bool) -> Result<Metric, MlflowError> {
    let key = obj_str(obj, "key")?
        .filter(|k| !k.is_empty())
        .ok_or_else(|| missing_value("key"))?;
    let value = match obj.get("value") {
        None | Some(Value::Null) => return Err(missing_value("value")),
        Some(v) => value_f64("value", v)?,
    };
    let timestamp = match obj.get("timestamp") {
        None | Some(Value::Null) if require_ts => return Err(missing_value("timestamp")),
        None | Some(Value::Null) => 0,
        Some(v) => value_i64("timestamp", v)?,
    };
    let step = match obj.get("step") {
        None | Some(Value::Null) => 0,
        Some(v) => value_i64("step", v)?,
    };
    Ok(Metric {
        key,
        value,
        timestamp,
        step,
        model_id: obj_str(obj, "model_id")?,
        dataset_name: obj_str(obj, "dataset_name")?,
        dataset_digest: obj_str(obj, "dataset_digest")?,
    })
}

pub(crate) async fn log_metric(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run_id = p.run_id()?;
    let metric = metric_from(&p.fields, true)?;
    s.store.log_metric(&run_id, metric).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn log_param(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run_id = p.run_id()?;
    let param = Tag {
        key: p.req_str("key")?,
        value: p.req_str_allow_empty("value")?,
    };
    s.store.log_param(&run_id, param).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn set_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run_id = p.run_id()?;
    let tag = Tag {
        key: p.req_str("key")?,
        value: p.req_str_allow_empty("value")?,
    };
    s.store.set_tag(&run_id, tag).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn delete_tag(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    s.store
        .delete_tag(&p.req_str("run_id")?, &p.req_str("key")?)
        .await?;
    Ok(Json(json!({})))
}

/// A log-batch body exactly as the official clients send it. Decoding straight into this
/// skips the generic JSON tree, which was most of a large batch's parsing cost. Anything
/// else (numbers as strings, nulls, unknown fields, missing values…) fails here and takes
/// the general path, which has MLflow's leniency and error messages.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainBatch {
    run_id: String,
    #[serde(default)]
    metrics: Vec<PlainMetric>,
    #[serde(default)]
    params: Vec<PlainTag>,
    #[serde(default)]
    tags: Vec<PlainTag>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainMetric {
    key: String,
    value: f64,
    timestamp: i64,
    #[serde(default)]
    step: i64,
    model_id: Option<String>,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
    /// The official client repeats the batch's run id in each metric; it is skipped
    /// unread (and keeps this struct the size of `Metric`, which it is turned into in
    /// place).
    #[serde(default)]
    #[allow(dead_code)]
    run_id: serde::de::IgnoredAny,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainTag {
    key: String,
    value: String,
}

/// A parsed batch: run id, metrics, params, tags.
type Batch = (String, Vec<Metric>, Vec<Tag>, Vec<Tag>);

impl PlainBatch {
    /// The batch, when it is in the plain form and needs none of the general path's rules.
    fn parse(body: &[u8]) -> Option<Batch> {
        let b: PlainBatch = serde_json::from_slice(body).ok()?;
        if b.run_id.is_empty() || b.metrics.iter().any(|m| m.key.is_empty()) {
            return None;
        }
        let metrics = b
            .metrics
            .into_iter()
            .map(|m| Metric {
                key: m.key,
                value: m.value,
                timestamp: m.timestamp,
                step: m.step,
                model_id: m.model_id,
                dataset_name: m.dataset_name,
                dataset_digest: m.dataset_digest,
            })
            .collect();
        let tag = |t: PlainTag| Tag {
            key: t.key,
            value: t.value,
        };
        let params = b.params.into_iter().map(tag).collect();
        let tags = b.tags.into_iter().map(tag).collect();
        Some((b.run_id, metrics, params, tags))
    }
}

pub(crate) async fn log_batch(
    State(s): State<AppState>,
    raw: RawRequest,
) -> ApiResult<Json<Value>> {
    if raw.body.len() > MAX_BATCH_LOG_REQUEST_SIZE {
        return Err(MlflowError::invalid(format!(
            "Batched logging API requests must be at most {MAX_BATCH_LOG_REQUEST_SIZE} bytes, got a request of size {}.",
            raw.body.len()
        ))
        .into());
    }
    if let Some((run_id, metrics, params, tags)) = PlainBatch::parse(&raw.body) {
        s.store.log_batch(&run_id, metrics, params, tags).await?;
        return Ok(Json(json!({})));
    }
    let p = Params::from_raw(raw)?;
    let run_id = p.req_str("run_id")?;
    let metrics = p
        .obj_list("metrics")?
        .iter()
        .map(|m| metric_from(m, true))
        .collect::<Result<Vec<_>, _>>()?;
    let params = parse_tags(&p, "params")?;
    let tags = parse_tags(&p, "tags")?;
    s.store.log_batch(&run_id, metrics, params, tags).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn log_inputs(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run_id = p.req_str("run_id")?;
    let mut inputs = Vec::new();
    for obj in p.obj_list("datasets")? {
        let tags = match obj.get("tags") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_object)
                .map(|t| {
                    Ok(Tag {
                        key: obj_str(t, "key")?.unwrap_or_default(),
                        value: obj_str(t, "value")?.unwrap_or_default(),
                    })
                })
                .collect::<Result<Vec<_>, MlflowError>>()?,
            _ => vec![],
        };
        let d = obj
            .get("dataset")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                MlflowError::invalid("Dataset input must have a dataset associated with it.")
            })?;
        inputs.push(DatasetInput {
            tags,
            dataset: Dataset {
                name: obj_str(d, "name")?.unwrap_or_default(),
                digest: obj_str(d, "digest")?.unwrap_or_default(),
                source_type: obj_str(d, "source_type")?.unwrap_or_default(),
                source: obj_str(d, "source")?.unwrap_or_default(),
                schema: obj_str(d, "schema")?,
                profile: obj_str(d, "profile")?,
            },
        });
    }
    let mut models = Vec::new();
    for m in p.obj_list("models")? {
        if let Some(id) = obj_str(&m, "model_id")? {
            models.push(id);
        }
    }
    s.store.log_inputs(&run_id, inputs, models).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn log_outputs(State(s): State<AppState>, p: Params) -> ApiResult<Json<Value>> {
    let run_id = p.req_str("run_id")?;
    let mut models = Vec::new();
    for m in p.obj_list("models")? {
        let id = obj_str(&m, "model_id")?.ok_or_else(|| missing_value("model_id"))?;
        let step = m
            .get("step")
            .map(|v| value_i64("step", v))
            .transpose()?
            .unwrap_or(0);
        models.push((id, step));
    }
    s.store.log_outputs(&run_id, models).await?;
    Ok(Json(json!({})))
}

pub(crate) async fn search(State(s): State<AppState>, p: Params) -> ApiResult<Response> {
    let req = SearchRunsRequest {
        experiment_ids: p.str_list("experiment_ids")?,
        filter: p.opt_str("filter")?.unwrap_or_default(),
        view_type: p
            .opt_str("run_view_type")?
            .map(|v| ViewType::parse(&v))
            .transpose()?
            .unwrap_or_default(),
        max_results: p.opt_i64("max_results")?,
        order_by: p.str_list("order_by")?,
        page_token: p.opt_str("page_token")?,
    };
    let page = s.store.search_runs(req).await?;
    // Written straight from the runs: a page can hold thousands.
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        runs: Vec<wire::RunJson<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<&'a str>,
    }
    let body = Body {
        runs: page.items.iter().map(wire::RunJson).collect(),
        next_page_token: page.next_page_token.as_deref(),
    };
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::PlainBatch;

    #[test]
    fn plain_batches_take_the_typed_path() {
        // As the official client sends it (run_id repeated in each metric).
        let body = br#"{"run_id": "r1", "metrics": [{"key": "loss", "value": 0.2, "timestamp": 1795805716357, "step": 2, "run_id": "r1"}, {"key": "acc", "value": 1, "timestamp": 5}], "params": [{"key": "beta", "value": "1"}]}"#;
        let (run, metrics, params, tags) = PlainBatch::parse(body).unwrap();
        assert_eq!(run, "r1");
        assert_eq!(metrics.len(), 2);
        assert_eq!((metrics[0].value, metrics[0].step), (0.2, 2));
        assert_eq!((metrics[1].value, metrics[1].step), (1.0, 0));
        assert_eq!(params[0].value, "1");
        assert!(tags.is_empty());
    }

    #[test]
    fn anything_unusual_takes_the_general_path() {
        for body in [
            &br#"{"run_id": "r1", "metrics": [{"key": "m", "value": "0.5", "timestamp": 1}]}"#[..],
            br#"{"run_id": "r1", "metrics": [{"key": "m", "value": 0.5, "timestamp": "1"}]}"#,
            br#"{"run_id": "r1", "metrics": [{"key": "m", "value": null, "timestamp": 1}]}"#,
            br#"{"run_id": "r1", "metrics": [{"key": "", "value": 1, "timestamp": 1}]}"#,
            br#"{"run_id": "r1", "metrics": [{"key": "m", "value": 1}]}"#,
            br#"{"run_id": "r1", "params": [{"key": "p", "value": 3}]}"#,
            br#"{"run_id": "r1", "extra": 1}"#,
            br#"{"run_id": ""}"#,
            br#"{"run_uuid": "r1"}"#,
            br#""{\"run_id\": \"r1\"}""#,
            br#"{"run_id": "r1", "metrics": [{"key": "m", "value": NaN, "timestamp": 1}]}"#,
        ] {
            assert!(
                PlainBatch::parse(body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
