//! Unit tests of webhook delivery: signatures, pinned bodies, refused addresses.

use super::network::blocked_address;
use super::payload::{iso_timestamp, iso_timestamp_now, payload_body_at};
use super::*;

#[test]
fn signature_matches_mlflow() {
    // python: base64.b64encode(hmac.new(b"s3cret", b"d.1.{}", hashlib.sha256).digest())
    assert_eq!(
        sign("s3cret", "d", "1", "{}"),
        "v1,GEBNfe1VamzdfwUTibOZYcsRZYOpSdQFr3UdE141go8="
    );
}

const TS: &str = "2025-01-02T03:04:05.123456+00:00";

/// The delivered body with its timestamp replaced by [`TS`].
fn wire(event: WebhookEvent, data: &Payload) -> String {
    payload_body_at(event, data, TS)
}

fn tag(key: &str, value: &str) -> mlox_core::entities::Tag {
    mlox_core::entities::Tag {
        key: key.into(),
        value: value.into(),
    }
}

/// Pins the exact bytes delivered for every registry change (issue #18: the payloads
/// moved from `json!` to typed structs without changing a byte).
#[tokio::test]
async fn delivered_bodies_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let store = mlox_store::SqlStore::open(
        &mlox_store::StoreUri::Sqlite(dir.path().join("t.db")),
        mlox_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let store: Arc<dyn ModelRegistryStore> = Arc::new(store);
    store
        .create_registered_model("m".into(), vec![], None)
        .await
        .unwrap();
    store
        .create_registered_model("p".into(), vec![tag(IS_PROMPT_TAG_KEY, "true")], None)
        .await
        .unwrap();
    let hooks = Webhooks::new(store, WebhookConfig::default());
    let prompt_tags = || {
        vec![
            tag(IS_PROMPT_TAG_KEY, "true"),
            tag(PROMPT_TYPE_TAG_KEY, "text"),
            tag(PROMPT_TEXT_TAG_KEY, "Hi {{x}} \"é\""),
            tag("b", "2"),
            tag("a", "1"),
        ]
    };
    let cases = [
        (
            RegistryEvent::RegisteredModelCreated {
                name: "m".into(),
                tags: vec![tag("b", "2"), tag("a", "1"), tag("a", "3")],
                description: "d".into(),
            },
            r#"{"entity": "registered_model", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"d","name":"m","tags":{"a":"3","b":"2"}}}"#,
        ),
        (
            RegistryEvent::RegisteredModelCreated {
                name: "p".into(),
                tags: prompt_tags(),
                description: String::new(),
            },
            r#"{"entity": "prompt", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"","name":"p","tags":{"a":"1","b":"2","mlflow.prompt.text":"Hi {{x}} \"é\""}}}"#,
        ),
        (
            RegistryEvent::ModelVersionCreated {
                name: "m".into(),
                version: "1".into(),
                source: "models:/x".into(),
                run_id: None,
                tags: vec![],
                description: None,
            },
            r#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":null,"name":"m","run_id":null,"source":"models:/x","tags":{},"version":"1"}}"#,
        ),
        (
            RegistryEvent::ModelVersionCreated {
                name: "m".into(),
                version: "2".into(),
                source: "s".into(),
                run_id: Some("r".into()),
                tags: vec![tag("k", "v")],
                description: Some("d".into()),
            },
            r#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"d","name":"m","run_id":"r","source":"s","tags":{"k":"v"},"version":"2"}}"#,
        ),
        (
            RegistryEvent::ModelVersionCreated {
                name: "p".into(),
                version: "1".into(),
                source: "s".into(),
                run_id: None,
                tags: prompt_tags(),
                description: None,
            },
            r#"{"entity": "prompt_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":null,"name":"p","tags":{"a":"1","b":"2"},"template":"Hi {{x}} \"é\"","version":"1"}}"#,
        ),
        (
            RegistryEvent::ModelVersionCreated {
                name: "p".into(),
                version: "2".into(),
                source: "s".into(),
                run_id: None,
                tags: vec![tag(IS_PROMPT_TAG_KEY, "true")],
                description: Some("d".into()),
            },
            r#"{"entity": "prompt_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"d","name":"p","tags":{},"template":null,"version":"2"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagSet {
                name: "m".into(),
                version: "1".into(),
                key: "k".into(),
                value: "v".into(),
            },
            r#"{"entity": "model_version_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"m","value":"v","version":"1"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagSet {
                name: "p".into(),
                version: "1".into(),
                key: "k".into(),
                value: "v".into(),
            },
            r#"{"entity": "prompt_version_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p","value":"v","version":"1"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagDeleted {
                name: "m".into(),
                version: "1".into(),
                key: "k".into(),
            },
            r#"{"entity": "model_version_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"m","version":"1"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagDeleted {
                name: "p".into(),
                version: "1".into(),
                key: "k".into(),
            },
            r#"{"entity": "prompt_version_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p","version":"1"}}"#,
        ),
        (
            RegistryEvent::AliasCreated {
                name: "m".into(),
                alias: "champion".into(),
                version: "1".into(),
            },
            r#"{"entity": "model_version_alias", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"champion","name":"m","version":"1"}}"#,
        ),
        (
            RegistryEvent::AliasCreated {
                name: "p".into(),
                alias: "prod".into(),
                version: "1".into(),
            },
            r#"{"entity": "prompt_alias", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"prod","name":"p","version":"1"}}"#,
        ),
        (
            RegistryEvent::AliasDeleted {
                name: "m".into(),
                alias: "champion".into(),
            },
            r#"{"entity": "model_version_alias", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"champion","name":"m"}}"#,
        ),
        (
            RegistryEvent::AliasDeleted {
                name: "p".into(),
                alias: "prod".into(),
            },
            r#"{"entity": "prompt_alias", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"prod","name":"p"}}"#,
        ),
        (
            RegistryEvent::RegisteredModelTagSet {
                name: "p".into(),
                key: "k".into(),
                value: "v".into(),
            },
            r#"{"entity": "prompt_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p","value":"v"}}"#,
        ),
        (
            RegistryEvent::RegisteredModelTagDeleted {
                name: "p".into(),
                key: "k".into(),
            },
            r#"{"entity": "prompt_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p"}}"#,
        ),
    ];
    for (change, expected) in cases {
        let what = format!("{change:?}");
        let (event, data) = hooks.resolve(change).await.unwrap().expect(&what);
        assert_eq!(wire(event, &data), expected, "{what}");
    }
    // Registered-model tags are events for prompts only.
    for change in [
        RegistryEvent::RegisteredModelTagSet {
            name: "m".into(),
            key: "k".into(),
            value: "v".into(),
        },
        RegistryEvent::RegisteredModelTagDeleted {
            name: "m".into(),
            key: "k".into(),
        },
    ] {
        assert!(hooks.resolve(change).await.unwrap().is_none());
    }
}

