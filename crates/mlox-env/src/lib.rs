//! mlox-env: the Python environments that user code runs in, shared by `mlox run`
//! (`mlox-projects`) and `mlox models serve` (`mlox-serving`): python_env.yaml and
//! conda.yaml read ([`python`], over a line-keeping YAML 1.1 loader, [`yaml`]), cached
//! virtual environments built with uv or `python -m venv`, conda environments, and the
//! external tools, file locks and progress lines that building them needs.
//!
//! It knows nothing about MLprojects, models or tracking: callers say which environment
//! they need and get back how to change a child process's environment variables.

pub mod error;
pub mod lock;
pub mod progress;
pub mod python;
pub mod tools;
pub mod yaml;

pub use error::EnvError;
pub use progress::Progress;
pub use python::{EnvManager, Prepared, PythonEnv};
