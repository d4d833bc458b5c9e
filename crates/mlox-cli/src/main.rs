//! `mlox`: one binary for the tracking server and its tools. Argument parsing and wiring
//! only; the work happens in the library crates.

mod cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mlox",
    version,
    about = "mlox: an MLflow-compatible machine-learning lifecycle platform in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the tracking server (MLflow REST API) on the embedded SQLite store or PostgreSQL.
    Server(cmd::server::ServerArgs),
    /// Manage the backend store's schema.
    #[command(subcommand)]
    Db(cmd::db::DbCommand),
    /// List, download and upload a run's artifacts on a tracking server.
    #[command(subcommand)]
    Artifacts(cmd::artifacts::ArtifactsCommand),
    /// Permanently remove deleted runs and experiments, with their metadata and artifacts.
    Gc(cmd::gc::GcArgs),
    /// Models: serve, predict, generate-dockerfile, build-docker; and the registry on a
    /// tracking server (list, versions, alias).
    #[command(subcommand)]
    Models(cmd::models::ModelsCommand),
    /// Import an MLflow tracking database (SQLite or PostgreSQL) or file store with the
    /// same ids.
    Import(cmd::import::ImportArgs),
    /// Export the store as a new MLflow 3.17 tracking database (SQLite or PostgreSQL) that `mlflow
    /// server` opens as it is.
    Export(cmd::export::ExportArgs),
    /// Run an MLproject from a folder or a Git repository, tracked (like `mlflow run`).
    Run(cmd::run::RunArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // `mlox server --log-format json` makes the diagnostics on stderr JSON too, one object
    // per line, for the same log shipper as the access log.
    let json = matches!(&cli.command, Command::Server(a) if a.ops.json_logs());
    let filter = tracing_subscriber::EnvFilter::try_from_env("MLOX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().with_current_span(false).init();
    } else {
        // Colour only for a person at a terminal, never into logs and pipes.
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Server(args) => cmd::server::run(args).await,
            Command::Db(cmd) => cmd::db::run(cmd).await,
            Command::Artifacts(cmd) => cmd::artifacts::run(cmd).await,
            Command::Gc(args) => cmd::gc::run(args).await,
            Command::Models(cmd) => cmd::models::run(cmd).await,
            Command::Run(args) => cmd::run::run(args).await,
            Command::Import(args) => cmd::import::run(args).await,
            Command::Export(args) => cmd::export::run(args).await,
        }
    })
}
