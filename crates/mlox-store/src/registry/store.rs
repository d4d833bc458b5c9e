//! `ModelRegistryStore` for `SqlStore`: each operation run on a read or write connection.

use mlox_core::entities::{Page, Tag};
use mlox_core::registry::*;
use mlox_core::Result;

use super::aliases::{
    delete_registered_model_alias, get_model_version_by_alias, set_registered_model_alias,
};
use super::loading::get_registered_model;
use super::models::{
    create_registered_model, delete_registered_model, delete_registered_model_tag,
    get_latest_versions, rename_registered_model, search_registered_models,
    set_registered_model_tag, update_registered_model,
};
use super::versions::{
    create_model_version, delete_model_version, delete_model_version_tag, get_model_version,
    get_model_version_download_uri, search_model_versions, set_model_version_tag,
    transition_model_version_stage, update_model_version,
};
use super::webhooks::{
    create_webhook, delete_webhook, get_webhook, list_webhooks, list_webhooks_by_event,
    update_webhook,
};
use super::SourcePolicy;

impl crate::SqlStore {
    fn source_policy(&self) -> SourcePolicy {
        SourcePolicy {
            artifact_root: self.artifact_root.clone(),
            allowed_host_schemes: self.allowed_host_schemes.clone(),
        }
    }
}

/// Owned copies of borrowed arguments, for the `'static` closures the database runs.
macro_rules! owned {
    ($($name:ident),*) => { $(let $name = $name.to_string();)* };
}

#[async_trait::async_trait]
impl mlox_core::store::ModelRegistryStore for crate::SqlStore {
    async fn create_registered_model(
        &self,
        name: String,
        tags: Vec<Tag>,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        self.db
            .write(move |c| create_registered_model(c, name, tags, description))
            .await
    }
    async fn get_registered_model(&self, name: &str) -> Result<RegisteredModel> {
        owned!(name);
        self.db.read(move |c| get_registered_model(c, &name)).await
    }
    async fn rename_registered_model(
        &self,
        name: &str,
        new_name: String,
    ) -> Result<RegisteredModel> {
        owned!(name);
        self.db
            .write(move |c| rename_registered_model(c, &name, new_name))
            .await
    }
    async fn update_registered_model(
        &self,
        name: &str,
        description: Option<String>,
    ) -> Result<RegisteredModel> {
        owned!(name);
        self.db
            .write(move |c| update_registered_model(c, &name, description))
            .await
    }
    async fn delete_registered_model(&self, name: &str) -> Result<()> {
        owned!(name);
        self.db
            .write(move |c| delete_registered_model(c, &name))
            .await
    }
    async fn search_registered_models(
        &self,
        req: RegistrySearchRequest,
    ) -> Result<Page<RegisteredModel>> {
        self.db
            .read(move |c| search_registered_models(c, req))
            .await
    }
    async fn get_latest_versions(
        &self,
        name: &str,
        stages: Vec<String>,
    ) -> Result<Vec<ModelVersion>> {
        owned!(name);
        self.db
            .read(move |c| get_latest_versions(c, &name, stages))
            .await
    }
    async fn set_registered_model_tag(&self, name: &str, tag: Tag) -> Result<()> {
        owned!(name);
        self.db
            .write(move |c| set_registered_model_tag(c, &name, tag))
            .await
    }
    async fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        owned!(name, key);
        self.db
            .write(move |c| delete_registered_model_tag(c, &name, &key))
            .await
    }
    async fn create_model_version(&self, version: NewModelVersion) -> Result<ModelVersion> {
        let policy = self.source_policy();
        self.db
            .write(move |c| create_model_version(c, &policy, version))
            .await
    }
    async fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        owned!(name, version);
        self.db
            .read(move |c| get_model_version(c, &name, &version))
            .await
    }
    async fn update_model_version(
        &self,
        name: &str,
        version: &str,
        description: Option<String>,
    ) -> Result<ModelVersion> {
        owned!(name, version);
        self.db
            .write(move |c| update_model_version(c, &name, &version, description))
            .await
    }
    async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        owned!(name, version, stage);
        self.db
            .write(move |c| {
                transition_model_version_stage(
                    c,
                    &name,
                    &version,
                    &stage,
                    archive_existing_versions,
                )
            })
            .await
    }
    async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        owned!(name, version);
        self.db
            .write(move |c| delete_model_version(c, &name, &version))
            .await
    }
    async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        owned!(name, version);
        self.db
            .read(move |c| get_model_version_download_uri(c, &name, &version))
            .await
    }
    async fn search_model_versions(
        &self,
        req: RegistrySearchRequest,
    ) -> Result<Page<ModelVersion>> {
        self.db.read(move |c| search_model_versions(c, req)).await
    }
    async fn set_model_version_tag(&self, name: &str, version: &str, tag: Tag) -> Result<()> {
        owned!(name, version);
        self.db
            .write(move |c| set_model_version_tag(c, &name, &version, tag))
            .await
    }
    async fn delete_model_version_tag(&self, name: &str, version: &str, key: &str) -> Result<()> {
        owned!(name, version, key);
        self.db
            .write(move |c| delete_model_version_tag(c, &name, &version, &key))
            .await
    }
    async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        owned!(name, alias, version);
        self.db
            .write(move |c| set_registered_model_alias(c, &name, &alias, &version))
            .await
    }
    async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        owned!(name, alias);
        self.db
            .write(move |c| delete_registered_model_alias(c, &name, &alias))
            .await
    }
    async fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        owned!(name, alias);
        self.db
            .read(move |c| get_model_version_by_alias(c, &name, &alias))
            .await
    }
    async fn create_webhook(&self, webhook: NewWebhook) -> Result<Webhook> {
        self.db.write(move |c| create_webhook(c, webhook)).await
    }
    async fn get_webhook(&self, webhook_id: &str) -> Result<Webhook> {
        owned!(webhook_id);
        self.db.read(move |c| get_webhook(c, &webhook_id)).await
    }
    async fn list_webhooks(
        &self,
        max_results: Option<i64>,
        page_token: Option<String>,
    ) -> Result<Page<Webhook>> {
        self.db
            .read(move |c| list_webhooks(c, max_results, page_token))
            .await
    }
    async fn list_webhooks_by_event(&self, event: WebhookEvent) -> Result<Vec<Webhook>> {
        self.db
            .read(move |c| list_webhooks_by_event(c, event))
            .await
    }
    async fn update_webhook(&self, webhook_id: &str, update: WebhookUpdate) -> Result<Webhook> {
        owned!(webhook_id);
        self.db
            .write(move |c| update_webhook(c, &webhook_id, update))
            .await
    }
    async fn delete_webhook(&self, webhook_id: &str) -> Result<()> {
        owned!(webhook_id);
        self.db.write(move |c| delete_webhook(c, &webhook_id)).await
    }
}
