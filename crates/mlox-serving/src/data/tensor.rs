//! N-dimensional arrays as numpy makes them from JSON: flat typed elements and a shape.

use serde_json::Value;

use crate::error::{Result, ServeError};

/// Flat element storage of a tensor (row-major).
#[derive(Clone, Debug, PartialEq)]
pub enum Elems {
    Bool(Vec<bool>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Str(Vec<String>),
    /// Mixed or nested values that have no numeric dtype (numpy `object`).
    Obj(Vec<Value>),
}

impl Elems {
    pub fn len(&self) -> usize {
        match self {
            Elems::Bool(v) => v.len(),
            Elems::I64(v) => v.len(),
            Elems::F32(v) => v.len(),
            Elems::F64(v) => v.len(),
            Elems::Str(v) => v.len(),
            Elems::Obj(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// numpy's name for the dtype.
    pub fn dtype(&self) -> &'static str {
        match self {
            Elems::Bool(_) => "bool",
            Elems::I64(_) => "int64",
            Elems::F32(_) => "float32",
            Elems::F64(_) => "float64",
            Elems::Str(_) => "str",
            Elems::Obj(_) => "object",
        }
    }

    /// Infers a dtype from JSON scalars as numpy/pandas would.
    pub fn infer(values: Vec<Value>) -> Elems {
        let all = |f: fn(&Value) -> bool| values.iter().all(f);
        if values.is_empty() {
            return Elems::F64(Vec::new());
        }
        if all(Value::is_boolean) {
            return Elems::Bool(values.iter().filter_map(Value::as_bool).collect());
        }
        if all(|v| v.is_i64()) {
            return Elems::I64(values.iter().filter_map(Value::as_i64).collect());
        }
        if all(|v| v.is_number() || v.is_null()) {
            return Elems::F64(
                values
                    .iter()
                    .map(|v| v.as_f64().unwrap_or(f64::NAN))
                    .collect(),
            );
        }
        if all(Value::is_string) {
            return Elems::Str(
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            );
        }
        Elems::Obj(values)
    }

    pub(super) fn concat(parts: Vec<Elems>) -> Elems {
        let mut it = parts.into_iter();
        let Some(mut acc) = it.next() else {
            return Elems::F64(Vec::new());
        };
        for p in it {
            acc = match (acc, p) {
                (Elems::Bool(mut a), Elems::Bool(b)) => {
                    a.extend(b);
                    Elems::Bool(a)
                }
                (Elems::I64(mut a), Elems::I64(b)) => {
                    a.extend(b);
                    Elems::I64(a)
                }
                (Elems::F32(mut a), Elems::F32(b)) => {
                    a.extend(b);
                    Elems::F32(a)
                }
                (Elems::Str(mut a), Elems::Str(b)) => {
                    a.extend(b);
                    Elems::Str(a)
                }
                (a, b) if a.is_numeric() && b.is_numeric() => {
                    let mut x = a.to_f64().unwrap_or_default();
                    x.extend(b.to_f64().unwrap_or_default());
                    Elems::F64(x)
                }
                (a, b) => {
                    let mut x = a.to_values();
                    x.extend(b.to_values());
                    Elems::Obj(x)
                }
            };
        }
        acc
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Elems::I64(_) | Elems::F32(_) | Elems::F64(_))
    }

    fn to_f64(&self) -> Option<Vec<f64>> {
        match self {
            Elems::I64(v) => Some(v.iter().map(|x| *x as f64).collect()),
            Elems::F32(v) => Some(v.iter().map(|x| *x as f64).collect()),
            Elems::F64(v) => Some(v.clone()),
            _ => None,
        }
    }

    pub fn to_values(&self) -> Vec<Value> {
        match self {
            Elems::Bool(v) => v.iter().map(|x| Value::Bool(*x)).collect(),
            Elems::I64(v) => v.iter().map(|x| Value::from(*x)).collect(),
            Elems::F32(v) => v.iter().map(|x| float_value(*x as f64)).collect(),
            Elems::F64(v) => v.iter().map(|x| float_value(*x)).collect(),
            Elems::Str(v) => v.iter().map(|x| Value::String(x.clone())).collect(),
            Elems::Obj(v) => v.clone(),
        }
    }

    /// `astype(dtype)` with numpy's safe-casting rule for serving: integers and bools
    /// widen to floats, float64 narrows to float32 (MLflow's tensor parsing casts to the
    /// spec's dtype); floats never become integers; strings never become numbers.
    pub fn cast(self, dtype: &str) -> std::result::Result<Elems, String> {
        let from = self.dtype();
        let fail = || Err(format!("Can not safely convert {from} to {dtype}."));
        Ok(match (self, dtype) {
            (e, d) if e.dtype() == d => e,
            (Elems::I64(v), "float64") => Elems::F64(v.into_iter().map(|x| x as f64).collect()),
            (Elems::I64(v), "float32") => Elems::F32(v.into_iter().map(|x| x as f32).collect()),
            (Elems::I64(v), "int32") => Elems::I64(v),
            (Elems::F64(v), "float32") => Elems::F32(v.into_iter().map(|x| x as f32).collect()),
            (Elems::F32(v), "float64") => Elems::F64(v.into_iter().map(|x| x as f64).collect()),
            (Elems::Bool(v), "float64") => {
                Elems::F64(v.into_iter().map(|x| u8::from(x) as f64).collect())
            }
            (Elems::Bool(v), "float32") => {
                Elems::F32(v.into_iter().map(|x| u8::from(x) as f32).collect())
            }
            (Elems::Bool(v), "int64") => {
                Elems::I64(v.into_iter().map(|x| i64::from(u8::from(x))).collect())
            }
            (e @ Elems::Str(_), "object" | "str") => e,
            (e, "object") => Elems::Obj(e.to_values()),
            _ => return fail(),
        })
    }
}

/// A JSON number for a float, or null for NaN/inf (serde_json cannot carry those).
pub fn float_value(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// An n-dimensional array.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub elems: Elems,
}

impl Tensor {
    /// A nested JSON list as numpy's `np.array(value)` would make it.
    pub fn from_json(value: &Value) -> Result<Tensor> {
        let mut shape = Vec::new();
        let mut probe = value;
        while let Value::Array(items) = probe {
            shape.push(items.len());
            match items.first() {
                Some(first) => probe = first,
                None => break,
            }
        }
        let mut leaves = Vec::new();
        collect_leaves(value, &shape, 0, &mut leaves)?;
        Ok(Tensor {
            shape,
            elems: Elems::infer(leaves),
        })
    }

