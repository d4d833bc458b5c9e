//! `mlox export`: the store as a new MLflow tracking database (the work is in
//! `mlox_store::mlflow_export`).

use std::sync::Arc;

use clap::Args;
use mlox_store::mlflow_export::{export_mlflow, ExportOptions, MLFLOW_HEAD_REVISION};
use mlox_store::StoreUri;

use super::import::Bars;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The MLflow database to create, as MLflow's `--backend-store-uri`:
    /// `sqlite:///path/mlflow.db` (the file must not exist) or
    /// `postgresql://user:pass@host:port/db` (an empty database).
    pub to: String,
    /// The mlox store to export, as for `mlox server`. It is only read.
    #[arg(
        long,
        default_value = "sqlite:///mlox.db",
        env = "MLFLOW_BACKEND_STORE_URI"
    )]
    pub backend_store_uri: String,
    /// The `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY` (a Fernet key) the MLflow server will
    /// run with: webhook signing secrets are written encrypted with it, as MLflow keeps
    /// them; without it they are left out. Best given through the environment variable.
    #[arg(
        long,
        value_name = "KEY",
        env = "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub webhook_secret_key: Option<String>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let source =
        StoreUri::parse(&args.backend_store_uri).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let started = std::time::Instant::now();
    let opts = ExportOptions {
        progress: Arc::new(Bars::new(args.quiet)),
        webhook_secret_key: args.webhook_secret_key.filter(|k| !k.is_empty()),
    };
    let summary = export_mlflow(&source, &args.to, opts)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let rows: u64 = summary.tables.iter().map(|(_, n)| n).sum();
    println!(
        "exported {rows} rows into an MLflow database at schema revision {MLFLOW_HEAD_REVISION} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (table, n) in &summary.tables {
        println!("  {table}: {n}");
    }
    Ok(())
}
