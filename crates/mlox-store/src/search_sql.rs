//! Compiles parsed search filters and order_by clauses to SQL with bound parameters.
//!
//! User text never becomes SQL: keys and values are bound as parameters; only column
//! names from fixed tables are written into the statement.

use mlox_core::entities::ViewType;
use mlox_core::search::{self, Clause, Cmp, Entity, OrderBy, SearchKind, Value};
use mlox_core::{MlflowError, Result};

use mlox_core::logged_model::{LoggedModelDatasetFilter, LoggedModelOrderBy};
use mlox_core::registry::{IS_PROMPT_TAG_KEY, STAGE_DELETED_INTERNAL};

use crate::db::{placeholders, SqlValue};

/// The pieces of a search statement: joins (for ordering), the WHERE condition and ORDER BY.
pub(crate) struct Query {
    pub joins: String,
    pub where_sql: String,
    pub order_sql: String,
    /// Join parameters first, then WHERE parameters, in statement order.
    pub params: Vec<SqlValue>,
}

pub(crate) fn comparison_sql(
    column: &str,
    cmp: Cmp,
    value: &Value,
    params: &mut Vec<SqlValue>,
) -> Result<String> {
    let op = match cmp {
        Cmp::Eq => "=",
        Cmp::Ne => "!=",
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
        Cmp::Like => "LIKE",
        Cmp::ILike => {
            push_value(value, params)?;
            return Ok(format!("LOWER({column}) LIKE LOWER(?)"));
        }
        Cmp::In | Cmp::NotIn => {
            let Value::List(items) = value else {
                return Err(MlflowError::invalid(
                    "IN and NOT IN need a parenthesised list of values",
                ));
            };
            if items.is_empty() {
                return Ok(if cmp == Cmp::In {
                    "1 = 0".into()
                } else {
                    "1 = 1".into()
                });
            }
            params.extend(items.iter().map(SqlValue::from));
            let not = if cmp == Cmp::NotIn { "NOT " } else { "" };
            return Ok(format!("{column} {not}IN ({})", placeholders(items.len())));
        }
        Cmp::IsNull => return Ok(format!("{column} IS NULL")),
        Cmp::IsNotNull => return Ok(format!("{column} IS NOT NULL")),
    };
    push_value(value, params)?;
    Ok(format!("{column} {op} ?"))
}

fn push_value(value: &Value, params: &mut Vec<SqlValue>) -> Result<()> {
    params.push(match value {
        Value::Str(s) => SqlValue::Text(s.clone()),
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => SqlValue::Int(*n as i64),
        Value::Num(n) => SqlValue::Real(*n),
        Value::List(_) | Value::None => {
            return Err(MlflowError::invalid("a single value was expected"))
        }
    });
    Ok(())
}

/// A condition on a key-value child table (params, tags, experiment tags).
fn kv_condition(
    table: &str,
    owner: &str,
    owner_col: &str,
    clause: &Clause,
    params: &mut Vec<SqlValue>,
) -> Result<String> {
    params.push(SqlValue::from(&clause.ident.key));
    match clause.cmp {
        Cmp::IsNull => Ok(format!(
            "NOT EXISTS (SELECT 1 FROM {table} kv WHERE kv.{owner_col} = {owner} AND kv.key = ?)"
        )),
        Cmp::IsNotNull => Ok(format!(
            "EXISTS (SELECT 1 FROM {table} kv WHERE kv.{owner_col} = {owner} AND kv.key = ?)"
        )),
        cmp => {
            let cond = comparison_sql("kv.value", cmp, &clause.value, params)?;
            Ok(format!("EXISTS (SELECT 1 FROM {table} kv WHERE kv.{owner_col} = {owner} AND kv.key = ? AND {cond})"))
        }
    }
}

fn stages_sql(view: ViewType, column: &str, params: &mut Vec<SqlValue>) -> String {
    let stages = view.stages();
    params.extend(stages.iter().map(|s| SqlValue::from(*s)));
    format!("{column} IN ({})", placeholders(stages.len()))
}

