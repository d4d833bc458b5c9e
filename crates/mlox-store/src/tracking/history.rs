//! Metric histories, whole or sampled.

use mlox_core::entities::*;
use mlox_core::validation::missing_value;
use mlox_core::{page_token, MlflowError, Result};

use crate::chunks;
use crate::db::{Conn, DbError, RowView};

use super::runs::get_run_info;

pub(crate) fn metric_point(r: &dyn RowView) -> Result<MetricPoint, DbError> {
    // Columns: step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest
    let origin = MetricOrigin {
        model_id: r.opt_text(4)?,
        dataset_name: r.opt_text(5)?,
        dataset_digest: r.opt_text(6)?,
    };
    Ok(MetricPoint {
        value: if r.int(3)? != 0 { f64::NAN } else { r.real(2)? },
        timestamp: r.int(1)?,
        step: r.int(0)?,
        origin: (origin != MetricOrigin::default()).then(|| Box::new(origin)),
    })
}

pub(crate) fn get_metric_history(
    c: &mut dyn Conn,
    req: MetricHistoryRequest,
) -> Result<Page<MetricPoint>> {
    if req.metric_key.is_empty() {
        return Err(missing_value("metric_key"));
    }
    if let Some(m) = req.max_results {
        if m <= 0 {
            return Err(MlflowError::invalid(format!(
                "Invalid value {m} for parameter 'max_results' supplied. It must be a positive integer."
            )));
        }
    }
    // An unknown run has an empty history, as in MLflow.
    let offset = page_token::decode(req.page_token.as_deref())?;
    let all =
        chunks::History::read(c, &req.run_id, &req.metric_key, None)?.finish(chunks::Order::Time);
    // Without max_results the whole history is returned.
    let limit = req.max_results.map_or(usize::MAX, |m| {
        usize::try_from(m).unwrap_or(usize::MAX).saturating_add(1)
    });
    let from = usize::try_from(offset).unwrap_or(usize::MAX).min(all.len());
    let mut items = all;
    items.truncate(from.saturating_add(limit));
    items.drain(..from);
    let next = req
        .max_results
        .and_then(|m| page_token::finish_page(&mut items, m, offset));
    Ok(Page {
        items,
        next_page_token: next,
    })
}

/// Row indices (0-based) of an even sample of `k` out of `n` rows, keeping the first and
/// last; with `k == 1`, the last only.
pub fn sample_indices(n: usize, k: usize) -> Vec<usize> {
    if n == 0 || k == 0 {
        return vec![];
    }
    if k >= n {
        return (0..n).collect();
    }
    if k == 1 {
        return vec![n - 1];
    }
    let mut out: Vec<usize> = (0..k)
        .map(|i| ((i as u128 * (n as u128 - 1) + (k as u128 - 1) / 2) / (k as u128 - 1)) as usize)
        .collect();
    out.dedup();
    out
}

pub(crate) const MAX_RESULTS_PER_RUN: i64 = 2500;
pub(crate) const MAX_RUNS_BULK: usize = 100;

pub(crate) fn get_metric_history_bulk_interval(
    c: &mut dyn Conn,
    req: BulkIntervalRequest,
) -> Result<Vec<MetricWithRunId>> {
    if req.run_ids.is_empty() {
        return Err(missing_value("run_ids"));
    }
    if req.metric_key.is_empty() {
        return Err(missing_value("metric_key"));
    }
    if req.run_ids.len() > MAX_RUNS_BULK {
        return Err(MlflowError::invalid(format!(
            "GetMetricHistoryBulkInterval request must specify at most {MAX_RUNS_BULK} run_ids. Received {} run_ids.",
            req.run_ids.len()
        )));
    }
    let max_results = req.max_results.unwrap_or(MAX_RESULTS_PER_RUN);
    if !(1..=MAX_RESULTS_PER_RUN).contains(&max_results) {
        return Err(MlflowError::invalid(format!(
            "max_results must be between 1 and {MAX_RESULTS_PER_RUN}."
        )));
    }
    let range = match (req.start_step, req.end_step) {
        (Some(s), Some(e)) if s > e => {
            return Err(MlflowError::invalid(format!(
                "end_step must be greater than start_step. Found start_step={s} and end_step={e}."
            )))
        }
        (Some(s), Some(e)) => Some((s, e)),
        (None, None) => None,
        _ => {
            return Err(MlflowError::invalid(
                "If either start step or end step are specified, both must be specified.",
            ))
        }
    };
    for id in &req.run_ids {
        get_run_info(c, id)?;
    }
    let mut out = Vec::new();
    for run_id in &req.run_ids {
        let points =
            chunks::History::read(c, run_id, &req.metric_key, range)?.finish(chunks::Order::Step);
        out.extend(
            sample_indices(points.len(), max_results as usize)
                .into_iter()
                .map(|i| MetricWithRunId {
                    run_id: run_id.clone(),
                    metric: points[i].to_metric(&req.metric_key),
                }),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_keeps_ends_and_is_bounded() {
        assert_eq!(sample_indices(10, 20), (0..10).collect::<Vec<_>>());
        assert_eq!(sample_indices(10, 1), vec![9]);
        assert_eq!(sample_indices(11, 3), vec![0, 5, 10]);
        let s = sample_indices(1_000_000, 2500);
        assert_eq!(s.len(), 2500);
        assert_eq!((s[0], s[2499]), (0, 999_999));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }
}
