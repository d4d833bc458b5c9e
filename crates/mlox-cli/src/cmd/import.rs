//! `mlox import`: an MLflow tracking database into an mlox store (the work is in
//! `mlox_store::mlflow_import`).

use std::sync::{Arc, Mutex};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mlox_store::mlflow_import::{import_mlflow, ImportOptions, ImportProgress};
use mlox_store::StoreUri;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The MLflow tracking database, as MLflow's `--backend-store-uri`:
    /// `sqlite:///path/mlflow.db`, `postgresql://user:pass@host:port/db`
    /// (`postgresql+psycopg2://…` too).
    pub from: String,
    /// The mlox store to import into, as for `mlox server`.
    #[arg(
        long,
        default_value = "sqlite:///mlox.db",
        env = "MLFLOW_BACKEND_STORE_URI"
    )]
    pub backend_store_uri: String,
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

impl ImportProgress for Bars {
    fn start(&self, table: &str, total: u64) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg:>26} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
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
    let started = std::time::Instant::now();
    let opts = ImportOptions {
        batch_rows: args.batch_size.max(1),
        progress: Arc::new(Bars::new(args.quiet)),
    };
    let summary = import_mlflow(&args.from, &target, opts)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let rows: u64 = summary.tables.iter().map(|(_, n)| n).sum();
    println!(
        "imported {rows} rows from MLflow schema revision {}{} in {:.1} s",
        summary.revision,
        if summary.resumed { " (resumed)" } else { "" },
        started.elapsed().as_secs_f64()
    );
    for (table, n) in &summary.tables {
        println!("  {table}: {n}");
    }
    Ok(())
}
