//! What the logged-model, registry, webhook, trace and evaluation routes need: their stores and the
//! webhook sender.

use std::sync::Arc;

use mlox_core::eval::EvalStore;
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
    /// Evaluation datasets and the scorer registry.
    pub eval: Arc<dyn EvalStore>,
    /// Whether `@scorer` payloads (which carry code) may be registered, as with MLflow's
    /// `MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS`; mlox never runs them either way.
    pub allow_custom_scorers: bool,
}

impl ModelsState {
    /// One store serving both logged models and the registry, with webhook settings from
    /// MLflow's environment variables (`MLFLOW_WEBHOOK_*`) and
    /// `MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS`.
    pub fn new<S: ModelRegistryStore + LoggedModelStore + TraceStore + EvalStore>(
        store: Arc<S>,
    ) -> Self {
        Self::with_webhook_config(store, WebhookConfig::from_env())
    }

    pub fn with_webhook_config<
        S: ModelRegistryStore + LoggedModelStore + TraceStore + EvalStore,
    >(
        store: Arc<S>,
        config: WebhookConfig,
    ) -> Self {
        let registry: Arc<dyn ModelRegistryStore> = store.clone();
        ModelsState {
            webhooks: Webhooks::new(registry.clone(), config),
            registry,
            traces: store.clone(),
            eval: store.clone(),
            allow_custom_scorers: std::env::var("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS")
                .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1")),
            logged_models: store,
        }
    }
}