/// Pins the exact bytes of every test delivery (`webhooks/{id}/test`).
#[test]
fn example_bodies_are_pinned() {
    use WebhookAction as A;
    use WebhookEntity as E;
    let cases = [
        (
            E::RegisteredModel,
            A::Created,
            r#"{"description":"An example registered model","name":"example_model","tags":{"example_key":"example_value"}}"#,
        ),
        (
            E::ModelVersion,
            A::Created,
            r#"{"description":"An example model version","name":"example_model","run_id":"abcd1234abcd5678","source":"models:/123","tags":{"example_key":"example_value"},"version":"1"}"#,
        ),
        (
            E::ModelVersionTag,
            A::Set,
            r#"{"key":"example_key","name":"example_model","value":"example_value","version":"1"}"#,
        ),
        (
            E::ModelVersionTag,
            A::Deleted,
            r#"{"key":"example_key","name":"example_model","version":"1"}"#,
        ),
        (
            E::ModelVersionAlias,
            A::Created,
            r#"{"alias":"example_alias","name":"example_model","version":"1"}"#,
        ),
        (
            E::ModelVersionAlias,
            A::Deleted,
            r#"{"alias":"example_alias","name":"example_model"}"#,
        ),
        (
            E::Prompt,
            A::Created,
            r#"{"description":"An example prompt","name":"example_prompt","tags":{"example_key":"example_value"}}"#,
        ),
        (
            E::PromptVersion,
            A::Created,
            r#"{"description":"An example prompt version","name":"example_prompt","tags":{"example_key":"example_value"},"template":"Hello {{name}}!","version":"1"}"#,
        ),
        (
            E::PromptTag,
            A::Set,
            r#"{"key":"example_key","name":"example_prompt","value":"example_value"}"#,
        ),
        (
            E::PromptTag,
            A::Deleted,
            r#"{"key":"example_key","name":"example_prompt"}"#,
        ),
        (
            E::PromptVersionTag,
            A::Set,
            r#"{"key":"example_key","name":"example_prompt","value":"example_value","version":"1"}"#,
        ),
        (
            E::PromptVersionTag,
            A::Deleted,
            r#"{"key":"example_key","name":"example_prompt","version":"1"}"#,
        ),
        (
            E::PromptAlias,
            A::Created,
            r#"{"alias":"example_alias","name":"example_prompt","version":"1"}"#,
        ),
        (
            E::PromptAlias,
            A::Deleted,
            r#"{"alias":"example_alias","name":"example_prompt"}"#,
        ),
        (
            E::BudgetPolicy,
            A::Exceeded,
            r#"{"budget_amount":100.0,"budget_policy_id":"bp-abc123","budget_unit":"USD","current_spend":105.5,"duration_unit":"MONTHS","duration_value":1,"target_scope":"ENDPOINT","target_value":"ep-abc123","window_start":1704067200000,"workspace":"default"}"#,
        ),
    ];
    for (entity, action, data) in cases {
        let event = WebhookEvent { entity, action };
        let expected = format!(
            r#"{{"entity": "{}", "action": "{}", "timestamp": "{TS}", "data": {data}}}"#,
            entity.as_str(),
            action.as_str()
        );
        assert_eq!(wire(event, &example_payload(event)), expected, "{event}");
    }
}

