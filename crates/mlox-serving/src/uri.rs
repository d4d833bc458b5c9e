//! Model URIs (mlflow/store/artifact/models_artifact_repo.py, runs_artifact_repo.py) and
//! the local cache of downloaded models.
//!
//! A local folder is used where it is. Every other URI is resolved through the tracking
//! server's REST API to an artifact URI (`runs:/<run>/<path>` → the run's artifacts, or the
//! MLflow 3 logged model of that name and run; `models:/<name>/<version>`,
//! `models:/<name>@<alias>`, `models:/<name>/latest` → the version's download URI;
//! `models:/<name>/<stage>` → the latest version in that stage; `models:/<model_id>` →
//! the logged model's artifacts), which is then downloaded once into
//! `<cache>/models/<hash of the artifact URI>`: through the server's `mlflow-artifacts`
//! API, or straight from object storage (`s3://`, `gs://`, …) with `mlox-artifacts`.
//! `models:/` URIs are read by `mlox_core::registry::parse_model_uri`, the one parser the
//! server's registry uses too; every REST call goes through `mlox_client`.
//! Invariant: a cache entry is complete (it carries a marker written last) or absent.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use mlox_client::{ClientError, TrackingClient};
use mlox_core::registry::{parse_model_uri, ModelUri as RegistryUri};
use sha2::{Digest, Sha256};

use crate::error::{Result, ServeError};
use crate::mlmodel::MLMODEL_FILE;

const COMPLETE: &str = ".mlox-complete";

/// The default cache: `MLOX_CACHE_DIR`, else `$XDG_CACHE_HOME/mlox` or `~/.cache/mlox`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MLOX_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("mlox");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/mlox"))
        .unwrap_or_else(|| std::env::temp_dir().join("mlox-cache"))
}

/// A parsed model URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelUri {
    Local(PathBuf),
    Run {
        run_id: String,
        path: String,
    },
    /// `models:/…`: a registered model's version (by number, stage, alias or `latest`), or
    /// a logged model.
    Registry(RegistryUri),
    /// An artifact URI: `mlflow-artifacts:/…`, `s3://…`, `gs://…`, ….
    Artifact(String),
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<ModelUri> {
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let rest = rest.trim_start_matches('/');
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            if run_id.is_empty() {
                return Err(ServeError::InvalidModel(format!(
                    "invalid model URI '{uri}': expected runs:/<run_id>/<path>"
                )));
            }
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path: path.trim_matches('/').to_string(),
            });
        }
        if mlox_core::registry::uri_scheme(uri).is_some_and(|s| s.eq_ignore_ascii_case("models")) {
            return parse_model_uri(uri)
                .map(ModelUri::Registry)
                .map_err(|e| ServeError::InvalidModel(e.message));
        }
        if let Some(path) = uri.strip_prefix("file://") {
            return Ok(ModelUri::Local(PathBuf::from(path)));
        }
        match uri.split_once("://").map(|(s, _)| s) {
            Some(_) => Ok(ModelUri::Artifact(uri.to_string())),
            None if uri.starts_with("mlflow-artifacts:") => Ok(ModelUri::Artifact(uri.to_string())),
            None => Ok(ModelUri::Local(PathBuf::from(uri))),
        }
    }
}

/// Resolves model URIs and downloads them into the cache.
pub struct Resolver {
    /// The tracking server (credentials, TLS and retries from MLflow's environment
    /// variables), when the tracking URI is an http(s) one.
    client: Option<TrackingClient>,
    /// A tracking URI that is not a server's (`sqlite:///…`), to say why it cannot serve.
    not_a_server: Option<String>,
    cache_dir: PathBuf,
    /// Prints what is downloaded (to stderr).
    pub verbose: bool,
}

fn remote(e: impl std::fmt::Display) -> ServeError {
    ServeError::Remote(e.to_string())
}

/// A tracking-server error as a serving one: what does not exist is `NotFound`.
fn from_client(e: ClientError) -> ServeError {
    match e {
        ClientError::Api {
            status,
            error_code,
            message,
        } if status == 404 || error_code == "RESOURCE_DOES_NOT_EXIST" => {
            ServeError::NotFound(message)
        }
        ClientError::Api {
            status, message, ..
        } => ServeError::Remote(format!("tracking server answered {status}: {message}")),
        other => ServeError::Remote(other.to_string()),
    }
}

