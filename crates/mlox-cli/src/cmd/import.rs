//! `mlox import`: an MLflow tracking database into an mlox store (the work is in
//! `mlox_store::mlflow_import`).

use std::sync::{Arc, Mutex};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mlox_store::mlflow_auth_import::import_basic_auth;
use mlox_store::mlflow_import::{import_mlflow, ImportOptions, ImportProgress};
use mlox_store::StoreUri;

use super::import_artifacts::copy_artifacts;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The MLflow tracking database, as MLflow's `--backend-store-uri`:
    /// `sqlite:///path/mlflow.db`, `postgresql://user:pass@host:port/db`
    /// (`postgresql+psycopg2://…` too), `mysql://user:pass@host:port/db` (MySQL or
    /// MariaDB; `mysql+pymysql://…`, `mysql+mysqldb://…` too), or an MLflow file store folder (`./mlruns`,
    /// `file:///path/mlruns`). May be left out with `--from-basic-auth`.
    pub from: Option<String>,
    /// MLflow's basic-auth database (the `database_uri` of its auth ini file, e.g.
    /// `sqlite:///basic_auth.db`): its users, with their passwords, and their permissions
    /// on experiments, registered models and prompts are imported too.
    #[arg(long, value_name = "URI")]
    pub from_basic_auth: Option<String>,
    /// The mlox store to import into, as for `mlox server`.
    #[arg(
        long,
        default_value = "sqlite:///mlox.db",
        env = "MLFLOW_BACKEND_STORE_URI"
    )]
    pub backend_store_uri: String,
    /// Copy the artifacts of the imported runs and logged models to this folder or
    /// bucket (`s3://…`, `gs://…`, …) in MLflow's layout (`<experiment>/<run>/artifacts`,
    /// `<experiment>/models/<model>/artifacts`) and point the imported locations at the
    /// copies; proxied `mlflow-artifacts:/` locations keep their URIs and are copied to
    /// the same path under DEST (serve them with `mlox server --artifacts-destination
    /// DEST`). Without an MLflow source, copies those of every experiment of the store.
    #[arg(long, value_name = "DEST")]
    pub copy_artifacts: Option<String>,
    /// The artifact destination of the MLflow server that wrote `mlflow-artifacts:/`
    /// locations (its `--artifacts-destination`), read by `--copy-artifacts`; for a file
    /// store (a local folder only), also where its traces with such locations keep their
    /// spans, which are imported from there.
    #[arg(long, value_name = "URI")]
    pub artifacts_source: Option<String>,
    /// The MLflow server's `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY` (a Fernet key): with it,
    /// webhook signing secrets, which MLflow keeps encrypted, are decrypted and imported;
    /// without it they are left out. Best given through the environment variable.
    #[arg(
        long,
        value_name = "KEY",
        env = "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub webhook_secret_key: Option<String>,
    /// Rows (metric points) per transaction of the target.
    #[arg(long, default_value_t = 50_000)]
    pub batch_size: usize,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
}

/// One progress bar per table, on stderr (hidden when stderr is not a terminal).
pub(crate) struct Bars {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub(crate) fn new(quiet: bool) -> Self {
        Bars {
            quiet,
            bar: Mutex::new(None),
        }
    }
}

/// The per-table bar's template (indicatif 0.18 syntax; pinned by a test, since a
/// template that does not parse would silently fall back to the default bar).
const BAR_TEMPLATE: &str = "{msg:>26} [{bar:30}] {pos}/{len} ({per_sec}, {eta})";

impl ImportProgress for Bars {
    fn start(&self, table: &str, total: u64) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(BAR_TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(table.to_string());
        *self.bar.lock().expect("progress lock") = Some(bar);
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &*self.bar.lock().expect("progress lock") {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish();
        }
    }
    fn note(&self, message: &str) {
        eprintln!("note: {message}");
    }
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let target =
        StoreUri::parse(&args.backend_store_uri).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if args.from.is_none() && args.from_basic_auth.is_none() && args.copy_artifacts.is_none() {
        anyhow::bail!("nothing to import: give an MLflow database or file store, --from-basic-auth, or --copy-artifacts");
    }
    let mut imported: Option<Vec<i64>> = None;
    if let Some(from) = &args.from {
        let started = std::time::Instant::now();
        let opts = ImportOptions {
            batch_rows: args.batch_size.max(1),
            progress: Arc::new(Bars::new(args.quiet)),
            // A local folder (or file:// URI): where a file store's proxied trace spans are.
            artifacts_source: args.artifacts_source.as_deref().and_then(|s| {
                match s.strip_prefix("file://") {
                    Some(p) => Some(std::path::PathBuf::from(p)),
                    None if !s.contains("://") => Some(std::path::PathBuf::from(s)),
                    None => None,
                }
            }),
            webhook_secret_key: args.webhook_secret_key.clone().filter(|k| !k.is_empty()),
        };
        let summary = import_mlflow(from, &target, opts)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let rows: u64 = summary.tables.iter().map(|(_, n)| n).sum();
        let from = if summary.file_store {
            "the MLflow file store".to_string()
        } else {
            format!("MLflow schema revision {}", summary.revision)
        };
        println!(
            "imported {rows} rows from {from}{} in {:.1} s",
            if summary.resumed { " (resumed)" } else { "" },
            started.elapsed().as_secs_f64()
        );
        for (table, n) in &summary.tables {
            println!("  {table}: {n}");
        }
        imported = Some(summary.experiment_ids);
    }
    if let Some(dest) = &args.copy_artifacts {
        let started = std::time::Instant::now();
        let copied = copy_artifacts(
            &target,
            imported.as_deref(),
            dest,
            args.artifacts_source.as_deref(),
            args.quiet,
        )
        .await;
        let (files, bytes) = match copied {
            Ok(done) => done,
            Err(e) if args.from.is_some() => anyhow::bail!(
                "{e:#}\nthe import itself is complete and its artifact locations are unchanged; copy them with `mlox import --copy-artifacts {dest}` and the same --backend-store-uri (no MLflow source)"
            ),
            Err(e) => return Err(e),
        };
        println!(
            "copied {files} artifact files ({bytes} bytes) to {dest} in {:.1} s; the locations now point there",
            started.elapsed().as_secs_f64()
        );
    }
    if let Some(auth) = &args.from_basic_auth {
        let summary = import_basic_auth(auth, &target)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        println!(
            "imported {} users and {} permissions from MLflow's basic-auth database",
            summary.users, summary.permissions
        );
        for s in &summary.skipped {
            eprintln!("note: not imported (mlox has no equivalent): {s}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_template_parses() {
        indicatif::ProgressStyle::with_template(super::BAR_TEMPLATE).unwrap();
    }
}
