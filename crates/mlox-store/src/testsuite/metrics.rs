//! Metrics and their histories.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;

use super::{new_run, unique};

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
