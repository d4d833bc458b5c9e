//! `mlox run`: run an MLproject from a folder or a Git repository, tracked
//! (MLflow's `mlflow run`, same flags).
//!
//! The run is recorded through the tracking REST API at `MLFLOW_TRACKING_URI`. Without it
//! (or with a database URI there), an embedded tracking server on the local store
//! (`sqlite:///mlox.db` in the current folder, as `mlox server` uses by default) serves the
//! run's lifetime on 127.0.0.1, so the run shows up in `mlox server` afterwards.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use mlox_client::{Auth, RunStatus, TrackingClient};
use mlox_projects::{Backend, EnvManager, Progress, RunRequest, Tracking};
use mlox_server::AppState;
use mlox_store::{SqlStore, StoreOptions, StoreUri};

/// The local default store (what `mlox server` opens by default).
const DEFAULT_STORE: &str = "sqlite:///mlox.db";
/// Where the embedded server keeps proxied artifacts (`mlox server`'s default).
const DEFAULT_ARTIFACTS_DESTINATION: &str = "./mlartifacts";

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The project: a local folder, or a Git URL (https://, ssh://, git://, file://,
    /// user@host:path), with an optional #subdirectory.
    pub uri: String,

    /// Entry point of the MLproject; an undeclared `*.py` or `*.sh` file of the project runs
    /// as a script.
    #[arg(short = 'e', long, default_value = "main", value_name = "NAME")]
    pub entry_point: String,

    /// Git commit, branch or tag to run (Git projects).
    #[arg(short = 'v', long, value_name = "VERSION")]
    pub version: Option<String>,

    /// A parameter, `-P name=value` (repeatable). Undeclared parameters are passed to the
    /// command as `--name value`.
    #[arg(short = 'P', long = "param-list", value_name = "NAME=VALUE")]
    pub params: Vec<String>,

    /// Experiment to run in, by name (created if missing).
    #[arg(long, env = "MLFLOW_EXPERIMENT_NAME")]
    pub experiment_name: Option<String>,

    /// Experiment to run in, by id (default: 0, the Default experiment).
    #[arg(long, env = "MLFLOW_EXPERIMENT_ID")]
    pub experiment_id: Option<String>,

    /// Name of the run.
    #[arg(long)]
    pub run_name: Option<String>,

    /// How the environment is made: local (current environment), virtualenv (a cached
    /// venv from python_env.yaml, built with uv when installed), uv, or conda. Default: from
    /// the project (conda.yaml: conda, otherwise virtualenv).
    #[arg(long, value_parser = parse_env_manager, value_name = "local|virtualenv|uv|conda")]
    pub env_manager: Option<EnvManager>,

    /// Use this existing run instead of creating one.
    #[arg(long, value_name = "RUN_ID")]
    pub run_id: Option<String>,

    /// Where the command runs: local or kubernetes.
    #[arg(short = 'b', long, default_value = "local", value_parser = parse_backend)]
    pub backend: Backend,

    /// Backend configuration: a .json file or a JSON string. For kubernetes:
    /// {"kube-context": ..., "repository-uri": ..., "kube-job-template-path": ...}.
    #[arg(short = 'c', long, value_name = "FILE")]
    pub backend_config: Option<String>,
}

fn parse_env_manager(s: &str) -> Result<EnvManager, String> {
    s.parse()
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

/// An in-process tracking server for the run's lifetime.
struct Embedded {
    url: String,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Embedded {
    async fn start(store_uri: &str) -> anyhow::Result<Embedded> {
        let uri = StoreUri::parse(store_uri).map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let store = SqlStore::open(
            &uri,
            StoreOptions {
                default_artifact_root: "mlflow-artifacts:".to_string(),
                max_connections: 4,
                ..StoreOptions::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))
        .with_context(|| format!("opening the local tracking store {store_uri}"))?;
        let artifacts = mlox_artifacts::ArtifactRepo::from_uri(DEFAULT_ARTIFACTS_DESTINATION)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut state = AppState::new(Arc::new(store));
        state.artifacts = mlox_server::ArtifactsConfig {
            repo: Some(artifacts),
            artifacts_only: false,
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("starting the embedded tracking server")?;
        let url = format!("http://{}", listener.local_addr()?);
        let (shutdown, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(mlox_server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Ok(Embedded {
            url,
            shutdown,
            task,
        })
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        // Connections the child left open must not hold the exit.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.task).await;
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let params = mlox_projects::params::parse_param_args(&args.params)?;
    let cwd = std::env::current_dir().context("reading the current folder")?;
    let configured = std::env::var("MLFLOW_TRACKING_URI")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let (store_uri, remote) = match configured.as_deref() {
        None => (Some(DEFAULT_STORE.to_string()), None),
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            (None, Some(u.trim_end_matches('/').to_string()))
        }
        Some(u) if u.starts_with("sqlite:") || u.starts_with("postgres") => {
            (Some(u.to_string()), None)
        }
        Some(u) => anyhow::bail!(
            "MLFLOW_TRACKING_URI={u}: mlox run records runs through a tracking server; set it to http://host:port, or to a database URI (sqlite:///path.db, postgresql://...) for a local store"
        ),
    };
    let embedded = match &store_uri {
        Some(uri) => {
            let e = Embedded::start(uri).await?;
            eprintln!(
                "mlox: tracking in {uri} (no tracking server set in MLFLOW_TRACKING_URI); browse it with `mlox server`"
            );
            Some(e)
        }
        None => None,
    };
    let url = remote
        .clone()
        .or_else(|| embedded.as_ref().map(|e| e.url.clone()))
        .unwrap_or_default();
    let tracking = Tracking {
        client: TrackingClient::new(&url).with_auth(if remote.is_some() {
            Auth::from_env()
        } else {
            Auth::None
        }),
        child_uri: url,
    };
    let req = RunRequest {
        uri: args.uri,
        entry_point: args.entry_point,
        version: args.version,
        params,
        experiment_name: args.experiment_name.filter(|s| !s.is_empty()),
        experiment_id: args.experiment_id.filter(|s| !s.is_empty()),
        run_name: args.run_name,
        env_manager: args.env_manager,
        run_id: args.run_id,
        backend: args.backend,
        backend_config: args.backend_config,
        cwd,
        cache_dir: mlox_projects::runner::default_cache_dir(),
    };
    let result = mlox_projects::run(&req, &tracking, &Progress::stderr()).await;
    if let Some(e) = embedded {
        e.stop().await;
    }
    let outcome = result?;
    match outcome.status {
        RunStatus::Finished => Ok(()),
        RunStatus::Killed => std::process::exit(130),
        _ => anyhow::bail!("Run (ID '{}') failed", outcome.run_id),
    }
}
