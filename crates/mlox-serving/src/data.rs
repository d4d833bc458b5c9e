//! Request data for the native back end, and its check against the signature, as the
//! pyfunc layer does it (mlflow/models/utils.py `_enforce_schema`,
//! mlflow/utils/proto_json_utils.py `parse_tf_serving_input`, `dataframe_from_parsed_json`):
//! dataframe formats and CSV become a table of named columns, `instances`/`inputs` an
//! n-dimensional array (or a dict of arrays); a column schema selects and casts columns
//! (missing required column → error; integers widen to floats, never the reverse); a
//! tensor schema casts to its dtype and checks the shape.

use serde_json::{Map, Value};

use crate::error::{Result, ServeError};
use crate::request::{csv_cell, CsvTable, JsonRequest};
use crate::schema::{ColType, Schema};

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

    fn concat(parts: Vec<Elems>) -> Elems {
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

/// A pandas DataFrame: named 1-D columns of equal length.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub columns: Vec<(String, Elems)>,
    pub rows: usize,
}

impl Frame {
    fn from_rows(columns: Vec<String>, rows: Vec<Vec<Value>>) -> Result<Frame> {
        let n = rows.len();
        let mut cols: Vec<Vec<Value>> = vec![Vec::with_capacity(n); columns.len()];
        for row in rows {
            if row.len() != columns.len() {
                return Err(ServeError::BadRequest(format!(
                    "Invalid input. {} columns passed, passed data had {} columns",
                    columns.len(),
                    row.len()
                )));
            }
            for (c, v) in cols.iter_mut().zip(row) {
                c.push(v);
            }
        }
        Ok(Frame {
            columns: columns
                .into_iter()
                .zip(cols)
                .map(|(name, vals)| (name, Elems::infer(vals)))
                .collect(),
            rows: n,
        })
    }

    /// `df.values`: a 2-D array of the columns' common dtype.
    pub fn values(&self) -> Tensor {
        let width = self.columns.len();
        let parts: Vec<Elems> = self.columns.iter().map(|(_, e)| e.clone()).collect();
        // Interleave column-major storage into rows.
        let col_vals: Vec<Elems> = parts;
        let common = Elems::concat(col_vals.clone());
        let flat_cols = common;
        // `flat_cols` is column-major: transpose into row-major.
        let rows = self.rows;
        let transpose = |get: &dyn Fn(usize) -> Value| {
            let mut out = Vec::with_capacity(rows * width);
            for r in 0..rows {
                for c in 0..width {
                    out.push(get(c * rows + r));
                }
            }
            out
        };
        let elems = match flat_cols {
            Elems::F64(v) => Elems::F64(row_major(&v, rows, width)),
            Elems::F32(v) => Elems::F32(row_major(&v, rows, width)),
            Elems::I64(v) => Elems::I64(row_major(&v, rows, width)),
            Elems::Bool(v) => Elems::Bool(row_major(&v, rows, width)),
            Elems::Str(v) => Elems::Str(row_major(&v, rows, width)),
            Elems::Obj(v) => Elems::Obj(transpose(&|i| v[i].clone())),
        };
        Tensor {
            shape: vec![rows, width],
            elems,
        }
    }
}

fn row_major<T: Clone>(col_major: &[T], rows: usize, width: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(rows * width);
    for r in 0..rows {
        for c in 0..width {
            out.push(col_major[c * rows + r].clone());
        }
    }
    out
}

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

fn enforce_error(detail: String) -> ServeError {
    ServeError::InvalidInput(format!("Failed to enforce schema of data. Error: {detail}"))
}

/// Checks and converts `input` against the model's input schema. `source` is the JSON
/// format key the data came in, or "csv": MLflow fails some inputs while parsing
/// (BAD_REQUEST) and others while enforcing (INVALID_PARAMETER_VALUE) depending on it.
pub fn enforce(input: Input, schema: Option<&Schema>, source: &str) -> Result<Input> {
    let is_csv = source == "csv";
    let Some(schema) = schema else {
        return Ok(input);
    };
    match schema {
        Schema::Tensors(specs) => {
            if is_csv {
                // MLflow reads CSV with pandas dtypes taken from the schema, which tensor
                // specs cannot give.
                return Err(ServeError::BadRequest("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'TensorSpec only supports numpy types, use numpy_types() instead'".to_string()));
            }
            let unnamed = specs.len() == 1 && specs[0].name.is_none();
            if unnamed {
                let spec = &specs[0];
                let t = match input {
                    Input::Frame(f) => f.values(),
                    Input::Tensor(t) => t,
                    Input::Dict(d) if source == "instances" => {
                        let names: Vec<&String> = d.iter().map(|(n, _)| n).collect();
                        return Err(enforce_error(format!(
                            "This model contains a tensor-based model signature with no input names, which suggests a numpy array input, but an input of type dict with keys {names:?} was found."
                        )));
                    }
                    Input::Dict(_) => {
                        return Err(ServeError::BadRequest("Invalid input. Failed to parse input data. This model contains an un-named  model signature which expects a single n-dimensional array or a single value as input, however, an input of type <class 'dict'> was found.".to_string()))
                    }
                };
                return Ok(Input::Tensor(cast_tensor(
                    t,
                    &spec.dtype,
                    &spec.shape,
                    None,
                )?));
            }
            // Named tensors: a dict (or a frame's columns) by name.
            let named: Vec<(String, Tensor)> = match input {
                Input::Dict(d) => d,
                Input::Frame(f) => f
                    .columns
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
                Input::Tensor(t) if specs.len() == 1 => {
                    vec![(specs[0].name.clone().unwrap_or_default(), t)]
                }
                Input::Tensor(_) => {
                    return Err(enforce_error(format!(
                        "Model is missing inputs {:?}.",
                        schema.input_names()
                    )))
                }
            };
            let mut out = Vec::new();
            for spec in specs {
                let name = spec.name.clone().unwrap_or_default();
                let Some((_, t)) = named.iter().find(|(n, _)| *n == name) else {
                    return Err(enforce_error(format!(
                        "Model is missing inputs ['{name}']."
                    )));
                };
                out.push((
                    name.clone(),
                    cast_tensor(t.clone(), &spec.dtype, &spec.shape, Some(&name))?,
                ));
            }
            Ok(Input::Dict(out))
        }
        Schema::Columns(specs) => {
            let frame = match input {
                Input::Frame(f) => f,
                Input::Dict(d) => {
                    let rows = d.first().map_or(0, |(_, t)| t.rows());
                    if d.iter().any(|(_, t)| t.shape.len() != 1 || t.rows() != rows) {
                        return Err(enforce_error(
                            "a dict input for a column schema must hold 1-D lists of equal length"
                                .to_string(),
                        ));
                    }
                    Frame {
                        columns: d.into_iter().map(|(n, t)| (n, t.elems)).collect(),
                        rows,
                    }
                }
                Input::Tensor(t) => {
                    return Err(enforce_error(format!(
                        "This model contains a column-based signature, which suggests a DataFrame input. There was an error casting the input data ({}-dimensional {} array) to a DataFrame.",
                        t.shape.len(),
                        t.elems.dtype()
                    )))
                }
            };
            enforce_columns(frame, specs)
        }
    }
}

