//! MLflow 3 logged models.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::ErrorCode;

use super::{new_logged_model, new_run, unique, ModelStores};

pub async fn logged_models_lifecycle<S: ModelStores>(store: Arc<S>) {
    use mlox_core::logged_model::*;
    let exp = store
        .create_experiment(unique("lm"), None, vec![])
        .await
        .unwrap();
    let run = new_run(store.as_ref(), &exp).await.info.run_id;
    let m = store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.clone(),
            name: Some("model".into()),
            model_type: Some("sklearn".into()),
            source_run_id: Some(run.clone()),
            params: vec![Tag::new("alpha", "0.5"), Tag::new("alpha", "0.7")],
            tags: vec![Tag::new("team", "a")],
        })
        .await
        .unwrap();
    assert!(
        m.model_id.starts_with("m-") && m.model_id.len() == 34,
        "{}",
        m.model_id
    );
    assert_eq!(m.status, LoggedModelStatus::Pending);
    assert!(
        m.artifact_uri
            .ends_with(&format!("/{exp}/models/{}/artifacts", m.model_id)),
        "{}",
        m.artifact_uri
    );
    assert_eq!(
        m.params,
        vec![Tag::new("alpha", "0.7")],
        "the last value wins"
    );
    assert_eq!(m.tags, vec![Tag::new("team", "a")]);
    assert_eq!(m.source_run_id.as_deref(), Some(run.as_str()));
    assert_eq!(m.model_type.as_deref(), Some("sklearn"));

    let err = store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.clone(),
            name: Some("bad.name".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    let unnamed = store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!unnamed.name.is_empty());
    assert_eq!(
        store
            .create_logged_model(NewLoggedModel {
                experiment_id: "987654321".into(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );

    let ready = store
        .finalize_logged_model(&m.model_id, LoggedModelStatus::Ready)
        .await
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);
    assert!(ready.last_updated_timestamp_ms >= m.creation_timestamp_ms);
    store
        .set_logged_model_tags(&m.model_id, vec![Tag::new("team", "b"), Tag::new("x", "1")])
        .await
        .unwrap();
    store
        .delete_logged_model_tag(&m.model_id, "x")
        .await
        .unwrap();
    let err = store
        .delete_logged_model_tag(&m.model_id, "x")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        err.message,
        format!(
            "No tag with key 'x' found for model with ID '{}'.",
            m.model_id
        )
    );
    store
        .log_logged_model_params(&m.model_id, vec![Tag::new("beta", "2")])
        .await
        .unwrap();
    // Metrics logged to a run with the model's id are the model's metrics.
    let mut metric = Metric::new("acc", 0.9, 10, 1);
    metric.model_id = Some(m.model_id.clone());
    metric.dataset_name = Some("iris".into());
    metric.dataset_digest = Some("d1".into());
    store.log_metric(&run, metric).await.unwrap();
    store
        .log_outputs(&run, vec![(m.model_id.clone(), 1)])
        .await
        .unwrap();
    assert_eq!(
        store.get_run(&run).await.unwrap().model_outputs,
        vec![(m.model_id.clone(), 1)]
    );
    let got = store.get_logged_model(&m.model_id, false).await.unwrap();
    assert_eq!(got.tags, vec![Tag::new("team", "b")]);
    assert_eq!(
        got.params,
        vec![Tag::new("alpha", "0.7"), Tag::new("beta", "2")]
    );
    assert_eq!(got.metrics.len(), 1);
    assert_eq!(got.metrics[0].run_id, run);
    assert_eq!(got.metrics[0].metric.key, "acc");
    assert_eq!(got.metrics[0].metric.dataset_name.as_deref(), Some("iris"));

    let missing = store.get_logged_model("m-nope", false).await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(missing.message, "Logged model with ID 'm-nope' not found.");

    // Search: filters on attributes, params, tags and metrics; structured order; paging.
    let other = new_logged_model(store.as_ref(), &exp, "other", None).await;
    let search = |filter: &str| SearchLoggedModelsRequest {
        experiment_ids: vec![exp.clone()],
        filter: filter.into(),
        ..Default::default()
    };
    let ids = |page: Page<LoggedModel>| -> Vec<String> {
        page.items.into_iter().map(|m| m.model_id).collect()
    };
    assert_eq!(
        ids(store
            .search_logged_models(search("name = 'model'"))
            .await
            .unwrap()),
        vec![m.model_id.clone()]
    );
    for filter in [
        "params.beta = '2'".to_string(),
        "tags.team = 'b'".to_string(),
        "metrics.acc > 0.5".to_string(),
        "status = 'LOGGED_MODEL_READY'".to_string(),
        "attributes.model_type LIKE 'sk%'".to_string(),
        format!("source_run_id = '{run}'"),
    ] {
        assert_eq!(
            ids(store.search_logged_models(search(&filter)).await.unwrap()),
            vec![m.model_id.clone()],
            "{filter}"
        );
    }
    assert!(store
        .search_logged_models(search("metrics.acc < 0.5"))
        .await
        .unwrap()
        .items
        .is_empty());
    let err = store
        .search_logged_models(search("nope.x = 1"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    // Newest first by default.
    let all = ids(store.search_logged_models(search("")).await.unwrap());
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], other.model_id);
    let by_metric = store
        .search_logged_models(SearchLoggedModelsRequest {
            experiment_ids: vec![exp.clone()],
            order_by: vec![LoggedModelOrderBy {
                field_name: "metrics.acc".into(),
                ascending: false,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_metric.items[0].model_id, m.model_id,
        "models with the metric first"
    );
    let on_dataset = store
        .search_logged_models(SearchLoggedModelsRequest {
            experiment_ids: vec![exp.clone()],
            datasets: vec![LoggedModelDatasetFilter {
                dataset_name: "iris".into(),
                dataset_digest: None,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(on_dataset), vec![m.model_id.clone()]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_logged_models(SearchLoggedModelsRequest {
                experiment_ids: vec![exp.clone()],
                max_results: Some(2),
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        paged.extend(page.items.into_iter().map(|m| m.model_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, all);

    store.delete_logged_model(&other.model_id).await.unwrap();
    assert_eq!(
        store
            .get_logged_model(&other.model_id, false)
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert_eq!(
        store
            .get_logged_model(&other.model_id, true)
            .await
            .unwrap()
            .lifecycle_stage,
        "deleted"
    );
    assert_eq!(
        store
            .search_logged_models(search(""))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
}
