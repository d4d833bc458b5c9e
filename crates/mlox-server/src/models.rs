//! What the logged-model, registry, webhook and trace routes need: their stores and the
//! webhook sender.

use std::sync::Arc;

use mlox_core::store::{LoggedModelStore, ModelRegistryStore};
use mlox_core::trace::TraceStore;

use crate::webhooks::{WebhookConfig, Webhooks};

#[derive(Clone)]
pub struct ModelsState {
    pub registry: Arc<dyn ModelRegistryStore>,
    pub logged_models: Arc<dyn LoggedModelStore>,
    pub webhooks: Webhooks,
    /// Traces and assessments (MLflow 3 GenAI).
    pub traces: Arc<dyn TraceStore>,
}

impl ModelsState {
    /// One store serving both logged models and the registry, with webhook settings from
    /// MLflow's environment variables (`MLFLOW_WEBHOOK_*`).
    pub fn new<S: ModelRegistryStore + LoggedModelStore + TraceStore>(store: Arc<S>) -> Self {
        Self::with_webhook_config(store, WebhookConfig::from_env())
    }

    pub fn with_webhook_config<S: ModelRegistryStore + LoggedModelStore + TraceStore>(
        store: Arc<S>,
        config: WebhookConfig,
    ) -> Self {
        let registry: Arc<dyn ModelRegistryStore> = store.clone();
        ModelsState {
            webhooks: Webhooks::new(registry.clone(), config),
            registry,
            traces: store.clone(),
            logged_models: store,
        }
    }
}
