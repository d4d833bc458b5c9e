//! The evaluation part of the conformance suite (issue 15): evaluation datasets with their
//! records, and the scorer registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use mlox_core::eval::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;
use serde_json::{json, Map, Value};

/// What the evaluation tests need of a store.
pub trait EvalStores: TrackingStore + EvalStore {}
impl<S> EvalStores for S where S: TrackingStore + EvalStore {}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

async fn experiment<S: EvalStores>(store: &S, prefix: &str) -> String {
    store
        .create_experiment(
            format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
            None,
            vec![],
        )
        .await
        .unwrap()
}

pub async fn evaluation_datasets<S: EvalStores>(store: Arc<S>) {
    let exp = experiment(&*store, "eval-ds").await;
    let prefix = format!("ds-{}", uuid::Uuid::new_v4().simple());
    let tags = BTreeMap::from([("mlflow.user".to_string(), "ann".to_string())]);
    let d = store
        .create_dataset(format!("{prefix}-a"), tags, vec![exp.clone()])
        .await
        .unwrap();
    assert!(d.dataset_id.starts_with("d-") && d.dataset_id.len() == 34);
    assert_eq!(d.created_by.as_deref(), Some("ann"));
    assert_eq!(d.experiment_ids, Some(vec![exp.clone()]));
    assert_eq!(d.digest.len(), 8);
    assert_eq!(d.schema, None);

    // Inputs deduplicate: the second upsert of {"q": 1} merges into the first record.
    let (ins, upd) = store
        .upsert_dataset_records(
            &d.dataset_id,
            vec![
                obj(json!({"inputs": {"q": 1}, "expectations": {"a": "x"}})),
                obj(json!({"inputs": {"q": 2}, "outputs": "two"})),
            ],
        )
        .await
        .unwrap();
    assert_eq!((ins, upd), (2, 0));
    let (ins, upd) = store
        .upsert_dataset_records(
            &d.dataset_id,
            vec![
                obj(json!({"inputs": {"q": 1}, "expectations": {"b": "y"}})),
                obj(json!({"inputs": {"q": 3}})),
            ],
        )
        .await
        .unwrap();
    assert_eq!((ins, upd), (1, 1));
    let got = store.get_dataset(&d.dataset_id).await.unwrap();
    assert_eq!(got.profile.as_deref(), Some("{\"num_records\": 3}"));
    assert_eq!(
        got.schema.as_deref(),
        Some(
            r#"{"inputs": {"q": "integer"}, "outputs": "string", "expectations": {"a": "string", "b": "string"}, "version": "1.0"}"#
        )
    );

    // Records page in (created time, id) order with cursor tokens.
    let (page1, token) = store
        .get_dataset_records(&d.dataset_id, 2, None)
        .await
        .unwrap();
    assert_eq!(page1.len(), 2);
    let (page2, end) = store
        .get_dataset_records(&d.dataset_id, 2, token)
        .await
        .unwrap();
    assert_eq!((page2.len(), end), (1, None));
    let all: Vec<_> = page1.iter().chain(page2.iter()).collect();
    let first = all
        .iter()
        .find(|r| r.body["inputs"] == json!({"q": 1}))
        .unwrap();
    assert_eq!(first.body["expectations"], json!({"a": "x", "b": "y"}));
    assert_eq!(first.body["outputs"], json!({}));
    let second = all
        .iter()
        .find(|r| r.body["inputs"] == json!({"q": 2}))
        .unwrap();
    assert_eq!(second.body["outputs"], json!("two"));

    // Deleting records updates the profile; the last one leaves MLflow's `null`.
    let ids: Vec<String> = all.iter().map(|r| r.dataset_record_id.clone()).collect();
    assert_eq!(
        store
            .delete_dataset_records(&d.dataset_id, ids[..2].to_vec())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .get_dataset(&d.dataset_id)
            .await
            .unwrap()
            .profile
            .as_deref(),
        Some("{\"num_records\": 1}")
    );
    store
        .delete_dataset_records(&d.dataset_id, ids[2..].to_vec())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_dataset(&d.dataset_id)
            .await
            .unwrap()
            .profile
            .as_deref(),
        Some("null")
    );

    // Tags, experiment links and search.
    let b = store
        .create_dataset(format!("{prefix}-b"), BTreeMap::new(), vec![exp.clone()])
        .await
        .unwrap();
    let other = experiment(&*store, "eval-ds-other").await;
    store
        .set_dataset_tags(&b.dataset_id, BTreeMap::from([("k".into(), "v".into())]))
        .await
        .unwrap();
    store
        .add_dataset_to_experiments(&b.dataset_id, vec![other.clone()])
        .await
        .unwrap();
    let mut linked = store
        .get_dataset_experiment_ids(&b.dataset_id)
        .await
        .unwrap();
    linked.sort();
    let mut want = vec![exp.clone(), other.clone()];
    want.sort();
    assert_eq!(linked, want);
    let search = |filter: &str, exps: Vec<String>, order: Vec<&str>| SearchDatasetsRequest {
        experiment_ids: exps,
        filter: Some(filter.to_string()),
        max_results: Some(1),
        order_by: order.into_iter().map(String::from).collect(),
        page_token: None,
    };
    let page = store
        .search_datasets(search("", vec![exp.clone()], vec!["name ASC"]))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].name, format!("{prefix}-a"));
    let mut rest = search("", vec![exp.clone()], vec!["name ASC"]);
    rest.page_token = page.next_page_token;
    let page2 = store.search_datasets(rest).await.unwrap();
    assert_eq!(page2.items[0].dataset_id, b.dataset_id);
    assert_eq!(page2.items[0].tags["k"], "v");
    assert_eq!(page2.next_page_token, None);
    let tagged = store
        .search_datasets(search("tags.k = 'v'", vec![], vec![]))
        .await
        .unwrap();
    assert_eq!(tagged.items[0].dataset_id, b.dataset_id);
    let by_name = store
        .search_datasets(search(
            &format!("name LIKE '{prefix}-%'"),
            vec![other.clone()],
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(by_name.items[0].dataset_id, b.dataset_id);
    let err = store
        .search_datasets(search("digest = 'x'", vec![], vec![]))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    store.delete_dataset_tag(&b.dataset_id, "k").await.unwrap();
    assert!(store
        .get_dataset(&b.dataset_id)
        .await
        .unwrap()
        .tags
        .is_empty());
    store
        .remove_dataset_from_experiments(&b.dataset_id, vec![exp.clone()])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_dataset_experiment_ids(&b.dataset_id)
            .await
            .unwrap(),
        vec![other.clone()]
    );

    store.delete_dataset(&d.dataset_id).await.unwrap();
    let err = store.get_dataset(&d.dataset_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    // As in MLflow, deleting an unknown dataset is not an error; tagging one is.
    store.delete_dataset(&d.dataset_id).await.unwrap();
    let err = store
        .set_dataset_tags(&d.dataset_id, BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    let err = store
        .upsert_dataset_records(&d.dataset_id, vec![obj(json!({"inputs": {}}))])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

pub async fn scorer_registry<S: EvalStores>(store: Arc<S>) {
    let exp = experiment(&*store, "scorers").await;
    let v1 = store
        .register_scorer(&exp, "judge", "{\"v\": 1}".into())
        .await
        .unwrap();
    let v2 = store
        .register_scorer(&exp, "judge", "{\"v\": 2}".into())
        .await
        .unwrap();
    assert_eq!((v1.scorer_version, v2.scorer_version), (1, 2));
    assert_eq!(v1.scorer_id, v2.scorer_id);
    assert_eq!(v1.scorer_id.len(), 36);
    store
        .register_scorer(&exp, "another", "{}".into())
        .await
        .unwrap();
    let err = store
        .register_scorer(&exp, "  ", "{}".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    let listed = store.list_scorers(Some(vec![exp.clone()])).await.unwrap();
    let names: Vec<(&str, i64)> = listed
        .iter()
        .map(|s| (s.scorer_name.as_str(), s.scorer_version))
        .collect();
    assert_eq!(names, vec![("another", 1), ("judge", 2)]);
    assert!(store
        .list_scorers(None)
        .await
        .unwrap()
        .iter()
        .any(|s| s.experiment_id == exp));
    assert_eq!(
        store
            .get_scorer(&exp, "judge", None)
            .await
            .unwrap()
            .serialized_scorer,
        "{\"v\": 2}"
    );
    assert_eq!(
        store
            .get_scorer(&exp, "judge", Some(1))
            .await
            .unwrap()
            .serialized_scorer,
        "{\"v\": 1}"
    );
    let versions = store.list_scorer_versions(&exp, "judge").await.unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v.scorer_version)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );

    store.delete_scorer(&exp, "judge", Some(1)).await.unwrap();
    let err = store.get_scorer(&exp, "judge", Some(1)).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert!(err.message.contains("version 1 not found"));
    // A new version after a deletion still counts up from the highest left.
    let v3 = store
        .register_scorer(&exp, "judge", "{\"v\": 3}".into())
        .await
        .unwrap();
    assert_eq!(v3.scorer_version, 3);
    store.delete_scorer(&exp, "judge", None).await.unwrap();
    let err = store.get_scorer(&exp, "judge", None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    let err = store.delete_scorer(&exp, "judge", None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    // A deleted experiment's scorers are out of reach; unknown experiments are errors.
    store.delete_experiment(&exp).await.unwrap();
    let err = store.get_scorer(&exp, "another", None).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    assert!(store
        .list_scorers(Some(vec![exp.clone()]))
        .await
        .unwrap()
        .is_empty());
    let err = store
        .register_scorer("999999999", "x", "{}".into())
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

pub async fn online_scoring_configs<S: EvalStores>(store: Arc<S>) {
    let exp = experiment(&*store, "online-scoring").await;
    let gateway =
        r#"{"name": "polite", "builtin_scorer_pydantic_data": {"model": "gateway:/judge"}}"#;
    let other = r#"{"name": "plain", "builtin_scorer_pydantic_data": {"model": "openai:/gpt-4o"}}"#;
    let polite = store
        .register_scorer(&exp, "polite", gateway.into())
        .await
        .unwrap();
    let plain = store
        .register_scorer(&exp, "plain", other.into())
        .await
        .unwrap();
    let ids = vec![polite.scorer_id.clone(), plain.scorer_id.clone()];
    assert!(store
        .get_online_scoring_configs(ids.clone())
        .await
        .unwrap()
        .is_empty());

    let first = store
        .upsert_online_scoring_config(&exp, "polite", 0.25, Some("tags.env = 'prod'".into()))
        .await
        .unwrap();
    assert_eq!(first.scorer_id, polite.scorer_id);
    assert_eq!(first.experiment_id, exp);
    assert_eq!(first.online_scoring_config_id.len(), 32);
    // An upsert replaces the scorer's configuration (a new id, the new values).
    let second = store
        .upsert_online_scoring_config(&exp, "polite", 0.5, None)
        .await
        .unwrap();
    assert_ne!(
        second.online_scoring_config_id,
        first.online_scoring_config_id
    );
    // Stopping a judge that could not run online is allowed.
    let stopped = store
        .upsert_online_scoring_config(&exp, "plain", 0.0, None)
        .await
        .unwrap();
    let mut got = store.get_online_scoring_configs(ids.clone()).await.unwrap();
    got.sort_by(|a, b| a.sample_rate.total_cmp(&b.sample_rate));
    assert_eq!(got, vec![stopped, second]);

    for (name, rate, filter, code) in [
        ("plain", 0.5, None, ErrorCode::INVALID_PARAMETER_VALUE),
        ("polite", 1.5, None, ErrorCode::INVALID_PARAMETER_VALUE),
        (
            "polite",
            0.5,
            Some("not a filter"),
            ErrorCode::INVALID_PARAMETER_VALUE,
        ),
        ("nobody", 0.5, None, ErrorCode::RESOURCE_DOES_NOT_EXIST),
    ] {
        let err = store
            .upsert_online_scoring_config(&exp, name, rate, filter.map(String::from))
            .await
            .unwrap_err();
        assert_eq!(err.code, code, "{name} {rate}: {}", err.message);
    }
    let err = store
        .upsert_online_scoring_config("999999999", "polite", 0.5, None)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    // Deleting a scorer deletes its configuration.
    store.delete_scorer(&exp, "polite", None).await.unwrap();
    let got = store.get_online_scoring_configs(ids).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].scorer_id, plain.scorer_id);
}
