//! MLflow 3 GenAI evaluation: evaluation datasets (`mlflow.genai.datasets`) with their
//! records, and the scorer registry (`Scorer.register`, `list_scorers`, `get_scorer`), the
//! store trait that keeps them, and the record rules MLflow's SQL store applies (inputs
//! deduplicate a record; a later upsert merges outputs, expectations and tags).
//!
//! Records are JSON documents the client sends; scorers are serialized payloads mlox only
//! stores and returns, never runs.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::entities::Page;
use crate::error::{MlflowError, Result};
use crate::search::{parse_raw_filter, parse_raw_order_by, Cmp, RawFilterValue, Value as SValue};
use crate::trace::python_json;

/// The tag MLflow reads a dataset's or record's author from.
pub const MLFLOW_USER: &str = "mlflow.user";
/// Records per page of `GetDatasetRecords` when none is asked for.
pub const DEFAULT_RECORDS_PAGE: i64 = 1000;
/// Datasets per page of a search when none is asked for.
pub const DEFAULT_DATASETS_PAGE: i64 = 1000;

/// An evaluation dataset (`mlflow.entities.EvaluationDataset`, without records).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvalDataset {
    /// `d-` and 32 hex digits.
    pub dataset_id: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// JSON text, as MLflow writes it (set once records arrive).
    pub schema: Option<String>,
    /// JSON text: `{"num_records": n}`.
    pub profile: Option<String>,
    pub digest: String,
    pub created_time: i64,
    pub last_update_time: i64,
    pub created_by: Option<String>,
    pub last_updated_by: Option<String>,
    /// Present only where MLflow returns them (create).
    pub experiment_ids: Option<Vec<String>>,
}

/// A dataset record, as `DatasetRecord.to_dict()` writes it: `body` holds `inputs`,
/// `outputs`, `expectations`, `tags`, `source`, `source_id`, `source_type`, `created_by`
/// and `last_updated_by` when present.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetRecord {
    /// `dr-` and 32 hex digits.
    pub dataset_record_id: String,
    pub dataset_id: String,
    pub created_time: i64,
    pub last_update_time: i64,
    pub body: Map<String, Value>,
}

impl DatasetRecord {
    /// The record as MLflow's `GetDatasetRecords` lists it.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "dataset_record_id".into(),
            self.dataset_record_id.clone().into(),
        );
        m.insert("dataset_id".into(), self.dataset_id.clone().into());
        for (k, v) in &self.body {
            m.insert(k.clone(), v.clone());
        }
        m.insert("created_time".into(), self.created_time.into());
        m.insert("last_update_time".into(), self.last_update_time.into());
        Value::Object(m)
    }
}

#[derive(Debug, Clone, Default)]
pub struct SearchDatasetsRequest {
    pub experiment_ids: Vec<String>,
    pub filter: Option<String>,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// One registered version of a scorer (`mlflow.entities.ScorerVersion`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScorerVersion {
    pub experiment_id: String,
    pub scorer_name: String,
    pub scorer_version: i64,
    pub serialized_scorer: String,
    pub creation_time: i64,
    /// A UUID with dashes, shared by every version of the name in the experiment.
    pub scorer_id: String,
}

/// How a registered scorer runs on incoming traces (MLflow's `OnlineScoringConfig`): the
/// share of traces it samples and the trace filter choosing them. mlox stores it and never
/// runs it.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineScoringConfig {
    /// 32 hex digits.
    pub online_scoring_config_id: String,
    pub scorer_id: String,
    pub sample_rate: f64,
    pub experiment_id: String,
    pub filter_string: Option<String>,
}

