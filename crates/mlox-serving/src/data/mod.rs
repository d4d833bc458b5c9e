//! Request data for the native back end, and its check against the signature, as the
//! pyfunc layer does it (mlflow/models/utils.py `_enforce_schema`,
//! mlflow/utils/proto_json_utils.py `parse_tf_serving_input`, `dataframe_from_parsed_json`):
//! dataframe formats and CSV become a table of named columns, `instances`/`inputs` an
//! n-dimensional array (or a dict of arrays); a column schema selects and casts columns
//! (missing required column → error; integers widen to floats, never the reverse); a
//! tensor schema casts to its dtype and checks the shape.

mod enforce;
mod frame;
mod tensor;

use serde_json::{Map, Value};

use crate::error::{Result, ServeError};
use crate::request::{csv_cell, CsvTable, JsonRequest};

pub use enforce::enforce;
pub use frame::Frame;
pub use tensor::{float_value, Elems, Tensor};

/// Parsed request data, before the schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    Frame(Frame),
    Tensor(Tensor),
    Dict(Vec<(String, Tensor)>),
}

impl Input {
    /// The number of rows, for batching and progress.
    pub fn rows(&self) -> usize {
        match self {
            Input::Frame(f) => f.rows,
            Input::Tensor(t) => t.rows(),
            Input::Dict(d) => d.first().map_or(0, |(_, t)| t.rows()),
        }
    }
}

/// The data of a JSON request, parsed as MLflow's scoring server parses it.
pub fn from_json(req: &JsonRequest) -> Result<Input> {
    match req.format {
        "dataframe_split" => {
            let obj = req.data.as_object().ok_or_else(|| {
                ServeError::BadRequest(
                    "Invalid input. Dataframe split format must be a dictionary.".to_string(),
                )
            })?;
            let data = obj
                .get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let rows: Vec<Vec<Value>> = data
                .into_iter()
                .map(|r| match r {
                    Value::Array(a) => a,
                    other => vec![other],
                })
                .collect();
            let columns: Vec<String> = match obj.get("columns").and_then(Value::as_array) {
                Some(c) => c
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect(),
                None => (0..rows.first().map_or(0, Vec::len))
                    .map(|i| i.to_string())
                    .collect(),
            };
            Ok(Input::Frame(Frame::from_rows(columns, rows)?))
        }
        "dataframe_records" => {
            let records = req.data.as_array().ok_or_else(|| {
                ServeError::BadRequest(
                    "Invalid input. Dataframe records format must be a list of records."
                        .to_string(),
                )
            })?;
            Ok(Input::Frame(frame_from_records(records)?))
        }
        _ => match &req.data {
            // `instances` of records become a dict of columns (parse_instances_data).
            Value::Array(items)
                if req.format == "instances"
                    && !items.is_empty()
                    && items.iter().all(Value::is_object) =>
            {
                let f = frame_from_records(items)?;
                Ok(Input::Dict(
                    f.columns
                        .into_iter()
                        .map(|(n, e)| {
                            (
                                n,
                                Tensor {
                                    shape: vec![f.rows],
                                    elems: e,
                                },
                            )
                        })
                        .collect(),
                ))
            }
            Value::Object(map) => Ok(Input::Dict(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Tensor::from_json(v)?)))
                    .collect::<Result<_>>()?,
            )),
            other => Ok(Input::Tensor(Tensor::from_json(other)?)),
        },
    }
}