impl Resolver {
    pub fn new(tracking_uri: Option<&str>, cache_dir: PathBuf) -> Resolver {
        let given = tracking_uri.filter(|t| !t.is_empty());
        let client = given.and_then(|t| TrackingClient::connect(t).ok());
        Resolver {
            not_a_server: given.filter(|_| client.is_none()).map(str::to_string),
            client,
            cache_dir,
            verbose: true,
        }
    }

    fn server(&self) -> Result<&TrackingClient> {
        if let Some(uri) = &self.not_a_server {
            return Err(ServeError::InvalidModel(format!(
                "this model URI is resolved through a tracking server, and {}",
                ClientError::NotAServer { uri: uri.clone() }
            )));
        }
        self.client.as_ref().ok_or_else(|| {
            ServeError::InvalidModel(
                "this model URI is resolved through a tracking server: set MLFLOW_TRACKING_URI or --tracking-uri to its http(s) address".to_string(),
            )
        })
    }

    /// The artifact URI a model URI stands for (`None` for a local folder).
    pub async fn artifact_uri(&self, uri: &ModelUri) -> Result<Option<String>> {
        let registry = match uri {
            ModelUri::Local(_) => return Ok(None),
            ModelUri::Artifact(a) => return Ok(Some(a.clone())),
            ModelUri::Run { run_id, path } => {
                return self.run_model_uri(run_id, path).await.map(Some)
            }
            ModelUri::Registry(r) => r,
        };
        let client = self.server()?;
        let (name, version) = match registry {
            RegistryUri::ModelId(id) => {
                let model = client.get_logged_model(id).await.map_err(from_client)?;
                return Ok(Some(model.artifact_uri));
            }
            RegistryUri::Version { name, version } => (name, version.clone()),
            RegistryUri::Alias { name, alias } => {
                let v = client
                    .get_model_version_by_alias(name, alias)
                    .await
                    .map_err(from_client)?;
                (name, v.version)
            }
            RegistryUri::Latest { name } => (name, self.latest_version(name, None).await?),
            RegistryUri::Stage { name, stage } => {
                (name, self.latest_version(name, Some(stage)).await?)
            }
        };
        client
            .get_model_version_download_uri(name, &version)
            .await
            .map(Some)
            .map_err(from_client)
    }

    /// The newest version of a registered model, or the newest in `stage` (as MLflow
    /// resolves `models:/<name>/latest` and `models:/<name>/<stage>`).
    async fn latest_version(&self, name: &str, stage: Option<&str>) -> Result<String> {
        let stages: Vec<&str> = stage.into_iter().collect();
        let versions = self
            .server()?
            .get_latest_versions(name, &stages)
            .await
            .map_err(from_client)?;
        versions
            .iter()
            .filter_map(|m| m.version.parse::<u64>().ok())
            .max()
            .map(|n| n.to_string())
            .ok_or_else(|| {
                ServeError::NotFound(match stage {
                    Some(stage) => {
                        format!("registered model '{name}' has no version in stage '{stage}'")
                    }
                    None => format!("registered model '{name}' has no versions"),
                })
            })
    }

