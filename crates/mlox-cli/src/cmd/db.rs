use clap::Subcommand;
use mlox_store::{SqlStore, StoreUri};

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Apply pending schema migrations to the backend store (they also run at server start).
    Upgrade {
        /// The backend store, as for `mlox server --backend-store-uri`.
        #[arg(default_value = "sqlite:///mlox.db")]
        url: String,
    },
    /// Copy a SQLite store to DEST while its server keeps running (one consistent
    /// snapshot of everything committed when the copy starts). For PostgreSQL, prints
    /// the pg_dump command to use instead.
    Backup {
        /// The backup file to create (must not exist).
        dest: std::path::PathBuf,
        /// The store to back up, as for `mlox server`.
        #[arg(
            long,
            default_value = "sqlite:///mlox.db",
            env = "MLFLOW_BACKEND_STORE_URI"
        )]
        backend_store_uri: String,
    },
    /// Replace a SQLite store with a backup made by `mlox db backup`. Stop the server
    /// first: a store in use is refused. For PostgreSQL, prints the pg_restore advice.
    Restore {
        /// The backup file.
        src: std::path::PathBuf,
        /// The store to replace, as for `mlox server`.
        #[arg(
            long,
            default_value = "sqlite:///mlox.db",
            env = "MLFLOW_BACKEND_STORE_URI"
        )]
        backend_store_uri: String,
    },
}

pub async fn run(cmd: DbCommand) -> anyhow::Result<()> {
    let parse = |url: &str| StoreUri::parse(url).map_err(|e| anyhow::anyhow!("{}", e.message));
    match cmd {
        DbCommand::Upgrade { url } => {
            let uri = parse(&url)?;
            let version = SqlStore::upgrade(&uri)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("schema is at version {version}");
            Ok(())
        }
        DbCommand::Backup {
            dest,
            backend_store_uri,
        } => match parse(&backend_store_uri)? {
            StoreUri::Sqlite(path) => {
                let started = std::time::Instant::now();
                let bytes = tokio::task::spawn_blocking({
                    let dest = dest.clone();
                    move || mlox_store::backup_sqlite(&path, &dest)
                })
                .await?
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                println!(
                    "backup written to {} ({bytes} bytes, {:.1} s)",
                    dest.display(),
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            StoreUri::Postgres(_) => {
                println!(
                    "PostgreSQL stores are backed up with PostgreSQL's own tools, online and consistent:\n  \
                     pg_dump --format=custom --file {} \"$MLFLOW_BACKEND_STORE_URI\"\n\
                     and restored into an empty database with:\n  \
                     pg_restore --no-owner --dbname \"$MLFLOW_BACKEND_STORE_URI\" {}",
                    dest.display(),
                    dest.display()
                );
                Ok(())
            }
        },
        DbCommand::Restore {
            src,
            backend_store_uri,
        } => match parse(&backend_store_uri)? {
            StoreUri::Sqlite(path) => {
                tokio::task::spawn_blocking({
                    let (src, path) = (src.clone(), path.clone());
                    move || mlox_store::restore_sqlite(&src, &path)
                })
                .await?
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                println!("{} restored from {}", path.display(), src.display());
                Ok(())
            }
            StoreUri::Postgres(_) => {
                println!(
                    "Restore a pg_dump backup into an empty database with:\n  \
                     pg_restore --no-owner --dbname \"$MLFLOW_BACKEND_STORE_URI\" {}",
                    src.display()
                );
                Ok(())
            }
        },
    }
}