fn direction(ascending: bool) -> &'static str {
    if ascending {
        "ASC"
    } else {
        "DESC"
    }
}

/// Which runs one statement of a run search returns, when the first `order_by` key is a
/// metric, param or tag (see [`runs_queries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// One statement for all runs.
    Whole,
    /// Runs with a value for the first key (for a metric: a number, not NaN).
    Valued,
    /// Runs whose latest value of the first (metric) key is NaN.
    Nan,
    /// Runs without the first key.
    Missing,
}

/// One statement of a run search.
pub(crate) struct RunQuery {
    /// The FROM clause's first tables (`runs r` unless the search is split by phase).
    pub from: String,
    pub query: Query,
    /// For the runs with a value of the first key: the same statement written to walk that
    /// key's index in the order asked for, through every other table by key (SQLite's
    /// `INDEXED BY` and `CROSS JOIN`). A page then stops after its last row instead of
    /// sorting every match, which wins when many runs match and loses badly when few do;
    /// SQLite's planner does not weigh the LIMIT, so the store tries both (see
    /// `tracking::search_runs`). Its parameters are the query's.
    pub scan: Option<ScanForm>,
}

/// FROM and joins of [`RunQuery::scan`]; WHERE and ORDER BY are the query's.
pub(crate) struct ScanForm {
    pub from: String,
    pub joins: String,
}

/// The statements of a run search, to be read in order and concatenated.
///
/// MLflow orders runs by the first key with missing values last (and, for a metric, NaN
/// after numbers). As one statement that is a LEFT JOIN, from which SQLite's planner
/// often walks every run of the experiment. When the first key is a metric, param or tag,
/// the search is split at those boundaries instead: runs with a value (an inner join the
/// planner may start from, or walk in the index's order), then NaN, then missing. The
/// concatenation is exactly the single statement's order; the later statements are only
/// read when a page reaches past the earlier ones.
pub(crate) fn runs_queries(
    filter: &str,
    order_by: &[String],
    view: ViewType,
    experiment_ids: &[i64],
) -> Result<Vec<RunQuery>> {
    let clauses = search::parse_filter(SearchKind::Runs, filter)?;
    let orders = search::parse_order_by(SearchKind::Runs, order_by)?;
    let phases: &[Phase] = match orders.first().map(|o| o.ident.entity) {
        Some(Entity::Metric) => &[Phase::Valued, Phase::Nan, Phase::Missing],
        Some(Entity::Param | Entity::Tag) => &[Phase::Valued, Phase::Missing],
        _ => &[Phase::Whole],
    };
    phases
        .iter()
        .map(|&phase| runs_query(&clauses, &orders, view, experiment_ids, phase))
        .collect()
}

