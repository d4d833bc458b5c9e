//! Model signatures (mlflow/types/schema.py, mlflow/models/signature.py): column-based
//! schemas (`{"type": "double", "name": "f0", "required": true}`), tensor-based schemas
//! (`{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}`) and the
//! params schema. In `MLmodel` each part is a JSON-encoded string.

use serde_json::{json, Value};

use crate::error::{Result, ServeError};

/// A column's type (`DataType` in mlflow/types/schema.py); nested types are kept as JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum ColType {
    Boolean,
    Integer,
    Long,
    Float,
    Double,
    String,
    Binary,
    Datetime,
    /// `array`, `object`, `map`, `any`: passed through unchecked.
    Other(Value),
}

impl ColType {
    fn parse(v: &Value) -> ColType {
        match v.as_str() {
            Some("boolean") => ColType::Boolean,
            Some("integer") => ColType::Integer,
            Some("long") => ColType::Long,
            Some("float") => ColType::Float,
            Some("double") => ColType::Double,
            Some("string") => ColType::String,
            Some("binary") => ColType::Binary,
            Some("datetime") => ColType::Datetime,
            _ => ColType::Other(v.clone()),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            ColType::Boolean => json!("boolean"),
            ColType::Integer => json!("integer"),
            ColType::Long => json!("long"),
            ColType::Float => json!("float"),
            ColType::Double => json!("double"),
            ColType::String => json!("string"),
            ColType::Binary => json!("binary"),
            ColType::Datetime => json!("datetime"),
            ColType::Other(v) => v.clone(),
        }
    }

