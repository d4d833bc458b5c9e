//! `experiments/*` calls.

use serde::Deserialize;
use serde_json::json;

use crate::{decode, Experiment, Result, TrackingClient};

#[derive(Deserialize)]
struct ExperimentResponse {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct CreateExperimentResponse {
    experiment_id: String,
}

impl TrackingClient {
    /// `experiments/get-by-name`; `None` when no experiment has that name.
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        const PATH: &str = "experiments/get-by-name";
        match self.get(PATH, &[("experiment_name", name)]).await {
            Ok(v) => Ok(Some(
                decode::<ExperimentResponse>(self, PATH, v)?.experiment,
            )),
            Err(e) if e.error_code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        const PATH: &str = "experiments/get";
        let v = self.get(PATH, &[("experiment_id", experiment_id)]).await?;
        Ok(decode::<ExperimentResponse>(self, PATH, v)?.experiment)
    }

    /// `experiments/create`; returns the new experiment's id.
    pub async fn create_experiment(&self, name: &str) -> Result<String> {
        const PATH: &str = "experiments/create";
        let v = self.post(PATH, &json!({ "name": name })).await?;
        Ok(decode::<CreateExperimentResponse>(self, PATH, v)?.experiment_id)
    }
}
