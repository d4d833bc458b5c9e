//! Runs the store conformance suite against SQLite (always) and PostgreSQL (when
//! `MLOX_TEST_POSTGRES_URL` names a server; the test script starts one, and sets
//! `MLOX_TEST_REQUIRE_POSTGRES=1` so that a missing server fails the run instead of
//! skipping it).

use std::sync::Arc;

use mlox_store::{SqlStore, StoreOptions, StoreUri};

/// A store under test, and the temporary folder holding its files (removed when the
/// test is done).
struct Fixture {
    store: Arc<SqlStore>,
    _dir: Option<tempfile::TempDir>,
}

impl AsRef<Arc<SqlStore>> for Fixture {
    fn as_ref(&self) -> &Arc<SqlStore> {
        &self.store
    }
}

async fn sqlite_store(opts: StoreOptions) -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let uri = StoreUri::Sqlite(dir.path().join("test.db"));
    Some(Fixture {
        store: Arc::new(SqlStore::open(&uri, opts).await.unwrap()),
        _dir: Some(dir),
    })
}

mod sqlite {
    use super::*;

    async fn make() -> Option<Fixture> {
        sqlite_store(StoreOptions::default()).await
    }

    mlox_store::store_test_suite!(make());
}

mod postgres {
    use super::*;

    async fn make() -> Option<Fixture> {
        let Some(url) = std::env::var("MLOX_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                std::env::var_os("MLOX_TEST_REQUIRE_POSTGRES").is_none(),
                "MLOX_TEST_REQUIRE_POSTGRES is set but MLOX_TEST_POSTGRES_URL is not"
            );
            eprintln!("SKIPPED: MLOX_TEST_POSTGRES_URL is not set, the PostgreSQL conformance run did not run");
            return None;
        };
        let uri = StoreUri::parse(&url).unwrap();
        Some(Fixture {
            store: Arc::new(SqlStore::open(&uri, StoreOptions::default()).await.unwrap()),
            _dir: None,
        })
    }

    mlox_store::store_test_suite!(make());
}

/// SQLite searches ordered by a metric, param or tag, with each plan pinned: both must give
/// exactly the runs the default choice gives (the suite's data is too small for the
/// default to ever walk the index).
mod sqlite_plans {
    use super::*;
    use mlox_store::SearchPlans;

    async fn make(search_plans: SearchPlans) -> Option<Fixture> {
        sqlite_store(StoreOptions {
            search_plans,
            ..StoreOptions::default()
        })
        .await
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
