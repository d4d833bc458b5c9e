//! Unit tests of webhook delivery: signatures, pinned bodies, refused addresses.

use super::network::blocked_address;
use super::payload::{iso_timestamp, iso_timestamp_now, payload_body_at, python_json_dumps};
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

/// Pins the exact bytes delivered for every registry change: those MLflow's
/// `json.dumps` writes for the same change (each expected body was printed by MLflow
/// 3.17.2's payload classes and `json.dumps`, as `mlflow/webhooks/delivery.py` calls it).
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
            r#"{"entity": "registered_model", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "tags": {"b": "2", "a": "3"}, "description": "d"}}"#,
        ),
        (
            RegistryEvent::RegisteredModelCreated {
                name: "p".into(),
                tags: prompt_tags(),
                description: String::new(),
            },
            r#"{"entity": "prompt", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "tags": {"mlflow.prompt.text": "Hi {{x}} \"\u00e9\"", "b": "2", "a": "1"}, "description": ""}}"#,
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
            r#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "version": "1", "source": "models:/x", "run_id": null, "tags": {}, "description": null}}"#,
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
            r#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "version": "2", "source": "s", "run_id": "r", "tags": {"k": "v"}, "description": "d"}}"#,
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
            r#"{"entity": "prompt_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "version": "1", "template": "Hi {{x}} \"\u00e9\"", "tags": {"b": "2", "a": "1"}, "description": null}}"#,
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
            r#"{"entity": "prompt_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "version": "2", "template": null, "tags": {}, "description": "d"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagSet {
                name: "m".into(),
                version: "1".into(),
                key: "k".into(),
                value: "v".into(),
            },
            r#"{"entity": "model_version_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "version": "1", "key": "k", "value": "v"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagSet {
                name: "p".into(),
                version: "1".into(),
                key: "k".into(),
                value: "v".into(),
            },
            r#"{"entity": "prompt_version_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "version": "1", "key": "k", "value": "v"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagDeleted {
                name: "m".into(),
                version: "1".into(),
                key: "k".into(),
            },
            r#"{"entity": "model_version_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "version": "1", "key": "k"}}"#,
        ),
        (
            RegistryEvent::ModelVersionTagDeleted {
                name: "p".into(),
                version: "1".into(),
                key: "k".into(),
            },
            r#"{"entity": "prompt_version_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "version": "1", "key": "k"}}"#,
        ),
        (
            RegistryEvent::AliasCreated {
                name: "m".into(),
                alias: "champion".into(),
                version: "1".into(),
            },
            r#"{"entity": "model_version_alias", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "alias": "champion", "version": "1"}}"#,
        ),
        (
            RegistryEvent::AliasCreated {
                name: "p".into(),
                alias: "prod".into(),
                version: "1".into(),
            },
            r#"{"entity": "prompt_alias", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "alias": "prod", "version": "1"}}"#,
        ),
        (
            RegistryEvent::AliasDeleted {
                name: "m".into(),
                alias: "champion".into(),
            },
            r#"{"entity": "model_version_alias", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "m", "alias": "champion"}}"#,
        ),
        (
            RegistryEvent::AliasDeleted {
                name: "p".into(),
                alias: "prod".into(),
            },
            r#"{"entity": "prompt_alias", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "alias": "prod"}}"#,
        ),
        (
            RegistryEvent::RegisteredModelTagSet {
                name: "p".into(),
                key: "k".into(),
                value: "v".into(),
            },
            r#"{"entity": "prompt_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "key": "k", "value": "v"}}"#,
        ),
        (
            RegistryEvent::RegisteredModelTagDeleted {
                name: "p".into(),
                key: "k".into(),
            },
            r#"{"entity": "prompt_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"name": "p", "key": "k"}}"#,
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
            r#"{"name": "example_model", "tags": {"example_key": "example_value"}, "description": "An example registered model"}"#,
        ),
        (
            E::ModelVersion,
            A::Created,
            r#"{"name": "example_model", "version": "1", "source": "models:/123", "run_id": "abcd1234abcd5678", "tags": {"example_key": "example_value"}, "description": "An example model version"}"#,
        ),
        (
            E::ModelVersionTag,
            A::Set,
            r#"{"name": "example_model", "version": "1", "key": "example_key", "value": "example_value"}"#,
        ),
        (
            E::ModelVersionTag,
            A::Deleted,
            r#"{"name": "example_model", "version": "1", "key": "example_key"}"#,
        ),
        (
            E::ModelVersionAlias,
            A::Created,
            r#"{"name": "example_model", "alias": "example_alias", "version": "1"}"#,
        ),
        (
            E::ModelVersionAlias,
            A::Deleted,
            r#"{"name": "example_model", "alias": "example_alias"}"#,
        ),
        (
            E::Prompt,
            A::Created,
            r#"{"name": "example_prompt", "tags": {"example_key": "example_value"}, "description": "An example prompt"}"#,
        ),
        (
            E::PromptVersion,
            A::Created,
            r#"{"name": "example_prompt", "version": "1", "template": "Hello {{name}}!", "tags": {"example_key": "example_value"}, "description": "An example prompt version"}"#,
        ),
        (
            E::PromptTag,
            A::Set,
            r#"{"name": "example_prompt", "key": "example_key", "value": "example_value"}"#,
        ),
        (
            E::PromptTag,
            A::Deleted,
            r#"{"name": "example_prompt", "key": "example_key"}"#,
        ),
        (
            E::PromptVersionTag,
            A::Set,
            r#"{"name": "example_prompt", "version": "1", "key": "example_key", "value": "example_value"}"#,
        ),
        (
            E::PromptVersionTag,
            A::Deleted,
            r#"{"name": "example_prompt", "version": "1", "key": "example_key"}"#,
        ),
        (
            E::PromptAlias,
            A::Created,
            r#"{"name": "example_prompt", "alias": "example_alias", "version": "1"}"#,
        ),
        (
            E::PromptAlias,
            A::Deleted,
            r#"{"name": "example_prompt", "alias": "example_alias"}"#,
        ),
        (
            E::BudgetPolicy,
            A::Exceeded,
            r#"{"budget_policy_id": "bp-abc123", "budget_unit": "USD", "budget_amount": 100.0, "current_spend": 105.5, "duration_unit": "MONTHS", "duration_value": 1, "target_scope": "ENDPOINT", "workspace": "default", "target_value": "ep-abc123", "window_start": 1704067200000}"#,
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
    // Microseconds, unless there are none (one time in a million).
    let shapes = [
        "2025-01-02T03:04:05.123456+00:00",
        "2025-01-02T03:04:05+00:00",
    ];
    assert!(shapes.iter().any(|s| s.len() == ts.len()), "{ts}");
    assert!(ts.ends_with("+00:00"));
    // Python: datetime.fromtimestamp(1735787045.123456, timezone.utc).isoformat()
    let t = std::time::UNIX_EPOCH + Duration::new(1_735_787_045, 123_456_789);
    assert_eq!(iso_timestamp(t), "2025-01-02T03:04:05.123456+00:00");
    // Python: datetime.fromtimestamp(1735787045, timezone.utc).isoformat()
    let t = std::time::UNIX_EPOCH + Duration::new(1_735_787_045, 999);
    assert_eq!(iso_timestamp(t), "2025-01-02T03:04:05+00:00");
}