fn runs_query(
    clauses: &[Clause],
    orders: &[OrderBy],
    view: ViewType,
    experiment_ids: &[i64],
    phase: Phase,
) -> Result<RunQuery> {
    let mut join_params = Vec::new();
    let mut joins = String::new();
    let mut from = "runs r".to_string();
    let mut scan_from = None;
    let mut order_parts = Vec::new();
    // Conditions (and their parameters) placed first in WHERE.
    let mut lead_conds = Vec::new();
    let mut lead_params = Vec::new();
    let mut has_start_time = false;
    let mut has_run_id = false;
    for (i, OrderBy { ident, ascending }) in orders.iter().enumerate() {
        let dir = direction(*ascending);
        match ident.entity {
            Entity::Metric | Entity::Param | Entity::Tag => {
                // The key's table, and its index by (key, value).
                let (table, index) = match ident.entity {
                    Entity::Metric => ("latest_metrics", "latest_metrics_by_key"),
                    Entity::Param => ("params", "params_by_key"),
                    _ => ("tags", "tags_by_key"),
                };
                let on = format!("o{i}.run_uuid = r.run_uuid AND o{i}.key = ?");
                let metric = ident.entity == Entity::Metric;
                match (i, phase) {
                    // The key's table comes before `runs` (CROSS JOIN keeps that order in
                    // SQLite), so the planner starts from it or from a filter's table, never
                    // from every run of the experiment.
                    (0, Phase::Valued | Phase::Nan) => {
                        from = format!("{table} o0 CROSS JOIN runs r");
                        if phase == Phase::Valued {
                            scan_from =
                                Some(format!("{table} o0 INDEXED BY {index} CROSS JOIN runs r"));
                        }
                        let nan = match (metric, phase) {
                            (false, _) => "",
                            (true, Phase::Valued) => " AND o0.is_nan = 0",
                            (true, _) => " AND o0.is_nan = 1",
                        };
                        lead_conds.push(format!("{on}{nan}"));
                        lead_params.push(SqlValue::from(&ident.key));
                        // NaN is stored as 0: NaN runs tie on the key.
                        if phase == Phase::Valued {
                            order_parts.push(format!("o0.value {dir}"));
                        }
                    }
                    (0, Phase::Missing) => {
                        joins.push_str(&format!(" LEFT JOIN {table} o0 ON {on}"));
                        join_params.push(SqlValue::from(&ident.key));
                        lead_conds.push("o0.run_uuid IS NULL".to_string());
                    }
                    _ => {
                        joins.push_str(&format!(" LEFT JOIN {table} o{i} ON {on}"));
                        join_params.push(SqlValue::from(&ident.key));
                        // Missing values last in both directions; NaN after numbers.
                        order_parts.push(if metric {
                            format!("(o{i}.value IS NULL) ASC, o{i}.is_nan ASC, o{i}.value {dir}")
                        } else {
                            format!("(o{i}.value IS NULL) ASC, o{i}.value {dir}")
                        });
                    }
                }
            }
            Entity::Attribute => {
                let col = run_attribute_column(&ident.key)?;
                has_start_time |= col == "r.start_time";
                has_run_id |= col == "r.run_uuid";
                order_parts.push(format!("({col} IS NULL) ASC, {col} {dir}"));
            }
            Entity::Dataset => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order_by entity: dataset.{}",
                    ident.key
                )))
            }
        }
    }
    if !has_start_time {
        order_parts.push("r.start_time DESC".into());
    }
    if !has_run_id {
        order_parts.push("r.run_uuid ASC".into());
    }

    let mut where_params = lead_params;
    let mut conds = lead_conds;
    where_params.extend(experiment_ids.iter().map(|i| SqlValue::Int(*i)));
    conds.push(format!(
        "r.experiment_id IN ({})",
        placeholders(experiment_ids.len())
    ));
    conds.push(stages_sql(view, "r.lifecycle_stage", &mut where_params));
    // Filter joins come first in the statement (and in the parameters), so that the
    // planner may start from any of them; the joins for ordering follow.
    let mut filter_joins = String::new();
    let mut scan_joins = String::new();
    let mut params = Vec::new();
    for (j, clause) in clauses.iter().enumerate() {
        match run_filter_join(j, clause, &mut params)? {
            Some(join) => {
                filter_joins.push_str(&format!(" JOIN {join}"));
                scan_joins.push_str(&format!(" CROSS JOIN {join}"));
            }
            None => conds.push(run_condition(clause, &mut where_params)?),
        }
    }
    let scan = scan_from.map(|from| ScanForm {
        from,
        joins: scan_joins + &joins,
    });
    let joins = filter_joins + &joins;
    params.append(&mut join_params);
    params.append(&mut where_params);
    Ok(RunQuery {
        from,
        scan,
        query: Query {
            joins,
            where_sql: conds.join(" AND "),
            order_sql: order_parts.join(", "),
            params,
        },
    })
}

fn run_attribute_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "run_id" | "run_uuid" => "r.run_uuid",
        "run_name" => "r.name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "artifact_uri" => "r.artifact_uri",
        "start_time" => "r.start_time",
        "end_time" => "r.end_time",
        "lifecycle_stage" => "r.lifecycle_stage",
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid attribute key '{other}' specified."
            )))
        }
    })
}

