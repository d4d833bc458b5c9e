//! The `MLmodel` file (mlflow/models/model.py): a YAML map of flavors, signature, input
//! example and provenance, next to the flavor's files and the environment files
//! (`python_env.yaml`, `conda.yaml`, `requirements.txt`).
//!
//! The whole document is kept as JSON values so that unknown keys survive a read/write
//! round trip; the keys serving needs have typed accessors. Written as MLflow writes it
//! (`yaml.safe_dump`: block style, keys sorted).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use yaml_rust2::{Yaml, YamlEmitter, YamlLoader};

use crate::error::{Result, ServeError};
use crate::schema::Signature;

pub const MLMODEL_FILE: &str = "MLmodel";

/// One `MLmodel` document.
#[derive(Clone, Debug, PartialEq)]
pub struct MlModel {
    /// Every top-level key, as read.
    pub doc: Map<String, Value>,
}

impl MlModel {
    /// Parses the text of an `MLmodel` file.
    pub fn parse(text: &str) -> Result<Self> {
        let docs = YamlLoader::load_from_str(text)
            .map_err(|e| ServeError::InvalidModel(format!("MLmodel is not valid YAML: {e}")))?;
        let Some(root) = docs.into_iter().next() else {
            return Err(ServeError::InvalidModel("MLmodel is empty".to_string()));
        };
        match yaml_to_json(root) {
            Value::Object(doc) => {
                let model = MlModel { doc };
                if !model.doc.get("flavors").is_some_and(Value::is_object) {
                    return Err(ServeError::InvalidModel(
                        "MLmodel has no `flavors` map".to_string(),
                    ));
                }
                Ok(model)
            }
            other => Err(ServeError::InvalidModel(format!(
                "MLmodel must be a YAML mapping, found {other}"
            ))),
        }
    }

    /// Reads `<dir>/MLmodel`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MLMODEL_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ServeError::InvalidModel(format!(
                    "Could not find an \"MLmodel\" configuration file at \"{}\"",
                    dir.display()
                ))
            } else {
                ServeError::Io {
                    context: format!("reading {}", path.display()),
                    source: e,
                }
            }
        })?;
        Self::parse(&text)
    }

    /// The document as YAML, keys sorted, block style.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        let yaml = json_to_yaml(&Value::Object(self.doc.clone()));
        let mut emitter = YamlEmitter::new(&mut out);
        // Emitting to a String cannot fail for the values json_to_yaml produces.
        let _ = emitter.dump(&yaml);
        let body = out.strip_prefix("---\n").unwrap_or(&out).to_string();
        body + "\n"
    }

    /// Writes `<dir>/MLmodel`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MLMODEL_FILE);
        std::fs::write(&path, self.to_yaml())
            .map_err(ServeError::io(format!("writing {}", path.display())))
    }

    pub fn flavors(&self) -> BTreeMap<&str, &Value> {
        self.doc
            .get("flavors")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default()
    }

    pub fn flavor(&self, name: &str) -> Option<&Map<String, Value>> {
        self.doc.get("flavors")?.get(name)?.as_object()
    }

    fn str_key(&self, key: &str) -> Option<&str> {
        self.doc.get(key).and_then(Value::as_str)
    }

    pub fn run_id(&self) -> Option<&str> {
        self.str_key("run_id")
    }

    pub fn model_id(&self) -> Option<&str> {
        self.str_key("model_id")
    }

    pub fn mlflow_version(&self) -> Option<&str> {
        self.str_key("mlflow_version")
    }

    /// The signature, when there is one (`signature.inputs` etc. are JSON strings).
    pub fn signature(&self) -> Result<Option<Signature>> {
        match self.doc.get("signature") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Signature::from_mlmodel(v).map(Some),
        }
    }

    pub fn set_signature(&mut self, signature: &Signature) {
        self.doc
            .insert("signature".to_string(), signature.to_mlmodel());
    }

    /// `saved_input_example_info.artifact_path`, relative to the model directory.
    pub fn input_example_path(&self) -> Option<&str> {
        self.doc
            .get("saved_input_example_info")?
            .get("artifact_path")?
            .as_str()
    }

    /// `saved_input_example_info.serving_input_path`: a ready `/invocations` body.
    pub fn serving_input_path(&self) -> Option<&str> {
        self.doc
            .get("saved_input_example_info")?
            .get("serving_input_path")?
            .as_str()
    }

    /// The environment files the `python_function` flavor names, relative to the model.
    pub fn env_files(&self) -> EnvFiles {
        let env = self.flavor("python_function").and_then(|f| f.get("env"));
        match env {
            // Pre-2.0 models: a plain path to conda.yaml.
            Some(Value::String(conda)) => EnvFiles {
                conda: Some(conda.clone()),
                virtualenv: None,
            },
            Some(Value::Object(m)) => EnvFiles {
                conda: m.get("conda").and_then(Value::as_str).map(str::to_string),
                virtualenv: m
                    .get("virtualenv")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            },
            _ => EnvFiles::default(),
        }
    }
}

