//! MLflow's JSON shapes for tracking entities (protobuf JSON: snake_case, int64 as
//! numbers, enums by name, unset fields omitted, non-finite doubles as strings).

use mlox_core::entities::*;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{json, Map, Value};

/// A double as protobuf JSON writes it: a number, or "NaN" / "Infinity" / "-Infinity".
pub fn double(v: f64) -> Value {
    to_value(Double(v))
}

pub fn tags(tags: &[Tag]) -> Value {
    to_value(List(tags, KeyValue))
}

/// A shape below, as a `Value` (serializing these cannot fail: every key is a string).
fn to_value(shape: impl Serialize) -> Value {
    serde_json::to_value(shape).unwrap_or(Value::Null)
}

// Runs and their parts serialize directly, so that a page of runs is written without first
// becoming a tree of `Value`s. Keys are written in sorted order, as a `Value` writes them.

/// A double as [`double`] writes it.
struct Double(f64);

impl Serialize for Double {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }
}

/// `{"key": …, "value": …}`.
struct KeyValue<'a>(&'a Tag);

impl Serialize for KeyValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("key", &self.0.key)?;
        map.serialize_entry("value", &self.0.value)?;
        map.end()
    }
}

/// Writes `key: list` unless the list is empty: protobuf JSON omits empty repeated fields.
fn entry_list<'a, M, T, F, J>(map: &mut M, key: &str, list: List<'a, T, F>) -> Result<(), M::Error>
where
    M: SerializeMap,
    F: Fn(&'a T) -> J,
    J: Serialize,
{
    if list.0.is_empty() {
        Ok(())
    } else {
        map.serialize_entry(key, &list)
    }
}

/// A list of `items`, each written as `shape(item)`.
struct List<'a, T, F>(&'a [T], F);

impl<'a, T, F, J> Serialize for List<'a, T, F>
where
    F: Fn(&'a T) -> J,
    J: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

struct MetricJson<'a>(&'a Metric);

impl Serialize for MetricJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = s.serialize_map(None)?;
        if let Some(v) = &m.dataset_digest {
            map.serialize_entry("dataset_digest", v)?;
        }
        if let Some(v) = &m.dataset_name {
            map.serialize_entry("dataset_name", v)?;
        }
        map.serialize_entry("key", &m.key)?;
        if let Some(v) = &m.model_id {
            map.serialize_entry("model_id", v)?;
        }
        map.serialize_entry("step", &m.step)?;
        map.serialize_entry("timestamp", &m.timestamp)?;
        map.serialize_entry("value", &Double(m.value))?;
        map.end()
    }
}

struct RunInfoJson<'a>(&'a RunInfo);

impl Serialize for RunInfoJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let i = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("artifact_uri", &i.artifact_uri)?;
        if let Some(end) = i.end_time {
            map.serialize_entry("end_time", &end)?;
        }
        map.serialize_entry("experiment_id", &i.experiment_id)?;
        map.serialize_entry("lifecycle_stage", &i.lifecycle_stage)?;
        map.serialize_entry("run_id", &i.run_id)?;
        map.serialize_entry("run_name", &i.run_name)?;
        map.serialize_entry("run_uuid", &i.run_id)?;
        map.serialize_entry("start_time", &i.start_time)?;
        map.serialize_entry("status", i.status.as_str())?;
        map.serialize_entry("user_id", &i.user_id)?;
        map.end()
    }
}

struct DatasetJson<'a>(&'a Dataset);

impl Serialize for DatasetJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("digest", &d.digest)?;
        map.serialize_entry("name", &d.name)?;
        if let Some(p) = &d.profile {
            map.serialize_entry("profile", p)?;
        }
        if let Some(v) = &d.schema {
            map.serialize_entry("schema", v)?;
        }
        map.serialize_entry("source", &d.source)?;
        map.serialize_entry("source_type", &d.source_type)?;
        map.end()
    }
}

/// A run as MLflow's `Run` message: `{"data", "info", "inputs", "outputs"}`.
pub struct RunJson<'a>(pub &'a Run);

