//! Tracking operations written once over [`Conn`], shared by both backends.

use std::collections::{BTreeMap, HashMap};

use mlox_core::entities::*;
use mlox_core::validation::{self, missing_value};
use mlox_core::{page_token, MlflowError, Result};

use crate::db::{in_list, in_list_len, placeholders, Conn, DbError, Dialect, RowView, SqlValue};
use crate::{chunks, search_sql, SearchPlans};

pub(crate) const RUN_NAME_TAG: &str = "mlflow.runName";

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Joins an artifact root and a child path as MLflow's `append_to_uri_path` does.
pub fn append_uri_path(root: &str, child: &str) -> String {
    if root.ends_with(':') {
        format!("{root}/{child}")
    } else {
        format!("{}/{child}", root.trim_end_matches('/'))
    }
}

fn parse_experiment_id(id: &str) -> Result<i64> {
    id.trim().parse::<i64>().map_err(|_| {
        MlflowError::invalid(format!(
            "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
        ))
    })
}

fn experiment_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("No Experiment with id={id} exists"))
}

fn run_not_found(id: &str) -> MlflowError {
    MlflowError::not_found(format!("Run with id={id} not found"))
}

const EXPERIMENT_COLUMNS: &str =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn load_experiment_tags(c: &mut dyn Conn, ids: &[i64]) -> Result<HashMap<i64, Vec<Tag>>> {
    let mut map: HashMap<i64, Vec<Tag>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let params: Vec<SqlValue> = chunk.iter().map(|i| SqlValue::Int(*i)).collect();
        let sql = format!(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN ({}) ORDER BY key",
            placeholders(chunk.len())
        );
        for r in c.query(&sql, &params)? {
            map.entry(r.int(0))
                .or_default()
                .push(Tag::new(r.text(1), r.text(2)));
        }
    }
    Ok(map)
}

fn experiments_from_rows(c: &mut dyn Conn, rows: Vec<crate::db::Row>) -> Result<Vec<Experiment>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.int(0)).collect();
    let mut tags = load_experiment_tags(c, &ids)?;
    Ok(rows
        .into_iter()
        .map(|r| Experiment {
            experiment_id: r.int(0).to_string(),
            name: r.text(1),
            artifact_location: r.text(2),
            lifecycle_stage: r.text(3),
            creation_time: r.int(4),
            last_update_time: r.int(5),
            tags: tags.remove(&r.int(0)).unwrap_or_default(),
        })
        .collect())
}

pub(crate) fn get_experiment(c: &mut dyn Conn, id: &str) -> Result<Experiment> {
    let eid = parse_experiment_id(id)?;
    let rows = c.query(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?"),
        &[eid.into()],
    )?;
    experiments_from_rows(c, rows)?
        .pop()
        .ok_or_else(|| experiment_not_found(id))
}

pub(crate) fn get_experiment_by_name(c: &mut dyn Conn, name: &str) -> Result<Experiment> {
    let rows = c.query(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE name = ?"),
        &[name.into()],
    )?;
    experiments_from_rows(c, rows)?.pop().ok_or_else(|| {
        MlflowError::not_found(format!("Could not find experiment with name '{name}'"))
    })
}

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
        .map_or(0, |r| r.int(0));
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
                    .and_then(|r| r.text(0).split(' ').next().and_then(|n| n.parse().ok()))
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
            .map_or(0, |r| r.int(0)),
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

/// Creates the default experiment "0" if the store has none.
pub(crate) fn ensure_default_experiment(c: &mut dyn Conn, artifact_root: &str) -> Result<()> {
    if c.query_opt("SELECT 1 FROM experiments WHERE experiment_id = 0", &[])?
        .is_some()
    {
        return Ok(());
    }
    let now = now_ms();
    c.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, 'Default', ?, 'active', ?, ?) ON CONFLICT DO NOTHING",
        &[append_uri_path(artifact_root, "0").into(), now.into(), now.into()],
    )?;
    Ok(())
}

pub(crate) fn create_experiment(
    c: &mut dyn Conn,
    artifact_root: &str,
    name: String,
    artifact_location: Option<String>,
    tags: Vec<Tag>,
) -> Result<String> {
    validation::validate_experiment_name(&name)?;
    for t in &tags {
        validation::validate_experiment_tag(&t.key, &t.value)?;
    }
    if let Some(loc) = &artifact_location {
        if loc.starts_with("runs:") {
            return Err(MlflowError::invalid(format!(
                "Artifact location cannot be a runs:/ URI. Given: '{loc}'"
            )));
        }
    }
    if c.query_opt(
        "SELECT 1 FROM experiments WHERE name = ?",
        &[name.as_str().into()],
    )?
    .is_some()
    {
        return Err(MlflowError::already_exists(format!(
            "Experiment(name={name}) already exists."
        )));
    }
    let now = now_ms();
    let row = c
        .query_opt(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', 'active', ?, ?) RETURNING experiment_id",
            &[name.as_str().into(), now.into(), now.into()],
        )
        .map_err(|e| match e {
            DbError::UniqueViolation(_) => MlflowError::already_exists(format!("Experiment(name={name}) already exists.")),
            e => e.into(),
        })?
        .ok_or_else(|| MlflowError::internal("experiment insert returned no id"))?;
    let id = row.int(0);
    let location = match artifact_location.filter(|l| !l.is_empty()) {
        Some(l) => l,
        None => append_uri_path(artifact_root, &id.to_string()),
    };
    c.execute(
        "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
        &[location.into(), id.into()],
    )?;
    for t in tags {
        c.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            &[id.into(), t.key.into(), t.value.into()],
        )?;
    }
    Ok(id.to_string())
}

