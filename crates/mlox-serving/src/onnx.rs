//! The native back end: the `onnx` flavor run in process by ONNX Runtime (the `ort` crate,
//! loading `libonnxruntime` at run time), with MLflow's onnx pyfunc semantics
//! (mlflow/onnx/__init__.py `_OnnxModelWrapper.predict`): a DataFrame feeds its values to a
//! single-input model (or one column per input), float64 is cast to float32 where the graph
//! wants float, and the result is records of the flattened outputs for a DataFrame, or a
//! dict of output name → array for arrays and dicts. ZipMap outputs (sequences of maps)
//! come out as lists of `{class: probability}`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::value::{DynValue, Tensor as OrtTensor, TensorElementType, ValueType};
use serde_json::{Map, Value};

use crate::data::{Elems, Input, Tensor};
use crate::error::{Result, ServeError};

const UNEXPECTED: &str = "Encountered an unexpected error while evaluating the model. Verify that the serialized input Dataframe is compatible with the model for inference.";

fn unexpected(detail: impl std::fmt::Display) -> ServeError {
    tracing::debug!(%detail, "onnx inference failed");
    ServeError::BadRequest(UNEXPECTED.to_string())
}

/// Where `libonnxruntime` is: `ORT_DYLIB_PATH`, else the `onnxruntime` Python package of
/// an active or nearby environment, else the usual library folders.
pub fn find_onnxruntime() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(ServeError::InvalidModel(format!(
            "ORT_DYLIB_PATH names {}, which does not exist",
            p.display()
        )));
    }
    let mut prefixes: Vec<PathBuf> = Vec::new();
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            prefixes.push(PathBuf::from(v));
        }
    }
    if let Some(py) = std::env::var_os("MLOX_PYTHON") {
        if let Some(prefix) = Path::new(&py).parent().and_then(Path::parent) {
            prefixes.push(prefix.to_path_buf());
        }
    }
    // Every Python on PATH: <prefix>/bin/python → <prefix>/lib/python3.X/site-packages.
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if ["python3", "python"].iter().any(|n| dir.join(n).exists()) {
                if let Some(prefix) = dir.parent() {
                    prefixes.push(prefix.to_path_buf());
                }
            }
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        prefixes.push(cwd.join(".venv"));
    }
    for prefix in &prefixes {
        for lib in ["lib", "lib64"] {
            let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name();
                if !name.to_string_lossy().starts_with("python") {
                    continue;
                }
                let capi = e.path().join("site-packages/onnxruntime/capi");
                if let Some(found) = library_in(&capi) {
                    return Ok(found);
                }
            }
        }
    }
    for dir in [
        "/usr/local/lib",
        "/usr/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/opt/onnxruntime/lib",
    ] {
        if let Some(found) = library_in(Path::new(dir)) {
            return Ok(found);
        }
    }
    Err(ServeError::InvalidModel(
        "ONNX Runtime (libonnxruntime.so) was not found. Install it with `pip install onnxruntime` (into the Python on PATH or the active virtualenv), or set ORT_DYLIB_PATH to the library's path".to_string(),
    ))
}

fn library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so") || n == "libonnxruntime.dylib")
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

fn environment() -> Result<&'static ort::environment::Environment> {
    let env = ENVIRONMENT.get_or_init(|| {
        let lib = find_onnxruntime().map_err(|e| e.to_string())?;
        tracing::info!(library = %lib.display(), "loading ONNX Runtime");
        ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("mlox")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
    });
    env.as_ref()
        .map_err(|e| ServeError::InvalidModel(e.clone()))
}

/// An input of the graph: its name and element type.
#[derive(Clone, Debug)]
struct GraphInput {
    name: String,
    ty: Option<TensorElementType>,
}

/// A loaded ONNX model with a small pool of sessions (`Session::run` needs `&mut`).
pub struct OnnxModel {
    sessions: Vec<Mutex<Session>>,
    next: std::sync::atomic::AtomicUsize,
    inputs: Vec<GraphInput>,
    outputs: Vec<String>,
}