    /// `runs:/<run>/<path>`: the run's own artifacts when they hold a model there, else the
    /// logged model of that name from that run (MLflow 3 `log_model(name=...)`).
    async fn run_model_uri(&self, run_id: &str, path: &str) -> Result<String> {
        let client = self.server()?;
        let run = client.get_run(run_id).await.map_err(from_client)?;
        let root = run
            .info
            .artifact_uri
            .as_deref()
            .ok_or_else(|| remote("run has no artifact_uri"))?;
        let direct = join_uri(root, path);
        if self
            .exists(&join_uri(&direct, MLMODEL_FILE))
            .await
            .unwrap_or(false)
        {
            return Ok(direct);
        }
        let (name, rest) = path.split_once('/').unwrap_or((path, ""));
        let filter = format!("name = '{}'", name.replace('\'', "\\'"));
        let mut token: Option<String> = None;
        loop {
            let page = client
                .search_logged_models(&[&run.info.experiment_id], &filter, 100, token.as_deref())
                .await
                .map_err(from_client)?;
            if let Some(m) = page
                .items
                .iter()
                .find(|m| m.source_run_id.as_deref() == Some(run_id))
            {
                return Ok(join_uri(&m.artifact_uri, rest));
            }
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        Err(ServeError::NotFound(format!(
            "no model found at runs:/{run_id}/{path}: the run has no artifact '{path}/MLmodel' and no logged model named '{name}'"
        )))
    }

    /// A local folder holding the model `uri`, downloading it on first use.
    pub async fn resolve(&self, uri: &str) -> Result<PathBuf> {
        let parsed = ModelUri::parse(uri)?;
        let Some(artifact) = self.artifact_uri(&parsed).await? else {
            let ModelUri::Local(p) = parsed else {
                unreachable!("only local URIs have no artifact URI")
            };
            return local_model(&p);
        };
        if let Some(path) = artifact.strip_prefix("file://") {
            return local_model(Path::new(path));
        }
        if artifact.starts_with('/') {
            return local_model(Path::new(&artifact));
        }
        let key = hex(&Sha256::digest(artifact.as_bytes())[..10]);
        let dir = self.cache_dir.join("models").join(&key);
        if dir.join(COMPLETE).exists() {
            return Ok(dir);
        }
        std::fs::create_dir_all(self.cache_dir.join("models"))
            .map_err(ServeError::io("creating the model cache"))?;
        let tmp = self
            .cache_dir
            .join("models")
            .join(format!("{key}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        if self.verbose {
            eprintln!(
                "mlox: downloading {uri} ({artifact}) into {}",
                dir.display()
            );
        }
        let result = self.download_tree(&artifact, &tmp).await;
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if !tmp.join(MLMODEL_FILE).exists() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(ServeError::NotFound(format!(
                "no MLmodel file at {artifact} (resolved from {uri})"
            )));
        }
        std::fs::write(tmp.join(COMPLETE), &artifact)
            .map_err(ServeError::io("writing cache marker"))?;
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process finished first; theirs is as good.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Ok(dir)
    }

    async fn exists(&self, artifact: &str) -> Result<bool> {
        match Store::open(self, artifact)? {
            Store::Proxy { client, path } => {
                client.artifact_exists(&path).await.map_err(from_client)
            }
            Store::Object(repo) => Ok(repo.get("").await.is_ok()
                || repo.list("").await.map(|l| l.is_some()).unwrap_or(false)),
        }
    }

    async fn download_tree(&self, artifact: &str, dst: &Path) -> Result<()> {
        std::fs::create_dir_all(dst)
            .map_err(ServeError::io(format!("creating {}", dst.display())))?;
        match Store::open(self, artifact)? {
            Store::Proxy { client, path } => {
                let mut stack = vec![String::new()];
                while let Some(rel) = stack.pop() {
                    let entries = client
                        .list_artifacts(&join_path(&path, &rel))
                        .await
                        .map_err(from_client)?;
                    for f in entries {
                        let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                        let child = join_path(&rel, name);
                        if f.is_dir {
                            stack.push(child);
                            continue;
                        }
                        let resp = client
                            .download_artifact(&join_path(&path, &child))
                            .await
                            .map_err(|e| remote(format!("downloading {child}: {e}")))?;
                        write_stream(
                            &dst.join(&child),
                            resp.bytes_stream().map(|c| c.map_err(remote)),
                        )
                        .await?;
                    }
                }
                Ok(())
            }
            Store::Object(repo) => {
                let mut stack = vec![String::new()];
                while let Some(rel) = stack.pop() {
                    let entries = repo.list(&rel).await.map_err(remote)?.unwrap_or_default();
                    for f in entries {
                        let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                        let child = join_path(&rel, &name);
                        if f.is_dir {
                            stack.push(child);
                        } else {
                            let dl = repo.get(&child).await.map_err(remote)?;
                            write_stream(&dst.join(&child), dl.stream.map(|c| c.map_err(remote)))
                                .await?;
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

enum Store {
    /// A tracking server's `mlflow-artifacts` proxy, and the path inside its store.
    Proxy {
        client: TrackingClient,
        path: String,
    },
    Object(mlox_artifacts::ArtifactRepo),
}

impl Store {
    fn open(resolver: &Resolver, artifact: &str) -> Result<Store> {
        if mlox_client::proxied_location(artifact).is_some() {
            let (client, path) = resolver
                .server()?
                .artifact_proxy(artifact)
                .ok_or_else(|| remote(format!("not a proxied artifact URI: {artifact}")))?;
            return Ok(Store::Proxy { client, path });
        }
        mlox_artifacts::ArtifactRepo::from_uri(artifact)
            .map(Store::Object)
            .map_err(remote)
    }
}

async fn write_stream<S>(dst: &Path, mut stream: S) -> Result<()>
where
    S: futures::Stream<Item = Result<bytes::Bytes>> + Unpin,
{
    use tokio::io::AsyncWriteExt;
    if let Some(parent) = dst.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(ServeError::io(format!("creating {}", parent.display())))?;
    }
    let mut f = tokio::fs::File::create(dst)
        .await
        .map_err(ServeError::io(format!("creating {}", dst.display())))?;
    while let Some(chunk) = stream.next().await {
        f.write_all(&chunk?)
            .await
            .map_err(ServeError::io(format!("writing {}", dst.display())))?;
    }
    f.flush().await.map_err(ServeError::io("flushing"))
}

fn local_model(p: &Path) -> Result<PathBuf> {
    if p.join(MLMODEL_FILE).is_file() {
        return Ok(p.to_path_buf());
    }
    Err(ServeError::NotFound(format!(
        "Could not find an \"MLmodel\" configuration file at \"{}\"",
        p.display()
    )))
}

fn join_uri(root: &str, path: &str) -> String {
    let path = path.trim_matches('/');
    if path.is_empty() {
        root.trim_end_matches('/').to_string()
    } else {
        format!("{}/{path}", root.trim_end_matches('/'))
    }
}

fn join_path(a: &str, b: &str) -> String {
    match (a.trim_matches('/'), b.trim_matches('/')) {
        ("", b) => b.to_string(),
        (a, "") => a.to_string(),
        (a, b) => format!("{a}/{b}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_model_uri() {
        let p = |s| ModelUri::parse(s).unwrap();
        assert_eq!(
            p("runs:/abc/model"),
            ModelUri::Run {
                run_id: "abc".into(),
                path: "model".into()
            }
        );
        let reg = |u: RegistryUri| ModelUri::Registry(u);
        assert_eq!(
            p("models:/fraud/3"),
            reg(RegistryUri::Version {
                name: "fraud".into(),
                version: "3".into()
            })
        );
        assert_eq!(
            p("models:/fraud@champion"),
            reg(RegistryUri::Alias {
                name: "fraud".into(),
                alias: "champion".into()
            })
        );
        assert_eq!(
            p("models:/m-0123abc"),
            reg(RegistryUri::ModelId("m-0123abc".into()))
        );
        // A stage is a stage, not a version; a model named m-… is a registered model.
        assert_eq!(
            p("models:/fraud/Production"),
            reg(RegistryUri::Stage {
                name: "fraud".into(),
                stage: "Production".into()
            })
        );
        assert_eq!(
            p("models:/m-foo/3"),
            reg(RegistryUri::Version {
                name: "m-foo".into(),
                version: "3".into()
            })
        );
        assert_eq!(
            p("models:/fraud/latest"),
            reg(RegistryUri::Latest {
                name: "fraud".into()
            })
        );
        assert_eq!(
            p("mlflow-artifacts:/1/x/artifacts"),
            ModelUri::Artifact("mlflow-artifacts:/1/x/artifacts".into())
        );
        assert_eq!(p("s3://b/k"), ModelUri::Artifact("s3://b/k".into()));
        assert_eq!(p("./model"), ModelUri::Local("./model".into()));
        assert_eq!(p("file:///tmp/m"), ModelUri::Local("/tmp/m".into()));
        assert!(ModelUri::parse("models:/").is_err());
        assert!(ModelUri::parse("models:/x@").is_err());
        assert!(ModelUri::parse("runs:/").is_err());
    }

    #[test]
    fn joins() {
        assert_eq!(
            join_uri("mlflow-artifacts:/1/r/artifacts/", "model"),
            "mlflow-artifacts:/1/r/artifacts/model"
        );
        assert_eq!(join_uri("s3://b/k", ""), "s3://b/k");
    }

    #[tokio::test]
    async fn remote_uris_need_a_tracking_server() {
        let r = Resolver::new(None, std::env::temp_dir());
        let e = r.resolve("models:/x@y").await.unwrap_err();
        assert!(e.to_string().contains("MLFLOW_TRACKING_URI"), "{e}");
        let e = r.resolve("/definitely/not/here").await.unwrap_err();
        assert!(matches!(e, ServeError::NotFound(_)));
        let r = Resolver::new(Some("sqlite:///x.db"), std::env::temp_dir());
        let e = r.resolve("models:/x/1").await.unwrap_err();
        assert!(
            e.to_string()
                .contains("'sqlite:///x.db' is not a tracking server URL"),
            "{e}"
        );
    }
}