#[async_trait]
pub trait EvalStore: Send + Sync + 'static {
    async fn create_dataset(
        &self,
        name: String,
        tags: BTreeMap<String, String>,
        experiment_ids: Vec<String>,
    ) -> Result<EvalDataset>;
    async fn get_dataset(&self, dataset_id: &str) -> Result<EvalDataset>;
    /// Deleting an unknown dataset is not an error (as in MLflow).
    async fn delete_dataset(&self, dataset_id: &str) -> Result<()>;
    async fn search_datasets(&self, req: SearchDatasetsRequest) -> Result<Page<EvalDataset>>;
    async fn set_dataset_tags(
        &self,
        dataset_id: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<()>;
    async fn delete_dataset_tag(&self, dataset_id: &str, key: &str) -> Result<()>;
    /// Returns (inserted, updated).
    async fn upsert_dataset_records(
        &self,
        dataset_id: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<(i64, i64)>;
    async fn get_dataset_records(
        &self,
        dataset_id: &str,
        max_results: i64,
        page_token: Option<String>,
    ) -> Result<(Vec<DatasetRecord>, Option<String>)>;
    async fn delete_dataset_records(
        &self,
        dataset_id: &str,
        record_ids: Vec<String>,
    ) -> Result<i64>;
    async fn get_dataset_experiment_ids(&self, dataset_id: &str) -> Result<Vec<String>>;
    async fn add_dataset_to_experiments(
        &self,
        dataset_id: &str,
        experiment_ids: Vec<String>,
    ) -> Result<EvalDataset>;
    async fn remove_dataset_from_experiments(
        &self,
        dataset_id: &str,
        experiment_ids: Vec<String>,
    ) -> Result<EvalDataset>;

    async fn register_scorer(
        &self,
        experiment_id: &str,
        name: &str,
        serialized_scorer: String,
    ) -> Result<ScorerVersion>;
    /// The latest version of each scorer of the given (or else every) active experiment,
    /// by (experiment, name).
    async fn list_scorers(&self, experiment_ids: Option<Vec<String>>)
        -> Result<Vec<ScorerVersion>>;
    async fn list_scorer_versions(
        &self,
        experiment_id: &str,
        name: &str,
    ) -> Result<Vec<ScorerVersion>>;
    async fn get_scorer(
        &self,
        experiment_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<ScorerVersion>;
    /// Deletes one version, or every version (and the scorer, with its online
    /// configuration) when `version` is `None`.
    async fn delete_scorer(
        &self,
        experiment_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> Result<()>;
    /// Replaces the online configuration of scorer `name` of the experiment (MLflow's
    /// `upsert_online_scoring_config`, with its checks: [`check_online_config`] first, then
    /// the experiment, the scorer and [`check_online_scorer`] on its latest version).
    async fn upsert_online_scoring_config(
        &self,
        experiment_id: &str,
        name: &str,
        sample_rate: f64,
        filter_string: Option<String>,
    ) -> Result<OnlineScoringConfig>;
    /// The online configurations of these scorers (those without one are left out).
    async fn get_online_scoring_configs(
        &self,
        scorer_ids: Vec<String>,
    ) -> Result<Vec<OnlineScoringConfig>>;
}

// ---- MLflow's rules -------------------------------------------------------------------------

pub fn dataset_not_found(dataset_id: &str) -> MlflowError {
    MlflowError::not_found(format!(
        "Evaluation dataset with id '{dataset_id}' not found"
    ))
}

/// `validate_scorer_name`.
pub fn validate_scorer_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(MlflowError::invalid(
            "Scorer name cannot be empty or contain only whitespace.",
        ));
    }
    Ok(())
}

/// The checks MLflow's `upsert_online_scoring_config` makes before it reads the store: the
/// sample rate is within [0, 1] and a non-empty filter parses as a trace filter.
pub fn check_online_config(sample_rate: f64, filter_string: Option<&str>) -> Result<()> {
    if !(0.0..=1.0).contains(&sample_rate) {
        return Err(MlflowError::invalid(format!(
            "sample_rate must be between 0.0 and 1.0, got {}",
            // Python's repr of the float the handler made of it.
            match sample_rate {
                r if r.is_nan() => "nan".to_string(),
                r if r.is_infinite() => if r > 0.0 { "inf" } else { "-inf" }.to_string(),
                r => format!("{r:?}"),
            }
        )));
    }
    if let Some(f) = filter_string.filter(|f| !f.is_empty()) {
        crate::trace_search::parse_trace_filter(f)?;
    }
    Ok(())
}

/// The judge model a serialized scorer names (MLflow's `extract_model_from_serialized_scorer`).
fn scorer_model(v: &Value) -> Option<&str> {
    let model = |k: &str| {
        v.get(k)
            .and_then(|d| d.get("model"))
            .and_then(Value::as_str)
    };
    if v.get("instructions_judge_pydantic_data")
        .is_some_and(is_truthy)
    {
        return model("instructions_judge_pydantic_data");
    }
    if v.get("builtin_scorer_pydantic_data").is_some_and(is_truthy) {
        return model("builtin_scorer_pydantic_data");
    }
    if let Some(m) = v
        .get("memory_augmented_judge_data")
        .filter(|m| is_truthy(m))
    {
        return scorer_model(m.get("base_judge").unwrap_or(&Value::Null));
    }
    if v.get("third_party_scorer_data").is_some_and(is_truthy) {
        return model("third_party_scorer_data");
    }
    None
}

/// Whether a model URI (`provider:/name`) is one of MLflow's AI gateway endpoints.
fn is_gateway_model(model: &str) -> bool {
    matches!(model.split_once(":/"), Some(("gateway", path)) if !path.trim_start_matches('/').is_empty())
}

/// Whether an instructions judge's template asks for `{{ expectations }}`.
fn needs_expectations(v: &Value) -> bool {
    let Some(text) = v
        .get("instructions_judge_pydantic_data")
        .and_then(|d| d.get("instructions"))
        .and_then(Value::as_str)
    else {
        return false;
    };
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else { break };
        if rest[..end].trim() == "expectations" {
            return true;
        }
        rest = &rest[end + 2..];
    }
    false
}

