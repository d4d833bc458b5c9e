//! MLflow's JSON shapes for tracking entities (protobuf JSON: snake_case, int64 as
//! numbers, enums by name, unset fields omitted, non-finite doubles as strings).

use mlox_core::entities::*;
use serde_json::{json, Map, Value};

/// A double as protobuf JSON writes it: a number, or "NaN" / "Infinity" / "-Infinity".
pub fn double(v: f64) -> Value {
    if v.is_nan() {
        Value::String("NaN".into())
    } else if v == f64::INFINITY {
        Value::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Value::String("-Infinity".into())
    } else {
        json!(v)
    }
}

pub fn tags(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"key": t.key, "value": t.value}))
            .collect(),
    )
}

/// Inserts a list only when it is non-empty, as protobuf JSON omits empty repeated fields.
fn put_list(obj: &mut Map<String, Value>, key: &str, list: Value) {
    if list.as_array().is_some_and(|a| !a.is_empty()) {
        obj.insert(key.into(), list);
    }
}

pub fn experiment(e: &Experiment) -> Value {
    let mut obj = Map::new();
    obj.insert("experiment_id".into(), json!(e.experiment_id));
    obj.insert("name".into(), json!(e.name));
    obj.insert("artifact_location".into(), json!(e.artifact_location));
    obj.insert("lifecycle_stage".into(), json!(e.lifecycle_stage));
    obj.insert("last_update_time".into(), json!(e.last_update_time));
    obj.insert("creation_time".into(), json!(e.creation_time));
    put_list(&mut obj, "tags", tags(&e.tags));
    Value::Object(obj)
}

pub fn run_info(i: &RunInfo) -> Value {
    let mut obj = Map::new();
    obj.insert("run_id".into(), json!(i.run_id));
    obj.insert("run_uuid".into(), json!(i.run_id));
    obj.insert("run_name".into(), json!(i.run_name));
    obj.insert("experiment_id".into(), json!(i.experiment_id));
    obj.insert("user_id".into(), json!(i.user_id));
    obj.insert("status".into(), json!(i.status.as_str()));
    obj.insert("start_time".into(), json!(i.start_time));
    if let Some(end) = i.end_time {
        obj.insert("end_time".into(), json!(end));
    }
    obj.insert("artifact_uri".into(), json!(i.artifact_uri));
    obj.insert("lifecycle_stage".into(), json!(i.lifecycle_stage));
    Value::Object(obj)
}

pub fn metric(m: &Metric) -> Value {
    let mut obj = Map::new();
    obj.insert("key".into(), json!(m.key));
    obj.insert("value".into(), double(m.value));
    obj.insert("timestamp".into(), json!(m.timestamp));
    obj.insert("step".into(), json!(m.step));
    if let Some(v) = &m.dataset_name {
        obj.insert("dataset_name".into(), json!(v));
    }
    if let Some(v) = &m.dataset_digest {
        obj.insert("dataset_digest".into(), json!(v));
    }
    if let Some(v) = &m.model_id {
        obj.insert("model_id".into(), json!(v));
    }
    Value::Object(obj)
}

pub fn metric_with_run_id(m: &MetricWithRunId) -> Value {
    let mut v = metric(&m.metric);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("run_id".into(), json!(m.run_id));
    }
    v
}

fn dataset(d: &Dataset) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), json!(d.name));
    obj.insert("digest".into(), json!(d.digest));
    obj.insert("source_type".into(), json!(d.source_type));
    obj.insert("source".into(), json!(d.source));
    if let Some(s) = &d.schema {
        obj.insert("schema".into(), json!(s));
    }
    if let Some(p) = &d.profile {
        obj.insert("profile".into(), json!(p));
    }
    Value::Object(obj)
}

pub fn run(r: &Run) -> Value {
    let mut data = Map::new();
    put_list(
        &mut data,
        "metrics",
        Value::Array(r.data.metrics.iter().map(metric).collect()),
    );
    put_list(&mut data, "params", tags(&r.data.params));
    put_list(&mut data, "tags", tags(&r.data.tags));
    let mut inputs = Map::new();
    put_list(
        &mut inputs,
        "dataset_inputs",
        Value::Array(
            r.inputs
                .iter()
                .map(|i| {
                    let mut obj = Map::new();
                    put_list(&mut obj, "tags", tags(&i.tags));
                    obj.insert("dataset".into(), dataset(&i.dataset));
                    Value::Object(obj)
                })
                .collect(),
        ),
    );
    put_list(
        &mut inputs,
        "model_inputs",
        Value::Array(
            r.model_inputs
                .iter()
                .map(|id| json!({"model_id": id}))
                .collect(),
        ),
    );
    let mut outputs = Map::new();
    put_list(
        &mut outputs,
        "model_outputs",
        Value::Array(
            r.model_outputs
                .iter()
                .map(|(id, step)| json!({"model_id": id, "step": step}))
                .collect(),
        ),
    );
    json!({
        "info": run_info(&r.info),
        "data": Value::Object(data),
        "inputs": Value::Object(inputs),
        "outputs": Value::Object(outputs),
    })
}
