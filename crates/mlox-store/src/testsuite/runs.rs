//! Runs: lifecycle, dataset inputs, concurrent writers and permanent deletion.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;

use super::{new_run, unique};

pub async fn runs_lifecycle(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("runs"), None, vec![])
        .await
        .unwrap();
    let run = store
        .create_run(NewRun {
            experiment_id: Some(exp.clone()),
            user_id: Some("alice".into()),
            run_name: Some("first".into()),
            start_time: Some(1000),
            tags: vec![Tag::new("k", "v")],
        })
        .await
        .unwrap();
    let id = run.info.run_id.clone();
    assert_eq!(id.len(), 32);
    assert_eq!(run.info.status, RunStatus::Running);
    assert_eq!(run.info.run_name, "first");
    assert_eq!(run.info.start_time, 1000);
    assert_eq!(run.info.end_time, None);
    assert!(
        run.info
            .artifact_uri
            .ends_with(&format!("/{exp}/{id}/artifacts")),
        "{}",
        run.info.artifact_uri
    );
    assert!(run.data.tags.contains(&Tag::new("mlflow.runName", "first")));
    assert!(run.data.tags.contains(&Tag::new("k", "v")));

    let generated = new_run(store.as_ref(), &exp).await;
    assert_eq!(
        generated.info.run_name.split('-').count(),
        3,
        "{}",
        generated.info.run_name
    );

    let info = store
        .update_run(
            &id,
            RunUpdate {
                status: Some(RunStatus::Finished),
                end_time: Some(2000),
                run_name: Some("second".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (info.status, info.end_time, info.run_name.as_str()),
        (RunStatus::Finished, Some(2000), "second")
    );
    assert!(store
        .get_run(&id)
        .await
        .unwrap()
        .data
        .tags
        .contains(&Tag::new("mlflow.runName", "second")));

    store
        .log_batch(&id, vec![], vec![Tag::new("alpha", "0.5")], vec![])
        .await
        .unwrap();
    store
        .log_param(&id, Tag::new("alpha", "0.5"))
        .await
        .unwrap();
    let err = store
        .log_param(&id, Tag::new("alpha", "0.7"))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    assert!(err.message.starts_with("Changing param values is not allowed. Param with key='alpha' was already logged with value='0.5'"), "{}", err.message);
    let err = store
        .log_batch(
            &id,
            vec![Metric::new("x", 1.0, 0, 0)],
            vec![Tag::new("alpha", "0.7")],
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with(
            "Changing param values is not allowed. Params were already logged='[{'key': 'alpha'"
        ),
        "{}",
        err.message
    );
    assert!(
        store.get_run(&id).await.unwrap().data.metrics.is_empty(),
        "a failed batch stores nothing"
    );

    store.delete_tag(&id, "k").await.unwrap();
    assert_eq!(
        store.delete_tag(&id, "k").await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );

    store.delete_run(&id).await.unwrap();
    assert_eq!(
        store.get_run(&id).await.unwrap().info.lifecycle_stage,
        "deleted"
    );
    let err = store
        .log_batch(&id, vec![Metric::new("m", 1.0, 0, 0)], vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    assert!(err.message.contains("must be in the 'active' state"));
    store.restore_run(&id).await.unwrap();
    assert_eq!(
        store.get_run(&id).await.unwrap().info.lifecycle_stage,
        "active"
    );
    assert_eq!(
        store
            .get_run("0123456789abcdef0123456789abcdef")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
}

pub async fn datasets(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("data"), None, vec![])
        .await
        .unwrap();
    let id = new_run(store.as_ref(), &exp).await.info.run_id;
    let input = DatasetInput {
        tags: vec![Tag::new("mlflow.data.context", "training")],
        dataset: Dataset {
            name: "iris".into(),
            digest: "abc123".into(),
            source_type: "local".into(),
            source: "{\"uri\": \"/data/iris.csv\"}".into(),
            schema: Some("{}".into()),
            profile: None,
        },
    };
    store
        .log_inputs(&id, vec![input.clone()], vec![])
        .await
        .unwrap();
    store
        .log_inputs(&id, vec![input.clone()], vec![])
        .await
        .unwrap();
    let run = store.get_run(&id).await.unwrap();
    assert_eq!(run.inputs, vec![input]);
    let found = store
        .search_runs(SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            filter: "datasets.name = 'iris' AND datasets.context = 'training'".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
}

/// Many writers at once: every write is applied, none fails with a lock error.
pub async fn concurrent_writers(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("conc"), None, vec![])
        .await
        .unwrap();
    let id = new_run(store.as_ref(), &exp).await.info.run_id;
    let mut tasks = Vec::new();
    for w in 0..16i64 {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25i64 {
                store
                    .log_batch(
                        &id,
                        vec![Metric::new("m", (w * 100 + i) as f64, w * 100 + i, i)],
                        vec![],
                        vec![],
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let hist = store
        .get_metric_history(MetricHistoryRequest {
            run_id: id,
            metric_key: "m".into(),
            max_results: None,
            page_token: None,
        })
        .await
        .unwrap();
    assert_eq!(hist.items.len(), 400);
}

/// Permanent deletion removes a deleted run and all it logged; active runs are refused.
pub async fn permanent_deletion(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("gc"), None, vec![])
        .await
        .unwrap();
    let keep = new_run(store.as_ref(), &exp).await.info.run_id;
    let gone = new_run(store.as_ref(), &exp).await.info.run_id;
    store
        .log_batch(
            &gone,
            vec![Metric::new("m", 1.0, 1, 0)],
            vec![Tag::new("p", "1")],
            vec![Tag::new("t", "1")],
        )
        .await
        .unwrap();
    assert_eq!(
        store.hard_delete_run(&gone).await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
    store.delete_run(&gone).await.unwrap();
    let deleted: Vec<String> = store
        .deleted_runs(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert!(deleted.contains(&gone) && !deleted.contains(&keep));
    assert!(
        !store
            .deleted_runs(Some(0))
            .await
            .unwrap()
            .iter()
            .any(|r| r.run_id == gone),
        "deleted after time 0"
    );
    store.hard_delete_run(&gone).await.unwrap();
    assert_eq!(
        store.get_run(&gone).await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    let hist = store
        .get_metric_history(MetricHistoryRequest {
            run_id: gone.clone(),
            metric_key: "m".into(),
            max_results: None,
            page_token: None,
        })
        .await
        .unwrap();
    assert!(hist.items.is_empty());
    assert_eq!(
        store.get_run(&keep).await.unwrap().info.lifecycle_stage,
        "active"
    );

    assert_eq!(
        store.hard_delete_experiment(&exp).await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
    store.delete_experiment(&exp).await.unwrap();
    assert!(store
        .deleted_experiments()
        .await
        .unwrap()
        .iter()
        .any(|e| e.experiment_id == exp));
    store.hard_delete_experiment(&exp).await.unwrap();
    assert_eq!(
        store.get_experiment(&exp).await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert_eq!(
        store.get_run(&keep).await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
}
