//! `mlox artifacts`: a run's artifacts on any MLflow-compatible tracking server, with
//! progress bars on transfers. Talks REST only, through `mlox_client`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use mlox_client::TrackingClient;

#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The tracking server.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:5000"
    )]
    pub tracking_uri: String,
    /// The run whose artifacts to use.
    #[arg(long, short = 'r')]
    pub run_id: String,
}

#[derive(Subcommand, Debug)]
pub enum ArtifactsCommand {
    /// List the artifacts of a run (a directory, or the root).
    List {
        #[command(flatten)]
        target: Target,
        /// Directory inside the run's artifacts.
        #[arg(long, short = 'a', default_value = "")]
        artifact_path: String,
    },
    /// Download a file or a directory of a run's artifacts.
    Download {
        #[command(flatten)]
        target: Target,
        /// File or directory inside the run's artifacts (default: all).
        #[arg(long, short = 'a', default_value = "")]
        artifact_path: String,
        /// Local folder to download into.
        #[arg(long, short = 'd', default_value = ".")]
        dst_path: PathBuf,
    },
    /// Upload a local file or directory to a run's artifacts.
    Upload {
        #[command(flatten)]
        target: Target,
        /// The local file or directory.
        #[arg(long, short = 'l')]
        local_path: PathBuf,
        /// Directory inside the run's artifacts to upload into.
        #[arg(long, short = 'a', default_value = "")]
        artifact_path: String,
    },
}

/// The proxy holding a run's artifacts, and where the run's root is inside its store.
struct Client {
    proxy: TrackingClient,
    root: String,
}

fn join(a: &str, b: &str) -> String {
    match (a.trim_matches('/'), b.trim_matches('/')) {
        ("", b) => b.to_string(),
        (a, "") => a.to_string(),
        (a, b) => format!("{a}/{b}"),
    }
}

/// The transfer bar's template (indicatif 0.18 syntax; pinned by a test, since a
/// template that does not parse would silently fall back to the default bar).
const BAR_TEMPLATE: &str = "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";

fn bar(len: u64, msg: String) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(BAR_TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

impl Client {
    async fn connect(t: &Target) -> anyhow::Result<Self> {
        let server = TrackingClient::connect(&t.tracking_uri)?;
        let run = server
            .get_run(&t.run_id)
            .await
            .with_context(|| format!("cannot get run {}", t.run_id))?;
        let uri = run.info.artifact_uri.unwrap_or_default();
        let Some((proxy, root)) = server.artifact_proxy(&uri) else {
            bail!("run {} stores artifacts directly at '{uri}', not through the server; use that store's own tools", t.run_id);
        };
        Ok(Client { proxy, root })
    }

    /// Entries of a directory as (path relative to the run root, is_dir, size); empty for a file.
    async fn list(&self, rel: &str) -> anyhow::Result<Vec<(String, bool, u64)>> {
        let entries = self
            .proxy
            .list_artifacts(&join(&self.root, rel))
            .await
            .with_context(|| format!("cannot list '{rel}'"))?;
        Ok(entries
            .into_iter()
            .map(|f| (join(rel, &f.path), f.is_dir, f.file_size.unwrap_or(0)))
            .collect())
    }

    async fn download_file(&self, rel: &str, dst: &Path) -> anyhow::Result<()> {
        let resp = self
            .proxy
            .download_artifact(&join(&self.root, rel))
            .await
            .with_context(|| format!("cannot download '{rel}'"))?;
        if let Some(parent) = dst.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let pb = bar(resp.content_length().unwrap_or(0), rel.to_string());
        let tmp = dst.with_extension("mlox-partial");
        let mut file = tokio::fs::File::create(&tmp).await?;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
            pb.inc(chunk.len() as u64);
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await?;
        tokio::fs::rename(&tmp, dst).await?;
        pb.finish_and_clear();
        Ok(())
    }

    async fn upload_file(&self, local: &Path, rel: &str) -> anyhow::Result<()> {
        let file = tokio::fs::File::open(local)
            .await
            .with_context(|| format!("cannot open {}", local.display()))?;
        let len = file.metadata().await?.len();
        let pb = bar(len, rel.to_string());
        let progress = pb.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).inspect(move |c| {
            if let Ok(c) = c {
                progress.inc(c.len() as u64);
            }
        });
        let result = self
            .proxy
            .upload_artifact(
                &join(&self.root, rel),
                len,
                reqwest::Body::wrap_stream(stream),
            )
            .await;
        pb.finish_and_clear();
        result.with_context(|| format!("cannot upload '{}'", local.display()))
    }
}

pub async fn run(cmd: ArtifactsCommand) -> anyhow::Result<()> {
    match cmd {
        ArtifactsCommand::List {
            target,
            artifact_path,
        } => {
            let client = Client::connect(&target).await?;
            for (path, is_dir, size) in client.list(&artifact_path).await? {
                if is_dir {
                    println!("{path}/");
                } else {
                    println!("{path}\t{size}");
                }
            }
        }
        ArtifactsCommand::Download {
            target,
            artifact_path,
            dst_path,
        } => {
            let client = Client::connect(&target).await?;
            let mut pending = vec![artifact_path.clone()];
            let mut files = Vec::new();
            while let Some(dir) = pending.pop() {
                let entries = client.list(&dir).await?;
                if entries.is_empty() {
                    files.push(dir);
                    continue;
                }
                for (path, is_dir, _) in entries {
                    if is_dir {
                        pending.push(path);
                    } else {
                        files.push(path);
                    }
                }
            }
            // Keep the downloaded tree relative to the requested path's parent, as MLflow does.
            let base = artifact_path
                .trim_matches('/')
                .rsplit_once('/')
                .map_or("", |(p, _)| p)
                .to_string();
            for rel in files {
                if rel.is_empty() {
                    bail!("run {} has no artifacts", target.run_id);
                }
                let local = rel
                    .strip_prefix(&base)
                    .unwrap_or(&rel)
                    .trim_start_matches('/')
                    .to_string();
                client.download_file(&rel, &dst_path.join(local)).await?;
            }
            println!("downloaded to {}", dst_path.display());
        }
        ArtifactsCommand::Upload {
            target,
            local_path,
            artifact_path,
        } => {
            let client = Client::connect(&target).await?;
            let meta = tokio::fs::metadata(&local_path)
                .await
                .with_context(|| format!("cannot read {}", local_path.display()))?;
            if meta.is_file() {
                let name = local_path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                client
                    .upload_file(&local_path, &join(&artifact_path, &name))
                    .await?;
            } else {
                let mut stack = vec![local_path.clone()];
                while let Some(dir) = stack.pop() {
                    let mut rd = tokio::fs::read_dir(&dir).await?;
                    while let Some(entry) = rd.next_entry().await? {
                        let p = entry.path();
                        if entry.file_type().await?.is_dir() {
                            stack.push(p);
                        } else {
                            let rel = p
                                .strip_prefix(&local_path)?
                                .to_string_lossy()
                                .replace('\\', "/");
                            client.upload_file(&p, &join(&artifact_path, &rel)).await?;
                        }
                    }
                }
            }
            println!("uploaded {}", local_path.display());
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
