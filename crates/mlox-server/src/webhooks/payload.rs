//! The delivered body: one struct per payload shape of MLflow's `mlflow/webhooks/types.py`,
//! inside an envelope written byte for byte as mlox has always written it.

use std::collections::BTreeMap;

use mlox_core::registry::*;
use serde::Serialize;

/// A webhook's tags as a JSON object (last value of a key wins).
pub type TagMap = BTreeMap<String, String>;

/// The `data` of a delivery, one struct per payload shape of MLflow's
/// `mlflow/webhooks/types.py`. Fields are declared in alphabetical order: mlox has always
/// written these objects with sorted keys, and `delivered_bodies_are_pinned` keeps the
/// bytes (and so the signatures receivers check) unchanged.
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
    pub description: String,
    pub name: String,
    pub tags: TagMap,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersionCreated {
    pub description: Option<String>,
    pub name: String,
    pub run_id: Option<String>,
    pub source: String,
    pub tags: TagMap,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptVersionCreated {
    pub description: Option<String>,
    pub name: String,
    pub tags: TagMap,
    pub template: Option<String>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTagSet {
    pub key: String,
    pub name: String,
    pub value: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTagDeleted {
    pub key: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasCreated {
    pub alias: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasDeleted {
    pub alias: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagSet {
    pub key: String,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagDeleted {
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetPolicyExceeded {
    pub budget_amount: f64,
    pub budget_policy_id: String,
    pub budget_unit: String,
    pub current_spend: f64,
    pub duration_unit: String,
    pub duration_value: i64,
    pub target_scope: String,
    pub target_value: String,
    pub window_start: i64,
    pub workspace: String,
}

/// The delivered body: the event, when it was sent, and its payload.
#[derive(Serialize)]
struct Envelope<'a> {
    entity: &'static str,
    action: &'static str,
    timestamp: &'a str,
    data: &'a Payload,
}

/// Writes the envelope's own keys as Python's `json.dumps` does (`", "` and `": "`, as
/// MLflow writes it) and the objects inside it compactly: the bytes mlox has always sent.
struct EnvelopeFormatter {
    depth: usize,
}

impl serde_json::ser::Formatter for EnvelopeFormatter {
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        w.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        match (first, self.depth) {
            (true, _) => Ok(()),
            (false, 1) => w.write_all(b", "),
            (false, _) => w.write_all(b","),
        }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(if self.depth == 1 { b": " } else { b":" })
    }
}

/// The delivered body: `{"entity", "action", "timestamp", "data"}` in MLflow's order.
pub(super) fn payload_body(event: WebhookEvent, data: &Payload) -> String {
    payload_body_at(event, data, &iso_timestamp_now())
}

pub(super) fn payload_body_at(event: WebhookEvent, data: &Payload, timestamp: &str) -> String {
    let envelope = Envelope {
        entity: event.entity.as_str(),
        action: event.action.as_str(),
        timestamp,
        data,
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, EnvelopeFormatter { depth: 0 });
    envelope
        .serialize(&mut ser)
        .expect("a payload of strings and numbers serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// `datetime.now(timezone.utc).isoformat()`: `2025-01-02T03:04:05.123456+00:00`.
pub(super) fn iso_timestamp_now() -> String {
    iso_timestamp(std::time::SystemTime::now())
}

/// `t` as Python's `isoformat()` of an aware UTC datetime, with microseconds.
pub(super) fn iso_timestamp(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
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