/// One of a run's parts (a `Run` message field), written by `RunJson`.
struct RunPart<'a>(&'a Run, Part);

#[derive(Clone, Copy)]
enum Part {
    Data,
    Inputs,
    Outputs,
}

struct DatasetInputJson<'a>(&'a DatasetInput);

impl Serialize for DatasetInputJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("dataset", &DatasetJson(&self.0.dataset))?;
        entry_list(&mut map, "tags", List(&self.0.tags, KeyValue))?;
        map.end()
    }
}

struct ModelInput<'a>(&'a str);

impl<'a> ModelInput<'a> {
    // `List` hands each element of a `Vec<String>` over as `&String`.
    #[allow(clippy::ptr_arg)]
    fn of(id: &'a String) -> Self {
        ModelInput(id)
    }
}

impl Serialize for ModelInput<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("model_id", self.0)?;
        map.end()
    }
}

struct ModelOutput<'a>(&'a str, i64);

impl<'a> ModelOutput<'a> {
    fn of((id, step): &'a (String, i64)) -> Self {
        ModelOutput(id, *step)
    }
}

impl Serialize for ModelOutput<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("model_id", self.0)?;
        map.serialize_entry("step", &self.1)?;
        map.end()
    }
}

impl Serialize for RunPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = s.serialize_map(None)?;
        match self.1 {
            Part::Data => {
                let d = &r.data;
                entry_list(&mut map, "metrics", List(&d.metrics, MetricJson))?;
                entry_list(&mut map, "params", List(&d.params, KeyValue))?;
                entry_list(&mut map, "tags", List(&d.tags, KeyValue))?;
            }
            Part::Inputs => {
                entry_list(
                    &mut map,
                    "dataset_inputs",
                    List(&r.inputs, DatasetInputJson),
                )?;
                entry_list(
                    &mut map,
                    "model_inputs",
                    List(&r.model_inputs, ModelInput::of),
                )?;
            }
            Part::Outputs => entry_list(
                &mut map,
                "model_outputs",
                List(&r.model_outputs, ModelOutput::of),
            )?,
        }
        map.end()
    }
}

impl Serialize for RunJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("data", &RunPart(r, Part::Data))?;
        map.serialize_entry("info", &RunInfoJson(&r.info))?;
        map.serialize_entry("inputs", &RunPart(r, Part::Inputs))?;
        map.serialize_entry("outputs", &RunPart(r, Part::Outputs))?;
        map.end()
    }
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
    // MLflow 3.17 names the workspace of every experiment; without workspaces it is this.
    obj.insert("workspace".into(), json!("default"));
    Value::Object(obj)
}

pub fn run_info(i: &RunInfo) -> Value {
    to_value(RunInfoJson(i))
}

pub fn metric(m: &Metric) -> Value {
    to_value(MetricJson(m))
}

/// Writes a JSON string literal.
fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

fn push_double(out: &mut String, v: f64) {
    if v.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(v));
    } else if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v > 0.0 {
        out.push_str("\"Infinity\"");
    } else {
        out.push_str("\"-Infinity\"");
    }
}

/// A metric point as [`metrics_response`] writes it.
pub struct PointRef<'a> {
    pub key: &'a str,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub model_id: Option<&'a str>,
    pub dataset_name: Option<&'a str>,
    pub dataset_digest: Option<&'a str>,
    /// The run it belongs to (bulk history only).
    pub run_id: Option<&'a str>,
}

impl<'a> PointRef<'a> {
    pub fn of_metric(m: &'a Metric, run_id: Option<&'a str>) -> Self {
        PointRef {
            key: &m.key,
            value: m.value,
            timestamp: m.timestamp,
            step: m.step,
            model_id: m.model_id.as_deref(),
            dataset_name: m.dataset_name.as_deref(),
            dataset_digest: m.dataset_digest.as_deref(),
            run_id,
        }
    }

    /// A point of a run's metric history. MLflow's answer names no model or dataset
    /// (its `metrics` table has no such columns; they are in `logged_model_metrics`), so
    /// neither does ours, even for a point logged with them.
    pub fn of_point(key: &'a str, p: &'a MetricPoint) -> Self {
        PointRef {
            key,
            value: p.value,
            timestamp: p.timestamp,
            step: p.step,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
            run_id: None,
        }
    }
}