fn active_experiment(c: &mut dyn Conn, id: &str) -> Result<i64> {
    let exp = get_experiment(c, id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {}.",
            exp.experiment_id, exp.lifecycle_stage
        )));
    }
    parse_experiment_id(id)
}

pub(crate) fn set_experiment_lifecycle(c: &mut dyn Conn, id: &str, delete: bool) -> Result<()> {
    let exp = get_experiment(c, id)?;
    let eid = parse_experiment_id(id)?;
    let (from, to) = if delete {
        (LIFECYCLE_ACTIVE, LIFECYCLE_DELETED)
    } else {
        (LIFECYCLE_DELETED, LIFECYCLE_ACTIVE)
    };
    if exp.lifecycle_stage != from {
        // MLflow looks the experiment up among the ones in the source state only.
        return Err(experiment_not_found(id));
    }
    if delete && eid == 0 {
        return Err(MlflowError::invalid(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
        ));
    }
    let now = now_ms();
    c.execute(
        "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?",
        &[to.into(), now.into(), eid.into()],
    )?;
    let deleted_time = if delete {
        SqlValue::Int(now)
    } else {
        SqlValue::Null
    };
    c.execute(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = ?",
        &[to.into(), deleted_time, eid.into(), from.into()],
    )?;
    Ok(())
}

pub(crate) fn rename_experiment(c: &mut dyn Conn, id: &str, new_name: String) -> Result<()> {
    validation::validate_experiment_name(&new_name)?;
    let exp = get_experiment(c, id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::new(
            mlox_core::ErrorCode::INVALID_STATE,
            "Cannot rename a non-active experiment.",
        ));
    }
    if exp.name == new_name {
        return Ok(());
    }
    if c.query_opt(
        "SELECT 1 FROM experiments WHERE name = ?",
        &[new_name.as_str().into()],
    )?
    .is_some()
    {
        // MLflow surfaces the database's unique-constraint error here as BAD_REQUEST.
        return Err(MlflowError::new(
            mlox_core::ErrorCode::BAD_REQUEST,
            format!("Experiment(name={new_name}) already exists. UNIQUE constraint failed: experiments.name"),
        ));
    }
    c.execute(
        "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
        &[
            new_name.into(),
            now_ms().into(),
            parse_experiment_id(id)?.into(),
        ],
    )?;
    Ok(())
}

pub(crate) fn set_experiment_tag(c: &mut dyn Conn, id: &str, tag: Tag) -> Result<()> {
    validation::validate_experiment_tag(&tag.key, &tag.value)?;
    let eid = active_experiment(c, id)?;
    c.execute(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        &[eid.into(), tag.key.into(), tag.value.into()],
    )?;
    Ok(())
}

pub(crate) fn delete_experiment_tag(c: &mut dyn Conn, id: &str, key: &str) -> Result<()> {
    let eid = active_experiment(c, id)?;
    let n = c.execute(
        "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
        &[eid.into(), key.into()],
    )?;
    if n == 0 {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in experiment with id {id}"
        )));
    }
    Ok(())
}

pub(crate) fn search_experiments(
    c: &mut dyn Conn,
    req: SearchExperimentsRequest,
) -> Result<Page<Experiment>> {
    let max_results = req
        .max_results
        .unwrap_or(validation::SEARCH_MAX_RESULTS_DEFAULT);
    validation::validate_search_max_results(max_results)?;
    let offset = page_token::decode(req.page_token.as_deref())?;
    let query = search_sql::experiments_query(&req.filter, &req.order_by, req.view_type)?;
    let mut params = query.params;
    params.push(SqlValue::Int(max_results + 1));
    params.push(SqlValue::Int(offset as i64));
    let sql = format!(
        "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage, e.creation_time, e.last_update_time FROM experiments e {} WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
        query.joins, query.where_sql, query.order_sql
    );
    let mut rows = c.query_replanned(&sql, &params)?;
    let next = page_token::finish_page(&mut rows, max_results, offset);
    Ok(Page {
        items: experiments_from_rows(c, rows)?,
        next_page_token: next,
    })
}

