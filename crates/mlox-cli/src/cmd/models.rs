//! `mlox models`: the model registry of any MLflow-compatible tracking server (REST only,
//! through `mlox-client`), and serving, batch scoring and Docker images for models
//! (`mlox-serving`).

use anyhow::Context;
use clap::{Args, Subcommand};
use mlox_client::{ModelVersion, RegisteredModel, TrackingClient};

#[derive(Args, Debug, Clone)]
pub struct Server {
    /// The tracking server.
    #[arg(
        long,
        env = "MLFLOW_TRACKING_URI",
        default_value = "http://127.0.0.1:5000"
    )]
    pub tracking_uri: String,
}

#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// List registered models: name, latest version per stage, aliases.
    List {
        #[command(flatten)]
        server: Server,
        /// A search filter, e.g. "name LIKE 'fraud%'" or "tags.team = 'risk'".
        #[arg(long)]
        filter: Option<String>,
    },
    /// List the versions of a registered model, newest first.
    Versions {
        #[command(flatten)]
        server: Server,
        /// The registered model.
        name: String,
    },
    /// Point an alias (e.g. `champion`) at a version of a registered model.
    Alias {
        #[command(flatten)]
        server: Server,
        /// The registered model.
        name: String,
        /// The alias to set or move.
        alias: String,
        /// The version it should point at.
        version: String,
    },
    /// Serve a model over MLflow's scoring protocol and the Open Inference Protocol v2.
    Serve(super::serve::ServeArgs),
    /// Score a file (JSON, CSV or Parquet) with a model.
    Predict(super::serve::PredictArgs),
    /// Write a Dockerfile (and build context) for an image that serves a model.
    GenerateDockerfile(super::serve::DockerfileArgs),
    /// Build a Docker image that serves a model (needs a reachable Docker engine).
    BuildDocker(super::serve::BuildDockerArgs),
}

fn client(server: &Server) -> anyhow::Result<TrackingClient> {
    Ok(TrackingClient::connect(&server.tracking_uri)?)
}

fn aliases_of(model: &RegisteredModel, version: &str) -> String {
    let names: Vec<&str> = model
        .aliases
        .iter()
        .filter(|a| a.version == version)
        .map(|a| a.alias.as_str())
        .collect();
    names.join(",")
}

/// A plain table: columns padded to their widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn version_row(v: &ModelVersion) -> Vec<String> {
    vec![
        v.version.clone(),
        v.current_stage.clone().unwrap_or_default(),
        v.aliases.join(","),
        v.run_id.clone().unwrap_or_default(),
        v.source.clone().unwrap_or_default(),
    ]
}

pub async fn run(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::Serve(args) => return super::serve::serve(args).await,
        ModelsCommand::Predict(args) => return super::serve::predict(args).await,
        ModelsCommand::GenerateDockerfile(args) => {
            return super::serve::generate_dockerfile(args).await
        }
        ModelsCommand::BuildDocker(args) => return super::serve::build_docker(args).await,
        ModelsCommand::List { server, filter } => {
            let client = client(&server)?;
            let mut models = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = client
                    .search_registered_models(filter.as_deref(), 1000, token.as_deref())
                    .await
                    .context("searching registered models")?;
                models.extend(page.items);
                token = page.next_page_token;
                if token.is_none() {
                    break;
                }
            }
            let rows: Vec<Vec<String>> = models
                .iter()
                .map(|m| {
                    let mut latest: Vec<String> = m
                        .latest_versions
                        .iter()
                        .map(|v| {
                            format!(
                                "{}:{}",
                                v.current_stage.as_deref().unwrap_or("None"),
                                v.version
                            )
                        })
                        .collect();
                    latest.sort();
                    let aliases: Vec<String> = m
                        .aliases
                        .iter()
                        .map(|a| format!("{}={}", a.alias, a.version))
                        .collect();
                    vec![
                        m.name.clone(),
                        latest.join(","),
                        aliases.join(","),
                        m.description.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(&["NAME", "LATEST", "ALIASES", "DESCRIPTION"], &rows);
        }
        ModelsCommand::Versions { server, name } => {
            let client = client(&server)?;
            // Filter strings are not unescaped: quote with whichever quote the name lacks.
            let filter = if name.contains('\'') {
                format!("name = \"{name}\"")
            } else {
                format!("name = '{name}'")
            };
            let mut versions = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let page = client
                    .search_model_versions(&filter, 10_000, token.as_deref())
                    .await
                    .with_context(|| format!("listing the versions of {name}"))?;
                versions.extend(page.items);
                token = page.next_page_token;
                if token.is_none() {
                    break;
                }
            }
            if versions.is_empty() {
                // Tell "no versions" from "no such model".
                client
                    .search_registered_models(Some(&filter), 1, None)
                    .await
                    .ok()
                    .filter(|p| !p.items.is_empty())
                    .with_context(|| format!("no registered model named {name}"))?;
            }
            // Search results carry no aliases (as in MLflow); take them from the model.
            let model = client
                .search_registered_models(Some(&filter), 1, None)
                .await?
                .items
                .into_iter()
                .next();
            let rows: Vec<Vec<String>> = versions
                .iter()
                .map(|v| {
                    let mut row = version_row(v);
                    if let Some(m) = &model {
                        row[2] = aliases_of(m, &v.version);
                    }
                    row
                })
                .collect();
            print_table(&["VERSION", "STAGE", "ALIASES", "RUN ID", "SOURCE"], &rows);
        }
        ModelsCommand::Alias {
            server,
            name,
            alias,
            version,
        } => {
            let client = client(&server)?;
            client
                .set_registered_model_alias(&name, &alias, &version)
                .await
                .with_context(|| format!("setting alias {alias} of {name}"))?;
            let v = client.get_model_version_by_alias(&name, &alias).await?;
            println!("{name}@{alias} -> version {}", v.version);
        }
    }
    Ok(())
}