/// A filter on a run's metric, param or tag as an inner join: a run has at most one row per
/// key in `latest_metrics`, `params` and `tags`, so the join keeps exactly the runs the
/// equivalent `EXISTS` would, and lets the planner start from the most selective index
/// (e.g. `params_by_key`) instead of probing every run of the experiment.
/// Returns the joined table and its ON clause, without the JOIN keyword; `None` for
/// clauses that stay in WHERE (attributes, datasets, IS [NOT] NULL).
fn run_filter_join(
    j: usize,
    clause: &Clause,
    params: &mut Vec<SqlValue>,
) -> Result<Option<String>> {
    if matches!(clause.cmp, Cmp::IsNull | Cmp::IsNotNull) {
        return Ok(None);
    }
    let a = format!("f{j}");
    let (table, cond) = match clause.ident.entity {
        Entity::Metric => {
            params.push(SqlValue::from(&clause.ident.key));
            let cmp = comparison_sql(&format!("{a}.value"), clause.cmp, &clause.value, params)?;
            // NaN compares false with everything, except `!=`, which it satisfies.
            let cond = if clause.cmp == Cmp::Ne {
                format!("({a}.is_nan = 1 OR {cmp})")
            } else {
                format!("({a}.is_nan = 0 AND {cmp})")
            };
            ("latest_metrics", cond)
        }
        Entity::Param | Entity::Tag => {
            params.push(SqlValue::from(&clause.ident.key));
            let cmp = comparison_sql(&format!("{a}.value"), clause.cmp, &clause.value, params)?;
            let table = if clause.ident.entity == Entity::Param {
                "params"
            } else {
                "tags"
            };
            (table, cmp)
        }
        Entity::Attribute | Entity::Dataset => return Ok(None),
    };
    Ok(Some(format!(
        "{table} {a} ON {a}.run_uuid = r.run_uuid AND {a}.key = ? AND {cond}"
    )))
}

fn run_condition(clause: &Clause, params: &mut Vec<SqlValue>) -> Result<String> {
    match clause.ident.entity {
        Entity::Metric => {
            params.push(SqlValue::from(&clause.ident.key));
            let cond = comparison_sql("m.value", clause.cmp, &clause.value, params)?;
            // NaN compares false with everything, except `!=`, which it satisfies.
            let nan = if clause.cmp == Cmp::Ne {
                "m.is_nan = 1 OR"
            } else {
                "m.is_nan = 0 AND"
            };
            Ok(format!(
                "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ? AND ({nan} {cond}))"
            ))
        }
        Entity::Param => kv_condition("params", "r.run_uuid", "run_uuid", clause, params),
        Entity::Tag => kv_condition("tags", "r.run_uuid", "run_uuid", clause, params),
        Entity::Attribute => {
            let col = run_attribute_column(&clause.ident.key)?;
            comparison_sql(col, clause.cmp, &clause.value, params)
        }
        Entity::Dataset => {
            if clause.ident.key == "context" {
                let cond = comparison_sql("t.value", clause.cmp, &clause.value, params)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM run_input_tags t WHERE t.run_uuid = r.run_uuid AND t.key = 'mlflow.data.context' AND {cond})"
                ))
            } else {
                let col = match clause.ident.key.as_str() {
                    "name" => "d.name",
                    "digest" => "d.digest",
                    other => {
                        return Err(MlflowError::invalid(format!(
                            "Invalid dataset key '{other}' specified."
                        )))
                    }
                };
                let cond = comparison_sql(col, clause.cmp, &clause.value, params)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM run_inputs ri JOIN datasets d ON d.dataset_uuid = ri.dataset_uuid WHERE ri.run_uuid = r.run_uuid AND {cond})"
                ))
            }
        }
    }
}