/// Active and total runs of each experiment, counted in one grouped scan per 500 ids of
/// the `runs_by_experiment` index (experiment, lifecycle stage, …), which covers it.
pub(crate) fn count_runs(c: &mut dyn Conn, experiment_ids: &[String]) -> Result<Vec<RunCounts>> {
    let ids = experiment_ids
        .iter()
        .map(|id| parse_experiment_id(id))
        .collect::<Result<Vec<i64>>>()?;
    let mut counts: HashMap<i64, (i64, i64)> = HashMap::new();
    for chunk in ids.chunks(500) {
        let params: Vec<SqlValue> = chunk.iter().map(|i| SqlValue::Int(*i)).collect();
        let sql = format!(
            "SELECT experiment_id, lifecycle_stage, COUNT(*) FROM runs WHERE experiment_id IN ({}) GROUP BY experiment_id, lifecycle_stage",
            placeholders(chunk.len())
        );
        for r in c.query(&sql, &params)? {
            let entry = counts.entry(r.int(0)).or_default();
            let n = r.int(2);
            if r.text(1) == LIFECYCLE_ACTIVE {
                entry.0 += n;
            }
            entry.1 += n;
        }
    }
    Ok(ids
        .iter()
        .map(|id| {
            let (active, total) = counts.get(id).copied().unwrap_or_default();
            RunCounts {
                experiment_id: id.to_string(),
                active,
                total,
            }
        })
        .collect())
}

// ---------------------------------------------------------------- runs

const RUN_COLUMNS: &str =
    "r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

fn run_info_from_row(r: &crate::db::Row) -> Result<RunInfo> {
    Ok(RunInfo {
        run_id: r.text(0),
        run_name: r.text(1),
        experiment_id: r.int(2).to_string(),
        user_id: r.text(3),
        status: RunStatus::parse(&r.text(4))?,
        start_time: r.int(5),
        end_time: r.opt_int(6),
        artifact_uri: r.text(7),
        lifecycle_stage: r.text(8),
    })
}

fn get_run_info(c: &mut dyn Conn, run_id: &str) -> Result<RunInfo> {
    let row = c
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?"),
            &[run_id.into()],
        )?
        .ok_or_else(|| run_not_found(run_id))?;
    run_info_from_row(&row)
}

fn active_run(c: &mut dyn Conn, run_id: &str) -> Result<RunInfo> {
    let info = get_run_info(c, run_id)?;
    if info.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is {}.",
            info.lifecycle_stage
        )));
    }
    Ok(info)
}

/// Loads the full runs (data and inputs) for the given infos, keeping their order.
fn load_runs(c: &mut dyn Conn, infos: Vec<RunInfo>) -> Result<Vec<Run>> {
    let mut runs: Vec<Run> = infos
        .into_iter()
        .map(|info| Run {
            info,
            data: RunData::default(),
            inputs: vec![],
            model_inputs: vec![],
            model_outputs: vec![],
        })
        .collect();
    let index: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.info.run_id.clone(), i))
        .collect();
    let per_statement = in_list_len(c.dialect());
    for start in (0..runs.len()).step_by(per_statement) {
        let end = start.saturating_add(per_statement).min(runs.len());
        let chunk: Vec<String> = runs[start..end]
            .iter()
            .map(|r| r.info.run_id.clone())
            .collect();
        let mut ids = Vec::new();
        let is_run = in_list(c.dialect(), "run_uuid", &chunk, &mut ids);
        let is_input_run = in_list(c.dialect(), "ri.run_uuid", &chunk, &mut Vec::new());
        // Params, tags and metrics are read in place, row by row: a page of runs has
        // thousands of them.
        c.query_each(
            &format!("SELECT run_uuid, key, value FROM params WHERE {is_run} ORDER BY key"),
            &ids,
            &mut |r| {
                if let Some(&i) = index.get(r.str(0)) {
                    runs[i].data.params.push(Tag::new(r.str(1), r.str(2)));
                }
            },
        )?;
        c.query_each(
            &format!("SELECT run_uuid, key, value FROM tags WHERE {is_run} ORDER BY key"),
            &ids,
            &mut |r| {
                if let Some(&i) = index.get(r.str(0)) {
                    runs[i].data.tags.push(Tag::new(r.str(1), r.str(2)));
                }
            },
        )?;
        c.query_each(
            &format!("SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE {is_run} ORDER BY key"),
            &ids,
            &mut |r| {
                if let Some(&i) = index.get(r.str(0)) {
                    let value = if r.int(5) != 0 { f64::NAN } else { r.real(2) };
                    runs[i]
                        .data
                        .metrics
                        .push(Metric::new(r.str(1), value, r.int(3), r.int(4)));
                }
            },
        )?;
        let mut inputs: HashMap<(String, String), usize> = HashMap::new();
        for r in c.query(
            &format!(
                "SELECT ri.run_uuid, d.dataset_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile FROM run_inputs ri JOIN datasets d ON d.dataset_uuid = ri.dataset_uuid WHERE {is_input_run} ORDER BY d.name, d.digest"
            ),
            &ids,
        )? {
            if let Some(&i) = index.get(r.str(0)) {
                let run = &mut runs[i];
                inputs.insert((r.text(0), r.text(1)), run.inputs.len());
                run.inputs.push(DatasetInput {
                    tags: vec![],
                    dataset: Dataset {
                        name: r.text(2),
                        digest: r.text(3),
                        source_type: r.text(4),
                        source: r.text(5),
                        schema: r.opt_text(6),
                        profile: r.opt_text(7),
                    },
                });
            }
        }
        if !inputs.is_empty() {
            for r in c.query(
                &format!("SELECT run_uuid, dataset_uuid, key, value FROM run_input_tags WHERE {is_run} ORDER BY key"),
                &ids,
            )? {
                if let (Some(idx), Some(&i)) =
                    (inputs.get(&(r.text(0), r.text(1))), index.get(r.str(0)))
                {
                    runs[i].inputs[*idx].tags.push(Tag::new(r.text(2), r.text(3)));
                }
            }
        }
        for r in c.query(
            &format!("SELECT run_uuid, direction, model_id, step FROM run_model_io WHERE {is_run} ORDER BY model_id"),
            &ids,
        )? {
            if let Some(&i) = index.get(r.str(0)) {
                if r.str(1) == "input" {
                    runs[i].model_inputs.push(r.text(2));
                } else {
                    runs[i].model_outputs.push((r.text(2), r.int(3)));
                }
            }
        }
    }
    Ok(runs)
}

