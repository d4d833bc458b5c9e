//! `logged-models/*` calls: MLflow 3's logged models.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{decode, Result, SearchPage, TrackingClient};

/// What mlox's tools need of a logged model (`info`).
#[derive(Clone, Debug, Deserialize)]
pub struct LoggedModel {
    pub model_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub experiment_id: String,
    #[serde(default)]
    pub source_run_id: Option<String>,
    #[serde(default)]
    pub artifact_uri: String,
}

#[derive(Deserialize)]
struct Wrapped {
    info: LoggedModel,
}

impl TrackingClient {
    /// `GET logged-models/<id>`.
    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let path = format!("logged-models/{model_id}");
        #[derive(Deserialize)]
        struct Answer {
            model: Wrapped,
        }
        let v = self.get(&path, &[]).await?;
        Ok(decode::<Answer>(self, &path, v)?.model.info)
    }

    /// `logged-models/search` (one page) in `experiment_ids` with MLflow's filter syntax.
    pub async fn search_logged_models(
        &self,
        experiment_ids: &[&str],
        filter: &str,
        max_results: i64,
        page_token: Option<&str>,
    ) -> Result<SearchPage<LoggedModel>> {
        const PATH: &str = "logged-models/search";
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            models: Vec<Wrapped>,
            #[serde(default)]
            next_page_token: Option<String>,
        }
        let mut body = json!({
            "experiment_ids": experiment_ids,
            "filter": filter,
            "max_results": max_results,
        });
        if let Some(t) = page_token {
            body["page_token"] = Value::from(t);
        }
        let v = self.post(PATH, &body).await?;
        let page = decode::<Answer>(self, PATH, v)?;
        Ok(SearchPage {
            items: page.models.into_iter().map(|m| m.info).collect(),
            next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }
}