pub(crate) fn experiments_query(
    filter: &str,
    order_by: &[String],
    view: ViewType,
) -> Result<Query> {
    let clauses = search::parse_filter(SearchKind::Experiments, filter)?;
    let orders = search::parse_order_by(SearchKind::Experiments, order_by)?;
    let mut order_parts = Vec::new();
    let mut has_id = false;
    for OrderBy { ident, ascending } in &orders {
        let col = experiment_attribute_column(&ident.key)?;
        has_id |= col == "e.experiment_id";
        order_parts.push(format!("{col} {}", direction(*ascending)));
    }
    if orders.is_empty() {
        order_parts.push("e.creation_time DESC".into());
    }
    if !has_id {
        order_parts.push("e.experiment_id ASC".into());
    }
    let mut params = Vec::new();
    let mut conds = vec![stages_sql(view, "e.lifecycle_stage", &mut params)];
    for clause in &clauses {
        conds.push(match clause.ident.entity {
            Entity::Tag => kv_condition(
                "experiment_tags",
                "e.experiment_id",
                "experiment_id",
                clause,
                &mut params,
            )?,
            Entity::Attribute => {
                let col = experiment_attribute_column(&clause.ident.key)?;
                if col == "e.experiment_id" {
                    // Experiment ids are strings on the wire and integers in the table;
                    // compare canonical decimal text ("007" names experiment 7).
                    let value = match &clause.value {
                        Value::Str(s) => Value::Str(canonical_id(s)),
                        Value::Num(n) => Value::Str(format!("{}", *n as i64)),
                        Value::List(items) => {
                            Value::List(items.iter().map(|s| canonical_id(s)).collect())
                        }
                        Value::None => Value::None,
                    };
                    comparison_sql(
                        "CAST(e.experiment_id AS TEXT)",
                        clause.cmp,
                        &value,
                        &mut params,
                    )?
                } else {
                    comparison_sql(col, clause.cmp, &clause.value, &mut params)?
                }
            }
            _ => {
                return Err(MlflowError::invalid(format!(
                    "Invalid filter on experiments: {}",
                    clause.ident.key
                )))
            }
        });
    }
    Ok(Query {
        joins: String::new(),
        where_sql: conds.join(" AND "),
        order_sql: order_parts.join(", "),
        params,
    })
}

fn canonical_id(s: &str) -> String {
    s.trim()
        .parse::<i64>()
        .map_or_else(|_| s.to_string(), |n| n.to_string())
}

fn experiment_attribute_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "e.name",
        "experiment_id" => "e.experiment_id",
        "creation_time" => "e.creation_time",
        "last_update_time" => "e.last_update_time",
        "lifecycle_stage" => "e.lifecycle_stage",
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid attribute key '{other}' specified."
            )))
        }
    })
}

// ------------------------------------------------------------------------------------------------
// Model registry and logged models
// ------------------------------------------------------------------------------------------------

/// MLflow hides prompts from registry searches unless the filter asks for them: the first
/// clause on `tags.mlflow.prompt.is_prompt` decides (`= 'true'` or `!= 'false'` selects prompts).
fn is_querying_prompt(clauses: &[Clause]) -> bool {
    clauses
        .iter()
        .find(|c| c.ident.entity == Entity::Tag && c.ident.key == IS_PROMPT_TAG_KEY)
        .is_some_and(|c| match (&c.cmp, &c.value) {
            (Cmp::Eq, Value::Str(v)) => v.eq_ignore_ascii_case("true"),
            (Cmp::Ne, Value::Str(v)) => v.eq_ignore_ascii_case("false"),
            _ => false,
        })
}