/// A refusal of our resolver is recognised by its type, several sources down under
/// reqwest's and hyper's errors, and is not retried (issue #18: this was a match on the
/// error's debug text).
#[tokio::test]
async fn a_blocked_address_is_typed_and_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store = mlox_store::SqlStore::open(
        &mlox_store::StoreUri::Sqlite(dir.path().join("t.db")),
        mlox_store::StoreOptions::default(),
    )
    .await
    .unwrap();
    let hooks = Webhooks::new(
        Arc::new(store),
        WebhookConfig {
            allowed_schemes: vec!["http".into()],
            // A retry would wait far longer than the timeout below.
            backoff: Duration::from_secs(60),
            ..WebhookConfig::default()
        },
    );
    // The resolver refuses loopback before anything is sent.
    let err = hooks
        .inner
        .client
        .post("http://localhost:9/")
        .send()
        .await
        .unwrap_err();
    let ip = blocked_address(&err).expect("refused by the resolver");
    assert!(ip.is_loopback(), "{ip}");
    let hook = |url: &str| Webhook {
        webhook_id: "w".into(),
        name: "w".into(),
        description: None,
        url: url.into(),
        events: vec![],
        status: WebhookStatus::Active,
        secret: None,
        creation_timestamp: 0,
        last_updated_timestamp: 0,
    };
    let event = WebhookEvent {
        entity: WebhookEntity::ModelVersionAlias,
        action: WebhookAction::Deleted,
    };
    let data = example_payload(event);
    for (url, message) in [
        ("http://localhost:9/", "is not a public IP address"),
        (
            "http://127.0.0.1:9/",
            "Webhook connection blocked: 127.0.0.1 is not a public IP address",
        ),
    ] {
        let sent = tokio::time::timeout(
            Duration::from_secs(10),
            hooks.send(&hook(url), event, &data),
        )
        .await
        .expect("no retry");
        let err = sent.unwrap_err();
        assert!(!err.is_retryable(), "{err}");
        assert!(err.to_string().ends_with(message), "{err}");
    }
    // A connection error is retried.
    let err = DeliveryError::Request(
        reqwest::Client::new()
            .get("http://256.0.0.1/")
            .send()
            .await
            .unwrap_err(),
    );
    assert!(err.is_retryable(), "{err}");
}

#[test]
fn timestamp_shape() {
    let ts = iso_timestamp_now();
    assert_eq!(ts.len(), "2025-01-02T03:04:05.123456+00:00".len(), "{ts}");
    assert!(ts.ends_with("+00:00"));
    // Python: datetime.fromtimestamp(1735787045.123456, timezone.utc).isoformat()
    let t = std::time::UNIX_EPOCH + Duration::new(1_735_787_045, 123_456_789);
    assert_eq!(iso_timestamp(t), "2025-01-02T03:04:05.123456+00:00");
}