pub(crate) fn get_run(c: &mut dyn Conn, run_id: &str) -> Result<Run> {
    let info = get_run_info(c, run_id)?;
    load_runs(c, vec![info])?
        .pop()
        .ok_or_else(|| run_not_found(run_id))
}

pub(crate) fn create_run(c: &mut dyn Conn, req: NewRun) -> Result<Run> {
    let experiment_id = req
        .experiment_id
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "0".to_string());
    // Only what a new run needs of its experiment (not its tags).
    let eid = parse_experiment_id(&experiment_id)?;
    let (artifact_location, stage) = c
        .query_opt(
            "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
            &[eid.into()],
        )?
        .map(|r| (r.text(0), r.text(1)))
        .ok_or_else(|| experiment_not_found(&experiment_id))?;
    if stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {eid} must be in the 'active' state. Current state is {stage}."
        )));
    }
    let mut tags = req.tags;
    for (i, t) in tags.iter_mut().enumerate() {
        validation::validate_tag(t, &format!("tags[{i}]"))?;
    }
    let tag_name = tags
        .iter()
        .find(|t| t.key == RUN_NAME_TAG)
        .map(|t| t.value.clone());
    let run_name = req.run_name.filter(|n| !n.is_empty());
    if let (Some(a), Some(b)) = (&run_name, &tag_name) {
        if a != b {
            return Err(MlflowError::invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
            )));
        }
    }
    let name = run_name
        .or(tag_name.clone())
        .unwrap_or_else(crate::names::generate);
    if tag_name.is_none() {
        tags.push(Tag::new(RUN_NAME_TAG, name.clone()));
    }
    // 32 hex digits, as MLflow's ids, but ordered by creation time (UUID version 7): a new
    // run's entries in the indexes keyed by run id land on the last pages instead of
    // anywhere, so a commit writes a few pages, not one per index per run, and the runs of
    // one experiment sit together.
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let artifact_uri = append_uri_path(&append_uri_path(&artifact_location, &run_id), "artifacts");
    let start_time = req.start_time.unwrap_or_else(now_ms);
    let user_id = req.user_id.unwrap_or_default();
    c.execute(
        "INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, 'active')",
        &[
            run_id.as_str().into(),
            name.as_str().into(),
            eid.into(),
            user_id.as_str().into(),
            start_time.into(),
            artifact_uri.as_str().into(),
        ],
    )?;
    for t in &tags {
        upsert_tag(c, &run_id, t)?;
    }
    // A new run has only its tags; build it rather than reading it back.
    let mut data = RunData {
        tags,
        ..Default::default()
    };
    data.tags.sort_by(|a, b| a.key.cmp(&b.key));
    data.tags.dedup_by(|b, a| {
        // Later duplicates of a key win, as the upserts above did.
        if a.key == b.key {
            a.value = b.value.clone();
            true
        } else {
            false
        }
    });
    Ok(Run {
        info: RunInfo {
            run_id,
            run_name: name,
            experiment_id: eid.to_string(),
            user_id,
            status: RunStatus::Running,
            start_time,
            end_time: None,
            artifact_uri,
            lifecycle_stage: LIFECYCLE_ACTIVE.to_string(),
        },
        data,
        inputs: vec![],
        model_inputs: vec![],
        model_outputs: vec![],
    })
}

fn upsert_tag(c: &mut dyn Conn, run_id: &str, t: &Tag) -> Result<()> {
    c.execute(
        "INSERT INTO tags (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
        &[run_id.into(), t.key.as_str().into(), t.value.as_str().into()],
    )?;
    Ok(())
}