/// Registry filter clauses, with MLflow's prompt handling: unless prompts are asked for,
/// clauses on the prompt tag are dropped and every prompt is excluded, so that a model
/// without the tag matches the client's automatic ``tag.`mlflow.prompt.is_prompt` != 'true'``.
fn registry_conditions(
    clauses: &[Clause],
    owner: &str,
    tag_table: &str,
    tag_owner_cols: &[(&str, &str)],
    attribute_column: &dyn Fn(&str) -> Result<&'static str>,
    params: &mut Vec<SqlValue>,
) -> Result<Vec<String>> {
    let querying_prompt = is_querying_prompt(clauses);
    let join_on: Vec<String> = tag_owner_cols
        .iter()
        .map(|(tag_col, owner_col)| format!("kv.{tag_col} = {owner}.{owner_col}"))
        .collect();
    let join_on = join_on.join(" AND ");
    let mut conds = Vec::new();
    for clause in clauses {
        match clause.ident.entity {
            Entity::Attribute => {
                let col = attribute_column(&clause.ident.key)?;
                conds.push(comparison_sql(col, clause.cmp, &clause.value, params)?);
            }
            Entity::Tag => {
                if !querying_prompt && clause.ident.key == IS_PROMPT_TAG_KEY {
                    continue;
                }
                params.push(SqlValue::from(&clause.ident.key));
                let cond = comparison_sql("kv.value", clause.cmp, &clause.value, params)?;
                conds.push(format!(
                    "EXISTS (SELECT 1 FROM {tag_table} kv WHERE {join_on} AND kv.key = ? AND {cond})"
                ));
            }
            other => {
                return Err(MlflowError::invalid(format!(
                    "Invalid token type: {}",
                    other.as_str()
                )))
            }
        }
    }
    if !querying_prompt {
        params.push(SqlValue::from(IS_PROMPT_TAG_KEY));
        conds.push(format!(
            "NOT EXISTS (SELECT 1 FROM {tag_table} p WHERE p.name = {owner}.name AND p.key = ? AND p.value = 'true')"
        ));
    }
    Ok(conds)
}

fn registered_model_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "rm.name",
        "creation_timestamp" => "rm.creation_time",
        "last_updated_timestamp" | "timestamp" => "rm.last_updated_time",
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid attribute name: {other}"
            )))
        }
    })
}

/// `registered-models/search`: filter on `rm` (registered_models), default order `name ASC`.
pub(crate) fn registered_models_query(filter: &str, order_by: &[String]) -> Result<Query> {
    let clauses = search::parse_filter(SearchKind::RegisteredModels, filter)?;
    let orders = search::parse_order_by(SearchKind::RegisteredModels, order_by)?;
    let mut params = Vec::new();
    let conds = registry_conditions(
        &clauses,
        "rm",
        "registered_model_tags",
        &[("name", "name")],
        &registered_model_column,
        &mut params,
    )?;
    let mut order_parts = Vec::new();
    let mut has_name = false;
    for OrderBy { ident, ascending } in &orders {
        let col = registered_model_column(&ident.key)?;
        has_name |= col == "rm.name";
        order_parts.push(format!("{col} {}", direction(*ascending)));
    }
    if !has_name {
        order_parts.push("rm.name ASC".into());
    }
    Ok(Query {
        joins: String::new(),
        where_sql: if conds.is_empty() {
            "1 = 1".into()
        } else {
            conds.join(" AND ")
        },
        order_sql: order_parts.join(", "),
        params,
    })
}

fn model_version_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "mv.name",
        "version_number" => "mv.version",
        "run_id" => "mv.run_id",
        "source_path" => "mv.source",
        "creation_timestamp" => "mv.creation_time",
        "last_updated_timestamp" => "mv.last_updated_time",
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid attribute name: {other}"
            )))
        }
    })
}

/// `model-versions/search`: filter on `mv` (model_versions), deleted versions excluded;
/// default order `last_updated_timestamp DESC, name ASC, version_number DESC`, with
/// `name ASC` and `version_number DESC` appended as tie-breakers when not given.
pub(crate) fn model_versions_query(filter: &str, order_by: &[String]) -> Result<Query> {
    let clauses = search::parse_filter(SearchKind::ModelVersions, filter)?;
    let default_order = [
        "last_updated_timestamp DESC".to_string(),
        "name ASC".to_string(),
        "version_number DESC".to_string(),
    ];
    let order_by = if order_by.is_empty() {
        &default_order[..]
    } else {
        order_by
    };
    let orders = search::parse_order_by(SearchKind::ModelVersions, order_by)?;
    let mut params = vec![SqlValue::from(STAGE_DELETED_INTERNAL)];
    let mut conds = vec!["mv.current_stage != ?".to_string()];
    conds.extend(registry_conditions(
        &clauses,
        "mv",
        "model_version_tags",
        &[("name", "name"), ("version", "version")],
        &model_version_column,
        &mut params,
    )?);
    let mut order_parts = Vec::new();
    let (mut has_name, mut has_version) = (false, false);
    for OrderBy { ident, ascending } in &orders {
        let col = model_version_column(&ident.key)?;
        has_name |= col == "mv.name";
        has_version |= col == "mv.version";
        order_parts.push(format!("{col} {}", direction(*ascending)));
    }
    if !has_name {
        order_parts.push("mv.name ASC".into());
    }
    if !has_version {
        order_parts.push("mv.version DESC".into());
    }
    Ok(Query {
        joins: String::new(),
        where_sql: conds.join(" AND "),
        order_sql: order_parts.join(", "),
        params,
    })
}