impl OnnxModel {
    /// Loads `model_file` into `sessions` sessions of one intra-op thread each.
    pub fn load(model_file: &Path, sessions: usize) -> Result<OnnxModel> {
        let env = environment()?;
        let mut pool = Vec::new();
        for _ in 0..sessions.max(1) {
            let session = Session::builder(env)
                .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
                .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
                .and_then(|mut b| b.commit_from_file(model_file))
                .map_err(|e| {
                    ServeError::InvalidModel(format!(
                        "cannot load ONNX model {}: {e}",
                        model_file.display()
                    ))
                })?;
            pool.push(Mutex::new(session));
        }
        let first = pool[0]
            .lock()
            .map_err(|_| ServeError::InvalidModel("session poisoned".to_string()))?;
        let inputs = first
            .inputs()
            .iter()
            .map(|o| GraphInput {
                name: o.name().to_string(),
                ty: match o.dtype() {
                    ValueType::Tensor { ty, .. } => Some(*ty),
                    _ => None,
                },
            })
            .collect();
        let outputs = first
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        drop(first);
        Ok(OnnxModel {
            sessions: pool,
            next: std::sync::atomic::AtomicUsize::new(0),
            inputs,
            outputs,
        })
    }

    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }

    pub fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// Scores schema-checked input and returns MLflow's `predictions` value.
    pub fn predict(&self, input: &Input) -> Result<Value> {
        let outputs = self.run(input)?;
        match input {
            Input::Frame(_) => records(&self.outputs, outputs),
            _ => Ok(Value::Object(
                self.outputs
                    .iter()
                    .cloned()
                    .zip(outputs.into_iter().map(Output::into_json))
                    .collect(),
            )),
        }
    }

    /// Runs the graph and returns its outputs in graph order.
    pub fn run(&self, input: &Input) -> Result<Vec<Output>> {
        let feeds: Vec<(String, Tensor)> = match input {
            Input::Frame(f) if self.inputs.len() == 1 => {
                vec![(self.inputs[0].name.clone(), f.values())]
            }
            Input::Frame(f) => self
                .inputs
                .iter()
                .map(|i| {
                    let (_, col) = f
                        .columns
                        .iter()
                        .find(|(n, _)| *n == i.name)
                        .ok_or_else(|| unexpected(format!("KeyError: '{}'", i.name)))?;
                    Ok((
                        i.name.clone(),
                        Tensor {
                            shape: vec![f.rows],
                            elems: col.clone(),
                        },
                    ))
                })
                .collect::<Result<_>>()?,
            Input::Tensor(t) => {
                if self.inputs.len() != 1 {
                    return Err(ServeError::Model {
                        code: mlox_core::ErrorCode::INTERNAL_ERROR,
                        message: format!("Unable to map numpy array input to the expected model input. Numpy arrays can only be used as input for MLflow ONNX models that have a single input. This model requires {} inputs. Please pass in data as either a dictionary or a DataFrame with the following tensors: {:?}.", self.inputs.len(), self.input_names()),
                    });
                }
                vec![(self.inputs[0].name.clone(), t.clone())]
            }
            Input::Dict(d) => d.clone(),
        };
        let mut values: Vec<(String, DynValue)> = Vec::with_capacity(feeds.len());
        for (name, t) in feeds {
            let want = self
                .inputs
                .iter()
                .find(|i| i.name == name)
                .and_then(|i| i.ty);
            values.push((name, to_ort(t, want)?));
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.sessions.len();
        // Take a free session if there is one, else wait for ours.
        let mut guard = None;
        for k in 0..self.sessions.len() {
            if let Ok(g) = self.sessions[(i + k) % self.sessions.len()].try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut session = match guard {
            Some(g) => g,
            None => self.sessions[i]
                .lock()
                .map_err(|_| ServeError::Worker("an ONNX session panicked".to_string()))?,
        };
        let outputs = session.run(values).map_err(unexpected)?;
        self.outputs
            .iter()
            .map(|name| {
                let v = outputs
                    .get(name.as_str())
                    .ok_or_else(|| unexpected(format!("missing output {name}")))?;
                from_ort(v)
            })
            .collect()
    }
}

fn to_ort(t: Tensor, want: Option<TensorElementType>) -> Result<DynValue> {
    let shape: Vec<i64> = t.shape.iter().map(|d| *d as i64).collect();
    let mismatch = |have: &str| {
        unexpected(format!(
            "Unexpected input data type. Actual: (tensor({have})) , expected: ({want:?})"
        ))
    };
    let have = t.elems.dtype();
    let value: DynValue = match (t.elems, want) {
        // MLflow casts float64 to float32 where the graph wants float (issue #1286).
        (Elems::F64(v), Some(TensorElementType::Float32)) => {
            OrtTensor::from_array((shape, v.into_iter().map(|x| x as f32).collect::<Vec<f32>>()))
                .map_err(unexpected)?
                .into_dyn()
        }
        (Elems::F32(v), Some(TensorElementType::Float32)) => OrtTensor::from_array((shape, v))
            .map_err(unexpected)?
            .into_dyn(),
        (Elems::F64(v), Some(TensorElementType::Float64)) => OrtTensor::from_array((shape, v))
            .map_err(unexpected)?
            .into_dyn(),
        (Elems::I64(v), Some(TensorElementType::Int64)) => OrtTensor::from_array((shape, v))
            .map_err(unexpected)?
            .into_dyn(),
        (Elems::I64(v), Some(TensorElementType::Int32)) => {
            OrtTensor::from_array((shape, v.into_iter().map(|x| x as i32).collect::<Vec<i32>>()))
                .map_err(unexpected)?
                .into_dyn()
        }
        (Elems::Bool(v), Some(TensorElementType::Bool)) => OrtTensor::from_array((shape, v))
            .map_err(unexpected)?
            .into_dyn(),
        (Elems::Str(v), Some(TensorElementType::String)) => {
            let arr = ndarray::ArrayD::from_shape_vec(t.shape.clone(), v).map_err(unexpected)?;
            OrtTensor::from_string_array(&arr)
                .map_err(unexpected)?
                .into_dyn()
        }
        _ => return Err(mismatch(have)),
    };
    Ok(value)
}

/// One graph output.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Tensor(Tensor),
    /// A ZipMap output: one `{class: probability}` per row.
    Maps(Vec<Value>),
}