/// MLflow's check of the scorer's latest version when online scoring is switched on
/// (`sample_rate > 0`): only judges on an AI gateway model run online, and not those that
/// need expectations.
pub fn check_online_scorer(name: &str, serialized: &str, sample_rate: f64) -> Result<()> {
    if sample_rate <= 0.0 {
        return Ok(());
    }
    let v: Value = serde_json::from_str(serialized).unwrap_or(Value::Null);
    if !scorer_model(&v).is_some_and(is_gateway_model) {
        return Err(MlflowError::invalid(format!(
            "Scorer '{name}' does not use a gateway model. Automatic evaluation is only supported for scorers that use gateway models."
        )));
    }
    if needs_expectations(&v) {
        return Err(MlflowError::invalid(format!(
            "Scorer '{name}' requires expectations, but scorers with expectations are not currently supported for automatic evaluation."
        )));
    }
    Ok(())
}

/// MLflow's server refuses a scorer whose payload (or a nested sub-scorer) carries
/// `call_source` — a `@scorer` function — unless `MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS` is set.
pub fn has_call_source(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            m.get("call_source").is_some_and(|c| !c.is_null()) || m.values().any(has_call_source)
        }
        Value::Array(a) => a.iter().any(has_call_source),
        _ => false,
    }
}

pub const DECORATOR_SCORER_REGISTRATION_NOT_SUPPORTED_ERROR: &str = "Custom scorer registration (using @scorer decorator) is disabled by default outside of Databricks tracking environments due to security concerns. Custom scorers require arbitrary code execution during deserialization.\n\nTo use custom scorers:\n1. Configure MLflow to use a Databricks tracking URI, or\n2. Manage your custom scorer code in a source code repository (e.g., GitHub) and import it directly, or\n3. On a self-managed MLflow server (or local environment) that you trust to run the scorer's code, set the MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS environment variable to true, or\n4. Use built-in scorers or make_judge() scorers instead.";

/// Checks a serialized scorer as MLflow's register handler does.
pub fn check_serialized_scorer(serialized: &str, allow_custom: bool) -> Result<()> {
    let data: Value = serde_json::from_str(serialized)
        .map_err(|_| MlflowError::invalid("serialized_scorer must be valid JSON"))?;
    if !allow_custom && has_call_source(&data) {
        return Err(MlflowError::invalid(
            DECORATOR_SCORER_REGISTRATION_NOT_SUPPORTED_ERROR,
        ));
    }
    Ok(())
}

/// A tag value as MLflow stores it (`str(value)`), `None` for a null (skipped).
pub fn tag_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        other => Some(python_json(other)),
    }
}

