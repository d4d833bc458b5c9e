//! The store conformance suite: written once, run against every backend.
//!
//! Each test takes a fresh-or-shared store and uses unique experiment names, so the
//! same database can serve many tests at once.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

async fn new_run(store: &dyn TrackingStore, exp: &str) -> Run {
    store
        .create_run(NewRun {
            experiment_id: Some(exp.into()),
            user_id: Some("u".into()),
            ..Default::default()
        })
        .await
        .expect("create run")
}

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

pub async fn metrics_and_history(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("metrics"), None, vec![])
        .await
        .unwrap();
    let id = new_run(store.as_ref(), &exp).await.info.run_id;
    let points: Vec<Metric> = (0..1000)
        .map(|i| Metric::new("loss", 1.0 / (i as f64 + 1.0), 10_000 + i, i))
        .collect();
    store.log_batch(&id, points, vec![], vec![]).await.unwrap();
    // A repeated point is stored once.
    store
        .log_batch(
            &id,
            vec![Metric::new("loss", 1.0, 10_000, 0)],
            vec![],
            vec![],
        )
        .await
        .unwrap();
    // An older step does not replace the latest value.
    store
        .log_batch(&id, vec![Metric::new("loss", 42.0, 5, 3)], vec![], vec![])
        .await
        .unwrap();
    store
        .log_batch(
            &id,
            vec![
                Metric::new("nan", f64::NAN, 1, 0),
                Metric::new("inf", f64::INFINITY, 1, 0),
                Metric::new("ninf", f64::NEG_INFINITY, 1, 0),
            ],
            vec![],
            vec![],
        )
        .await
        .unwrap();
    let run = store.get_run(&id).await.unwrap();
    let latest = |k: &str| {
        run.data
            .metrics
            .iter()
            .find(|m| m.key == k)
            .cloned()
            .unwrap()
    };
    assert_eq!(latest("loss").step, 999);
    assert_eq!(latest("loss").value, 1.0 / 1000.0);
    assert!(latest("nan").value.is_nan());
    // Infinities are clamped to the largest doubles, as MLflow stores them.
    assert_eq!(latest("inf").value, f64::MAX);
    assert_eq!(latest("ninf").value, f64::MIN);

    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .get_metric_history(MetricHistoryRequest {
                run_id: id.clone(),
                metric_key: "loss".into(),
                max_results: Some(300),
                page_token: token,
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 300);
        all.extend(page.items);
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), 1001);
    assert_eq!(all[0].timestamp, 5, "ordered by timestamp first");
    let unpaged = store
        .get_metric_history(MetricHistoryRequest {
            run_id: id.clone(),
            metric_key: "loss".into(),
            max_results: None,
            page_token: None,
        })
        .await
        .unwrap();
    assert_eq!(unpaged.items, all);
    assert!(unpaged.next_page_token.is_none());

    let bulk = store
        .get_metric_history_bulk_interval(BulkIntervalRequest {
            run_ids: vec![id.clone()],
            metric_key: "loss".into(),
            start_step: Some(0),
            end_step: Some(999),
            max_results: Some(10),
        })
        .await
        .unwrap();
    assert_eq!(bulk.len(), 10);
    assert_eq!(bulk.first().unwrap().metric.step, 0);
    assert_eq!(bulk.last().unwrap().metric.step, 999);
    let again = store
        .get_metric_history_bulk_interval(BulkIntervalRequest {
            run_ids: vec![id.clone()],
            metric_key: "loss".into(),
            start_step: Some(0),
            end_step: Some(999),
            max_results: Some(10),
        })
        .await
        .unwrap();
    assert_eq!(bulk, again, "down-sampling is deterministic");

    let bad = Metric::new("bad;key", 1.0, 0, 0);
    assert_eq!(
        store
            .log_batch(&id, vec![bad], vec![], vec![])
            .await
            .unwrap_err()
            .code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
}

