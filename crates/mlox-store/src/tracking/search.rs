//! Run searches, and the planner statistics of the tables they search.

use std::collections::HashMap;

use mlox_core::entities::*;
use mlox_core::{page_token, validation, Result};

use crate::db::{in_list, in_list_len, Conn, Dialect, RowView, SqlValue};
use crate::{search_sql, SearchPlans};

use super::parse_experiment_id;
use super::runs::{load_runs, run_info_from_row, RUN_COLUMNS};

/// The tables whose statistics guide run searches (see `SqlStore`'s planner statistics).
const SEARCHED_TABLES: [&str; 4] = ["runs", "params", "tags", "latest_metrics"];

/// The number of runs now, counted up to `cap` only (so that opening a large store
/// costs no full count), and at the last analysis of the searched tables (0: never).
pub(crate) fn planner_stats_state(c: &mut dyn Conn, cap: u64) -> Result<(u64, u64)> {
    let runs = c
        .query_opt(
            "SELECT COUNT(*) FROM (SELECT 1 FROM runs LIMIT ?) capped",
            &[(cap as i64).into()],
        )?
        .map_or(Ok(0), |r| r.int(0))?;
    let analyzed = match c.dialect() {
        Dialect::Sqlite => {
            let exists = c
                .query_opt(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'",
                    &[],
                )?
                .is_some();
            if exists {
                c.query_opt("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' AND idx = 'runs_by_experiment'", &[])?
                    .map(|r| r.text(0))
                    .transpose()?
                    .and_then(|stat| stat.split(' ').next().and_then(|n| n.parse().ok()))
                    .unwrap_or(0)
            } else {
                0
            }
        }
        // -1 (or 0 before PostgreSQL 14) until the table is first analyzed.
        Dialect::Postgres => c
            .query_opt(
                "SELECT reltuples::BIGINT FROM pg_class WHERE oid = 'runs'::regclass",
                &[],
            )?
            .map_or(Ok(0), |r| r.int(0))?,
    };
    Ok((runs.max(0) as u64, analyzed.max(0) as u64))
}

/// Refreshes the planner's statistics of the searched tables.
pub(crate) fn analyze(c: &mut dyn Conn) -> Result<()> {
    match c.dialect() {
        Dialect::Sqlite => {
            for t in SEARCHED_TABLES {
                c.execute(&format!("ANALYZE {t}"), &[])?;
            }
        }
        Dialect::Postgres => {
            c.execute(&format!("ANALYZE {}", SEARCHED_TABLES.join(", ")), &[])?;
        }
    }
    Ok(())
}

pub(crate) fn search_runs(
    c: &mut dyn Conn,
    req: SearchRunsRequest,
    plans: SearchPlans,
) -> Result<Page<Run>> {
    let max_results = req
        .max_results
        .unwrap_or(validation::SEARCH_MAX_RESULTS_DEFAULT);
    validation::validate_search_max_results(max_results)?;
    let offset = page_token::decode(req.page_token.as_deref())?;
    let mut experiment_ids = Vec::with_capacity(req.experiment_ids.len());
    for id in &req.experiment_ids {
        experiment_ids.push(parse_experiment_id(id)?);
    }
    if experiment_ids.is_empty() {
        return Ok(Page {
            items: vec![],
            next_page_token: None,
        });
    }
    let queries =
        search_sql::runs_queries(&req.filter, &req.order_by, req.view_type, &experiment_ids)?;
    // The page is rows [offset, offset + max_results] (one more to know whether a next
    // page exists) of the statements' concatenation.
    let offset_rows = usize::try_from(offset).unwrap_or(usize::MAX);
    let wanted = offset_rows.saturating_add(max_results as usize + 1);
    let mut ids: Vec<String> = Vec::new();
    let mut skipped = 0usize;
    for search_sql::RunQuery { from, query, scan } in queries {
        if ids.len() + skipped >= wanted {
            break;
        }
        // Earlier statements' rows count toward the offset.
        let skip = offset_rows.saturating_sub(skipped + ids.len());
        let take = wanted - skipped - ids.len() - skip;
        let mut params = query.params;
        params.push(SqlValue::Int(i64::try_from(take).unwrap_or(i64::MAX)));
        params.push(SqlValue::Int(i64::try_from(skip).unwrap_or(i64::MAX)));
        // Sort only ids, then read the page's rows: the sorter stays small.
        let select = |from: &str, joins: &str| {
            format!(
                "SELECT r.run_uuid FROM {from} {joins} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
                query.where_sql, query.order_sql
            )
        };
        let sql = select(&from, &query.joins);
        let rows = match scan {
            Some(scan) if c.dialect() == Dialect::Sqlite => {
                let scan_sql = select(&scan.from, &scan.joins);
                match plans {
                    SearchPlans::Either => read_either(c, &sql, &scan_sql, &params)?,
                    SearchPlans::Planner => c.query(&sql, &params)?,
                    SearchPlans::IndexWalk => c.query(&scan_sql, &params)?,
                }
            }
            _ => c.query_replanned(&sql, &params)?,
        };
        if rows.is_empty() && skip > 0 {
            // This statement has at most `skip` rows: count them to carry the offset on.
            let count_sql = format!(
                "SELECT COUNT(*) FROM {} {} WHERE {}",
                from, query.joins, query.where_sql
            );
            let n = c
                .query_opt(&count_sql, &params[..params.len() - 2])?
                .map_or(Ok(0), |r| r.int(0))?;
            skipped += usize::try_from(n).unwrap_or(0);
            continue;
        }
        skipped += skip;
        for r in &rows {
            ids.push(r.text(0)?);
        }
    }
    let next = page_token::finish_page(&mut ids, max_results, offset);
    let mut by_id: HashMap<String, RunInfo> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(in_list_len(c.dialect())) {
        let mut args = Vec::new();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE {}",
            in_list(c.dialect(), "r.run_uuid", chunk, &mut args)
        );
        for row in c.query(&sql, &args)? {
            let info = run_info_from_row(&row)?;
            by_id.insert(info.run_id.clone(), info);
        }
    }
    let infos: Vec<RunInfo> = ids.iter().filter_map(|id| by_id.remove(id)).collect();
    Ok(Page {
        items: load_runs(c, infos)?,
        next_page_token: next,
    })
}

/// Work allowed to the planner's statement of an ordered search before the index walk is
/// tried, and to the index walk before the planner's statement runs whole, in
/// [`crate::db::WORK_UNIT`]s. A selective filter finishes within the first; a page of many
/// matches needs the second's fraction of the first's full cost (on 10,000 runs with a
/// third matching: 20 units instead of 150). The most that trying can waste is their sum,
/// a few milliseconds, on searches that cost more than the first budget anyway.
const PLANNED_BUDGET: u32 = 20;
const SCAN_BUDGET: u32 = 100;

/// Reads one statement of an ordered run search on SQLite: the planner's statement if it
/// is cheap, else the index walk (`scan_sql`) if that is, else the planner's whole.
fn read_either(
    c: &mut dyn Conn,
    sql: &str,
    scan_sql: &str,
    params: &[SqlValue],
) -> Result<Vec<crate::db::Row>> {
    if let Some(rows) = c.query_bounded(sql, params, PLANNED_BUDGET)? {
        return Ok(rows);
    }
    if let Some(rows) = c.query_bounded(scan_sql, params, SCAN_BUDGET)? {
        return Ok(rows);
    }
    Ok(c.query(sql, params)?)
}