/// The logged-model status as its proto name, so that filters compare text on both backends.
const LOGGED_MODEL_STATUS_TEXT: &str = "(CASE lm.status WHEN 1 THEN 'LOGGED_MODEL_PENDING' WHEN 2 THEN 'LOGGED_MODEL_READY' WHEN 3 THEN 'LOGGED_MODEL_UPLOAD_FAILED' ELSE 'LOGGED_MODEL_STATUS_UNSPECIFIED' END)";

fn logged_model_column(key: &str) -> Result<&'static str> {
    Ok(match key {
        "name" => "lm.name",
        "model_id" => "lm.model_id",
        "model_type" => "lm.model_type",
        "status" => LOGGED_MODEL_STATUS_TEXT,
        "source_run_id" => "lm.source_run_id",
        "creation_timestamp" => "lm.creation_timestamp_ms",
        "last_updated_timestamp" => "lm.last_updated_timestamp_ms",
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid order by field name: {other}"
            )))
        }
    })
}

/// Status values may be given as `READY`, `LOGGED_MODEL_READY` or `2` (an extension: MLflow
/// compares its integer column with the text as given).
fn logged_model_status_value(value: &Value) -> Value {
    let canon = |s: &String| {
        mlox_core::logged_model::LoggedModelStatus::parse(s)
            .map(|st| st.as_proto().to_string())
            .unwrap_or_else(|_| s.clone())
    };
    match value {
        Value::Str(s) => Value::Str(canon(s)),
        Value::List(items) => Value::List(items.iter().map(canon).collect()),
        other => other.clone(),
    }
}