/// Serialises metric points straight to JSON text (`{"metrics": [...], …}`): histories
/// reach millions of points, so no intermediate JSON tree is built.
pub fn metrics_response<'a>(
    points: impl ExactSizeIterator<Item = PointRef<'a>>,
    next_page_token: Option<&str>,
) -> String {
    let has_points = points.len() > 0;
    let mut out = String::with_capacity(32 + points.len() * 72);
    out.push('{');
    let mut key_cache: Option<(&str, String)> = None;
    if has_points {
        out.push_str("\"metrics\":[");
        let mut int = itoa::Buffer::new();
        for (i, m) in points.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"key\":");
            match &key_cache {
                Some((k, quoted)) if *k == m.key => out.push_str(quoted),
                _ => {
                    let mut quoted = String::new();
                    push_json_str(&mut quoted, m.key);
                    out.push_str(&quoted);
                    key_cache = Some((m.key, quoted));
                }
            }
            out.push_str(",\"value\":");
            push_double(&mut out, m.value);
            out.push_str(",\"timestamp\":");
            out.push_str(int.format(m.timestamp));
            out.push_str(",\"step\":");
            out.push_str(int.format(m.step));
            for (name, v) in [
                ("dataset_name", m.dataset_name),
                ("dataset_digest", m.dataset_digest),
                ("model_id", m.model_id),
                ("run_id", m.run_id),
            ] {
                if let Some(v) = v {
                    out.push_str(",\"");
                    out.push_str(name);
                    out.push_str("\":");
                    push_json_str(&mut out, v);
                }
            }
            out.push('}');
        }
        out.push(']');
    }
    if let Some(token) = next_page_token {
        if has_points {
            out.push(',');
        }
        out.push_str("\"next_page_token\":");
        push_json_str(&mut out, token);
    }
    out.push('}');
    out
}

pub fn metric_with_run_id(m: &MetricWithRunId) -> Value {
    let mut v = metric(&m.metric);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("run_id".into(), json!(m.run_id));
    }
    v
}

pub fn run(r: &Run) -> Value {
    to_value(RunJson(r))
}

// ------------------------------------------------------------------------------------------------
// Logged models, the model registry and webhooks
// ------------------------------------------------------------------------------------------------

fn put_opt(obj: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        obj.insert(key.into(), json!(v));
    }
}

pub fn logged_model(m: &mlox_core::logged_model::LoggedModel) -> Value {
    let mut info = Map::new();
    info.insert("model_id".into(), json!(m.model_id));
    info.insert("experiment_id".into(), json!(m.experiment_id));
    info.insert("name".into(), json!(m.name));
    info.insert(
        "creation_timestamp_ms".into(),
        json!(m.creation_timestamp_ms),
    );
    info.insert(
        "last_updated_timestamp_ms".into(),
        json!(m.last_updated_timestamp_ms),
    );
    info.insert("artifact_uri".into(), json!(m.artifact_uri));
    info.insert("status".into(), json!(m.status.as_proto()));
    put_opt(&mut info, "model_type", &m.model_type);
    put_opt(&mut info, "source_run_id", &m.source_run_id);
    put_opt(&mut info, "status_message", &m.status_message);
    put_list(&mut info, "tags", tags(&m.tags));
    let mut data = Map::new();
    put_list(&mut data, "params", tags(&m.params));
    put_list(
        &mut data,
        "metrics",
        Value::Array(m.metrics.iter().map(metric_with_run_id).collect()),
    );
    json!({"info": Value::Object(info), "data": Value::Object(data)})
}