    /// The numpy dtype pandas uses for this type (`DataType.to_pandas`).
    pub fn numpy_dtype(&self) -> &'static str {
        match self {
            ColType::Boolean => "bool",
            ColType::Integer => "int32",
            ColType::Long => "int64",
            ColType::Float => "float32",
            ColType::Double => "float64",
            _ => "object",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColSpec {
    pub name: Option<String>,
    pub ty: ColType,
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: Option<String>,
    /// A numpy dtype name: float32, float64, int64, bool, str, object, ...
    pub dtype: String,
    /// -1 is a variable dimension.
    pub shape: Vec<i64>,
}

/// An input or output schema: all columns or all tensors (MLflow forbids mixing).
#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    Columns(Vec<ColSpec>),
    Tensors(Vec<TensorSpec>),
}

impl Schema {
    pub fn parse(text: &str) -> Result<Schema> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| ServeError::InvalidModel(format!("signature is not JSON: {e}")))?;
        let items = v.as_array().ok_or_else(|| {
            ServeError::InvalidModel("a signature schema must be a JSON list".to_string())
        })?;
        let name = |i: &Value| i.get("name").and_then(Value::as_str).map(str::to_string);
        let is_tensor = |i: &Value| i.get("type").and_then(Value::as_str) == Some("tensor");
        if !items.is_empty() && items.iter().all(is_tensor) {
            let specs = items
                .iter()
                .map(|i| {
                    let spec = &i["tensor-spec"];
                    let dtype = spec["dtype"].as_str().ok_or_else(|| {
                        ServeError::InvalidModel("tensor-spec without dtype".to_string())
                    })?;
                    let shape = spec["shape"]
                        .as_array()
                        .map(|s| s.iter().filter_map(Value::as_i64).collect())
                        .unwrap_or_default();
                    Ok(TensorSpec {
                        name: name(i),
                        dtype: dtype.to_string(),
                        shape,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Schema::Tensors(specs));
        }
        if items.iter().any(is_tensor) {
            return Err(ServeError::InvalidModel(
                "a schema cannot mix tensors and columns".to_string(),
            ));
        }
        Ok(Schema::Columns(
            items
                .iter()
                .map(|i| ColSpec {
                    name: name(i),
                    ty: ColType::parse(&i["type"]),
                    required: i.get("required").and_then(Value::as_bool).unwrap_or(true),
                })
                .collect(),
        ))
    }

    pub fn to_json_string(&self) -> String {
        let items: Vec<Value> = match self {
            Schema::Columns(cols) => cols
                .iter()
                .map(|c| {
                    let mut o = json!({"type": c.ty.to_json()});
                    if let Some(n) = &c.name {
                        o["name"] = json!(n);
                    }
                    o["required"] = json!(c.required);
                    o
                })
                .collect(),
            Schema::Tensors(ts) => ts
                .iter()
                .map(|t| {
                    let mut o = json!({"type": "tensor", "tensor-spec": {"dtype": t.dtype, "shape": t.shape}});
                    if let Some(n) = &t.name {
                        o["name"] = json!(n);
                    }
                    o
                })
                .collect(),
        };
        Value::Array(items).to_string()
    }

    /// Names of the inputs, in order (unnamed ones skipped).
    pub fn input_names(&self) -> Vec<String> {
        match self {
            Schema::Columns(c) => c.iter().filter_map(|c| c.name.clone()).collect(),
            Schema::Tensors(t) => t.iter().filter_map(|t| t.name.clone()).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub ty: String,
    pub default: Value,
    pub shape: Option<Vec<i64>>,
}

/// `signature:` of an MLmodel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signature {
    pub inputs: Option<Schema>,
    pub outputs: Option<Schema>,
    pub params: Option<Vec<ParamSpec>>,
}

impl Signature {
    /// From the `signature` value of an MLmodel (a map of JSON strings).
    pub fn from_mlmodel(v: &Value) -> Result<Signature> {
        let part = |key: &str| -> Result<Option<Schema>> {
            match v.get(key) {
                Some(Value::String(s)) => Schema::parse(s).map(Some),
                _ => Ok(None),
            }
        };
        let params = match v.get("params") {
            Some(Value::String(s)) => {
                let items: Vec<Value> = serde_json::from_str(s).map_err(|e| {
                    ServeError::InvalidModel(format!("signature params are not JSON: {e}"))
                })?;
                Some(
                    items
                        .iter()
                        .map(|p| ParamSpec {
                            name: p["name"].as_str().unwrap_or_default().to_string(),
                            ty: p["type"].as_str().unwrap_or_default().to_string(),
                            default: p.get("default").cloned().unwrap_or(Value::Null),
                            shape: p["shape"]
                                .as_array()
                                .map(|s| s.iter().filter_map(Value::as_i64).collect()),
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        Ok(Signature {
            inputs: part("inputs")?,
            outputs: part("outputs")?,
            params,
        })
    }

    pub fn to_mlmodel(&self) -> Value {
        let schema = |s: &Option<Schema>| {
            s.as_ref()
                .map_or(Value::Null, |s| Value::String(s.to_json_string()))
        };
        let params = self.params.as_ref().map_or(Value::Null, |ps| {
            let items: Vec<Value> = ps
                .iter()
                .map(|p| json!({"name": p.name, "type": p.ty, "default": p.default, "shape": p.shape}))
                .collect();
            Value::String(Value::Array(items).to_string())
        });
        json!({"inputs": schema(&self.inputs), "outputs": schema(&self.outputs), "params": params})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_and_tensors() {
        let cols = Schema::parse(
            r#"[{"type": "double", "name": "a", "required": true}, {"type": "long", "name": "b", "required": false}, {"type": "array", "items": {"type": "string"}, "name": "c"}]"#,
        )
        .unwrap();
        let Schema::Columns(c) = &cols else {
            panic!("{cols:?}")
        };
        assert_eq!(c[0].ty, ColType::Double);
        assert!(!c[1].required);
        assert!(matches!(c[2].ty, ColType::Other(_)));
        let t = Schema::parse(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]"#,
        )
        .unwrap();
        assert_eq!(
            t,
            Schema::Tensors(vec![TensorSpec {
                name: None,
                dtype: "float32".into(),
                shape: vec![-1, 4]
            }])
        );
        // Round trip through the JSON-string form.
        assert_eq!(Schema::parse(&t.to_json_string()).unwrap(), t);
        assert_eq!(Schema::parse(&cols.to_json_string()).unwrap(), cols);
    }

    #[test]
    fn rejects_bad_schemas() {
        assert!(Schema::parse("{}").is_err());
        assert!(Schema::parse("not json").is_err());
        assert!(Schema::parse(
            r#"[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}, {"type": "double"}]"#
        )
        .is_err());
    }
}
