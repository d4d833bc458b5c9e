//! `registered-models/*` and `model-versions/*` calls: the model registry.

use serde::Deserialize;
use serde_json::json;

use crate::{decode, Result, TrackingClient};

#[derive(Clone, Debug, Deserialize)]
pub struct ModelAlias {
    pub alias: String,
    pub version: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(default)]
    pub tags: Vec<crate::Tag>,
    #[serde(default)]
    pub aliases: Vec<ModelAlias>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::opt_i64")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub current_stage: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<crate::Tag>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// One page of a search, and the token of the next (absent on the last page).
#[derive(Clone, Debug)]
pub struct SearchPage<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct RegisteredModelsPage {
    #[serde(default)]
    registered_models: Vec<RegisteredModel>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ModelVersionsPage {
    #[serde(default)]
    model_versions: Vec<ModelVersion>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ModelVersionResponse {
    model_version: ModelVersion,
}

impl TrackingClient {
    /// `registered-models/search` (one page). As the official client, prompts are
    /// excluded with ``tag.`mlflow.prompt.is_prompt` != 'true'``.
    pub async fn search_registered_models(
        &self,
        filter: Option<&str>,
        max_results: i64,
        page_token: Option<&str>,
    ) -> Result<SearchPage<RegisteredModel>> {
        const PATH: &str = "registered-models/search";
        let prompt_clause = "tag.`mlflow.prompt.is_prompt` != 'true'";
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => format!("{f} AND {prompt_clause}"),
            None => prompt_clause.to_string(),
        };
        let max = max_results.to_string();
        let mut query = vec![("filter", filter.as_str()), ("max_results", max.as_str())];
        if let Some(t) = page_token {
            query.push(("page_token", t));
        }
        let v = self.get(PATH, &query).await?;
        let page: RegisteredModelsPage = decode(self, PATH, v)?;
        Ok(SearchPage {
            items: page.registered_models,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    /// `model-versions/search` (one page).
    pub async fn search_model_versions(
        &self,
        filter: &str,
        max_results: i64,
        page_token: Option<&str>,
    ) -> Result<SearchPage<ModelVersion>> {
        const PATH: &str = "model-versions/search";
        let max = max_results.to_string();
        let mut query = vec![
            ("filter", filter),
            ("max_results", max.as_str()),
            ("order_by", "version_number DESC"),
        ];
        if let Some(t) = page_token {
            query.push(("page_token", t));
        }
        let v = self.get(PATH, &query).await?;
        let page: ModelVersionsPage = decode(self, PATH, v)?;
        Ok(SearchPage {
            items: page.model_versions,
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    /// `registered-models/alias` (POST): points `alias` at `version`, moving it if it exists.
    pub async fn set_registered_model_alias(
        &self,
        name: &str,
        alias: &str,
        version: &str,
    ) -> Result<()> {
        self.post(
            "registered-models/alias",
            &json!({"name": name, "alias": alias, "version": version}),
        )
        .await?;
        Ok(())
    }

    /// `registered-models/alias` (GET): the version an alias points at.
    pub async fn get_model_version_by_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> Result<ModelVersion> {
        const PATH: &str = "registered-models/alias";
        let v = self.get(PATH, &[("name", name), ("alias", alias)]).await?;
        Ok(decode::<ModelVersionResponse>(self, PATH, v)?.model_version)
    }

    /// `model-versions/get-download-uri`: where a version's files are.
    pub async fn get_model_version_download_uri(
        &self,
        name: &str,
        version: &str,
    ) -> Result<String> {
        const PATH: &str = "model-versions/get-download-uri";
        #[derive(Deserialize)]
        struct Answer {
            artifact_uri: String,
        }
        let v = self
            .get(PATH, &[("name", name), ("version", version)])
            .await?;
        Ok(decode::<Answer>(self, PATH, v)?.artifact_uri)
    }

    /// `registered-models/get-latest-versions`: the latest version in each of `stages`
    /// (every stage when empty).
    pub async fn get_latest_versions(
        &self,
        name: &str,
        stages: &[&str],
    ) -> Result<Vec<ModelVersion>> {
        const PATH: &str = "registered-models/get-latest-versions";
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            model_versions: Vec<ModelVersion>,
        }
        let v = self
            .post(PATH, &json!({"name": name, "stages": stages}))
            .await?;
        Ok(decode::<Answer>(self, PATH, v)?.model_versions)
    }
}