/// The environment files of a model (`flavors.python_function.env`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvFiles {
    pub conda: Option<String>,
    pub virtualenv: Option<String>,
}

/// The pip requirements of a model directory (`requirements.txt`), comments and blank lines
/// dropped.
pub fn requirements(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("requirements.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ServeError::Io {
            context: format!("reading {}", path.display()),
            source: e,
        }),
    }
}

/// A model directory: where it is and its `MLmodel`.
#[derive(Clone, Debug)]
pub struct ModelDir {
    pub path: PathBuf,
    pub mlmodel: MlModel,
}

impl ModelDir {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(ModelDir {
            path: path.to_path_buf(),
            mlmodel: MlModel::load(path)?,
        })
    }
}

fn yaml_to_json(y: Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        Yaml::Integer(i) => Value::from(i),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(a) => Value::Array(a.into_iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => if b { "true" } else { "false" }.to_string(),
                        _ => String::new(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

fn json_to_yaml(v: &Value) -> Yaml {
    match v {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(a) => Yaml::Array(a.iter().map(json_to_yaml).collect()),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Yaml::Hash(
                keys.into_iter()
                    .map(|k| (Yaml::String(k.clone()), json_to_yaml(&m[k])))
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKLEARN: &str = r#"artifact_path: mlflow-artifacts:/1/models/m-d3e2/artifacts
flavors:
  python_function:
    env: {conda: conda.yaml, virtualenv: python_env.yaml}
    loader_module: mlflow.sklearn
    model_path: model.skops
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.skops
    serialization_format: skops
    sklearn_version: 1.9.1
is_signature_from_type_hint: false
mlflow_version: 3.17.2
model_id: m-d3e2
model_size_bytes: 5599
run_id: 6b267f93919a4b358228e3323707d097
saved_input_example_info: {artifact_path: input_example.json, serving_input_path: serving_input_example.json, type: ndarray}
signature:
  inputs: '[{"type": "double", "name": "f0", "required": true}, {"type": "long", "name": "f1", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: '[{"name": "temperature", "type": "double", "default": 0.5, "shape": null}]'
utc_time_created: '2026-11-27 18:55:32.821823'
"#;

    #[test]
    fn reads_the_keys_serving_needs() {
        let m = MlModel::parse(SKLEARN).unwrap();
        assert_eq!(
            m.flavors().keys().copied().collect::<Vec<_>>(),
            ["python_function", "sklearn"]
        );
        assert_eq!(m.run_id(), Some("6b267f93919a4b358228e3323707d097"));
        assert_eq!(m.model_id(), Some("m-d3e2"));
        assert_eq!(m.mlflow_version(), Some("3.17.2"));
        assert_eq!(m.input_example_path(), Some("input_example.json"));
        assert_eq!(
            m.env_files(),
            EnvFiles {
                conda: Some("conda.yaml".into()),
                virtualenv: Some("python_env.yaml".into())
            }
        );
        // python_version 3.11.7 is not a number; 1.9.1 neither: both stay strings.
        assert_eq!(
            m.flavor("python_function").unwrap()["python_version"],
            "3.11.7"
        );
        assert_eq!(m.doc["model_size_bytes"], 5599);
        let sig = m.signature().unwrap().unwrap();
        assert_eq!(sig.inputs.unwrap().input_names(), ["f0", "f1"]);
        assert_eq!(sig.params.unwrap()[0].name, "temperature");
    }

    #[test]
    fn round_trips_through_yaml() {
        let m = MlModel::parse(SKLEARN).unwrap();
        let text = m.to_yaml();
        assert!(text.starts_with("artifact_path:"), "{text}");
        let again = MlModel::parse(&text).unwrap();
        assert_eq!(again, m);
        // The signature is written back as JSON strings, as MLflow does.
        assert!(again.doc["signature"]["inputs"].is_string());
    }

    #[test]
    fn rejects_documents_without_flavors() {
        assert!(matches!(
            MlModel::parse("run_id: x\n"),
            Err(ServeError::InvalidModel(_))
        ));
        assert!(MlModel::parse("- a\n- b\n").is_err());
        assert!(MlModel::parse("flavors: [\n").is_err());
    }

    #[test]
    fn old_models_name_conda_yaml_directly() {
        let m = MlModel::parse(
            "flavors:\n  python_function:\n    env: conda.yaml\n    loader_module: mlflow.sklearn\n",
        )
        .unwrap();
        assert_eq!(m.env_files().conda.as_deref(), Some("conda.yaml"));
        assert!(m.signature().unwrap().is_none());
    }
}
