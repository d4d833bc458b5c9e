//! MLflow's trace search grammar (`SearchTraceUtils` in `mlflow/utils/search_utils.py`):
//! the same comparisons as the other searches, with trace identifiers — `trace.` /
//! `attribute(s).` (status, timestamp_ms, execution_time_ms, end_time_ms, name, run_id,
//! request_id, client_request_id), `tag(s).`, `metadata.` / `request_metadata.`, `span.`
//! (name, type, status), `feedback.` and `expectation.`.

use crate::error::{MlflowError, Result};
use crate::search::{parse_raw_filter, parse_raw_order_by, Cmp, RawFilterValue, Value};
use crate::trace::keys;

/// What a trace comparison or ordering refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceField {
    RequestId,
    ClientRequestId,
    ExperimentId,
    TimestampMs,
    ExecutionTimeMs,
    EndTimeMs,
    Status,
    /// Traces of a run: its `mlflow.sourceRun` metadata, or linked to it.
    RunId,
    Tag(String),
    Metadata(String),
    SpanName,
    SpanType,
    SpanStatus,
    /// The value of the (valid) feedback of that name.
    Feedback(String),
    /// The value of the (valid) expectation of that name.
    Expectation(String),
}

impl TraceField {
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            TraceField::TimestampMs | TraceField::ExecutionTimeMs | TraceField::EndTimeMs
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraceClause {
    pub field: TraceField,
    pub cmp: Cmp,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TraceOrder {
    pub field: TraceField,
    pub ascending: bool,
}

fn cmp_of(op: &str) -> Option<Cmp> {
    Some(match op {
        "=" | "==" => Cmp::Eq,
        "!=" | "<>" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        "LIKE" => Cmp::Like,
        "ILIKE" => Cmp::ILike,
        "IN" => Cmp::In,
        "NOT IN" => Cmp::NotIn,
        "IS NULL" => Cmp::IsNull,
        "IS NOT NULL" => Cmp::IsNotNull,
        _ => return None,
    })
}

fn attribute_field(key: &str) -> Option<TraceField> {
    Some(match key {
        "request_id" => TraceField::RequestId,
        "client_request_id" => TraceField::ClientRequestId,
        "timestamp" | "timestamp_ms" => TraceField::TimestampMs,
        "execution_time" | "execution_time_ms" => TraceField::ExecutionTimeMs,
        "end_time" | "end_time_ms" => TraceField::EndTimeMs,
        "status" => TraceField::Status,
        "name" => TraceField::Tag(keys::TRACE_NAME.to_string()),
        "run_id" => TraceField::RunId,
        _ => return None,
    })
}

/// Resolves `entity.key` (entity absent: an attribute) to a field.
fn resolve(entity: Option<&str>, key: &str, for_order: bool) -> Result<TraceField> {
    let entity = entity.unwrap_or("attribute");
    let field = match entity {
        "attribute" | "attributes" | "trace" => {
            if for_order && key == "experiment_id" {
                Some(TraceField::ExperimentId)
            } else {
                attribute_field(key)
            }
        }
        "tag" | "tags" => Some(TraceField::Tag(key.to_string())),
        "metadata" | "request_metadata" => Some(match key {
            keys::SOURCE_RUN => TraceField::RunId,
            _ => TraceField::Metadata(key.to_string()),
        }),
        "span" if !for_order => match key {
            "name" => Some(TraceField::SpanName),
            "type" => Some(TraceField::SpanType),
            "status" => Some(TraceField::SpanStatus),
            _ => None,
        },
        "feedback" if !for_order => Some(TraceField::Feedback(key.to_string())),
        "expectation" if !for_order => Some(TraceField::Expectation(key.to_string())),
        _ => {
            return Err(MlflowError::invalid(format!(
                "Invalid entity type '{entity}'. Valid values are ['attribute', 'request_metadata', 'tag', 'span', 'feedback', 'expectation']"
            )))
        }
    };
    field.ok_or_else(|| {
        MlflowError::invalid(format!(
            "Invalid {} key '{key}'",
            if for_order { "order_by" } else { "attribute" }
        ))
    })
}

/// Parses a trace search filter into clauses (all must hold).
pub fn parse_trace_filter(filter: &str) -> Result<Vec<TraceClause>> {
    let mut out = Vec::new();
    for raw in parse_raw_filter(filter)? {
        let field = resolve(raw.entity.as_deref(), &raw.key, false)?;
        let cmp = cmp_of(&raw.op)
            .ok_or_else(|| MlflowError::invalid(format!("Invalid comparator '{}'", raw.op)))?;
        let bad_cmp = || {
            MlflowError::invalid(format!(
                "Invalid comparator '{}' not one of the supported comparators for the key '{}'",
                raw.op, raw.key
            ))
        };
        let value = if field.is_numeric() {
            if !matches!(
                cmp,
                Cmp::Eq | Cmp::Ne | Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge
            ) {
                return Err(bad_cmp());
            }
            match raw.value {
                RawFilterValue::Num(n, _) => Value::Num(n),
                RawFilterValue::Str(s) => Value::Num(s.trim().parse().map_err(|_| {
                    MlflowError::invalid(format!(
                        "Invalid numeric value '{s}' for the key '{}'",
                        raw.key
                    ))
                })?),
                _ => {
                    return Err(MlflowError::invalid(format!(
                        "Expected a numeric value for the key '{}'",
                        raw.key
                    )))
                }
            }
        } else {
            let allowed: &[Cmp] = match &field {
                TraceField::Tag(_) | TraceField::Metadata(_) => &[
                    Cmp::Eq,
                    Cmp::Ne,
                    Cmp::Like,
                    Cmp::ILike,
                    Cmp::IsNull,
                    Cmp::IsNotNull,
                ],
                TraceField::Feedback(_) | TraceField::Expectation(_) => &[
                    Cmp::Eq,
                    Cmp::Ne,
                    Cmp::Like,
                    Cmp::ILike,
                    Cmp::IsNull,
                    Cmp::IsNotNull,
                ],
                _ => &[Cmp::Eq, Cmp::Ne, Cmp::In, Cmp::NotIn, Cmp::Like, Cmp::ILike],
            };
            // `trace.name` is a tag in the store but takes IN like the other attributes.
            let name_in = matches!(&field, TraceField::Tag(k) if k == keys::TRACE_NAME && raw.entity.as_deref().is_none_or(|e| e != "tag" && e != "tags"))
                && matches!(cmp, Cmp::In | Cmp::NotIn);
            if !allowed.contains(&cmp) && !name_in {
                return Err(bad_cmp());
            }
            match (cmp, raw.value) {
                (Cmp::IsNull | Cmp::IsNotNull, _) => Value::None,
                (Cmp::In | Cmp::NotIn, RawFilterValue::List(items)) => Value::List(items),
                (Cmp::In | Cmp::NotIn, _) => {
                    return Err(MlflowError::invalid(format!(
                        "Expected a list of values for the comparator '{}'",
                        raw.op
                    )))
                }
                (_, RawFilterValue::Str(s)) => Value::Str(s),
                (_, RawFilterValue::Num(n, is_int)) => Value::Str(if is_int {
                    format!("{}", n as i64)
                } else {
                    n.to_string()
                }),
                (_, _) => {
                    return Err(MlflowError::invalid(format!(
                        "Expected a quoted string value for the key '{}'",
                        raw.key
                    )))
                }
            }
        };
        out.push(TraceClause { field, cmp, value });
    }
    Ok(out)
}

/// Parses `order_by` clauses; MLflow's default order (newest first, then trace id)
/// completes them in the store.
pub fn parse_trace_order_by(clauses: &[String]) -> Result<Vec<TraceOrder>> {
    let mut out: Vec<TraceOrder> = Vec::new();
    for clause in clauses {
        let (entity, key, ascending) = parse_raw_order_by(clause)?;
        let field = resolve(entity.as_deref(), &key, true)?;
        if out.iter().any(|o| o.field == field) {
            return Err(MlflowError::invalid(format!(
                "`order_by` contains duplicate fields: {clauses:?}"
            )));
        }
        out.push(TraceOrder { field, ascending });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_resolve_to_trace_fields() {
        let clauses = parse_trace_filter(
            "trace.status = 'OK' AND tags.env = 'prod' AND trace.timestamp_ms > 5 AND metadata.`mlflow.sourceRun` = 'r1' AND span.name = 'llm' AND trace.name IN ('a', 'b')",
        )
        .unwrap();
        let fields: Vec<_> = clauses.iter().map(|c| c.field.clone()).collect();
        assert_eq!(
            fields,
            vec![
                TraceField::Status,
                TraceField::Tag("env".into()),
                TraceField::TimestampMs,
                TraceField::RunId,
                TraceField::SpanName,
                TraceField::Tag(keys::TRACE_NAME.into()),
            ]
        );
        assert_eq!(clauses[2].value, Value::Num(5.0));
        assert_eq!(clauses[5].value, Value::List(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn bad_filters_are_invalid_parameter_values() {
        for f in [
            "trace.nope = 'x'",
            "bogus.x = 'y'",
            "trace.timestamp_ms LIKE '5'",
            "tags.a IN ('x')",
            "trace.status",
        ] {
            let err = parse_trace_filter(f).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::INVALID_PARAMETER_VALUE, "{f}");
        }
    }

    #[test]
    fn order_by_resolves_and_rejects_duplicates() {
        let o =
            parse_trace_order_by(&["timestamp_ms ASC".into(), "trace.name DESC".into()]).unwrap();
        assert_eq!(o[0].field, TraceField::TimestampMs);
        assert!(o[0].ascending);
        assert_eq!(o[1].field, TraceField::Tag(keys::TRACE_NAME.into()));
        assert!(parse_trace_order_by(&["timestamp_ms".into(), "trace.timestamp".into()]).is_err());
    }
}