pub(crate) fn update_run(c: &mut dyn Conn, run_id: &str, up: RunUpdate) -> Result<RunInfo> {
    active_run(c, run_id)?;
    if let Some(status) = up.status {
        c.execute(
            "UPDATE runs SET status = ? WHERE run_uuid = ?",
            &[status.as_str().into(), run_id.into()],
        )?;
    }
    if let Some(end) = up.end_time {
        c.execute(
            "UPDATE runs SET end_time = ? WHERE run_uuid = ?",
            &[end.into(), run_id.into()],
        )?;
    }
    if let Some(name) = up.run_name.filter(|n| !n.is_empty()) {
        c.execute(
            "UPDATE runs SET name = ? WHERE run_uuid = ?",
            &[name.as_str().into(), run_id.into()],
        )?;
        upsert_tag(c, run_id, &Tag::new(RUN_NAME_TAG, name))?;
    }
    get_run_info(c, run_id)
}

pub(crate) fn set_run_lifecycle(c: &mut dyn Conn, run_id: &str, delete: bool) -> Result<()> {
    get_run_info(c, run_id)?;
    let (stage, deleted_time) = if delete {
        (LIFECYCLE_DELETED, SqlValue::Int(now_ms()))
    } else {
        (LIFECYCLE_ACTIVE, SqlValue::Null)
    };
    c.execute(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?",
        &[stage.into(), deleted_time, run_id.into()],
    )?;
    if delete {
        crate::traces::delete_run_assessments(c, run_id)?;
    }
    Ok(())
}

/// Orders metric points as MLflow's `latest_metrics` does: by (step, timestamp, value).
fn newer(a: (i64, i64, f64), b: (i64, i64, f64)) -> bool {
    (a.0, a.1)
        .cmp(&(b.0, b.1))
        .then(a.2.total_cmp(&b.2))
        .is_gt()
}

/// Metrics, params and tags that passed MLflow's validation (long values truncated).
/// Validated before the write is queued, so that the writer spends no time on it.
pub(crate) struct Entities {
    metrics: Vec<Metric>,
    params: Vec<Param>,
    tags: Vec<Tag>,
    single: bool,
}

impl Entities {
    /// `single` selects the messages of the one-entity endpoints.
    pub(crate) fn validate(
        metrics: Vec<Metric>,
        mut params: Vec<Param>,
        mut tags: Vec<Tag>,
        single: bool,
    ) -> Result<Entities> {
        validation::validate_entities(&metrics, &mut params, &mut tags, single)?;
        Ok(Entities {
            metrics,
            params,
            tags,
            single,
        })
    }
}

/// Logs validated metrics, params and tags to an active run. Returns how many rows it
/// added to the searched tables (new params and metric keys; tags written), which is what
/// makes the planner's statistics due.
pub(crate) fn log_entities(c: &mut dyn Conn, run_id: &str, entities: Entities) -> Result<u64> {
    let Entities {
        metrics,
        params,
        tags,
        single,
    } = entities;
    active_run(c, run_id)?;
    let mut added = tags.len() as u64;
    // Params are immutable: the same value again is a no-op, a different one an error.
    if !params.is_empty() {
        let mut existing: HashMap<String, String> = HashMap::new();
        for chunk in params.chunks(in_list_len(c.dialect())) {
            let mut args: Vec<SqlValue> = vec![run_id.into()];
            let keys: Vec<String> = chunk.iter().map(|p| p.key.clone()).collect();
            let sql = format!(
                "SELECT key, value FROM params WHERE run_uuid = ? AND {}",
                in_list(c.dialect(), "key", &keys, &mut args)
            );
            for r in c.query(&sql, &args)? {
                existing.insert(r.text(0), r.text(1));
            }
        }
        let changed: Vec<&Param> = params
            .iter()
            .filter(|p| existing.get(&p.key).is_some_and(|v| *v != p.value))
            .collect();
        if let ([p], true) = (changed.as_slice(), single) {
            return Err(MlflowError::invalid(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with value='{}' for run ID='{run_id}'. Attempted logging new value '{}'.",
                p.key, existing[&p.key], p.value
            )));
        }
        if !changed.is_empty() {
            let list: Vec<String> = changed
                .iter()
                .map(|p| {
                    format!(
                        "{{'key': '{}', 'old_value': '{}', 'new_value': '{}'}}",
                        p.key, existing[&p.key], p.value
                    )
                })
                .collect();
            return Err(MlflowError::invalid(format!(
                "Changing param values is not allowed. Params were already logged='[{}]' for run ID='{run_id}'.",
                list.join(", ")
            )));
        }
        for p in params.iter().filter(|p| !existing.contains_key(&p.key)) {
            added += c.execute(
                "INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                &[
                    run_id.into(),
                    p.key.as_str().into(),
                    p.value.as_str().into(),
                ],
            )?;
        }
    }
    for t in &tags {
        upsert_tag(c, run_id, t)?;
        if t.key == RUN_NAME_TAG {
            c.execute(
                "UPDATE runs SET name = ? WHERE run_uuid = ?",
                &[t.value.as_str().into(), run_id.into()],
            )?;
        }
    }
    if !metrics.is_empty() {
        added += log_metrics(c, run_id, metrics)?;
    }
    Ok(added)
}

