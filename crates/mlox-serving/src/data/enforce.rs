//! The check of parsed data against the model's input schema, as MLflow's
//! `_enforce_schema` does it.

use super::{Elems, Frame, Input, Tensor};
use crate::error::{Result, ServeError};
use crate::schema::{ColType, Schema};

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
