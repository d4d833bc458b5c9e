//! The Python environment a `python_function` model's workers run in, by `--env-manager`:
//! `local` is the current Python (`MLOX_PYTHON`, else `python`/`python3` on PATH); `uv` and
//! `virtualenv` build the model's `python_env.yaml` (or `requirements.txt`) once into a
//! venv cached by content hash, and `conda` its `conda.yaml` — both through
//! `mlox-env`, shared with `mlox run`.

use std::path::{Path, PathBuf};

use mlox_env::python::{self as penv, EnvManager};
use mlox_env::Progress;
use serde_json::Value;

use crate::error::{Result, ServeError};
use crate::mlmodel::MlModel;
use crate::pyworker::PythonEnv;

/// `python` for `--env-manager local`.
pub fn local_python() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("MLOX_PYTHON").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    for name in ["python", "python3"] {
        if let Some(p) = mlox_env::tools::which(name) {
            return Ok(p);
        }
    }
    Err(ServeError::InvalidModel(
        "no Python found: put `python` on PATH or set MLOX_PYTHON (the model's Python flavor needs it); use --env-manager uv or virtualenv to build the model's own environment".to_string(),
    ))
}

fn env_error(e: mlox_env::EnvError) -> ServeError {
    ServeError::InvalidModel(format!(
        "cannot prepare the model's Python environment: {e}"
    ))
}

/// Prepares the environment of the model in `dir`.
pub async fn prepare(
    dir: &Path,
    mlmodel: &MlModel,
    manager: EnvManager,
    cache_dir: &Path,
) -> Result<PythonEnv> {
    let progress = Progress::stderr();
    let prepared = match manager {
        EnvManager::Local => {
            return Ok(PythonEnv {
                python: local_python()?,
                vars: Vec::new(),
                unset: Vec::new(),
            })
        }
        EnvManager::Conda => {
            let conda = mlmodel
                .env_files()
                .conda
                .map(|c| dir.join(c))
                .filter(|p| p.is_file())
                .ok_or_else(|| {
                    ServeError::InvalidModel("the model has no conda.yaml".to_string())
                })?;
            penv::prepare_conda(&conda, cache_dir, &progress)
                .await
                .map_err(env_error)?
        }
        EnvManager::Uv | EnvManager::Virtualenv => {
            let file = mlmodel
                .env_files()
                .virtualenv
                .map(|v| dir.join(v))
                .filter(|p| p.is_file());
            let env = match file {
                Some(f) => penv::PythonEnv::from_yaml_file(&f).map_err(env_error)?,
                None => penv::PythonEnv {
                    python: mlmodel
                        .flavor("python_function")
                        .and_then(|f| f.get("python_version"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    build_dependencies: vec!["pip".to_string()],
                    dependencies: if dir.join("requirements.txt").is_file() {
                        vec!["-r requirements.txt".to_string()]
                    } else {
                        vec!["mlflow".to_string()]
                    },
                },
            };
            penv::prepare_venv(manager, &env, dir, cache_dir, &progress)
                .await
                .map_err(env_error)?
        }
    };
    let bin = prepared
        .path_prefix
        .clone()
        .ok_or_else(|| ServeError::InvalidModel("the environment has no bin folder".to_string()))?;
    let mut vars = prepared.vars.clone();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.clone()];
    paths.extend(std::env::split_paths(&path));
    if let Ok(joined) = std::env::join_paths(paths) {
        vars.push(("PATH".to_string(), joined.to_string_lossy().into_owned()));
    }
    Ok(PythonEnv {
        python: bin.join("python"),
        vars,
        unset: prepared.unset,
    })
}
