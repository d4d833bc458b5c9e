//! `runs/*` and `metrics/*` calls.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::{decode, Metric, Param, Result, Run, RunInfo, RunStatus, Tag, TrackingClient};

#[derive(Deserialize)]
struct RunResponse {
    run: Run,
}

#[derive(Deserialize)]
struct UpdateRunResponse {
    run_info: RunInfo,
}

#[derive(Deserialize)]
struct MetricHistoryResponse {
    #[serde(default)]
    metrics: Vec<Metric>,
}

/// The fields of `runs/create`.
#[derive(Clone, Debug, Default)]
pub struct CreateRun {
    pub experiment_id: String,
    pub run_name: Option<String>,
    /// Milliseconds since the epoch.
    pub start_time: Option<i64>,
    pub user_id: Option<String>,
    pub tags: Vec<Tag>,
}

impl TrackingClient {
    pub async fn create_run(&self, req: &CreateRun) -> Result<Run> {
        const PATH: &str = "runs/create";
        let mut body = Map::new();
        body.insert("experiment_id".into(), json!(req.experiment_id));
        if let Some(name) = &req.run_name {
            body.insert("run_name".into(), json!(name));
        }
        if let Some(t) = req.start_time {
            body.insert("start_time".into(), json!(t));
        }
        if let Some(user) = &req.user_id {
            body.insert("user_id".into(), json!(user));
        }
        body.insert("tags".into(), json!(req.tags));
        let v = self.post(PATH, &Value::Object(body)).await?;
        Ok(decode::<RunResponse>(self, PATH, v)?.run)
    }

    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        const PATH: &str = "runs/get";
        let v = self.get(PATH, &[("run_id", run_id)]).await?;
        Ok(decode::<RunResponse>(self, PATH, v)?.run)
    }

    /// `runs/update`: sets the status and, when given, the end time (ms since the epoch).
    pub async fn update_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
    ) -> Result<RunInfo> {
        const PATH: &str = "runs/update";
        let mut body = json!({ "run_id": run_id, "status": status.as_str() });
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        let v = self.post(PATH, &body).await?;
        Ok(decode::<UpdateRunResponse>(self, PATH, v)?.run_info)
    }

    /// `runs/log-batch` with params and tags (metrics are the script's business).
    pub async fn log_batch(&self, run_id: &str, params: &[Param], tags: &[Tag]) -> Result<()> {
        let body = json!({ "run_id": run_id, "params": params, "tags": tags, "metrics": [] });
        self.post("runs/log-batch", &body).await?;
        Ok(())
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "run_id": run_id, "key": key, "value": value });
        self.post("runs/set-tag", &body).await?;
        Ok(())
    }

    /// Every logged value of one metric (first page of `metrics/get-history`).
    pub async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        const PATH: &str = "metrics/get-history";
        let v = self
            .get(PATH, &[("run_id", run_id), ("metric_key", key)])
            .await?;
        Ok(decode::<MetricHistoryResponse>(self, PATH, v)?.metrics)
    }

    /// `runs/search` in the given experiments (first page, newest first).
    pub async fn search_runs(&self, experiment_ids: &[&str], filter: &str) -> Result<Vec<Run>> {
        #[derive(Deserialize)]
        struct SearchResponse {
            #[serde(default)]
            runs: Vec<Run>,
        }
        const PATH: &str = "runs/search";
        let body =
            json!({ "experiment_ids": experiment_ids, "filter": filter, "max_results": 1000 });
        let v = self.post(PATH, &body).await?;
        Ok(decode::<SearchResponse>(self, PATH, v)?.runs)
    }
}