pub async fn search(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("search"), None, vec![])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..30i64 {
        let run = store
            .create_run(NewRun {
                experiment_id: Some(exp.clone()),
                user_id: Some(if i % 2 == 0 {
                    "even".into()
                } else {
                    "odd".into()
                }),
                run_name: Some(format!("run-{i:02}")),
                start_time: Some(1_000 + i),
                tags: vec![],
            })
            .await
            .unwrap();
        let id = run.info.run_id;
        let mut metrics = vec![];
        if i % 3 != 0 {
            metrics.push(Metric::new("acc", i as f64 / 100.0, 1, 0));
        }
        store
            .log_batch(
                &id,
                metrics,
                vec![
                    Tag::new("model", if i < 10 { "linear" } else { "Tree" }),
                    Tag::new("i", i.to_string()),
                ],
                vec![
                    Tag::new("group", format!("g{}", i % 5)),
                    Tag::new("weird key", "'; DROP TABLE runs; --"),
                ],
            )
            .await
            .unwrap();
        ids.push(id);
    }
    let search = |filter: &str, order: &[&str]| {
        let store = store.clone();
        let req = SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            filter: filter.to_string(),
            order_by: order.iter().map(|s| s.to_string()).collect(),
            max_results: Some(1000),
            ..Default::default()
        };
        async move { store.search_runs(req).await }
    };
    let names = |page: &Page<Run>| {
        page.items
            .iter()
            .map(|r| r.info.run_name.clone())
            .collect::<Vec<_>>()
    };

    let all = search("", &[]).await.unwrap();
    assert_eq!(all.items.len(), 30);
    assert_eq!(
        all.items[0].info.run_name, "run-29",
        "default order is start_time DESC"
    );

    assert_eq!(
        search("metrics.acc > 0.25", &[]).await.unwrap().items.len(),
        3
    ); // 26, 28, 29
    assert_eq!(
        search("params.model = 'linear'", &[])
            .await
            .unwrap()
            .items
            .len(),
        10
    );
    assert_eq!(
        search("params.model LIKE 't%'", &[])
            .await
            .unwrap()
            .items
            .len(),
        0,
        "LIKE is case-sensitive"
    );
    assert_eq!(
        search("params.model ILIKE 't%'", &[])
            .await
            .unwrap()
            .items
            .len(),
        20
    );
    assert_eq!(
        search("tags.group = 'g1' AND attributes.user_id = 'odd'", &[])
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        search("tags.`weird key` = \"'; DROP TABLE runs; --\"", &[])
            .await
            .unwrap()
            .items
            .len(),
        30
    );
    assert_eq!(
        search("tags.`weird key` LIKE '%DROP TABLE%'", &[])
            .await
            .unwrap()
            .items
            .len(),
        30
    );
    assert_eq!(
        search("attributes.run_name = 'run-07'", &[])
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        search("attributes.start_time >= 1025", &[])
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let in_list = format!("attributes.run_id IN ('{}', '{}')", ids[0], ids[1]);
    assert_eq!(search(&in_list, &[]).await.unwrap().items.len(), 2);
    assert_eq!(
        search("params.nothere IS NULL", &[])
            .await
            .unwrap()
            .items
            .len(),
        30
    );
    assert_eq!(
        search("params.model != 'linear'", &[])
            .await
            .unwrap()
            .items
            .len(),
        20
    );

    let by_metric = search("", &["metrics.acc DESC"]).await.unwrap();
    let n = names(&by_metric);
    assert_eq!(n[0], "run-29");
    // Runs without the metric come last.
    assert!(
        n[20..]
            .iter()
            .all(|name| name[4..].parse::<i64>().unwrap() % 3 == 0),
        "{n:?}"
    );
    let by_metric_asc = search("", &["metrics.acc ASC"]).await.unwrap();
    assert_eq!(names(&by_metric_asc)[0], "run-01");
    assert!(names(&by_metric_asc)[20..]
        .iter()
        .all(|name| name[4..].parse::<i64>().unwrap() % 3 == 0));
    let multi = search("", &["params.model ASC", "attributes.start_time ASC"])
        .await
        .unwrap();
    assert_eq!(
        names(&multi)[0],
        "run-10",
        "'Tree' sorts before 'linear' (byte order), then start_time"
    );

    assert_eq!(
        search("metrics.acc >", &[]).await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
    assert_eq!(
        search("", &["nonsense.key"]).await.unwrap_err().code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );

    // Pagination visits every run exactly once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_runs(SearchRunsRequest {
                experiment_ids: vec![exp.clone()],
                max_results: Some(7),
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(page.items.into_iter().map(|r| r.info.run_id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((seen.len(), sorted.len()), (30, 30));
    let bad_token = store
        .search_runs(SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            page_token: Some("garbage!".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_token.code, ErrorCode::INVALID_PARAMETER_VALUE);

    store.delete_run(&ids[0]).await.unwrap();
    let deleted = store
        .search_runs(SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            view_type: ViewType::DeletedOnly,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(deleted.items.len(), 1);
    let every = store
        .search_runs(SearchRunsRequest {
            experiment_ids: vec![exp.clone()],
            view_type: ViewType::All,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(every.items.len(), 30);
}

pub async fn search_experiments(store: Arc<dyn TrackingStore>) {
    let prefix = unique("sx");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .create_experiment(
                    format!("{prefix}-{i}"),
                    None,
                    vec![Tag::new("n", i.to_string())],
                )
                .await
                .unwrap(),
        );
    }
    let req = |filter: String, order: Vec<&str>| SearchExperimentsRequest {
        filter,
        order_by: order.into_iter().map(String::from).collect(),
        max_results: Some(100),
        ..Default::default()
    };
    let found = store
        .search_experiments(req(format!("name LIKE '{prefix}%'"), vec!["name DESC"]))
        .await
        .unwrap();
    assert_eq!(
        found
            .items
            .iter()
            .map(|e| e.name.clone())
            .collect::<Vec<_>>(),
        (0..5)
            .rev()
            .map(|i| format!("{prefix}-{i}"))
            .collect::<Vec<_>>()
    );
    let tagged = store
        .search_experiments(req(
            format!("name LIKE '{prefix}%' AND tags.n = '3'"),
            vec![],
        ))
        .await
        .unwrap();
    assert_eq!(tagged.items.len(), 1);
    assert_eq!(tagged.items[0].experiment_id, ids[3]);
    store.delete_experiment(&ids[0]).await.unwrap();
    let active = store
        .search_experiments(req(format!("name LIKE '{prefix}%'"), vec![]))
        .await
        .unwrap();
    assert_eq!(active.items.len(), 4);
    let mut paged = 0;
    let mut token = None;
    loop {
        let mut r = req(format!("name LIKE '{prefix}%'"), vec![]);
        r.max_results = Some(2);
        r.view_type = ViewType::All;
        r.page_token = token;
        let page = store.search_experiments(r).await.unwrap();
        paged += page.items.len();
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, 5);
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

/// Declares one `#[tokio::test]` per conformance test for a store constructor.
#[macro_export]
macro_rules! store_test_suite {
    ($make:expr) => {
        $crate::store_test_suite!(@tests $make; experiments_lifecycle, runs_lifecycle, metrics_and_history, search, search_experiments, datasets, concurrent_writers);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(store) = $make.await else { return };
                $crate::testsuite::$name(store).await;
            }
        )*
    };
}
