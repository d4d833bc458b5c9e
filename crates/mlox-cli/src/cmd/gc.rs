use std::sync::Arc;

use clap::Args;
use mlox_artifacts::ArtifactRepo;
use mlox_core::store::TrackingStore;
use mlox_store::{SqlStore, StoreOptions, StoreUri};

#[derive(Args, Debug)]
pub struct GcArgs {
    /// The backend store, as for `mlox server`.
    #[arg(
        long,
        default_value = "sqlite:///mlox.db",
        env = "MLFLOW_BACKEND_STORE_URI"
    )]
    pub backend_store_uri: String,

    /// The proxied artifact destination, as for `mlox server` (for mlflow-artifacts:/ URIs).
    #[arg(
        long,
        default_value = "./mlartifacts",
        env = "MLFLOW_ARTIFACTS_DESTINATION"
    )]
    pub artifacts_destination: String,

    /// Only remove what was deleted longer ago than this, e.g. `30d`, `1d2h`, `90m`, `45s`.
    #[arg(long)]
    pub older_than: Option<String>,

    /// Only these deleted runs (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub run_ids: Vec<String>,

    /// Only these deleted experiments (comma-separated ids), with all their runs.
    #[arg(long, value_delimiter = ',')]
    pub experiment_ids: Vec<String>,
}

/// Parses `1d2h3m4s`-style durations into milliseconds.
pub fn parse_duration_ms(s: &str) -> anyhow::Result<i64> {
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit: i64 = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            's' => 1_000,
            _ => anyhow::bail!("invalid duration '{s}': use e.g. 30d, 1d2h, 90m or 45s"),
        };
        let n: i64 = num
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid duration '{s}': a number must precede '{c}'"))?;
        total += n * unit;
        num.clear();
    }
    if !num.is_empty() || s.is_empty() {
        anyhow::bail!("invalid duration '{s}': end with a unit (d, h, m or s)");
    }
    Ok(total)
}

/// The proxied artifact destination, opened only when something in it is to be deleted
/// (opening a local one creates its folder).
struct Proxied {
    destination: String,
    repo: Option<ArtifactRepo>,
}

impl Proxied {
    fn get(&mut self) -> anyhow::Result<&ArtifactRepo> {
        if self.repo.is_none() {
            self.repo = Some(ArtifactRepo::from_uri(&self.destination)?);
        }
        Ok(self.repo.as_ref().expect("opened above"))
    }
}

/// Deletes the artifacts under an artifact URI.
async fn delete_artifacts(proxied: &mut Proxied, uri: &str) -> anyhow::Result<()> {
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        let rest = rest
            .strip_prefix("//")
            .map_or(rest, |r| r.find('/').map_or("", |i| &r[i..]));
        let rel = rest.trim_start_matches('/');
        if rel.is_empty() {
            anyhow::bail!("refusing to delete the whole artifact root for '{uri}'");
        }
        proxied.get()?.delete(rel).await?;
    } else {
        ArtifactRepo::from_uri(uri)?.delete("").await?;
    }
    Ok(())
}

pub async fn run(args: GcArgs) -> anyhow::Result<()> {
    let uri =
        StoreUri::parse(&args.backend_store_uri).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    // Collecting garbage never creates a store: a missing SQLite file is a mistyped URI.
    if let StoreUri::Sqlite(path) = &uri {
        if !path.exists() {
            anyhow::bail!(
                "no backend store at {} (from --backend-store-uri {}): nothing to collect",
                path.display(),
                args.backend_store_uri
            );
        }
    }
    let store: Arc<dyn TrackingStore> = Arc::new(
        SqlStore::open(&uri, StoreOptions::default())
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?,
    );
    for id in &args.experiment_ids {
        if let Err(e) = store.get_experiment(id).await {
            anyhow::bail!("experiment {id}: {}", e.message);
        }
    }
    let mut proxied = Proxied {
        destination: args.artifacts_destination.clone(),
        repo: None,
    };
    let cutoff = match &args.older_than {
        Some(d) => Some(now_ms() - parse_duration_ms(d)?),
        None => None,
    };
    let mut runs = store
        .deleted_runs(cutoff)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    if !args.run_ids.is_empty() {
        for id in &args.run_ids {
            if !runs.iter().any(|r| &r.run_id == id) {
                anyhow::bail!(
                    "run {id} is not deleted (or not deleted long enough): delete it first"
                );
            }
        }
        runs.retain(|r| args.run_ids.contains(&r.run_id));
    }
    if !args.experiment_ids.is_empty() && args.run_ids.is_empty() {
        runs.retain(|r| args.experiment_ids.contains(&r.experiment_id));
    }
    for run in &runs {
        delete_artifacts(&mut proxied, &run.artifact_uri).await?;
        store
            .hard_delete_run(&run.run_id)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        println!("removed run {}", run.run_id);
    }
    if args.run_ids.is_empty() {
        let mut exps = store
            .deleted_experiments()
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        if !args.experiment_ids.is_empty() {
            for id in &args.experiment_ids {
                if !exps.iter().any(|e| &e.experiment_id == id) {
                    anyhow::bail!("experiment {id} is not deleted: delete it first");
                }
            }
            exps.retain(|e| args.experiment_ids.contains(&e.experiment_id));
        }
        if cutoff.is_some() {
            exps.retain(|e| cutoff.is_some_and(|c| e.last_update_time < c));
        }
        for exp in &exps {
            delete_artifacts(&mut proxied, &exp.artifact_location).await?;
            store
                .hard_delete_experiment(&exp.experiment_id)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("removed experiment {} ({})", exp.experiment_id, exp.name);
        }
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("1d2h3m4s").unwrap(), 93_784_000);
        assert_eq!(parse_duration_ms("30d").unwrap(), 2_592_000_000);
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("5x").is_err());
        assert!(parse_duration_ms("").is_err());
    }
}