/// Returns the number of keys new to the run.
fn log_metrics(c: &mut dyn Conn, run_id: &str, metrics: Vec<Metric>) -> Result<u64> {
    if c.dialect() == Dialect::Postgres {
        // Several servers may write one run's metrics at once, each in its own group
        // transaction. Row locks alone (the last chunk, then the latest value) can cross:
        // a second request of a group, already holding the latest-value row, locks a chunk
        // another server's group has just locked before asking for that row. A lock on the
        // run, taken first by every metric write and held to the commit, gives one order.
        c.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
            &[run_id.into()],
        )?;
    }
    // Ordered by key, like the chunks below.
    let mut latest: BTreeMap<&str, (i64, i64, f64, bool)> = BTreeMap::new();
    // Plain points go to packed chunks, one list per key in first-seen order; points that
    // name a model or dataset get a row each (see chunks.rs).
    let mut plain: Vec<(&str, Vec<chunks::Plain>)> = Vec::new();
    // With each: its stored value and NaN flag.
    let mut rows: Vec<(&Metric, f64, bool)> = Vec::new();
    for m in &metrics {
        let is_nan = m.value.is_nan();
        // MLflow stores NaN as 0 with a flag and clamps infinities to the largest doubles.
        let value = if is_nan {
            0.0
        } else {
            m.value.clamp(f64::MIN, f64::MAX)
        };
        let cand = (m.step, m.timestamp, value, is_nan);
        match latest.get(m.key.as_str()) {
            Some(cur) if !newer((cand.0, cand.1, cand.2), (cur.0, cur.1, cur.2)) => {}
            _ => {
                latest.insert(m.key.as_str(), cand);
            }
        }
        if m.model_id.is_some() || m.dataset_name.is_some() || m.dataset_digest.is_some() {
            rows.push((m, value, is_nan));
            continue;
        }
        let point = chunks::Plain {
            step: m.step,
            timestamp: m.timestamp,
            value: if is_nan { f64::NAN } else { value },
        };
        match plain.iter_mut().find(|(k, _)| *k == m.key) {
            Some((_, list)) => list.push(point),
            None => plain.push((m.key.as_str(), vec![point])),
        }
    }
    // Keys in one order in every request, so that PostgreSQL writers lock rows in the
    // same order and never deadlock.
    plain.sort_unstable_by(|a, b| a.0.cmp(b.0));
    chunks::append_keys(c, run_id, &plain)?;
    // Multi-row INSERTs: one statement per `ROWS_PER_INSERT` points.
    const ROWS_PER_INSERT: usize = 100;
    const ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut args: Vec<SqlValue> = Vec::with_capacity(chunk.len() * 9);
        for &(m, value, is_nan) in chunk {
            args.extend([
                run_id.into(),
                m.key.as_str().into(),
                m.step.into(),
                m.timestamp.into(),
                value.into(),
                SqlValue::Int(is_nan.into()),
                m.model_id.clone().into(),
                m.dataset_name.clone().into(),
                m.dataset_digest.clone().into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) VALUES {} ON CONFLICT DO NOTHING",
            vec![ROW; chunk.len()].join(", ")
        );
        c.execute(&sql, &args)?;
    }
    if c.dialect() == Dialect::Postgres {
        return upsert_latest_pg(c, run_id, &latest);
    }
    let mut new_keys = 0;
    for (key, (step, ts, value, is_nan)) in latest {
        let args = [
            SqlValue::from(step),
            ts.into(),
            value.into(),
            SqlValue::Int(is_nan.into()),
            run_id.into(),
            key.into(),
        ];
        // Insert, or else replace the stored latest point only when this one is newer.
        let inserted = c.execute(
            "INSERT INTO latest_metrics (step, timestamp, value, is_nan, run_uuid, key) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            &args,
        )?;
        if inserted > 0 {
            new_keys += 1;
            continue;
        }
        c.execute(
            "UPDATE latest_metrics SET step = ?1, timestamp = ?2, value = ?3, is_nan = ?4 \
             WHERE run_uuid = ?5 AND key = ?6 \
               AND (?1 > step OR (?1 = step AND ?2 > timestamp) OR (?1 = step AND ?2 = timestamp AND ?3 > value))",
            &args,
        )?;
    }
    Ok(new_keys)
}

