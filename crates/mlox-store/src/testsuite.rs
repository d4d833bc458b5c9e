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

/// Ordering by a metric, param or tag puts runs with a value first (NaN after numbers),
/// then runs without one; pages of any size cut anywhere through those groups.
pub async fn search_order_and_pages(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("order"), None, vec![])
        .await
        .unwrap();
    // 12 runs: value i/10 for i % 4 < 2, NaN for i % 4 == 2, no metric for i % 4 == 3.
    for i in 0..12i64 {
        let id = store
            .create_run(NewRun {
                experiment_id: Some(exp.clone()),
                run_name: Some(format!("r{i:02}")),
                start_time: Some(100 + i),
                ..Default::default()
            })
            .await
            .unwrap()
            .info
            .run_id;
        let metrics = match i % 4 {
            0 | 1 => vec![Metric::new("m", i as f64 / 10.0, 1, 0)],
            2 => vec![Metric::new("m", f64::NAN, 1, 0)],
            _ => vec![],
        };
        let params = if i % 3 == 0 {
            vec![]
        } else {
            vec![Param::new("p", format!("v{}", i % 5))]
        };
        let tags = if i % 2 == 0 {
            vec![Tag::new("t", format!("w{}", i % 3))]
        } else {
            vec![]
        };
        store.log_batch(&id, metrics, params, tags).await.unwrap();
    }
    let pages = |order: &str, filter: &str, size: i64| {
        let store = store.clone();
        let exp = exp.clone();
        let (order, filter) = (order.to_string(), filter.to_string());
        async move {
            let mut names = Vec::new();
            let mut token = None;
            loop {
                let page = store
                    .search_runs(SearchRunsRequest {
                        experiment_ids: vec![exp.clone()],
                        filter: filter.clone(),
                        order_by: vec![order.clone()],
                        max_results: Some(size),
                        page_token: token,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                assert!(page.items.len() as i64 <= size);
                names.extend(page.items.into_iter().map(|r| r.info.run_name));
                token = page.next_page_token;
                if token.is_none() {
                    return names;
                }
            }
        }
    };
    let desc = [
        "r09", "r08", "r05", "r04", "r01", "r00", // values, descending
        "r10", "r06", "r02", // NaN, then start_time DESC
        "r11", "r07", "r03", // no metric, start_time DESC
    ];
    let asc = [
        "r00", "r01", "r04", "r05", "r08", "r09", "r10", "r06", "r02", "r11", "r07", "r03",
    ];
    for size in [1, 2, 4, 5, 7, 12, 100] {
        assert_eq!(
            pages("metrics.m DESC", "", size).await,
            desc,
            "page size {size}"
        );
        assert_eq!(
            pages("metrics.m ASC", "", size).await,
            asc,
            "page size {size}"
        );
    }
    // With a filter, and ordered by a param (runs without it last).
    assert_eq!(
        pages("metrics.m DESC", "params.p != 'v0'", 2).await,
        ["r08", "r04", "r01", "r02", "r11", "r07"]
    );
    let by_param: Vec<String> = pages("params.p ASC", "", 3).await;
    assert_eq!(
        by_param,
        [
            "r10", "r05", "r11", "r01", "r07", "r02", "r08", "r04", // v0 v0 v1 v1 v2 v2 v3 v4
            "r09", "r06", "r03", "r00" // no param
        ]
    );
    // Ordered by a tag, descending, with a filter on a metric.
    assert_eq!(
        pages("tags.t DESC", "metrics.m >= 0", 2).await,
        ["r08", "r04", "r00", "r09", "r05", "r01"] // w2 w1 w0, then no tag
    );
}

/// Histories logged one point at a time, in very large batches, and mixed with points
/// that name a model or dataset, read back whole, in order and without repeats.
pub async fn history_shapes(store: Arc<dyn TrackingStore>) {
    let exp = store
        .create_experiment(unique("shapes"), None, vec![])
        .await
        .unwrap();
    let id = new_run(store.as_ref(), &exp).await.info.run_id;
    // One point per request, each logged twice (a client retry).
    for i in 0..300i64 {
        let m = Metric::new("single", i as f64, 1_000 + i, i);
        store.log_metric(&id, m.clone()).await.unwrap();
        store.log_metric(&id, m).await.unwrap();
    }
    // 10,000 points of one key in full batches, in reverse time order.
    for b in 0..10i64 {
        let big: Vec<Metric> = (b * 1_000..(b + 1) * 1_000)
            .map(|i| Metric::new("big", i as f64, 100_000 - i, i))
            .collect();
        store.log_batch(&id, big, vec![], vec![]).await.unwrap();
    }
    // A point with a dataset, between plain ones, and the same point without it.
    let mut tagged = Metric::new("mixed", 2.0, 20, 2);
    tagged.dataset_name = Some("train".into());
    tagged.dataset_digest = Some("abc".into());
    store
        .log_batch(
            &id,
            vec![
                Metric::new("mixed", 3.0, 30, 3),
                tagged,
                Metric::new("mixed", 1.0, 10, 1),
            ],
            vec![],
            vec![],
        )
        .await
        .unwrap();
    store
        .log_metric(&id, Metric::new("mixed", 2.0, 20, 2))
        .await
        .unwrap();
    let history = |key: &str| {
        let store = store.clone();
        let req = MetricHistoryRequest {
            run_id: id.clone(),
            metric_key: key.into(),
            max_results: None,
            page_token: None,
        };
        async move { store.get_metric_history(req).await.unwrap().items }
    };
    let single = history("single").await;
    assert_eq!(single.len(), 300, "each repeated point is returned once");
    assert!(single.iter().enumerate().all(|(i, p)| p.step == i as i64
        && p.value == i as f64
        && p.timestamp == 1_000 + i as i64));
    let big = history("big").await;
    assert_eq!(big.len(), 10_000);
    assert!(big.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    assert_eq!((big[0].step, big[0].timestamp), (9_999, 90_001));
    let mixed = history("mixed").await;
    let steps: Vec<i64> = mixed.iter().map(|p| p.step).collect();
    assert_eq!(steps, [1, 2, 3]);
    assert_eq!(
        mixed[1].to_metric("mixed").dataset_name.as_deref(),
        Some("train"),
        "the copy naming its dataset is kept"
    );
    // Paging through the large history, and a step range of it, sampled.
    let mut seen = 0;
    let mut token = None;
    loop {
        let page = store
            .get_metric_history(MetricHistoryRequest {
                run_id: id.clone(),
                metric_key: "big".into(),
                max_results: Some(3_000),
                page_token: token,
            })
            .await
            .unwrap();
        assert_eq!(page.items[0].step, 9_999 - seen as i64);
        seen += page.items.len();
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, 10_000);
    let sampled = store
        .get_metric_history_bulk_interval(BulkIntervalRequest {
            run_ids: vec![id.clone()],
            metric_key: "big".into(),
            start_step: Some(100),
            end_step: Some(200),
            max_results: Some(11),
        })
        .await
        .unwrap();
    let steps: Vec<i64> = sampled.iter().map(|p| p.metric.step).collect();
    assert_eq!(steps, (0..11).map(|i| 100 + 10 * i).collect::<Vec<i64>>());
    let run = store.get_run(&id).await.unwrap();
    let latest = |k: &str| run.data.metrics.iter().find(|m| m.key == k).unwrap().step;
    assert_eq!(
        (latest("single"), latest("big"), latest("mixed")),
        (299, 9_999, 3)
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

    // Steps logged against time (step 9 first): sampling still follows step order.
    let backwards: Vec<Metric> = (0..10)
        .map(|i| Metric::new("backwards", i as f64, 1_000 - i, 9 - i))
        .collect();
    store
        .log_batch(&id, backwards, vec![], vec![])
        .await
        .unwrap();
    let sampled = store
        .get_metric_history_bulk_interval(BulkIntervalRequest {
            run_ids: vec![id.clone()],
            metric_key: "backwards".into(),
            start_step: Some(2),
            end_step: Some(8),
            max_results: Some(3),
        })
        .await
        .unwrap();
    let steps: Vec<i64> = sampled.iter().map(|p| p.metric.step).collect();
    assert_eq!(steps, [2, 5, 8]);
    assert_eq!(sampled[0].metric.value, 7.0);
    assert_eq!(sampled[0].run_id, id);

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

    // Several filters on one key, mixed with other kinds, and ordered by the same metric.
    let range = search(
        "metrics.acc > 0.1 AND metrics.acc < 0.2 AND params.model = 'Tree' AND tags.group != 'g0'",
        &["metrics.acc ASC"],
    )
    .await
    .unwrap();
    assert_eq!(
        names(&range),
        ["run-11", "run-13", "run-14", "run-16", "run-17", "run-19"]
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

// ------------------------------------------------------------------------------------------------
// Logged models and the model registry
// ------------------------------------------------------------------------------------------------

/// What the registry tests need: one store serving tracking, logged models and the registry.
pub trait ModelStores:
    TrackingStore + mlox_core::store::ModelRegistryStore + mlox_core::store::LoggedModelStore
{
}
impl<S> ModelStores for S where
    S: TrackingStore + mlox_core::store::ModelRegistryStore + mlox_core::store::LoggedModelStore
{
}

async fn new_logged_model<S: ModelStores>(
    store: &S,
    exp: &str,
    name: &str,
    run_id: Option<&str>,
) -> mlox_core::logged_model::LoggedModel {
    use mlox_core::logged_model::NewLoggedModel;
    store
        .create_logged_model(NewLoggedModel {
            experiment_id: exp.into(),
            name: Some(name.into()),
            source_run_id: run_id.map(String::from),
            ..Default::default()
        })
        .await
        .expect("create logged model")
}

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

pub async fn registered_models<S: ModelStores>(store: Arc<S>) {
    use mlox_core::registry::*;
    let name = unique("rm");
    let rm = store
        .create_registered_model(
            name.clone(),
            vec![Tag::new("team", "a")],
            Some("desc".into()),
        )
        .await
        .unwrap();
    assert_eq!(rm.name, name);
    assert_eq!(rm.description.as_deref(), Some("desc"));
    assert_eq!(rm.tags, vec![Tag::new("team", "a")]);
    assert!(rm.latest_versions.is_empty());
    let dup = store
        .create_registered_model(name.clone(), vec![], None)
        .await
        .unwrap_err();
    assert_eq!(dup.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    assert_eq!(
        dup.message,
        format!("Registered Model (name={name}) already exists.")
    );
    for bad in ["a/b", "a:b", ""] {
        assert_eq!(
            store
                .create_registered_model(bad.into(), vec![], None)
                .await
                .unwrap_err()
                .code,
            ErrorCode::INVALID_PARAMETER_VALUE,
            "{bad}"
        );
    }
    let missing = store.get_registered_model("nope-nope").await.unwrap_err();
    assert_eq!(missing.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        missing.message,
        "Registered Model with name=nope-nope not found"
    );

    let updated = store
        .update_registered_model(&name, Some("new".into()))
        .await
        .unwrap();
    assert_eq!(updated.description.as_deref(), Some("new"));
    store
        .set_registered_model_tag(&name, Tag::new("team", "b"))
        .await
        .unwrap();
    store
        .set_registered_model_tag(&name, Tag::new("x", "1"))
        .await
        .unwrap();
    store.delete_registered_model_tag(&name, "x").await.unwrap();
    store.delete_registered_model_tag(&name, "x").await.unwrap();
    assert_eq!(
        store.get_registered_model(&name).await.unwrap().tags,
        vec![Tag::new("team", "b")]
    );

    // Rename carries versions, tags and aliases along.
    let exp = store
        .create_experiment(unique("rmx"), None, vec![])
        .await
        .unwrap();
    let run = new_run(store.as_ref(), &exp).await.info.run_id;
    store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("runs:/{run}/model"),
            run_id: Some(run.clone()),
            tags: vec![Tag::new("v", "1")],
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .set_registered_model_alias(&name, "champ", "1")
        .await
        .unwrap();
    let renamed = unique("rm-renamed");
    let rm = store
        .rename_registered_model(&name, renamed.clone())
        .await
        .unwrap();
    assert_eq!(rm.name, renamed);
    assert_eq!(rm.aliases, vec![("champ".to_string(), 1)]);
    assert_eq!(rm.latest_versions.len(), 1);
    assert_eq!(rm.latest_versions[0].name, renamed);
    let v = store.get_model_version(&renamed, "1").await.unwrap();
    assert_eq!(v.tags, vec![Tag::new("v", "1")]);
    assert_eq!(v.aliases, vec!["champ".to_string()]);
    assert_eq!(
        store.get_registered_model(&name).await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    let taken = unique("rm-taken");
    store
        .create_registered_model(taken.clone(), vec![], None)
        .await
        .unwrap();
    assert_eq!(
        store
            .rename_registered_model(&renamed, taken.clone())
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_ALREADY_EXISTS
    );

    // Search: the automatic prompt clause matches models without the tag.
    let prefix = unique("srch");
    for i in 0..5 {
        let tags = if i == 4 {
            vec![Tag::new(IS_PROMPT_TAG_KEY, "true")]
        } else {
            vec![Tag::new("i", i.to_string())]
        };
        store
            .create_registered_model(format!("{prefix}-{i}"), tags, None)
            .await
            .unwrap();
    }
    let names = |page: Page<RegisteredModel>| -> Vec<String> {
        page.items.into_iter().map(|m| m.name).collect()
    };
    let search =
        |filter: String, order_by: Vec<String>, max: Option<i64>, token: Option<String>| {
            RegistrySearchRequest {
                filter,
                order_by,
                max_results: max,
                page_token: token,
            }
        };
    let like = format!("name LIKE '{prefix}%' AND tag.`{IS_PROMPT_TAG_KEY}` != 'true'");
    let found = names(
        store
            .search_registered_models(search(like.clone(), vec![], None, None))
            .await
            .unwrap(),
    );
    assert_eq!(
        found,
        (0..4).map(|i| format!("{prefix}-{i}")).collect::<Vec<_>>()
    );
    let prompts = names(
        store
            .search_registered_models(search(
                format!("name LIKE '{prefix}%' AND tags.`{IS_PROMPT_TAG_KEY}` = 'true'"),
                vec![],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(prompts, vec![format!("{prefix}-4")]);
    let tagged = names(
        store
            .search_registered_models(search(
                format!("name ILIKE '{}%' AND tags.i = '2'", prefix.to_uppercase()),
                vec![],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(tagged, vec![format!("{prefix}-2")]);
    let listed = names(
        store
            .search_registered_models(search(
                format!("name IN ('{prefix}-1', '{prefix}-3')"),
                vec!["name DESC".into()],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(listed, vec![format!("{prefix}-3"), format!("{prefix}-1")]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_registered_models(search(like.clone(), vec![], Some(3), token))
            .await
            .unwrap();
        paged.extend(page.items.into_iter().map(|m| m.name));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, found);
    let err = store
        .search_registered_models(search(String::new(), vec![], Some(1001), None))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);

    store.delete_registered_model(&renamed).await.unwrap();
    assert_eq!(
        store
            .get_model_version(&renamed, "1")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert_eq!(
        store
            .delete_registered_model(&renamed)
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    // The name is free again, with versions starting over at 1.
    store
        .create_registered_model(renamed.clone(), vec![], None)
        .await
        .unwrap();
    let v = store
        .create_model_version(NewModelVersion {
            name: renamed.clone(),
            source: "s3://bucket/model".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v.version, 1);
}

pub async fn model_versions<S: ModelStores>(store: Arc<S>) {
    use mlox_core::logged_model::LoggedModelStatus;
    use mlox_core::registry::*;
    let exp = store
        .create_experiment(unique("mv"), None, vec![])
        .await
        .unwrap();
    let run = new_run(store.as_ref(), &exp).await;
    let run_id = run.info.run_id.clone();
    let lm = new_logged_model(store.as_ref(), &exp, "model", Some(&run_id)).await;
    store
        .finalize_logged_model(&lm.model_id, LoggedModelStatus::Ready)
        .await
        .unwrap();
    let name = unique("mv");
    store
        .create_registered_model(name.clone(), vec![], None)
        .await
        .unwrap();

    // 1: from a logged model; run id and storage location come from it.
    let v1 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("models:/{}", lm.model_id),
            model_id: Some(lm.model_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.current_stage, "None");
    assert_eq!(v1.status, "READY");
    assert_eq!(v1.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        v1.source.as_deref(),
        Some(format!("models:/{}", lm.model_id).as_str())
    );
    assert_eq!(
        store
            .get_model_version_download_uri(&name, "1")
            .await
            .unwrap(),
        lm.artifact_uri
    );
    let lm_tags = store
        .get_logged_model(&lm.model_id, false)
        .await
        .unwrap()
        .tags;
    assert_eq!(
        lm_tags,
        vec![Tag::new(
            MODEL_VERSIONS_TAG_KEY,
            format!("[{{\"name\": \"{name}\", \"version\": 1}}]")
        )]
    );
    // 2: from the run.
    let v2 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("runs:/{run_id}/model"),
            run_id: Some(run_id.clone()),
            description: Some("second".into()),
            tags: vec![Tag::new("k", "v")],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((v2.version, v2.description.as_deref()), (2, Some("second")));
    // 3: from the run's proxied artifacts.
    let v3 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("{}/model", run.info.artifact_uri),
            run_id: Some(run_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    // 4: an object store URI needs no run.
    let v4 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: "s3://bucket/path/model".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v4.run_id.as_deref(), Some(""));
    assert_eq!(
        store
            .get_model_version_download_uri(&name, "4")
            .await
            .unwrap(),
        "s3://bucket/path/model"
    );
    // 5: from another version: the source is pinned and lineage inherited.
    let v5 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: format!("models:/{name}/1"),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v5.run_id.as_deref(), Some(run_id.as_str()));
    assert_eq!(
        store
            .get_model_version_download_uri(&name, "5")
            .await
            .unwrap(),
        lm.artifact_uri
    );

    // Source checks.
    for (source, run, model) in [
        (format!("runs:/{run_id}/model"), None, None),
        ("runs:/other/model".to_string(), Some(run_id.clone()), None),
        (format!("models:/{}", lm.model_id), None, None),
        (
            "mlflow-artifacts:/1/other/artifacts/model".to_string(),
            Some(run_id.clone()),
            None,
        ),
        ("s3://bucket/a/../../b".to_string(), None, None),
        ("/tmp/model".to_string(), None, None),
        ("https://evil.example.com/model".to_string(), None, None),
        (
            format!("runs:/{run_id}/model"),
            None,
            Some(lm.model_id.clone()),
        ),
    ] {
        let err = store
            .create_model_version(NewModelVersion {
                name: name.clone(),
                source: source.clone(),
                run_id: run,
                model_id: model,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::INVALID_PARAMETER_VALUE,
            "{source}: {}",
            err.message
        );
        assert!(err.message.contains("source"), "{}", err.message);
    }
    let err = store
        .create_model_version(NewModelVersion {
            name: unique("no-such-model"),
            source: "s3://b/m".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    // Get, update, errors.
    let got = store.get_model_version(&name, "2").await.unwrap();
    assert_eq!(got.tags, vec![Tag::new("k", "v")]);
    let err = store.get_model_version(&name, "99").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        err.message,
        format!("Model Version (name={name}, version=99) not found")
    );
    let err = store.get_model_version(&name, "x").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    let upd = store
        .update_model_version(&name, "2", Some("changed".into()))
        .await
        .unwrap();
    assert_eq!(upd.description.as_deref(), Some("changed"));

    // Stages.
    let t = store
        .transition_model_version_stage(&name, "1", "production", false)
        .await
        .unwrap();
    assert_eq!(t.current_stage, "Production");
    // Timestamps are in milliseconds and release builds are faster than that: make this
    // transition strictly the latest update, as the default-order check below relies on it.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    store
        .transition_model_version_stage(&name, "2", "Production", true)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version(&name, "1")
            .await
            .unwrap()
            .current_stage,
        "Archived"
    );
    let err = store
        .transition_model_version_stage(&name, "3", "None", true)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INTERNAL_ERROR);
    let err = store
        .transition_model_version_stage(&name, "3", "prod", false)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    let latest = store.get_latest_versions(&name, vec![]).await.unwrap();
    let mut summary: Vec<(String, i64)> = latest
        .iter()
        .map(|v| (v.current_stage.clone(), v.version))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            ("Archived".to_string(), 1),
            ("None".to_string(), 5),
            ("Production".to_string(), 2)
        ]
    );
    let prod = store
        .get_latest_versions(&name, vec!["PRODUCTION".into()])
        .await
        .unwrap();
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0].version, 2);

    // Aliases.
    store
        .set_registered_model_alias(&name, "champion", "2")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "champion")
            .await
            .unwrap()
            .version,
        2
    );
    store
        .set_registered_model_alias(&name, "champion", "3")
        .await
        .unwrap();
    let by_alias = store
        .get_model_version_by_alias(&name, "champion")
        .await
        .unwrap();
    assert_eq!(
        (by_alias.version, by_alias.aliases.clone()),
        (3, vec!["champion".to_string()])
    );
    assert_eq!(
        store
            .get_model_version_by_alias(&name, "latest")
            .await
            .unwrap()
            .version,
        5
    );
    for bad in ["latest", "v1", "bad alias", ""] {
        assert_eq!(
            store
                .set_registered_model_alias(&name, bad, "1")
                .await
                .unwrap_err()
                .code,
            ErrorCode::INVALID_PARAMETER_VALUE,
            "{bad}"
        );
    }
    assert_eq!(
        store
            .set_registered_model_alias(&name, "ok", "42")
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    let err = store
        .get_model_version_by_alias(&name, "nope")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_PARAMETER_VALUE);
    assert_eq!(err.message, "Registered model alias nope not found.");
    assert_eq!(
        store.get_registered_model(&name).await.unwrap().aliases,
        vec![("champion".to_string(), 3)]
    );

    // Tags.
    store
        .set_model_version_tag(&name, "3", Tag::new("stage", "qa"))
        .await
        .unwrap();
    store
        .delete_model_version_tag(&name, "3", "stage")
        .await
        .unwrap();
    store
        .delete_model_version_tag(&name, "3", "stage")
        .await
        .unwrap();
    assert_eq!(
        store
            .set_model_version_tag(&name, "99", Tag::new("a", "b"))
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );

    // Search.
    let search = |filter: String, order: Vec<String>, max: Option<i64>, token: Option<String>| {
        RegistrySearchRequest {
            filter,
            order_by: order,
            max_results: max,
            page_token: token,
        }
    };
    let versions =
        |page: Page<ModelVersion>| -> Vec<i64> { page.items.iter().map(|v| v.version).collect() };
    let all = versions(
        store
            .search_model_versions(search(
                format!("name = '{name}'"),
                vec!["version_number ASC".into()],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(all, vec![1, 2, 3, 4, 5]);
    let by_run = versions(
        store
            .search_model_versions(search(
                format!("name = '{name}' AND run_id = '{run_id}' AND version_number > 1"),
                vec!["version_number DESC".into()],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(by_run, vec![5, 3, 2]);
    // Default order: most recently updated first (2 was updated and transitioned last).
    let recent = versions(
        store
            .search_model_versions(search(format!("name = '{name}'"), vec![], Some(1), None))
            .await
            .unwrap(),
    );
    assert_eq!(recent, vec![2]);
    let tagged = versions(
        store
            .search_model_versions(search(
                format!("name = '{name}' AND tags.k = 'v'"),
                vec![],
                None,
                None,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(tagged, vec![2]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_model_versions(search(
                format!("name = '{name}'"),
                vec!["version_number ASC".into()],
                Some(2),
                token,
            ))
            .await
            .unwrap();
        paged.extend(page.items.iter().map(|v| v.version));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, all);

    // Delete: the alias goes, the number is never reused.
    store.delete_model_version(&name, "3").await.unwrap();
    assert_eq!(
        store.get_model_version(&name, "3").await.unwrap_err().code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
    assert!(store
        .get_registered_model(&name)
        .await
        .unwrap()
        .aliases
        .is_empty());
    let v6 = store
        .create_model_version(NewModelVersion {
            name: name.clone(),
            source: "s3://bucket/six".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(v6.version, 6);
}

pub async fn webhooks<S: ModelStores>(store: Arc<S>) {
    use mlox_core::registry::*;
    let event = |entity, action| WebhookEvent::new(entity, action).unwrap();
    let created = event(WebhookEntity::ModelVersion, WebhookAction::Created);
    let hook = store
        .create_webhook(NewWebhook {
            name: "hook-1".into(),
            url: "https://example.com/hook".into(),
            events: vec![created],
            description: Some("d".into()),
            secret: Some("s3cret".into()),
            status: None,
        })
        .await
        .unwrap();
    assert_eq!(hook.status, WebhookStatus::Active);
    assert_eq!(hook.events, vec![created]);
    assert_eq!(hook.secret.as_deref(), Some("s3cret"));
    assert_eq!(store.get_webhook(&hook.webhook_id).await.unwrap(), hook);
    assert_eq!(
        store
            .create_webhook(NewWebhook {
                name: "-bad".into(),
                url: "https://example.com".into(),
                events: vec![created],
                description: None,
                secret: None,
                status: None,
            })
            .await
            .unwrap_err()
            .code,
        ErrorCode::INVALID_PARAMETER_VALUE
    );
    assert!(store
        .list_webhooks_by_event(created)
        .await
        .unwrap()
        .iter()
        .any(|h| h.webhook_id == hook.webhook_id));
    let tag_set = event(WebhookEntity::ModelVersionTag, WebhookAction::Set);
    let updated = store
        .update_webhook(
            &hook.webhook_id,
            WebhookUpdate {
                events: Some(vec![tag_set]),
                status: Some(WebhookStatus::Disabled),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.events, vec![tag_set]);
    assert_eq!(updated.status, WebhookStatus::Disabled);
    assert_eq!(updated.name, "hook-1");
    assert!(!store
        .list_webhooks_by_event(created)
        .await
        .unwrap()
        .iter()
        .any(|h| h.webhook_id == hook.webhook_id));
    let page = store.list_webhooks(Some(1), None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        store
            .list_webhooks(Some(0), None)
            .await
            .unwrap()
            .items
            .len()
            <= 100
    );
    store.delete_webhook(&hook.webhook_id).await.unwrap();
    let err = store.get_webhook(&hook.webhook_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
    assert_eq!(
        err.message,
        format!("Webhook with ID {} not found.", hook.webhook_id)
    );
    assert_eq!(
        store
            .delete_webhook(&hook.webhook_id)
            .await
            .unwrap_err()
            .code,
        ErrorCode::RESOURCE_DOES_NOT_EXIST
    );
}

/// Users, grants and access tokens of the basic-auth app.
pub async fn auth_store<S: mlox_core::auth::AuthStore>(store: Arc<S>) {
    // Names unique per run: a PostgreSQL test database is shared by runs.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (alice, bob) = (format!("alice-{tag}"), format!("bob-{tag}"));
    let a = store.create_user(&alice, "hash-a", false).await.unwrap();
    assert_eq!((a.username.as_str(), a.is_admin), (alice.as_str(), false));
    let err = store.create_user(&alice, "x", true).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    let b = store.create_user(&bob, "hash-b", true).await.unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(store.find_user(&alice).await.unwrap(), Some(a.clone()));
    assert_eq!(store.find_user_by_id(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.find_user("nobody-here").await.unwrap(), None);
    assert!(store.count_users().await.unwrap() >= 2);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert!(names.contains(&alice) && names.contains(&bob));

    store.update_password(&alice, "hash-a2").await.unwrap();
    store.update_admin(&alice, true).await.unwrap();
    let a2 = store.find_user(&alice).await.unwrap().unwrap();
    assert_eq!((a2.password_hash.as_str(), a2.is_admin), ("hash-a2", true));
    let err = store.update_password("nobody-here", "h").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);

    store
        .insert_grant(a.id, "experiment", "7", "EDIT")
        .await
        .unwrap();
    let err = store
        .insert_grant(a.id, "experiment", "7", "READ")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_ALREADY_EXISTS);
    store
        .insert_grant(a.id, "registered_model", "m", "DENY")
        .await
        .unwrap();
    store
        .insert_grant(b.id, "registered_model", "m", "MANAGE")
        .await
        .unwrap();
    assert_eq!(
        store.get_grant(a.id, "experiment", "7").await.unwrap(),
        Some("EDIT".into())
    );
    assert_eq!(
        store.get_grant(a.id, "experiment", "8").await.unwrap(),
        None
    );
    assert_eq!(store.list_grants(a.id).await.unwrap().len(), 2);
    store
        .rename_resource_grants("registered_model", "m", "m2")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_grant(b.id, "registered_model", "m2")
            .await
            .unwrap(),
        Some("MANAGE".into())
    );
    store
        .delete_resource_grants("registered_model", "m2")
        .await
        .unwrap();
    assert_eq!(store.list_grants(b.id).await.unwrap(), vec![]);
    assert!(store.delete_grant(a.id, "experiment", "7").await.unwrap());
    assert!(!store.delete_grant(a.id, "experiment", "7").await.unwrap());

    let hash = format!("token-hash-{tag}");
    let t = store.create_token(a.id, "ci", &hash, 42).await.unwrap();
    assert_eq!((t.name.as_str(), t.created_at), ("ci", 42));
    assert_eq!(
        store.find_token_user(&hash).await.unwrap().map(|u| u.id),
        Some(a.id)
    );
    assert_eq!(store.list_tokens(a.id).await.unwrap(), vec![t.clone()]);
    assert!(!store.delete_token(b.id, t.id).await.unwrap(), "not Bob's");
    store
        .insert_grant(a.id, "experiment", "9", "READ")
        .await
        .unwrap();
    // Deleting a user takes their grants and tokens along.
    store.delete_user(&alice).await.unwrap();
    assert_eq!(store.find_user(&alice).await.unwrap(), None);
    assert_eq!(store.find_token_user(&hash).await.unwrap(), None);
    assert_eq!(store.list_grants(a.id).await.unwrap(), vec![]);
    let err = store.delete_user(&alice).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::RESOURCE_DOES_NOT_EXIST);
}

/// Declares one `#[tokio::test]` per conformance test for a store constructor.
#[macro_export]
macro_rules! store_test_suite {
    ($make:expr) => {
        $crate::store_test_suite!(@tests $make; experiments_lifecycle, runs_lifecycle, metrics_and_history, history_shapes, search, search_order_and_pages, search_experiments, datasets, concurrent_writers, run_counts, permanent_deletion, logged_models_lifecycle, registered_models, model_versions, webhooks, traces_ingest_and_read, trace_search, trace_runs_and_deletion, assessments, auth_store, evaluation_datasets, scorer_registry, online_scoring_configs);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                // `make` gives whatever keeps the store's files alive (a temporary folder,
                // say) as long as it is held, and the store through `AsRef`.
                let Some(fixture) = $make.await else { return };
                let store = ::std::sync::Arc::clone(::std::convert::AsRef::<
                    ::std::sync::Arc<$crate::SqlStore>,
                >::as_ref(&fixture));
                $crate::testsuite::$name(store).await;
                drop(fixture);
            }
        )*
    };
}

#[path = "testsuite_traces.rs"]
mod traces;
pub use traces::{assessments, trace_runs_and_deletion, trace_search, traces_ingest_and_read};

#[path = "testsuite_eval.rs"]
mod eval;
pub use eval::{evaluation_datasets, online_scoring_configs, scorer_registry};
