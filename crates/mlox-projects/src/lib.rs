//! mlox-projects: reproducible MLproject runs (`mlox run`), tracked.
//!
//! It reads MLflow's MLproject format ([`spec`]), checks and substitutes parameters
//! ([`params`]), fetches code from a folder or a Git repository ([`uri`], [`fetch`]),
//! prepares the environment (cached virtualenvs and conda through `mlox-env`, docker:
//! [`env`], [`docker`]), runs
//! the entry point locally or as a Kubernetes Job ([`kubernetes`]), and records it as an
//! MLflow run ([`runner`]).
//!
//! It talks to tracking only through the REST API ([`mlox_client`]), exactly like a user's
//! script would, so it works against `mlox server` and any MLflow-compatible server. It
//! does not start servers or open stores: the CLI does that.

pub mod docker;
pub mod env;
pub mod error;
pub mod fetch;
pub mod kubernetes;
pub mod params;
pub mod runner;
pub mod spec;
pub mod uri;

/// Shared with `mlox models serve`, so they live in `mlox-env`; re-exported under their
/// old paths.
pub use mlox_env::{progress, tools, yaml};

pub use env::EnvManager;
pub use error::ProjectError;
pub use progress::Progress;
pub use runner::{run, Backend, RunOutcome, RunRequest, Tracking};