/// Non-ASCII text, floats and nested objects as Python's `json.dumps` writes them (the
/// expected text printed by `json.dumps` in MLflow's Python 3.11 venv).
#[test]
fn bytes_match_python_json_dumps() {
    let value = serde_json::json!({
        "k": "é ü 中 😀 \u{7f} \u{0} \t \" \\ /",
        "n": [1, 2.5, {"a": null}],
    });
    assert_eq!(
        python_json_dumps(&value),
        r#"{"k": "\u00e9 \u00fc \u4e2d \ud83d\ude00 \u007f \u0000 \t \" \\ /", "n": [1, 2.5, {"a": null}]}"#
    );
    // python: [json.dumps(x) for x in (...)]
    for (x, python) in [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (0.1, "0.1"),
        (1e-4, "0.0001"),
        (1e-5, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (123456789012345.6, "123456789012345.6"),
        (1234567890123456.0, "1234567890123456.0"),
        (1e16, "1e+16"),
        (12345678901234567890.0, "1.2345678901234567e+19"),
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (-2.5e-10, "-2.5e-10"),
        (3.0e20, "3e+20"),
        (0.1 + 0.2, "0.30000000000000004"),
    ] {
        assert_eq!(python_json_dumps(&x), python, "{x:e}");
    }
}