    /// Rows (the first dimension); a scalar counts as one.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Nested JSON lists (`ndarray.tolist()`).
    pub fn to_json(&self) -> Value {
        let flat = self.elems.to_values();
        if self.shape.is_empty() {
            return flat.into_iter().next().unwrap_or(Value::Null);
        }
        nest(&flat, &self.shape)
    }
}

fn nest(flat: &[Value], shape: &[usize]) -> Value {
    match shape {
        [] => flat.first().cloned().unwrap_or(Value::Null),
        [_] => Value::Array(flat.to_vec()),
        [n, rest @ ..] => {
            let step: usize = rest.iter().product();
            Value::Array(
                (0..*n)
                    .map(|i| nest(&flat[i * step..(i + 1) * step], rest))
                    .collect(),
            )
        }
    }
}

fn collect_leaves(v: &Value, shape: &[usize], depth: usize, out: &mut Vec<Value>) -> Result<()> {
    if depth == shape.len() {
        if v.is_array() {
            return Err(ragged());
        }
        out.push(v.clone());
        return Ok(());
    }
    match v {
        Value::Array(items) if items.len() == shape[depth] => {
            for i in items {
                collect_leaves(i, shape, depth + 1, out)?;
            }
            Ok(())
        }
        _ => Err(ragged()),
    }
}

fn ragged() -> ServeError {
    ServeError::BadRequest(
        "Invalid input. Ensure that the input is a valid JSON-formatted string.\nError: ValueError('setting an array element with a sequence. The requested array has an inhomogeneous shape')".to_string(),
    )
}