/// `(dataset_name = ? [AND dataset_digest = ?]) OR ...` on metrics alias `m`.
fn dataset_filter_sql(datasets: &[LoggedModelDatasetFilter], params: &mut Vec<SqlValue>) -> String {
    let parts: Vec<String> = datasets
        .iter()
        .map(|d| {
            params.push(SqlValue::from(&d.dataset_name));
            match &d.dataset_digest {
                Some(digest) => {
                    params.push(SqlValue::from(digest));
                    "(m.dataset_name = ? AND m.dataset_digest = ?)".to_string()
                }
                None => "(m.dataset_name = ?)".to_string(),
            }
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

/// `logged-models/search`: filter, dataset restriction and structured order on `lm`
/// (logged_models); deleted models are never returned. Metric filters match any point
/// logged for the model; metric ordering uses the latest point (by timestamp, step, run).
pub(crate) fn logged_models_query(
    experiment_ids: &[i64],
    filter: &str,
    datasets: &[LoggedModelDatasetFilter],
    order_by: &[LoggedModelOrderBy],
) -> Result<Query> {
    let clauses = search::parse_filter(SearchKind::LoggedModels, filter)?;
    let mut join_params = Vec::new();
    let mut joins = String::new();
    let mut order_parts = Vec::new();
    let (mut has_creation, mut has_id) = (false, false);
    for (i, ob) in order_by.iter().enumerate() {
        // The messages of MLflow's SQL store, which differ from its parser's.
        match ob.field_name.split_once('.') {
            Some((entity, _)) if entity != "metrics" => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order by field name: {}. Only metrics are supported.",
                    ob.field_name
                )))
            }
            None if logged_model_column(&ob.field_name).is_err() => {
                return Err(MlflowError::invalid(format!(
                    "Invalid order by field name: {}",
                    ob.field_name
                )))
            }
            _ => {}
        }
        let OrderBy { ident, ascending } =
            search::parse_logged_model_order_field(&ob.field_name, ob.ascending)?;
        let dir = direction(ascending);
        match ident.entity {
            Entity::Metric => {
                let mut extra = String::new();
                join_params.push(SqlValue::from(&ident.key));
                if let Some(name) = &ob.dataset_name {
                    extra.push_str(" AND m.dataset_name = ?");
                    join_params.push(SqlValue::from(name));
                }
                if let Some(digest) = &ob.dataset_digest {
                    extra.push_str(" AND m.dataset_digest = ?");
                    join_params.push(SqlValue::from(digest));
                }
                joins.push_str(&format!(
                    " LEFT JOIN (SELECT model_id, value FROM (SELECT m.model_id, CASE WHEN m.is_nan = 1 THEN NULL ELSE m.value END AS value, ROW_NUMBER() OVER (PARTITION BY m.model_id ORDER BY m.timestamp DESC, m.step DESC, m.run_uuid ASC) AS rn FROM metrics m WHERE m.model_id IS NOT NULL AND m.key = ?{extra}) ranked WHERE rn = 1) o{i} ON o{i}.model_id = lm.model_id"
                ));
                order_parts.push(format!("(o{i}.value IS NULL) ASC, o{i}.value {dir}"));
            }
            _ => {
                let col = logged_model_column(&ident.key)?;
                has_creation |= col == "lm.creation_timestamp_ms";
                has_id |= col == "lm.model_id";
                order_parts.push(format!("({col} IS NULL) ASC, {col} {dir}"));
            }
        }
    }
    if !has_creation {
        order_parts.push("lm.creation_timestamp_ms DESC".into());
    }
    if !has_id {
        order_parts.push("lm.model_id ASC".into());
    }

    let mut params = join_params;
    let mut conds = vec!["lm.lifecycle_stage != 'deleted'".to_string()];
    params.extend(experiment_ids.iter().map(|i| SqlValue::Int(*i)));
    conds.push(format!(
        "lm.experiment_id IN ({})",
        placeholders(experiment_ids.len())
    ));
    let mut has_metric_filter = false;
    for clause in &clauses {
        conds.push(match clause.ident.entity {
            Entity::Attribute => {
                let col = logged_model_column(&clause.ident.key)?;
                let value = if clause.ident.key == "status" {
                    logged_model_status_value(&clause.value)
                } else {
                    clause.value.clone()
                };
                comparison_sql(col, clause.cmp, &value, &mut params)?
            }
            Entity::Metric => {
                has_metric_filter = true;
                params.push(SqlValue::from(&clause.ident.key));
                let cond = comparison_sql("m.value", clause.cmp, &clause.value, &mut params)?;
                let ds = if datasets.is_empty() {
                    String::new()
                } else {
                    format!(" AND {}", dataset_filter_sql(datasets, &mut params))
                };
                format!(
                    "EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = lm.model_id AND m.key = ? AND m.is_nan = 0 AND {cond}{ds})"
                )
            }
            Entity::Param => kv_condition(
                "logged_model_params",
                "lm.model_id",
                "model_id",
                clause,
                &mut params,
            )?,
            Entity::Tag => kv_condition(
                "logged_model_tags",
                "lm.model_id",
                "model_id",
                clause,
                &mut params,
            )?,
            Entity::Dataset => {
                return Err(MlflowError::invalid(
                    "Invalid entity type: 'dataset'. Expected one of ['attributes', 'metrics', 'params', 'tags'].",
                ))
            }
        });
    }
    if !datasets.is_empty() && !has_metric_filter {
        let ds = dataset_filter_sql(datasets, &mut params);
        conds.push(format!(
            "EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = lm.model_id AND {ds})"
        ));
    }
    Ok(Query {
        joins,
        where_sql: conds.join(" AND "),
        order_sql: order_parts.join(", "),
        params,
    })
}
