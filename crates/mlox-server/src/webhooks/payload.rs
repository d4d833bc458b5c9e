//! The delivered body: one struct per payload shape of MLflow's `mlflow/webhooks/types.py`,
//! written byte for byte as MLflow's `json.dumps` writes it (the body is what the signature
//! covers).

use mlox_core::registry::*;
use serde::ser::SerializeMap;
use serde::Serialize;

/// A webhook's tags as a JSON object, in the order MLflow's dict comprehension gives: each
/// key where it first appears, with the last value given for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagMap(Vec<(String, String)>);

impl TagMap {
    pub fn insert(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

impl FromIterator<(String, String)> for TagMap {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut map = TagMap::default();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<const N: usize> From<[(String, String); N]> for TagMap {
    fn from(entries: [(String, String); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl Serialize for TagMap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The `data` of a delivery, one struct per payload shape of MLflow's
/// `mlflow/webhooks/types.py`. Fields are declared in the order MLflow's server passes
/// them (`mlflow/server/handlers.py`, `mlflow/gateway/budget.py`), the order its
/// `json.dumps` writes them in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// `registered_model.created` and `prompt.created`.
    ModelCreated(ModelCreated),
    ModelVersionCreated(ModelVersionCreated),
    PromptVersionCreated(PromptVersionCreated),
    /// `model_version_tag.set` and `prompt_version_tag.set`.
    VersionTagSet(VersionTagSet),
    VersionTagDeleted(VersionTagDeleted),
    /// `model_version_alias.created` and `prompt_alias.created`.
    AliasCreated(AliasCreated),
    AliasDeleted(AliasDeleted),
    /// `prompt_tag.set`.
    TagSet(TagSet),
    TagDeleted(TagDeleted),
    BudgetPolicyExceeded(BudgetPolicyExceeded),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCreated {
    pub name: String,
    pub tags: TagMap,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersionCreated {
    pub name: String,
    pub version: String,
    pub source: String,
    pub run_id: Option<String>,
    pub tags: TagMap,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptVersionCreated {
    pub name: String,
    pub version: String,
    pub template: Option<String>,
    pub tags: TagMap,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTagSet {
    pub name: String,
    pub version: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTagDeleted {
    pub name: String,
    pub version: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasCreated {
    pub name: String,
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasDeleted {
    pub name: String,
    pub alias: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagSet {
    pub name: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagDeleted {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetPolicyExceeded {
    pub budget_policy_id: String,
    pub budget_unit: String,
    pub budget_amount: f64,
    pub current_spend: f64,
    pub duration_unit: String,
    pub duration_value: i64,
    pub target_scope: String,
    pub workspace: String,
    pub target_value: String,
    pub window_start: i64,
}

/// The delivered body: the event, when it was sent, and its payload.
#[derive(Serialize)]
struct Envelope<'a> {
    entity: &'static str,
    action: &'static str,
    timestamp: &'a str,
    data: &'a Payload,
}

/// Writes JSON as Python's `json.dumps` does with its defaults, which MLflow uses: `", "`
/// and `": "` between items and keys, every character outside printable ASCII as `\uXXXX`
/// (`ensure_ascii`), floats as Python's `repr`.
struct PythonJson;

/// `", "` before every item of an object or array but the first.
fn item_separator<W: ?Sized + std::io::Write>(w: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        w.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonJson {
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(w, first)
    }
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
    fn write_f64<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        value: f64,
    ) -> std::io::Result<()> {
        w.write_all(mlox_core::validation::py_float_repr(value).as_bytes())
    }
}

/// The delivered body: `{"entity", "action", "timestamp", "data"}` in MLflow's order.
pub(super) fn payload_body(event: WebhookEvent, data: &Payload) -> String {
    payload_body_at(event, data, &iso_timestamp_now())
}

pub(super) fn payload_body_at(event: WebhookEvent, data: &Payload, timestamp: &str) -> String {
    python_json_dumps(&Envelope {
        entity: event.entity.as_str(),
        action: event.action.as_str(),
        timestamp,
        data,
    })
}

/// `value` as Python's `json.dumps(value)` writes it.
pub(super) fn python_json_dumps<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonJson);
    value
        .serialize(&mut ser)
        .expect("a payload of strings and numbers serializes");
    String::from_utf8(out).expect("escaped to ASCII")
}

/// `datetime.now(timezone.utc).isoformat()`: `2025-01-02T03:04:05.123456+00:00`.
pub(super) fn iso_timestamp_now() -> String {
    iso_timestamp(std::time::SystemTime::now())
}

/// `t` as Python's `isoformat()` of an aware UTC datetime: microseconds when there are
/// some.
pub(super) fn iso_timestamp(t: std::time::SystemTime) -> String {
    let t = chrono::DateTime::<chrono::Utc>::from(t);
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// MLflow's example payload for each event (`get_example_payload_for_event`).
pub fn example_payload(event: WebhookEvent) -> Payload {
    use WebhookEntity as E;
    let tags = || TagMap::from([("example_key".into(), "example_value".into())]);
    let s = |v: &str| v.to_string();
    let (model, prompt) = (s("example_model"), s("example_prompt"));
    let name = match event.entity {
        E::Prompt | E::PromptVersion | E::PromptTag | E::PromptVersionTag | E::PromptAlias => {
            prompt
        }
        _ => model,
    };
    match (event.entity, event.action) {
        (E::RegisteredModel, _) => Payload::ModelCreated(ModelCreated {
            description: s("An example registered model"),
            name,
            tags: tags(),
        }),
        (E::ModelVersion, _) => Payload::ModelVersionCreated(ModelVersionCreated {
            description: Some(s("An example model version")),
            name,
            run_id: Some(s("abcd1234abcd5678")),
            source: s("models:/123"),
            tags: tags(),
            version: s("1"),
        }),
        (E::Prompt, _) => Payload::ModelCreated(ModelCreated {
            description: s("An example prompt"),
            name,
            tags: tags(),
        }),
        (E::PromptVersion, _) => Payload::PromptVersionCreated(PromptVersionCreated {
            description: Some(s("An example prompt version")),
            name,
            tags: tags(),
            template: Some(s("Hello {{name}}!")),
            version: s("1"),
        }),
        (E::ModelVersionTag | E::PromptVersionTag, WebhookAction::Set) => {
            Payload::VersionTagSet(VersionTagSet {
                key: s("example_key"),
                name,
                value: s("example_value"),
                version: s("1"),
            })
        }
        (E::ModelVersionTag | E::PromptVersionTag, _) => {
            Payload::VersionTagDeleted(VersionTagDeleted {
                key: s("example_key"),
                name,
                version: s("1"),
            })
        }
        (E::ModelVersionAlias | E::PromptAlias, WebhookAction::Created) => {
            Payload::AliasCreated(AliasCreated {
                alias: s("example_alias"),
                name,
                version: s("1"),
            })
        }
        (E::ModelVersionAlias | E::PromptAlias, _) => Payload::AliasDeleted(AliasDeleted {
            alias: s("example_alias"),
            name,
        }),
        (E::PromptTag, WebhookAction::Set) => Payload::TagSet(TagSet {
            key: s("example_key"),
            name,
            value: s("example_value"),
        }),
        (E::PromptTag, _) => Payload::TagDeleted(TagDeleted {
            key: s("example_key"),
            name,
        }),
        (E::BudgetPolicy, _) => Payload::BudgetPolicyExceeded(BudgetPolicyExceeded {
            budget_amount: 100.0,
            budget_policy_id: s("bp-abc123"),
            budget_unit: s("USD"),
            current_spend: 105.5,
            duration_unit: s("MONTHS"),
            duration_value: 1,
            target_scope: s("ENDPOINT"),
            target_value: s("ep-abc123"),
            window_start: 1_704_067_200_000,
            workspace: s("default"),
        }),
    }
}
