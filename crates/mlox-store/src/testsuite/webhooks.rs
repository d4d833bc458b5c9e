//! The model registry's webhooks.

use std::sync::Arc;

use mlox_core::ErrorCode;

use super::ModelStores;

pub async fn webhooks<S: ModelStores>(store: Arc<S>) {
    use mlox_core::registry::*;
    let event = |entity, action| WebhookEvent::new(entity, action).unwrap();
    let created = event(WebhookEntity::ModelVersion, WebhookAction::Created);
    let hook = store
        .create_webhook(NewWebhook {
            name: "hook-1".into(),
            url: "https://example.com/hook".into(),
            events: vec![created],
            description: Some("d".into()),
            secret: Some("s3cret".into()),
            status: None,
        })
        .await
        .unwrap();
    assert_eq!(hook.status, WebhookStatus::Active);
    assert_eq!(hook.events, vec![created]);
    assert_eq!(hook.secret.as_deref(), Some("s3cret"));
    assert_eq!(store.get_webhook(&hook.webhook_id).await.unwrap(), hook);
    assert_eq!(
        store
            .create_webhook(NewWebhook {
                name: "-bad".into(),
                url: "https://example.com".into(),
                events: vec![created],
                description: None,
                secret: None,
                status: None,
            })
            .await
            .unwrap_err()
            .code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
    assert!(store
        .list_webhooks_by_event(created)
        .await
        .unwrap()
        .iter()
        .any(|h| h.webhook_id == hook.webhook_id));
    let tag_set = event(WebhookEntity::ModelVersionTag, WebhookAction::Set);
    let updated = store
        .update_webhook(
            &hook.webhook_id,
            WebhookUpdate {
                events: Some(vec![tag_set]),
                status: Some(WebhookStatus::Disabled),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.events, vec![tag_set]);
    assert_eq!(updated.status, WebhookStatus::Disabled);
    assert_eq!(updated.name, "hook-1");
    assert!(!store
        .list_webhooks_by_event(created)
        .await
        .unwrap()
        .iter()
        .any(|h| h.webhook_id == hook.webhook_id));
    let page = store.list_webhooks(Some(1), None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        store
            .list_webhooks(Some(0), None)
            .await
            .unwrap()
            .items
            .len()
            <= 100
    );
    store.delete_webhook(&hook.webhook_id).await.unwrap();
    let err = store.get_webhook(&hook.webhook_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        err.message,
        format!("Webhook with ID {} not found.", hook.webhook_id)
    );
    assert_eq!(
        store
            .delete_webhook(&hook.webhook_id)
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
}
