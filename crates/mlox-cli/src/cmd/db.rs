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
}

pub async fn run(cmd: DbCommand) -> anyhow::Result<()> {
    match cmd {
        DbCommand::Upgrade { url } => {
            let uri = StoreUri::parse(&url).map_err(|e| anyhow::anyhow!("{}", e.message))?;
            let version = SqlStore::upgrade(&uri)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("schema is at version {version}");
            Ok(())
        }
    }
}