impl Output {
    fn into_json(self) -> Value {
        match self {
            Output::Tensor(t) => t.to_json(),
            Output::Maps(m) => Value::Array(m),
        }
    }

    /// `np.asarray(x).reshape(-1)` as JSON values.
    fn flat(self) -> Vec<Value> {
        match self {
            Output::Tensor(t) => t.elems.to_values(),
            Output::Maps(m) => m,
        }
    }
}

fn from_ort(v: &DynValue) -> Result<Output> {
    match v.dtype() {
        ValueType::Tensor { ty, .. } => {
            macro_rules! tensor {
                ($t:ty, $variant:ident, $conv:expr) => {{
                    let (shape, data) = v.try_extract_tensor::<$t>().map_err(unexpected)?;
                    Tensor {
                        shape: shape.iter().map(|d| *d as usize).collect(),
                        elems: Elems::$variant(data.iter().map($conv).collect()),
                    }
                }};
            }
            let t = match ty {
                TensorElementType::Float32 => tensor!(f32, F32, |x| *x),
                TensorElementType::Float64 => tensor!(f64, F64, |x| *x),
                TensorElementType::Int64 => tensor!(i64, I64, |x| *x),
                TensorElementType::Int32 => tensor!(i32, I64, |x| *x as i64),
                TensorElementType::Bool => tensor!(bool, Bool, |x| *x),
                TensorElementType::String => {
                    let (shape, data) = v.try_extract_strings().map_err(unexpected)?;
                    Tensor {
                        shape: shape.iter().map(|d| *d as usize).collect(),
                        elems: Elems::Str(data),
                    }
                }
                other => return Err(unexpected(format!("unsupported output type {other:?}"))),
            };
            Ok(Output::Tensor(t))
        }
        ValueType::Sequence(inner) => {
            let ValueType::Map { key, .. } = inner.as_ref() else {
                return Err(unexpected("unsupported sequence output"));
            };
            let items = v
                .try_extract_sequence::<ort::value::DynValueTypeMarker>()
                .map_err(unexpected)?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let mut m = Map::new();
                match key {
                    TensorElementType::Int64 => {
                        for (k, p) in item
                            .try_extract_key_values::<i64, f32>()
                            .map_err(unexpected)?
                        {
                            m.insert(k.to_string(), crate::data::float_value(p as f64));
                        }
                    }
                    TensorElementType::String => {
                        for (k, p) in item
                            .try_extract_key_values::<String, f32>()
                            .map_err(unexpected)?
                        {
                            m.insert(k, crate::data::float_value(p as f64));
                        }
                    }
                    other => return Err(unexpected(format!("unsupported map key {other:?}"))),
                }
                out.push(Value::Object(m));
            }
            Ok(Output::Maps(out))
        }
        other => Err(unexpected(format!("unsupported output {other:?}"))),
    }
}

/// A DataFrame of the flattened outputs, as records (all outputs must be as long).
fn records(names: &[String], outputs: Vec<Output>) -> Result<Value> {
    let cols: Vec<Vec<Value>> = outputs.into_iter().map(Output::flat).collect();
    let n = cols.first().map_or(0, Vec::len);
    if cols.iter().any(|c| c.len() != n) {
        return Err(unexpected("All arrays must be of the same length"));
    }
    let mut iters: Vec<std::vec::IntoIter<Value>> = cols.into_iter().map(Vec::into_iter).collect();
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        let mut row = Map::new();
        for (name, it) in names.iter().zip(iters.iter_mut()) {
            row.insert(name.clone(), it.next().unwrap_or(Value::Null));
        }
        rows.push(Value::Object(row));
    }
    Ok(Value::Array(rows))
}
