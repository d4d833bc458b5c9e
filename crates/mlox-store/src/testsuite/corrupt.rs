//! A row changed by hand so that a column holds what it cannot (text in a number column,
//! a NULL where the schema has none): reads fail with an internal error naming the
//! column, never a panic or a silent 0 or empty string.

use std::sync::Arc;

use mlox_core::entities::*;
use mlox_core::store::TrackingStore;
use mlox_core::ErrorCode;

use super::{new_run, unique};
use crate::db::{Dialect, SqlValue};
use crate::SqlStore;

/// Runs `sql` outside the store's API, with `run_id` as its parameter where it has one.
async fn raw(store: &SqlStore, sql: &'static str, run_id: &str) {
    let args: Vec<SqlValue> = if sql.contains('?') {
        vec![run_id.into()]
    } else {
        vec![]
    };
    store
        .db
        .write(move |c| Ok(c.execute(sql, &args)?))
        .await
        .unwrap();
}

async fn dialect(store: &SqlStore) -> Dialect {
    store.db.read(|c| Ok(c.dialect())).await.unwrap()
}

async fn assert_fails_naming(store: &SqlStore, run_id: &str, column: &str) {
    let err = store.get_run(run_id).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::INTERNAL_ERROR, "{err:?}");
    assert!(
        err.message.contains(column),
        "the error names the column `{column}`: {}",
        err.message
    );
}

pub async fn corrupted_rows(store: Arc<SqlStore>) {
    let exp = store
        .create_experiment(unique("corrupt"), None, vec![])
        .await
        .unwrap();
    let run = new_run(&*store, &exp).await;
    let id = run.info.run_id.clone();
    store
        .log_batch(&id, vec![Metric::new("m", 1.5, 10, 0)], vec![], vec![])
        .await
        .unwrap();
    // Valid rows read as written.
    let read = store.get_run(&id).await.unwrap();
    assert_eq!(read.data.metrics[0].value, 1.5);

    match dialect(&store).await {
        Dialect::Sqlite => {
            // SQLite keeps text that does not read as a number in a number column.
            raw(
                &store,
                "UPDATE runs SET start_time = 'soon' WHERE run_uuid = ?",
                &id,
            )
            .await;
            assert_fails_naming(&store, &id, "start_time").await;
            raw(
                &store,
                "UPDATE runs SET start_time = 5 WHERE run_uuid = ?",
                &id,
            )
            .await;
            assert_eq!(store.get_run(&id).await.unwrap().info.start_time, 5);

            // A row read in place (the run's latest metrics).
            raw(
                &store,
                "UPDATE latest_metrics SET value = 'high' WHERE run_uuid = ?",
                &id,
            )
            .await;
            assert_fails_naming(&store, &id, "value").await;
            raw(
                &store,
                "UPDATE latest_metrics SET value = 2.5 WHERE run_uuid = ?",
                &id,
            )
            .await;
            assert_eq!(store.get_run(&id).await.unwrap().data.metrics[0].value, 2.5);
        }
        Dialect::Postgres => {
            // A NULL where the schema had none: the constraint is dropped for the moment
            // of the test, and put back.
            raw(
                &store,
                "ALTER TABLE runs ALTER COLUMN user_id DROP NOT NULL",
                &id,
            )
            .await;
            raw(
                &store,
                "UPDATE runs SET user_id = NULL WHERE run_uuid = ?",
                &id,
            )
            .await;
            assert_fails_naming(&store, &id, "user_id").await;
            raw(
                &store,
                "UPDATE runs SET user_id = 'u' WHERE run_uuid = ?",
                &id,
            )
            .await;
            raw(
                &store,
                "ALTER TABLE runs ALTER COLUMN user_id SET NOT NULL",
                &id,
            )
            .await;
            assert_eq!(store.get_run(&id).await.unwrap().info.user_id, "u");
        }
    }
}