/// The latest point of every key in one statement (PostgreSQL): inserted, or replacing
/// the stored one only when newer. Returns the number of keys new to the run
/// (`xmax = 0` marks a row inserted rather than updated).
fn upsert_latest_pg(
    c: &mut dyn Conn,
    run_id: &str,
    latest: &BTreeMap<&str, (i64, i64, f64, bool)>,
) -> Result<u64> {
    if latest.is_empty() {
        return Ok(0);
    }
    let mut args: Vec<SqlValue> = Vec::with_capacity(latest.len() * 6);
    for (key, (step, ts, value, is_nan)) in latest {
        args.extend([
            SqlValue::from(*step),
            (*ts).into(),
            (*value).into(),
            SqlValue::Int((*is_nan).into()),
            run_id.into(),
            (*key).into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO latest_metrics AS l (step, timestamp, value, is_nan, run_uuid, key) VALUES {} \
         ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan \
         WHERE excluded.step > l.step OR (excluded.step = l.step AND excluded.timestamp > l.timestamp) \
            OR (excluded.step = l.step AND excluded.timestamp = l.timestamp AND excluded.value > l.value) \
         RETURNING (xmax = 0)",
        vec!["(?, ?, ?, ?, ?, ?)"; latest.len()].join(", ")
    );
    let rows = c.query(&sql, &args)?;
    Ok(rows.iter().filter(|r| r.int(0) == 1).count() as u64)
}

pub(crate) fn delete_tag(c: &mut dyn Conn, run_id: &str, key: &str) -> Result<()> {
    active_run(c, run_id)?;
    let n = c.execute(
        "DELETE FROM tags WHERE run_uuid = ? AND key = ?",
        &[run_id.into(), key.into()],
    )?;
    if n == 0 {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in run with id {run_id}"
        )));
    }
    Ok(())
}

fn check_len(what: &str, limit: usize, value: &str) -> Result<()> {
    if value.chars().count() > limit {
        return Err(MlflowError::invalid(format!(
            "{what} exceeds the maximum length of {limit}"
        )));
    }
    Ok(())
}

pub(crate) fn log_inputs(
    c: &mut dyn Conn,
    run_id: &str,
    inputs: Vec<DatasetInput>,
    model_ids: Vec<String>,
) -> Result<()> {
    let info = active_run(c, run_id)?;
    let eid = parse_experiment_id(&info.experiment_id)?;
    for input in inputs {
        let d = &input.dataset;
        for (field, value) in [
            ("name", &d.name),
            ("digest", &d.digest),
            ("source_type", &d.source_type),
            ("source", &d.source),
        ] {
            if value.is_empty() {
                return Err(MlflowError::invalid(format!(
                    "Dataset {field} cannot be None"
                )));
            }
        }
        check_len("Dataset name", validation::MAX_DATASET_NAME_SIZE, &d.name)?;
        check_len(
            "Dataset digest",
            validation::MAX_DATASET_DIGEST_SIZE,
            &d.digest,
        )?;
        check_len(
            "Dataset source",
            validation::MAX_DATASET_SOURCE_SIZE,
            &d.source,
        )?;
        check_len(
            "Dataset schema",
            validation::MAX_DATASET_SCHEMA_SIZE,
            d.schema.as_deref().unwrap_or(""),
        )?;
        check_len(
            "Dataset profile",
            validation::MAX_DATASET_PROFILE_SIZE,
            d.profile.as_deref().unwrap_or(""),
        )?;
        for t in &input.tags {
            check_len("Input tag key", validation::MAX_INPUT_TAG_KEY_SIZE, &t.key)?;
            check_len(
                "Input tag value",
                validation::MAX_INPUT_TAG_VALUE_SIZE,
                &t.value,
            )?;
        }
        let existing = c.query_opt(
            "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
            &[eid.into(), d.name.as_str().into(), d.digest.as_str().into()],
        )?;
        let dataset_uuid = match existing {
            Some(r) => r.text(0),
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                c.execute(
                    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &[
                        id.as_str().into(),
                        eid.into(),
                        d.name.as_str().into(),
                        d.digest.as_str().into(),
                        d.source_type.as_str().into(),
                        d.source.as_str().into(),
                        d.schema.clone().into(),
                        d.profile.clone().into(),
                    ],
                )?;
                id
            }
        };
        c.execute(
            "INSERT INTO run_inputs (run_uuid, dataset_uuid) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &[run_id.into(), dataset_uuid.as_str().into()],
        )?;
        for t in &input.tags {
            c.execute(
                "INSERT INTO run_input_tags (run_uuid, dataset_uuid, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (run_uuid, dataset_uuid, key) DO UPDATE SET value = excluded.value",
                &[run_id.into(), dataset_uuid.as_str().into(), t.key.as_str().into(), t.value.as_str().into()],
            )?;
        }
    }
    for model_id in model_ids {
        c.execute(
            "INSERT INTO run_model_io (run_uuid, direction, model_id, step) VALUES (?, 'input', ?, 0) ON CONFLICT DO NOTHING",
            &[run_id.into(), model_id.into()],
        )?;
    }
    Ok(())
}

