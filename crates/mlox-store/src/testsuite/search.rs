//! Run and experiment searches: filters, order, pages.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;

use super::unique;

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