/// `_infer_field_type`.
fn field_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A dataset's schema: the type of each field of inputs, outputs and expectations in the
/// order first seen (`_update_dataset_schema`), written as Python's `json.dumps` does.
#[derive(Debug, Default, PartialEq)]
pub struct DatasetSchema {
    inputs: Vec<(String, String)>,
    /// A non-dict output records one type for the whole outputs.
    outputs: Option<Result<String, Vec<(String, String)>>>,
    expectations: Vec<(String, String)>,
}

fn add_fields(into: &mut Vec<(String, String)>, m: &Map<String, Value>) {
    for (k, v) in m {
        if !into.iter().any(|(e, _)| e == k) {
            into.push((k.clone(), field_type(v).into()));
        }
    }
}

fn parse_fields(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, t)| (k.clone(), t.as_str().unwrap_or("unknown").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl DatasetSchema {
    pub fn parse(text: Option<&str>) -> Self {
        let Some(v) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
            return Self::default();
        };
        let outputs = match v.get("outputs") {
            Some(Value::String(t)) => Some(Ok(t.clone())),
            Some(Value::Object(m)) if !m.is_empty() => Some(Err(parse_fields(v.get("outputs")))),
            _ => None,
        };
        DatasetSchema {
            inputs: parse_fields(v.get("inputs")),
            outputs,
            expectations: parse_fields(v.get("expectations")),
        }
    }

    pub fn add_record(&mut self, r: &Map<String, Value>) {
        if let Some(Value::Object(m)) = r.get("inputs") {
            add_fields(&mut self.inputs, m);
        }
        match r.get("outputs") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => match &mut self.outputs {
                Some(Err(fields)) => add_fields(fields, m),
                Some(Ok(_)) => {}
                None => {
                    let mut fields = Vec::new();
                    add_fields(&mut fields, m);
                    if !fields.is_empty() {
                        self.outputs = Some(Err(fields));
                    }
                }
            },
            Some(other) => {
                if self.outputs.is_none() {
                    self.outputs = Some(Ok(field_type(other).into()));
                }
            }
        }
        if let Some(Value::Object(m)) = r.get("expectations") {
            add_fields(&mut self.expectations, m);
        }
    }

    pub fn to_text(&self) -> String {
        fn section(out: &mut String, fields: &[(String, String)]) {
            out.push('{');
            for (i, (k, t)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&python_json(&Value::String(k.clone())));
                out.push_str(": ");
                out.push_str(&python_json(&Value::String(t.clone())));
            }
            out.push('}');
        }
        let mut out = String::from("{\"inputs\": ");
        section(&mut out, &self.inputs);
        out.push_str(", \"outputs\": ");
        match &self.outputs {
            None => out.push_str("{}"),
            Some(Ok(t)) => out.push_str(&python_json(&Value::String(t.clone()))),
            Some(Err(fields)) => section(&mut out, fields),
        }
        out.push_str(", \"expectations\": ");
        section(&mut out, &self.expectations);
        out.push_str(", \"version\": \"1.0\"}");
        out
    }
}