pub(crate) fn log_outputs(
    c: &mut dyn Conn,
    run_id: &str,
    models: Vec<(String, i64)>,
) -> Result<()> {
    active_run(c, run_id)?;
    for (model_id, step) in models {
        c.execute(
            "INSERT INTO run_model_io (run_uuid, direction, model_id, step) VALUES (?, 'output', ?, ?) ON CONFLICT (run_uuid, direction, model_id) DO UPDATE SET step = excluded.step",
            &[run_id.into(), model_id.into(), step.into()],
        )?;
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
                .map_or(0, |r| r.int(0));
            skipped += usize::try_from(n).unwrap_or(0);
            continue;
        }
        skipped += skip;
        ids.extend(rows.iter().map(|r| r.text(0)));
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

// ---------------------------------------------------------------- permanent deletion

pub(crate) fn deleted_runs(c: &mut dyn Conn, deleted_before: Option<i64>) -> Result<Vec<RunInfo>> {
    let rows = match deleted_before {
        Some(t) => c.query(
            &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.lifecycle_stage = 'deleted' AND COALESCE(r.deleted_time, 0) < ? ORDER BY r.run_uuid"),
            &[t.into()],
        )?,
        None => c.query(
            &format!("SELECT {RUN_COLUMNS} FROM runs r WHERE r.lifecycle_stage = 'deleted' ORDER BY r.run_uuid"),
            &[],
        )?,
    };
    rows.iter().map(run_info_from_row).collect()
}

const RUN_CHILD_TABLES: [&str; 7] = [
    "metrics",
    "metric_chunks",
    "latest_metrics",
    "params",
    "tags",
    "run_input_tags",
    "run_inputs",
];

pub(crate) fn hard_delete_run(c: &mut dyn Conn, run_id: &str) -> Result<()> {
    let info = get_run_info(c, run_id)?;
    if info.lifecycle_stage != LIFECYCLE_DELETED {
        return Err(MlflowError::invalid(format!(
            "Run {run_id} is not in the deleted state; delete it before removing it permanently"
        )));
    }
    for table in RUN_CHILD_TABLES.iter().chain(["run_model_io"].iter()) {
        c.execute(
            &format!("DELETE FROM {table} WHERE run_uuid = ?"),
            &[run_id.into()],
        )?;
    }
    c.execute("DELETE FROM runs WHERE run_uuid = ?", &[run_id.into()])?;
    Ok(())
}

pub(crate) fn deleted_experiments(c: &mut dyn Conn) -> Result<Vec<Experiment>> {
    let rows = c.query(
        &format!("SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE lifecycle_stage = 'deleted' ORDER BY experiment_id"),
        &[],
    )?;
    experiments_from_rows(c, rows)
}

pub(crate) fn hard_delete_experiment(c: &mut dyn Conn, id: &str) -> Result<()> {
    let exp = get_experiment(c, id)?;
    if exp.lifecycle_stage != LIFECYCLE_DELETED {
        return Err(MlflowError::invalid(format!(
            "Experiment {id} is not in the deleted state; delete it before removing it permanently"
        )));
    }
    let eid = parse_experiment_id(id)?;
    let runs = c.query(
        "SELECT run_uuid FROM runs WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    for r in runs {
        let run_id = r.text(0);
        for table in RUN_CHILD_TABLES.iter().chain(["run_model_io"].iter()) {
            c.execute(
                &format!("DELETE FROM {table} WHERE run_uuid = ?"),
                &[run_id.as_str().into()],
            )?;
        }
    }
    c.execute("DELETE FROM runs WHERE experiment_id = ?", &[eid.into()])?;
    for table in ["logged_model_params", "logged_model_tags"] {
        c.execute(
            &format!("DELETE FROM {table} WHERE model_id IN (SELECT model_id FROM logged_models WHERE experiment_id = ?)"),
            &[eid.into()],
        )?;
    }
    c.execute(
        "DELETE FROM logged_models WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    let traces = crate::traces::experiment_trace_ids(c, eid)?;
    crate::traces::remove_traces(c, &traces)?;
    crate::eval::remove_experiment_scorers(c, eid)?;
    c.execute(
        "DELETE FROM datasets WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    c.execute(
        "DELETE FROM experiment_tags WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    c.execute(
        "DELETE FROM experiments WHERE experiment_id = ?",
        &[eid.into()],
    )?;
    Ok(())
}

// ---------------------------------------------------------------- metric history

pub(crate) fn metric_point(r: &dyn RowView) -> MetricPoint {
    // Columns: step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest
    let origin = MetricOrigin {
        model_id: r.opt_text(4),
        dataset_name: r.opt_text(5),
        dataset_digest: r.opt_text(6),
    };
    MetricPoint {
        value: if r.int(3) != 0 { f64::NAN } else { r.real(2) },
        timestamp: r.int(1),
        step: r.int(0),
        origin: (origin != MetricOrigin::default()).then(|| Box::new(origin)),
    }
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

    #[test]
    fn uri_join() {
        assert_eq!(
            append_uri_path("mlflow-artifacts:", "1"),
            "mlflow-artifacts:/1"
        );
        assert_eq!(
            append_uri_path("mlflow-artifacts:/1", "abc"),
            "mlflow-artifacts:/1/abc"
        );
        assert_eq!(append_uri_path("/tmp/art/", "1"), "/tmp/art/1");
        assert_eq!(append_uri_path("s3://b/p", "1"), "s3://b/p/1");
    }
}