fn frame_from_records(records: &[Value]) -> Result<Frame> {
    let mut columns: Vec<String> = Vec::new();
    for r in records {
        let Some(o) = r.as_object() else {
            return Err(ServeError::BadRequest(
                "Invalid input. Each record must be a JSON object.".to_string(),
            ));
        };
        for k in o.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let empty = Map::new();
    let rows = records
        .iter()
        .map(|r| {
            let o = r.as_object().unwrap_or(&empty);
            columns
                .iter()
                .map(|c| o.get(c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect();
    Frame::from_rows(columns, rows)
}

/// A CSV body as a DataFrame (pandas `read_csv` type inference, per column).
pub fn from_csv(table: CsvTable) -> Result<Input> {
    let rows = table
        .rows
        .iter()
        .map(|r| r.iter().map(|c| csv_cell(c)).collect())
        .collect();
    Ok(Input::Frame(Frame::from_rows(table.columns, rows)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_json;
    use crate::schema::Schema;
    use mlox_core::ErrorCode;
    use serde_json::json;

    fn input(body: Value) -> Input {
        from_json(&parse_json(body.to_string().as_bytes()).unwrap()).unwrap()
    }

    fn columns(spec: &str) -> Schema {
        Schema::parse(spec).unwrap()
    }

    const AB: &str = r#"[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "b", "required": true}]"#;

    #[test]
    fn every_dataframe_format_gives_the_same_frame() {
        let split = input(
            json!({"dataframe_split": {"columns": ["a", "b"], "data": [[1.5, 2], [3.0, 4]]}}),
        );
        let records = input(json!({"dataframe_records": [{"a": 1.5, "b": 2}, {"b": 4, "a": 3.0}]}));
        let csv = from_csv(crate::request::parse_csv(b"a,b\n1.5,2\n3.0,4\n").unwrap()).unwrap();
        let s = columns(AB);
        let e = |i| enforce(i, Some(&s), "dataframe_split").unwrap();
        assert_eq!(e(split.clone()), e(records));
        assert_eq!(e(split), e(csv));
    }

    #[test]
    fn integers_widen_to_double_but_floats_do_not_narrow_to_long() {
        let s = columns(AB);
        let ok = enforce(
            input(json!({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap();
        let Input::Frame(f) = ok else { panic!() };
        assert_eq!(f.columns[0].1, Elems::F64(vec![1.0]));
        let err = enforce(
            input(json!({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5]]}})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::INVALID_PARAMETER_VALUE);
    }

    #[test]
    fn missing_column_and_wrong_type_are_errors_with_mlflow_codes() {
        let s = columns(AB);
        let missing = enforce(
            input(json!({"dataframe_records": [{"a": 1.0, "c": 2}]})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap_err();
        assert_eq!(missing.error_code(), ErrorCode::INVALID_PARAMETER_VALUE);
        assert!(missing
            .to_string()
            .contains("Model is missing inputs ['b']. Note that there were extra inputs: ['c']"));
        let wrong = enforce(
            input(json!({"dataframe_records": [{"a": "x", "b": 2}]})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap_err();
        assert_eq!(wrong.error_code(), ErrorCode::BAD_REQUEST);
    }

    #[test]
    fn tensor_schema_casts_and_checks_shape() {
        let s = columns(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]"#,
        );
        let Input::Tensor(t) = enforce(
            input(json!({"inputs": [[1, 2], [3, 4]]})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(t.shape, [2, 2]);
        assert_eq!(t.elems, Elems::F32(vec![1.0, 2.0, 3.0, 4.0]));
        // A frame becomes df.values.
        let Input::Tensor(t) = enforce(
            input(json!({"dataframe_split": {"columns": ["x", "y"], "data": [[1.5, 2], [3, 4]]}})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(t.elems, Elems::F32(vec![1.5, 2.0, 3.0, 4.0]));
        let bad = enforce(
            input(json!({"inputs": [[1, 2, 3]]})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap_err();
        assert_eq!(bad.error_code(), ErrorCode::INVALID_PARAMETER_VALUE);
        let dict = enforce(
            input(json!({"inputs": {"a": [1]}})),
            Some(&s),
            "dataframe_split",
        )
        .unwrap_err();
        assert_eq!(dict.error_code(), ErrorCode::BAD_REQUEST);
    }

    #[test]
    fn ragged_arrays_are_rejected() {
        let r = parse_json(br#"{"inputs": [[1, 2], [3]]}"#).unwrap();
        assert_eq!(
            from_json(&r).unwrap_err().error_code(),
            ErrorCode::BAD_REQUEST
        );
    }

    #[test]
    fn tensors_round_trip_to_json() {
        let v = json!([[1.5, 2.0], [3.0, 4.0]]);
        let t = Tensor::from_json(&v).unwrap();
        assert_eq!(t.to_json(), v);
        assert_eq!(
            Tensor::from_json(&json!([1, 2, 3])).unwrap().elems,
            Elems::I64(vec![1, 2, 3])
        );
    }
}