fn enforce_columns(mut frame: Frame, specs: &[crate::schema::ColSpec]) -> Result<Input> {
    let unnamed = specs.iter().all(|s| s.name.is_none());
    if unnamed {
        // Positional: as many columns as specs.
        if frame.columns.len() != specs.len() {
            return Err(enforce_error(format!(
                "Model inference is missing inputs. The model signature declares {} inputs  but the provided value only has {} inputs.",
                specs.len(),
                frame.columns.len()
            )));
        }
        let cols = std::mem::take(&mut frame.columns);
        let mut out = Vec::new();
        for ((name, e), spec) in cols.into_iter().zip(specs) {
            out.push((name.clone(), cast_column(e, &spec.ty, &name)?));
        }
        frame.columns = out;
        return Ok(Input::Frame(frame));
    }
    let missing: Vec<String> = specs
        .iter()
        .filter(|s| s.required)
        .filter_map(|s| s.name.clone())
        .filter(|n| !frame.columns.iter().any(|(c, _)| c == n))
        .collect();
    if !missing.is_empty() {
        let extra: Vec<String> = frame
            .columns
            .iter()
            .map(|(c, _)| c.clone())
            .filter(|c| !specs.iter().any(|s| s.name.as_deref() == Some(c)))
            .collect();
        let mut msg = format!("Model is missing inputs {}.", py_list(&missing));
        if !extra.is_empty() {
            msg.push_str(&format!(
                " Note that there were extra inputs: {}.",
                py_list(&extra)
            ));
        }
        return Err(enforce_error(msg));
    }
    let mut cols = std::mem::take(&mut frame.columns);
    let mut out = Vec::new();
    for spec in specs {
        let name = spec.name.clone().unwrap_or_default();
        if let Some(i) = cols.iter().position(|(c, _)| *c == name) {
            let (_, e) = cols.swap_remove(i);
            out.push((name.clone(), cast_column(e, &spec.ty, &name)?));
        }
    }
    frame.columns = out;
    Ok(Input::Frame(frame))
}

fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn cast_column(e: Elems, ty: &ColType, name: &str) -> Result<Elems> {
    let want = ty.numpy_dtype();
    if want == "object" {
        if matches!(ty, ColType::String) && !matches!(e, Elems::Str(_)) {
            return Err(enforce_error(format!(
                "Incompatible input types for column {name}. Can not safely convert {} to <U0>.",
                e.dtype()
            )));
        }
        return Ok(e);
    }
    if matches!(e, Elems::Str(_) | Elems::Obj(_)) {
        // Raised while parsing with the schema's pandas types, hence BAD_REQUEST.
        return Err(ServeError::BadRequest(format!(
            "Invalid input. Data is not compatible with model signature. Failed to convert column {name} to type '{want}'."
        )));
    }
    let from = e.dtype();
    // Integers widen to any float; float64 is never narrowed for a column.
    if from == "float64" && want == "float32" {
        return Err(enforce_error(format!(
            "Incompatible input types for column {name}. Can not safely convert float64 to float32."
        )));
    }
    e.cast(want)
        .map_err(|m| enforce_error(format!("Incompatible input types for column {name}. {m}")))
}

fn cast_tensor(t: Tensor, dtype: &str, shape: &[i64], name: Option<&str>) -> Result<Tensor> {
    let fits = t.shape.len() == shape.len()
        && t.shape
            .iter()
            .zip(shape)
            .all(|(have, want)| *want < 0 || *have as i64 == *want);
    if !fits {
        return Err(enforce_error(format!(
            "Shape of input {:?} does not match expected shape {:?}{}.",
            t.shape,
            shape,
            name.map(|n| format!(" for input '{n}'"))
                .unwrap_or_default()
        )));
    }
    let Tensor { shape, elems } = t;
    let elems = if matches!(elems, Elems::Str(_) | Elems::Obj(_))
        && dtype != "object"
        && dtype != "str"
    {
        return Err(ServeError::BadRequest(format!(
            "Invalid input. Data is not compatible with model signature. Failed to convert input to type '{dtype}'."
        )));
    } else {
        elems.cast(dtype).map_err(enforce_error)?
    };
    Ok(Tensor { shape, elems })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_json;
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
