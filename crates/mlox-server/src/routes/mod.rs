//! The tracking REST API: every MLflow path, mounted under both `/api/2.0` and
//! `/ajax-api/2.0`.

pub(crate) mod artifacts;
mod eval;
mod experiments;
mod logged_models;
mod metrics;
mod registry;
mod runs;
mod traces;
mod webhooks;

use axum::routing::{get, post, MethodRouter};
use axum::Router;

use crate::SharedState;

/// Routes as `(path below /mlflow, handler)`.
fn tracking_routes() -> Vec<(&'static str, MethodRouter<SharedState>)> {
    vec![
        ("/experiments/create", post(experiments::create)),
        ("/experiments/get", get(experiments::get)),
        ("/experiments/get-by-name", get(experiments::get_by_name)),
        (
            "/experiments/search",
            post(experiments::search).get(experiments::search),
        ),
        ("/experiments/delete", post(experiments::delete)),
        ("/experiments/restore", post(experiments::restore)),
        ("/experiments/update", post(experiments::update)),
        (
            "/experiments/set-experiment-tag",
            post(experiments::set_tag),
        ),
        (
            "/experiments/delete-experiment-tag",
            post(experiments::delete_tag),
        ),
        ("/runs/create", post(runs::create)),
        ("/runs/get", get(runs::get)),
        ("/runs/update", post(runs::update)),
        ("/runs/delete", post(runs::delete)),
        ("/runs/restore", post(runs::restore)),
        ("/runs/search", post(runs::search).get(runs::search)),
        ("/runs/log-metric", post(runs::log_metric)),
        ("/runs/log-parameter", post(runs::log_param)),
        ("/runs/set-tag", post(runs::set_tag)),
        ("/runs/delete-tag", post(runs::delete_tag)),
        ("/runs/log-batch", post(runs::log_batch)),
        ("/runs/log-inputs", post(runs::log_inputs)),
        ("/runs/outputs", post(runs::log_outputs)),
        ("/metrics/get-history", get(metrics::get_history)),
        (
            "/metrics/get-history-bulk-interval",
            get(metrics::get_history_bulk_interval),
        ),
        ("/artifacts/list", get(artifacts::list_run_artifacts)),
    ]
}

pub fn api_router() -> Router<SharedState> {
    let mut router = Router::new();
    for prefix in ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"] {
        let models = logged_models::routes()
            .into_iter()
            .chain(registry::routes())
            .chain(webhooks::routes());
        for (path, handler) in tracking_routes().into_iter().chain(models) {
            router = router.route(&format!("{prefix}{path}"), handler);
        }
    }
    // mlox's own routes (the web UI's run counts), outside MLflow's namespace.
    for prefix in ["/api/2.0/mlox", "/ajax-api/2.0/mlox"] {
        router = router.route(
            &format!("{prefix}/experiments/run-counts"),
            get(experiments::run_counts).post(experiments::run_counts),
        );
    }
    for prefix in ["/api", "/ajax-api"] {
        for (path, handler) in traces::routes().into_iter().chain(eval::routes()) {
            router = router.route(&format!("{prefix}{path}"), handler);
        }
    }
    router.route("/v1/traces", post(traces::otlp_traces))
}
