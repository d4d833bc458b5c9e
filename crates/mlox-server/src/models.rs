//! What the logged-model, registry and webhook routes need: their stores and the webhook
//! sender.

use std::sync::Arc;

use mlox_core::store::{LoggedModelStore, ModelRegistryStore};

use crate::webhooks::{WebhookConfig, Webhooks};

#[derive(Clone)]
pub struct ModelsState {
    pub registry: Arc<dyn ModelRegistryStore>,
    pub logged_models: Arc<dyn LoggedModelStore>,
    pub webhooks: Webhooks,
}

impl ModelsState {
    /// One store serving both logged models and the registry, with webhook settings from
    /// MLflow's environment variables (`MLFLOW_WEBHOOK_*`).
    pub fn new<S: ModelRegistryStore + LoggedModelStore>(store: Arc<S>) -> Self {
        Self::with_webhook_config(store, WebhookConfig::from_env())
    }

    pub fn with_webhook_config<S: ModelRegistryStore + LoggedModelStore>(
        store: Arc<S>,
        config: WebhookConfig,
    ) -> Self {
        let registry: Arc<dyn ModelRegistryStore> = store.clone();
        ModelsState {
            webhooks: Webhooks::new(registry.clone(), config),
            registry,
            logged_models: store,
        }
    }
}
