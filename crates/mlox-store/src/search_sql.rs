//! Compiles parsed search filters and order_by clauses to SQL with bound parameters.
//!
//! User text never becomes SQL: keys and values are bound as parameters; only column
//! names from fixed tables are written into the statement.

use mlox_core::entities::ViewType;
use mlox_core::search::{self, Clause, Cmp, Entity, OrderBy, SearchKind, Value};
use mlox_core::{MlflowError, Result};

use crate::db::{placeholders, SqlValue};

/// The pieces of a search statement: joins (for ordering), the WHERE condition and ORDER BY.
pub(crate) struct Query {
    pub joins: String,
    pub where_sql: String,
    pub order_sql: String,
    /// Join parameters first, then WHERE parameters, in statement order.
    pub params: Vec<SqlValue>,
}

fn comparison_sql(
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

pub(crate) fn runs_query(
    filter: &str,
    order_by: &[String],
    view: ViewType,
    experiment_ids: &[i64],
) -> Result<Query> {
    let clauses = search::parse_filter(SearchKind::Runs, filter)?;
    let orders = search::parse_order_by(SearchKind::Runs, order_by)?;

    let mut join_params = Vec::new();
    let mut joins = String::new();
    let mut order_parts = Vec::new();
    let mut has_start_time = false;
    let mut has_run_id = false;
    for (i, OrderBy { ident, ascending }) in orders.iter().enumerate() {
        let dir = direction(*ascending);
        match ident.entity {
            Entity::Metric => {
                joins.push_str(&format!(
                    " LEFT JOIN latest_metrics o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = ?"
                ));
                join_params.push(SqlValue::from(&ident.key));
                // Missing values last in both directions; NaN after numbers.
                order_parts.push(format!(
                    "(o{i}.value IS NULL) ASC, o{i}.is_nan ASC, o{i}.value {dir}"
                ));
            }
            Entity::Param | Entity::Tag => {
                let table = if ident.entity == Entity::Param {
                    "params"
                } else {
                    "tags"
                };
                joins.push_str(&format!(
                    " LEFT JOIN {table} o{i} ON o{i}.run_uuid = r.run_uuid AND o{i}.key = ?"
                ));
                join_params.push(SqlValue::from(&ident.key));
                order_parts.push(format!("(o{i}.value IS NULL) ASC, o{i}.value {dir}"));
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

    let mut params = join_params;
    let mut conds = Vec::new();
    params.extend(experiment_ids.iter().map(|i| SqlValue::Int(*i)));
    conds.push(format!(
        "r.experiment_id IN ({})",
        placeholders(experiment_ids.len())
    ));
    conds.push(stages_sql(view, "r.lifecycle_stage", &mut params));
    for clause in &clauses {
        conds.push(run_condition(clause, &mut params)?);
    }
    Ok(Query {
        joins,
        where_sql: conds.join(" AND "),
        order_sql: order_parts.join(", "),
        params,
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
                    // Experiment ids are strings on the wire and integers in the table.
                    let value = match &clause.value {
                        Value::Str(s) => Value::Num(s.parse::<f64>().unwrap_or(-1.0)),
                        Value::List(items) => Value::List(items.clone()),
                        v => v.clone(),
                    };
                    comparison_sql(
                        "CAST(e.experiment_id AS TEXT)",
                        clause.cmp,
                        &value_as_text(&value),
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

fn value_as_text(v: &Value) -> Value {
    match v {
        Value::Num(n) if n.fract() == 0.0 => Value::Str(format!("{}", *n as i64)),
        other => other.clone(),
    }
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
