use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use mlox_server::AppState;
use mlox_store::{SqlStore, StoreOptions, StoreUri};

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ServerArgs {
    /// Print help (`-h` is the host, as in `mlflow server`).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,

    /// Address to listen on. Use 0.0.0.0 to accept connections from other machines.
    #[arg(long, short = 'h', default_value = "127.0.0.1", env = "MLFLOW_HOST")]
    pub host: String,

    /// Port to listen on; 0 picks a free port (the chosen address is printed).
    #[arg(long, short = 'p', default_value_t = 5000, env = "MLFLOW_PORT")]
    pub port: u16,

    /// Where runs, metrics and experiments are stored: sqlite:///path/to/file.db (relative
    /// to the current folder; sqlite:////abs/path.db for an absolute path) or
    /// postgresql://user:password@host:port/database.
    #[arg(
        long,
        default_value = "sqlite:///mlox.db",
        env = "MLFLOW_BACKEND_STORE_URI"
    )]
    pub backend_store_uri: String,

    /// Root for the artifact locations of new experiments (`<root>/<experiment id>`).
    /// Defaults to `mlflow-artifacts:` (clients send artifacts through this server) when
    /// serving artifacts, else to ./mlruns.
    #[arg(long, env = "MLFLOW_DEFAULT_ARTIFACT_ROOT")]
    pub default_artifact_root: Option<String>,

    /// Where proxied artifacts are stored: a folder, file://, s3://bucket/prefix (AWS
    /// variables; MLFLOW_S3_ENDPOINT_URL for S3-compatible stores), gs://bucket/prefix,
    /// or wasbs://container@account.blob.core.windows.net/prefix.
    #[arg(
        long,
        default_value = "./mlartifacts",
        env = "MLFLOW_ARTIFACTS_DESTINATION"
    )]
    pub artifacts_destination: String,

    /// Proxy artifact uploads and downloads through this server (the default).
    #[arg(long, overrides_with = "no_serve_artifacts")]
    pub serve_artifacts: bool,

    /// Do not serve artifacts: clients read and write the artifact store directly.
    #[arg(long)]
    pub no_serve_artifacts: bool,

    /// Serve only the artifact endpoints (tracking endpoints answer 503).
    #[arg(long)]
    pub artifacts_only: bool,

    /// Size of the PostgreSQL connection pool.
    #[arg(long, default_value_t = 10)]
    pub db_max_connections: u32,

    /// Also write the bound address to this file once listening (for scripts).
    #[arg(long)]
    pub port_file: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub ops: super::server_ops::OpsArgs,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let uri =
        StoreUri::parse(&args.backend_store_uri).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let serve_artifacts = !args.no_serve_artifacts || args.artifacts_only;
    let default_artifact_root = match (&args.default_artifact_root, serve_artifacts) {
        (Some(root), _) => root.clone(),
        (None, true) => "mlflow-artifacts:".to_string(),
        (None, false) => {
            let dir = std::path::Path::new("mlruns");
            std::fs::create_dir_all(dir)?;
            std::fs::canonicalize(dir)?.to_string_lossy().into_owned()
        }
    };
    let artifact_repo = if serve_artifacts {
        Some(
            mlox_artifacts::ArtifactRepo::from_uri(&args.artifacts_destination)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        )
    } else {
        None
    };
    let store = SqlStore::open(
        &uri,
        StoreOptions {
            default_artifact_root,
            max_connections: args.db_max_connections,
            ..StoreOptions::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))
    .with_context(|| format!("opening backend store {}", redact(&args.backend_store_uri)))?;
    let store = Arc::new(store);
    let ops = args.ops.build(&store)?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let url = format!(
        "http://{addr}{}",
        args.ops.static_prefix.as_deref().unwrap_or("")
    );
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "mlox {} tracking server: Listening on {url}",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(out, "backend store: {}", redact(&args.backend_store_uri))?;
        out.flush()?;
    }
    if let Some(path) = &args.port_file {
        std::fs::write(path, &url).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(repo) = &artifact_repo {
        println!("artifacts: served from {}", repo.uri());
    }
    let state = AppState {
        models: mlox_server::ModelsState::new(store.clone()),
        store: store.clone(),
        artifacts: mlox_server::ArtifactsConfig {
            repo: artifact_repo,
            artifacts_only: args.artifacts_only,
        },
    };
    mlox_server::ops::serve_with(listener, state, &ops, shutdown_signal(), args.ops.grace())
        .await?;
    // Every acknowledged write is committed already; this waits for writes still queued
    // by requests cut off at the end of the grace period, and checkpoints the WAL.
    if let Err(e) = store.flush().await {
        tracing::warn!(error = %e.message, "flushing the store at shutdown failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Hides the password of a database URL.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &uri[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &uri[..s], &uri[at + 1..]),
                None => uri.to_string(),
            }
        }
        _ => uri.to_string(),
    }
}
