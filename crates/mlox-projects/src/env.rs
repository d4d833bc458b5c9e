//! The environment a project runs in: the current one (`local`), a cached virtual
//! environment built from python_env.yaml (`virtualenv`, `uv`), a conda environment, or a
//! docker image (mlflow/projects/backend/local.py).
//!
//! This module decides which one a project needs ([`plan`]); the Python environments are
//! built by `mlox-env` (shared with `mlox models serve`) and re-exported here.

use std::path::PathBuf;

pub use mlox_env::python::{
    find_python, prepare_conda, prepare_venv, EnvManager, Prepared, PythonEnv,
};

use crate::error::{ProjectError, Result};
use crate::spec::{DockerEnv, ProjectEnv};

/// What a run needs prepared, decided from the project and `--env-manager`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvPlan {
    Local,
    /// A cached virtual environment; `manager` is `Virtualenv` or `Uv`.
    Venv {
        manager: EnvManager,
        env: PythonEnv,
    },
    Conda {
        config: PathBuf,
    },
    Docker(DockerEnv),
}

impl EnvPlan {
    /// The `mlflow.project.env` tag.
    pub fn tag(&self) -> &'static str {
        match self {
            EnvPlan::Local => "local",
            EnvPlan::Venv { manager, .. } => manager.as_str(),
            EnvPlan::Conda { .. } => "conda",
            EnvPlan::Docker(_) => "docker",
        }
    }
}

/// MLflow's choice (LocalBackend.run): docker_env wins; without `--env-manager` a conda
/// project uses conda and a Python project virtualenv.
pub fn plan(env: &ProjectEnv, manager: Option<EnvManager>) -> Result<EnvPlan> {
    if let ProjectEnv::Docker(d) = env {
        return Ok(EnvPlan::Docker(d.clone()));
    }
    let manager = manager.unwrap_or(match env {
        ProjectEnv::Conda { .. } => EnvManager::Conda,
        _ => EnvManager::Virtualenv,
    });
    match (manager, env) {
        (EnvManager::Local, _) => Ok(EnvPlan::Local),
        (EnvManager::Conda, ProjectEnv::Conda { config }) => Ok(EnvPlan::Conda {
            config: config.clone(),
        }),
        (EnvManager::Conda, _) => Err(ProjectError::Invalid(
            "python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project.".to_string(),
        )),
        (m, ProjectEnv::Conda { config }) => Ok(EnvPlan::Venv {
            manager: m,
            env: PythonEnv::from_conda_yaml(config)?,
        }),
        (m, ProjectEnv::Python { config }) => Ok(EnvPlan::Venv {
            manager: m,
            env: match config {
                Some(path) => PythonEnv::from_yaml_file(path)?,
                None => PythonEnv::default(),
            },
        }),
        (_, ProjectEnv::Docker(_)) => unreachable!("handled above"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn plan_follows_mlflow() {
        let py = ProjectEnv::Python { config: None };
        assert_eq!(
            plan(&py, None).unwrap(),
            EnvPlan::Venv {
                manager: EnvManager::Virtualenv,
                env: PythonEnv::default()
            }
        );
        assert_eq!(plan(&py, Some(EnvManager::Local)).unwrap(), EnvPlan::Local);
        assert_eq!(
            plan(&py, Some(EnvManager::Conda)).unwrap_err().to_string(),
            "python_env project cannot be executed using conda. Set `--env-manager` to 'virtualenv' or 'local' to execute this project."
        );
        let dir = tempfile::tempdir().unwrap();
        let c = write(dir.path(), "conda.yaml", "dependencies: [python=3.11]\n");
        let conda = ProjectEnv::Conda { config: c.clone() };
        assert_eq!(plan(&conda, None).unwrap(), EnvPlan::Conda { config: c });
        assert_eq!(plan(&conda, None).unwrap().tag(), "conda");
        assert!(matches!(
            plan(&conda, Some(EnvManager::Uv)).unwrap(),
            EnvPlan::Venv { manager: EnvManager::Uv, env } if env.python.as_deref() == Some("3.11")
        ));
        let docker = ProjectEnv::Docker(DockerEnv {
            image: "i".into(),
            volumes: vec![],
            environment: vec![],
        });
        assert_eq!(
            plan(&docker, Some(EnvManager::Local)).unwrap().tag(),
            "docker"
        );
        assert!("pip".parse::<EnvManager>().is_err());
    }
}