pub fn model_version(v: &mlox_core::registry::ModelVersion) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), json!(v.name));
    obj.insert("version".into(), json!(v.version.to_string()));
    obj.insert("creation_timestamp".into(), json!(v.creation_timestamp));
    obj.insert(
        "last_updated_timestamp".into(),
        json!(v.last_updated_timestamp),
    );
    put_opt(&mut obj, "description", &v.description);
    put_opt(&mut obj, "user_id", &v.user_id);
    obj.insert("current_stage".into(), json!(v.current_stage));
    put_opt(&mut obj, "source", &v.source);
    put_opt(&mut obj, "run_id", &v.run_id);
    put_opt(&mut obj, "run_link", &v.run_link);
    obj.insert("status".into(), json!(v.status));
    if let Some(m) = v.status_message.as_ref().filter(|m| !m.is_empty()) {
        obj.insert("status_message".into(), json!(m));
    }
    put_list(&mut obj, "tags", tags(&v.tags));
    put_list(&mut obj, "aliases", json!(v.aliases));
    // MLflow 3.17 does not send `model_id` for model versions ("TODO: Include params,
    // metrics, and model ID in proto"), so neither do we.
    Value::Object(obj)
}

pub fn registered_model(m: &mlox_core::registry::RegisteredModel) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), json!(m.name));
    obj.insert("creation_timestamp".into(), json!(m.creation_timestamp));
    if m.last_updated_timestamp != 0 {
        obj.insert(
            "last_updated_timestamp".into(),
            json!(m.last_updated_timestamp),
        );
    }
    if let Some(d) = m.description.as_ref().filter(|d| !d.is_empty()) {
        obj.insert("description".into(), json!(d));
    }
    put_list(
        &mut obj,
        "latest_versions",
        Value::Array(m.latest_versions.iter().map(model_version).collect()),
    );
    put_list(&mut obj, "tags", tags(&m.tags));
    put_list(
        &mut obj,
        "aliases",
        Value::Array(
            m.aliases
                .iter()
                .map(|(alias, version)| json!({"alias": alias, "version": version.to_string()}))
                .collect(),
        ),
    );
    Value::Object(obj)
}

pub fn webhook(w: &mlox_core::registry::Webhook) -> Value {
    let mut obj = Map::new();
    obj.insert("webhook_id".into(), json!(w.webhook_id));
    obj.insert("name".into(), json!(w.name));
    if let Some(d) = w.description.as_ref().filter(|d| !d.is_empty()) {
        obj.insert("description".into(), json!(d));
    }
    obj.insert("url".into(), json!(w.url));
    put_list(
        &mut obj,
        "events",
        Value::Array(
            w.events
                .iter()
                .map(|e| json!({"entity": e.entity.as_proto(), "action": e.action.as_proto()}))
                .collect(),
        ),
    );
    obj.insert("status".into(), json!(w.status.as_proto()));
    obj.insert("creation_timestamp".into(), json!(w.creation_timestamp));
    obj.insert(
        "last_updated_timestamp".into(),
        json!(w.last_updated_timestamp),
    );
    Value::Object(obj)
}

pub fn webhook_test_result(r: &crate::webhooks::TestResult) -> Value {
    let mut obj = Map::new();
    obj.insert("success".into(), json!(r.success));
    if let Some(s) = r.response_status {
        obj.insert("response_status".into(), json!(s));
    }
    put_opt(&mut obj, "response_body", &r.response_body);
    put_opt(&mut obj, "error_message", &r.error_message);
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_metrics_equal_the_tree_form() {
        let mut m = Metric::new("a \"key\"", 0.1, 5, -2);
        m.model_id = Some("m-1".into());
        let ms = [
            m,
            Metric::new("a \"key\"", f64::NAN, 6, 1),
            Metric::new("b", 1e300, 7, 2),
        ];
        let text = metrics_response(ms.iter().map(|m| PointRef::of_metric(m, None)), Some("tok"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let tree =
            json!({"metrics": ms.iter().map(metric).collect::<Vec<_>>(), "next_page_token": "tok"});
        assert_eq!(parsed, tree);
        assert_eq!(metrics_response(std::iter::empty(), None), "{}");
        let with_ids = metrics_response(
            ms[..1].iter().map(|m| PointRef::of_metric(m, Some("r1"))),
            None,
        );
        assert_eq!(
            serde_json::from_str::<Value>(&with_ids).unwrap()["metrics"][0]["run_id"],
            json!("r1")
        );
    }
}
