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

    /// Size of the PostgreSQL connection pool for reads. Writes use connections of their
    /// own besides: four writers, each committing groups of concurrent writes (one writer
    /// when --read-replica-backend-store-uri is given).
    #[arg(long, default_value_t = 10)]
    pub db_max_connections: u32,

    /// Also write the bound address to this file once listening (for scripts).
    #[arg(long)]
    pub port_file: Option<std::path::PathBuf>,

    /// What a write has survived when it is acknowledged. `full` (default): it is on
    /// stable storage (SQLite syncs the WAL once per group commit; PostgreSQL
    /// synchronous_commit=on), so it survives a power cut or a kernel crash. `process`:
    /// it survives a crash or kill -9 of the server, but a power cut or kernel crash may
    /// lose the last acknowledged writes (SQLite synchronous=NORMAL, syncing at
    /// checkpoints only; PostgreSQL synchronous_commit=off for mlox's sessions).
    #[arg(long, value_enum, default_value_t = Durability::Full, env = "MLOX_DURABILITY")]
    pub durability: Durability,

    /// A PostgreSQL streaming standby of the backend store (postgresql://…): searches,
    /// gets and histories read from it while writes go to --backend-store-uri. A read
    /// goes to the standby only once it has replayed every write this server has
    /// acknowledged, else to the primary, so a client always reads its own writes.
    #[arg(
        long,
        value_name = "URI",
        env = "MLFLOW_READ_REPLICA_BACKEND_STORE_URI"
    )]
    pub read_replica_backend_store_uri: Option<String>,

    #[command(flatten)]
    pub security: SecurityArgs,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub ops: super::server_ops::OpsArgs,
}

/// `--durability`: see [`mlox_store::Durability`].
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    Full,
    Process,
}

/// `--app-name basic-auth` and its settings.
#[derive(Args, Debug)]
pub struct AuthArgs {
    /// The application to serve: `basic-auth` turns on MLflow's authentication app (users,
    /// permissions; settings from the ini file named by MLFLOW_AUTH_CONFIG_PATH, admin
    /// password from MLFLOW_AUTH_ADMIN_PASSWORD).
    #[arg(long, value_parser = ["basic-auth"])]
    pub app_name: Option<String>,

    /// Addresses of reverse proxies (e.g. oauth2-proxy) whose X-Forwarded-User /
    /// X-Forwarded-Email header names the user (with --app-name basic-auth). Repeat or
    /// separate with commas. Off by default: never list an address that clients can reach
    /// the server from directly.
    #[arg(long, value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,
}

/// MLflow's security-middleware flags (and their environment variables).
#[derive(Args, Debug)]
pub struct SecurityArgs {
    /// Comma-separated Host headers to accept, against DNS rebinding (default: localhost,
    /// loopback and private-network addresses, any port). Wildcards: 'mlflow.example.com,
    /// 192.168.*,app-*.internal'. '*' accepts every host (not recommended).
    #[arg(long, env = "MLFLOW_SERVER_ALLOWED_HOSTS")]
    pub allowed_hosts: Option<String>,

    /// Comma-separated CORS origins to allow besides localhost ones (any port), e.g.
    /// 'https://app.example.com'. State-changing API requests from other origins get 403.
    /// '*' allows every origin without credentials (DANGEROUS, development only).
    #[arg(long, env = "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS")]
    pub cors_allowed_origins: Option<String>,

    /// X-Frame-Options header against clickjacking: SAMEORIGIN (default), DENY, or NONE (no
    /// header: the UI may be embedded anywhere).
    #[arg(
        long,
        default_value = "SAMEORIGIN",
        env = "MLFLOW_SERVER_X_FRAME_OPTIONS"
    )]
    pub x_frame_options: String,

    /// DANGEROUS: turn off the Host check, CORS protection and security headers, leaving the
    /// server open to DNS rebinding, cross-site requests and clickjacking. Prefer
    /// --allowed-hosts and --cors-allowed-origins.
    #[arg(long, env = "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", value_parser = clap::builder::FalseyValueParser::new())]
    pub disable_security_middleware: bool,
}

impl SecurityArgs {
    fn config(&self) -> mlox_server::security::SecurityConfig {
        if self.allowed_hosts.as_deref() == Some("*") {
            eprintln!(
                "WARNING: Accepting ALL hosts. This may leave the server vulnerable to DNS \
                 rebinding attacks."
            );
        }
        if self.cors_allowed_origins.as_deref() == Some("*") {
            eprintln!(
                "WARNING: Allowing ALL origins for CORS. This allows ANY website to access \
                 your data. This configuration is only recommended for local development."
            );
        }
        mlox_server::security::SecurityConfig::from_flags(
            self.allowed_hosts.as_deref(),
            self.cors_allowed_origins.as_deref(),
            Some(&self.x_frame_options),
            self.disable_security_middleware,
        )
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called,
/// not when it is first awaited, so a signal that arrives right after "Listening" is
/// printed still shuts the server down cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let wait = {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut int = signal(SignalKind::interrupt()).ok();
        async move {
            let term = async {
                match term.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = term => {},
                _ = int => {},
            }
        }
    };
    #[cfg(not(unix))]
    let wait = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    async move {
        wait.await;
        tracing::info!("shutting down");
    }
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let uri =
        StoreUri::parse(&args.backend_store_uri).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let read_replica = match &args.read_replica_backend_store_uri {
        Some(u) => Some(StoreUri::parse(u).map_err(|e| anyhow::anyhow!("{}", e.message))?),
        None => None,
    };
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
            durability: match args.durability {
                Durability::Full => mlox_store::Durability::Full,
                Durability::Process => mlox_store::Durability::Process,
            },
            read_replica,
            allowed_host_schemes: allowed_host_schemes(),
            ..StoreOptions::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message))
    .with_context(|| format!("opening backend store {}", redact(&args.backend_store_uri)))?;
    let store = Arc::new(store);
    let ops = args.ops.build(&store)?;
    let state = AppState {
        models: mlox_server::ModelsState::new(store.clone()),
        store: store.clone(),
        artifacts: mlox_server::ArtifactsConfig {
            repo: artifact_repo,
            artifacts_only: args.artifacts_only,
        },
    };
    // The auth app starts (and may refuse to) before the server listens.
    let auth = match args.auth.app_name.as_deref() {
        Some(_) => {
            let cfg = mlox_server::auth::AuthConfig::load().map_err(anyhow::Error::msg)?;
            let auth = mlox_server::auth::Auth::start(
                store.clone(),
                state.clone(),
                &cfg,
                args.auth.trusted_proxy.clone(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            Some(auth)
        }
        None => None,
    };
    let guards = mlox_server::Guards {
        security: args.security.config(),
        auth,
    };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let shutdown = shutdown_signal();
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
    if let Some(repo) = &state.artifacts.repo {
        println!("artifacts: served from {}", repo.uri());
    }
    if guards.auth.is_some() {
        println!("authentication: basic-auth app");
    }
    mlox_server::ops::serve_with(listener, state, guards, &ops, shutdown, args.ops.grace()).await?;
    if let Some(log) = &ops.access_log {
        log.flush();
    }
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

/// MLflow's `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`: URI schemes (comma-separated)
/// a model version's source may use with a host in it.
fn allowed_host_schemes() -> Vec<String> {
    std::env::var("MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}
