//! Runs the store conformance suite against SQLite (always) and PostgreSQL (when
//! `MLOX_TEST_POSTGRES_URL` names a server; the test script starts one).

use std::sync::Arc;

use mlox_store::{SqlStore, StoreOptions, StoreUri};

mod sqlite {
    use super::*;

    async fn make() -> Option<Arc<SqlStore>> {
        let dir = tempfile::tempdir().unwrap().keep();
        let uri = StoreUri::Sqlite(dir.join("test.db"));
        Some(Arc::new(
            SqlStore::open(&uri, StoreOptions::default()).await.unwrap(),
        ))
    }

    mlox_store::store_test_suite!(make());
}

mod postgres {
    use super::*;

    async fn make() -> Option<Arc<SqlStore>> {
        let Ok(url) = std::env::var("MLOX_TEST_POSTGRES_URL") else {
            eprintln!("MLOX_TEST_POSTGRES_URL not set: skipping the PostgreSQL conformance run");
            return None;
        };
        let uri = StoreUri::parse(&url).unwrap();
        Some(Arc::new(
            SqlStore::open(&uri, StoreOptions::default()).await.unwrap(),
        ))
    }

    mlox_store::store_test_suite!(make());
}

/// SQLite searches ordered by a metric, param or tag, with each plan pinned: both must give
/// exactly the runs the default choice gives (the suite's data is too small for the
/// default to ever walk the index).
mod sqlite_plans {
    use super::*;
    use mlox_store::SearchPlans;

    async fn make(search_plans: SearchPlans) -> Option<Arc<SqlStore>> {
        let dir = tempfile::tempdir().unwrap().keep();
        let uri = StoreUri::Sqlite(dir.join("test.db"));
        let opts = StoreOptions {
            search_plans,
            ..StoreOptions::default()
        };
        Some(Arc::new(SqlStore::open(&uri, opts).await.unwrap()))
    }

    mod index_walk {
        use super::*;
        mlox_store::store_test_suite!(@tests make(SearchPlans::IndexWalk); search, search_order_and_pages);
    }

    mod planner {
        use super::*;
        mlox_store::store_test_suite!(@tests make(SearchPlans::Planner); search, search_order_and_pages);
    }
}
