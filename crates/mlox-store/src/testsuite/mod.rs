//! The store conformance suite: written once, run against every backend.
//!
//! Each test takes a fresh-or-shared store and uses unique experiment names, so the
//! same database can serve many tests at once.
//!
//! Compiled only with the `testsuite` feature, which the crates that run the suite enable
//! through their dev-dependencies (`tests/conformance.rs` here); the shipped library does
//! not carry it.

mod auth;
mod corrupt;
mod eval;
mod experiments;
mod logged_models;
mod metrics;
mod registry;
mod runs;
mod search;
mod traces;
mod webhooks;

pub use auth::auth_store;
pub use corrupt::corrupted_rows;
pub use eval::{evaluation_datasets, online_scoring_configs, scorer_registry};
pub use experiments::{experiments_lifecycle, run_counts};
pub use logged_models::logged_models_lifecycle;
pub use metrics::{history_shapes, metrics_and_history};
pub use registry::{model_versions, registered_models};
pub use runs::{concurrent_writers, datasets, permanent_deletion, runs_lifecycle};
pub use search::{search, search_experiments, search_order_and_pages};
pub use traces::{assessments, trace_runs_and_deletion, trace_search, traces_ingest_and_read};
pub use webhooks::webhooks;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;

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

/// Declares one `#[tokio::test]` per conformance test for a store constructor.
#[macro_export]
macro_rules! store_test_suite {
    ($make:expr) => {
        $crate::store_test_suite!(@tests $make; experiments_lifecycle, runs_lifecycle, metrics_and_history, history_shapes, search, search_order_and_pages, search_experiments, datasets, concurrent_writers, run_counts, permanent_deletion, logged_models_lifecycle, registered_models, model_versions, webhooks, traces_ingest_and_read, trace_search, trace_runs_and_deletion, assessments, auth_store, evaluation_datasets, scorer_registry, online_scoring_configs, corrupted_rows);
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
