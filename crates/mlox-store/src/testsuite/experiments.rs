//! Experiments: create, read, rename, tags, delete and restore, and run counts.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;

use super::{new_run, unique};

pub async fn experiments_lifecycle(store: Arc<dyn TrackingStore>) {
    let name = unique("exp");
    let id = store
        .create_experiment(name.clone(), None, vec![Tag::new("team", "a")])
        .await
        .unwrap();
    let exp = store.get_experiment(&id).await.unwrap();
    assert_eq!(exp.name, name);
    assert_eq!(exp.lifecycle_stage, "active");
    assert_eq!(exp.tags, vec![Tag::new("team", "a")]);
    assert!(
        exp.artifact_location.ends_with(&format!("/{id}")),
        "{}",
        exp.artifact_location
    );
    assert_eq!(
        store
            .get_experiment_by_name(&name)
            .await
            .unwrap()
            .experiment_id,
        id
    );

    let dup = store
        .create_experiment(name.clone(), None, vec![])
        .await
        .unwrap_err();
    assert_eq!(dup.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    let missing = store
        .get_experiment_by_name(&unique("nope"))
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        store.get_experiment("99999999").await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert_eq!(
        store.get_experiment("abc").await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
    assert_eq!(
        store
            .create_experiment(String::new(), None, vec![])
            .await
            .unwrap_err()
            .code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );

    let new_name = unique("renamed");
    store
        .rename_experiment(&id, new_name.clone())
        .await
        .unwrap();
    assert_eq!(store.get_experiment(&id).await.unwrap().name, new_name);
    store
        .set_experiment_tag(&id, Tag::new("team", "b"))
        .await
        .unwrap();
    store
        .set_experiment_tag(&id, Tag::new("x", "1"))
        .await
        .unwrap();
    assert_eq!(
        store.get_experiment(&id).await.unwrap().tags,
        vec![Tag::new("team", "b"), Tag::new("x", "1")]
    );
    store.delete_experiment_tag(&id, "x").await.unwrap();
    assert_eq!(
        store
            .delete_experiment_tag(&id, "x")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );

    let run = new_run(store.as_ref(), &id).await;
    store.delete_experiment(&id).await.unwrap();
    assert_eq!(
        store.get_experiment(&id).await.unwrap().lifecycle_stage,
        "deleted"
    );
    assert_eq!(
        store
            .get_run(&run.info.run_id)
            .await
            .unwrap()
            .info
            .lifecycle_stage,
        "deleted"
    );
    let err = store
        .create_run(NewRun {
            experiment_id: Some(id.clone()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    store.restore_experiment(&id).await.unwrap();
    assert_eq!(
        store
            .get_run(&run.info.run_id)
            .await
            .unwrap()
            .info
            .lifecycle_stage,
        "active"
    );
    assert_eq!(store.get_experiment("0").await.unwrap().name, "Default");
}

/// Run counts per experiment: active and total, deleted runs and deleted experiments
/// included, experiments without runs at 0, in the order asked.
pub async fn run_counts(store: Arc<dyn TrackingStore>) {
    let a = store
        .create_experiment(unique("count-a"), None, vec![])
        .await
        .unwrap();
    let b = store
        .create_experiment(unique("count-b"), None, vec![])
        .await
        .unwrap();
    let empty = store
        .create_experiment(unique("count-empty"), None, vec![])
        .await
        .unwrap();
    let mut runs_a = Vec::new();
    for _ in 0..5 {
        runs_a.push(new_run(store.as_ref(), &a).await.info.run_id);
    }
    for _ in 0..3 {
        new_run(store.as_ref(), &b).await;
    }
    store.delete_run(&runs_a[0]).await.unwrap();
    store.delete_run(&runs_a[1]).await.unwrap();
    let counts = |ids: Vec<&str>| {
        let store = Arc::clone(&store);
        let ids: Vec<String> = ids.into_iter().map(String::from).collect();
        async move {
            store
                .count_runs(&ids)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.experiment_id, c.active, c.total))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        counts(vec![&b, &empty, &a]).await,
        vec![(b.clone(), 3, 3), (empty.clone(), 0, 0), (a.clone(), 3, 5)]
    );
    // A deleted experiment's runs are deleted with it; restoring brings them back.
    store.delete_experiment(&b).await.unwrap();
    assert_eq!(counts(vec![&b]).await, vec![(b.clone(), 0, 3)]);
    store.restore_experiment(&b).await.unwrap();
    assert_eq!(counts(vec![&b]).await, vec![(b.clone(), 3, 3)]);
    // A restored run counts again; a permanently removed one no more.
    store.restore_run(&runs_a[0]).await.unwrap();
    store.hard_delete_run(&runs_a[1]).await.unwrap();
    assert_eq!(counts(vec![&a]).await, vec![(a.clone(), 4, 4)]);
    // No ids, no counts; an id that names no experiment counts 0; a malformed one is refused.
    assert_eq!(counts(vec![]).await, vec![]);
    assert_eq!(
        counts(vec!["99999999"]).await,
        vec![("99999999".to_string(), 0, 0)]
    );
    let err = store.count_runs(&["x1".to_string()]).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
}