/// The author named by a record's `mlflow.user` tag.
pub fn record_user(r: &Map<String, Value>) -> Option<String> {
    r.get("tags")
        .and_then(|t| t.get(MLFLOW_USER))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The key that deduplicates records: their inputs as canonical JSON (keys sorted).
pub fn inputs_key(r: &Map<String, Value>) -> String {
    let inputs = r
        .get("inputs")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    serde_json::to_string(&inputs).unwrap_or_default()
}

/// The body of a new record from what the client sent (`upsert_dataset_records`).
pub fn new_record_body(r: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut body = Map::new();
    body.insert(
        "inputs".into(),
        r.get("inputs")
            .cloned()
            .unwrap_or(Value::Object(Map::new())),
    );
    // A record without outputs gets `{}`; an explicit null stays absent.
    match r.get("outputs") {
        None => {
            body.insert("outputs".into(), Value::Object(Map::new()));
        }
        Some(Value::Null) => {}
        Some(v) => {
            body.insert("outputs".into(), v.clone());
        }
    }
    if let Some(e) = r.get("expectations").filter(|e| !e.is_null()) {
        body.insert("expectations".into(), e.clone());
    }
    let tags = r
        .get("tags")
        .filter(|t| !t.is_null())
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    body.insert("tags".into(), tags);
    if let Some(source) = r.get("source").filter(|s| !s.is_null()) {
        let Value::Object(s) = source else {
            return Err(MlflowError::invalid("A record's source must be an object"));
        };
        let kind = s
            .get("source_type")
            .and_then(Value::as_str)
            .unwrap_or("UNSPECIFIED")
            .to_uppercase();
        const KINDS: [&str; 5] = ["UNSPECIFIED", "TRACE", "HUMAN", "DOCUMENT", "CODE"];
        if !KINDS.contains(&kind.as_str()) {
            return Err(MlflowError::invalid(format!(
                "Invalid dataset record source type: {kind}. Valid source types: ['UNSPECIFIED', 'TRACE', 'HUMAN', 'DOCUMENT', 'CODE']"
            )));
        }
        let data = s
            .get("source_data")
            .filter(|d| !d.is_null())
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let id_key = if kind == "TRACE" {
            "trace_id"
        } else {
            "source_id"
        };
        if let Some(id) = data.get(id_key).and_then(Value::as_str) {
            body.insert("source_id".into(), id.into());
        }
        let mut src = Map::new();
        src.insert("source_type".into(), kind.clone().into());
        src.insert("source_data".into(), data);
        body.insert("source".into(), Value::Object(src));
        body.insert("source_type".into(), kind.into());
    }
    if let Some(user) = record_user(r) {
        body.insert("created_by".into(), user.clone().into());
        body.insert("last_updated_by".into(), user.into());
    }
    Ok(body)
}

/// Merges a later upsert of the same inputs into a record's body (`SqlEvaluationDatasetRecord.merge`).
pub fn merge_record_body(body: &mut Map<String, Value>, r: &Map<String, Value>) {
    if let Some(outputs) = r.get("outputs") {
        if outputs.is_null() {
            body.remove("outputs");
        } else {
            body.insert("outputs".into(), outputs.clone());
        }
    }
    for key in ["expectations", "tags"] {
        if let Some(Value::Object(new)) = r.get(key).filter(|v| is_truthy(v)) {
            let entry = body
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(m) = entry {
                for (k, v) in new {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
    }
    if let Some(user) = record_user(r) {
        body.insert("last_updated_by".into(), user.into());
    }
}

fn is_truthy(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Null => false,
        _ => true,
    }
}

// ---- dataset search grammar -----------------------------------------------------------------

/// What a dataset search compares or orders by.
#[derive(Debug, Clone, PartialEq)]
pub enum DatasetField {
    /// A column of the dataset (`name`, `created_time`, …).
    Attribute(&'static str),
    Tag(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetClause {
    pub field: DatasetField,
    pub cmp: Cmp,
    pub value: SValue,
}

const ATTRIBUTES: [&str; 5] = [
    "name",
    "created_time",
    "last_update_time",
    "created_by",
    "last_updated_by",
];
const NUMERIC: [&str; 2] = ["created_time", "last_update_time"];

fn attribute(key: &str, valid: &[&'static str]) -> Result<&'static str> {
    valid.iter().copied().find(|a| *a == key).ok_or_else(|| {
        let set: Vec<String> = valid.iter().map(|a| format!("'{a}'")).collect();
        MlflowError::invalid(format!(
            "Invalid attribute key '{key}' specified. Valid keys are: {{{}}}",
            set.join(", ")
        ))
    })
}

fn cmp_of(op: &str) -> Result<Cmp> {
    Ok(match op {
        "=" | "==" => Cmp::Eq,
        "!=" | "<>" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        "LIKE" => Cmp::Like,
        "ILIKE" => Cmp::ILike,
        "IN" => Cmp::In,
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid comparator '{other}' in filter string"
            )))
        }
    })
}

/// Parses a `SearchEvaluationDatasets` filter (`SearchEvaluationDatasetsUtils`).
pub fn parse_dataset_filter(filter: &str) -> Result<Vec<DatasetClause>> {
    let mut out = Vec::new();
    for raw in parse_raw_filter(filter)? {
        let cmp = cmp_of(&raw.op)?;
        let field = match raw.entity.as_deref() {
            None => DatasetField::Attribute(attribute(&raw.key, &ATTRIBUTES)?),
            Some("tags") => DatasetField::Tag(raw.key.clone()),
            Some(other) => {
                return Err(MlflowError::invalid(format!(
                    "Invalid identifier token '{other}' specified"
                )))
            }
        };
        let value = match (&field, raw.value) {
            (DatasetField::Attribute(a), RawFilterValue::Num(n, is_int)) if NUMERIC.contains(a) => {
                if !is_int {
                    return Err(MlflowError::invalid(format!(
                        "Invalid value for numeric attribute '{a}': '{n}'"
                    )));
                }
                SValue::Num(n)
            }
            (DatasetField::Attribute(a), v) if NUMERIC.contains(a) => {
                let text = match v {
                    RawFilterValue::Str(s) | RawFilterValue::Word(s) => s,
                    _ => String::new(),
                };
                let n: i64 = text.trim().parse().map_err(|_| {
                    MlflowError::invalid(format!(
                        "Invalid value for numeric attribute '{a}': '{text}'"
                    ))
                })?;
                SValue::Num(n as f64)
            }
            (_, RawFilterValue::Str(s)) => SValue::Str(s),
            (DatasetField::Attribute("name"), RawFilterValue::List(items)) if cmp == Cmp::In => {
                SValue::List(items)
            }
            (_, RawFilterValue::List(_)) => {
                return Err(MlflowError::invalid(
                    "List values for 'name' are only supported with the IN comparator.",
                ))
            }
            (_, _) => {
                return Err(MlflowError::invalid(format!(
                    "Invalid value for '{}' in filter string: expected a quoted string",
                    raw.key
                )))
            }
        };
        let numeric = matches!(&field, DatasetField::Attribute(a) if NUMERIC.contains(a));
        let ok = if numeric {
            matches!(
                cmp,
                Cmp::Eq | Cmp::Ne | Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge
            )
        } else {
            matches!(cmp, Cmp::Eq | Cmp::Ne | Cmp::Like | Cmp::ILike)
                || (cmp == Cmp::In && field == DatasetField::Attribute("name"))
        };
        if !ok {
            return Err(MlflowError::invalid(format!(
                "Invalid comparator for {}: {}",
                match (&field, numeric) {
                    (DatasetField::Tag(_), _) => "tag",
                    (_, true) => "numeric attribute",
                    _ => "string attribute",
                },
                raw.op
            )));
        }
        out.push(DatasetClause { field, cmp, value });
    }
    Ok(out)
}

/// Parses `order_by` (`name`, `created_time`, `last_update_time`); default
/// `created_time DESC`.
pub fn parse_dataset_order_by(clauses: &[String]) -> Result<Vec<(&'static str, bool)>> {
    if clauses.is_empty() {
        return Ok(vec![("created_time", false)]);
    }
    clauses
        .iter()
        .map(|c| {
            let (entity, key, asc) = parse_raw_order_by(c)?;
            if let Some(e) = entity {
                return Err(MlflowError::invalid(format!(
                    "Invalid identifier token '{e}' specified"
                )));
            }
            Ok((
                attribute(&key, &["name", "created_time", "last_update_time"])?,
                asc,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn online_configs_need_a_rate_in_range_a_valid_filter_and_a_gateway_judge() {
        assert!(check_online_config(0.0, None).is_ok());
        assert!(check_online_config(1.0, Some("")).is_ok());
        let e = check_online_config(1.5, None).unwrap_err();
        assert_eq!(
            e.message,
            "sample_rate must be between 0.0 and 1.0, got 1.5"
        );
        assert!(check_online_config(0.5, Some("tags.env = 'prod'")).is_ok());
        assert!(check_online_config(0.5, Some("bogus filter")).is_err());

        let judge = |model: &str, instructions: &str| {
            json!({"name": "j", "instructions_judge_pydantic_data": {"model": model, "instructions": instructions}})
                .to_string()
        };
        assert!(
            check_online_scorer("j", &judge("gateway:/ep", "Is {{ outputs }} polite?"), 0.5)
                .is_ok()
        );
        let e =
            check_online_scorer("j", &judge("openai:/gpt-4o", "{{ outputs }}"), 0.5).unwrap_err();
        assert!(
            e.message.contains("does not use a gateway model"),
            "{}",
            e.message
        );
        // Stopping (rate 0) is always allowed.
        assert!(check_online_scorer("j", &judge("openai:/gpt-4o", "{{ outputs }}"), 0.0).is_ok());
        let e = check_online_scorer(
            "j",
            &judge("gateway:/ep", "Compare with {{expectations}}"),
            0.5,
        )
        .unwrap_err();
        assert!(e.message.contains("requires expectations"), "{}", e.message);
        let builtin = json!({"builtin_scorer_pydantic_data": {"model": "gateway:/ep"}}).to_string();
        assert!(check_online_scorer("b", &builtin, 1.0).is_ok());
        assert!(check_online_scorer("c", "{\"call_source\": \"def f(): ...\"}", 1.0).is_err());
    }

    #[test]
    fn a_new_record_gets_mlflow_defaults_and_its_source_id() {
        let body = new_record_body(&obj(json!({
            "inputs": {"q": "hi"},
            "source": {"source_type": "trace", "source_data": {"trace_id": "tr-1"}},
            "tags": {"mlflow.user": "ann"}
        })))
        .unwrap();
        assert_eq!(body["outputs"], json!({}));
        assert_eq!(body["source_type"], json!("TRACE"));
        assert_eq!(body["source_id"], json!("tr-1"));
        assert_eq!(body["created_by"], json!("ann"));
        assert!(!body.contains_key("expectations"));
        let bad = new_record_body(&obj(json!({"inputs": {}, "source": {"source_type": "x"}})));
        assert!(bad.is_err());
    }

    #[test]
    fn merging_keeps_old_expectations_and_replaces_outputs() {
        let mut body = new_record_body(&obj(
            json!({"inputs": {"q": 1}, "expectations": {"a": 1}, "outputs": "x"}),
        ))
        .unwrap();
        merge_record_body(
            &mut body,
            &obj(json!({"inputs": {"q": 1}, "expectations": {"b": 2}, "outputs": null})),
        );
        assert_eq!(body["expectations"], json!({"a": 1, "b": 2}));
        assert!(!body.contains_key("outputs"));
    }

    #[test]
    fn schema_text_is_python_json_in_first_seen_order() {
        let mut s = DatasetSchema::parse(None);
        s.add_record(&obj(
            json!({"inputs": {"q": "a", "n": 1}, "outputs": "text", "expectations": {"ok": true}}),
        ));
        s.add_record(&obj(json!({"inputs": {"z": 1.5}, "outputs": {"x": 1}})));
        let text = s.to_text();
        assert_eq!(
            text,
            r#"{"inputs": {"n": "integer", "q": "string", "z": "float"}, "outputs": "string", "expectations": {"ok": "boolean"}, "version": "1.0"}"#
        );
        assert_eq!(DatasetSchema::parse(Some(&text)), s);
    }

    #[test]
    fn dataset_filters_check_keys_and_comparators() {
        let c = parse_dataset_filter("name LIKE 'a%' AND tags.team = 'x' AND created_time > 5")
            .unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[2].value, SValue::Num(5.0));
        assert!(parse_dataset_filter("digest = 'a'").is_err());
        assert!(parse_dataset_filter("created_time LIKE '1'").is_err());
        assert!(parse_dataset_filter("tags.a > 'b'").is_err());
        assert!(parse_dataset_filter("name IN ('a', 'b')").is_ok());
        assert_eq!(
            parse_dataset_order_by(&["name ASC".into()]).unwrap(),
            vec![("name", true)]
        );
        assert!(parse_dataset_order_by(&["digest".into()]).is_err());
    }

    #[test]
    fn custom_scorers_are_refused_unless_allowed() {
        let payload = r#"{"name": "s", "call_source": "return 1"}"#;
        assert!(check_serialized_scorer(payload, false).is_err());
        assert!(check_serialized_scorer(payload, true).is_ok());
        assert!(check_serialized_scorer("{", true).is_err());
        let nested = r#"{"ensemble_scorer_data": {"scorers": [{"call_source": "x"}]}}"#;
        assert!(check_serialized_scorer(nested, false).is_err());
    }
}
