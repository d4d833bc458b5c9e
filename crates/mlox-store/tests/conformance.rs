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
