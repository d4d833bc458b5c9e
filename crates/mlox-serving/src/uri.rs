//! Model URIs (mlflow/store/artifact/models_artifact_repo.py, runs_artifact_repo.py) and
//! the local cache of downloaded models.
//!
//! A local folder is used where it is. Every other URI is resolved through the tracking
//! server's REST API to an artifact URI (`runs:/<run>/<path>` → the run's artifacts, or the
//! MLflow 3 logged model of that name and run; `models:/<name>/<version>`,
//! `models:/<name>@<alias>`, `models:/<name>/latest` → the version's download URI;
//! `models:/m-…` → the logged model's artifacts), which is then downloaded once into
//! `<cache>/models/<hash of the artifact URI>`: through the server's `mlflow-artifacts`
//! API, or straight from object storage (`s3://`, `gs://`, …) with `mlox-artifacts`.
//! Invariant: a cache entry is complete (it carries a marker written last) or absent.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde_json::{json, Value};
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
    Version {
        name: String,
        version: String,
    },
    Alias {
        name: String,
        alias: String,
    },
    LoggedModel {
        model_id: String,
        path: String,
    },
    /// An artifact URI: `mlflow-artifacts:/…`, `s3://…`, `gs://…`, ….
    Artifact(String),
}

impl ModelUri {
    pub fn parse(uri: &str) -> Result<ModelUri> {
        let bad = |why: &str| ServeError::InvalidModel(format!("invalid model URI '{uri}': {why}"));
        if let Some(rest) = uri.strip_prefix("runs:/") {
            let rest = rest.trim_start_matches('/');
            let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
            if run_id.is_empty() {
                return Err(bad("expected runs:/<run_id>/<path>"));
            }
            return Ok(ModelUri::Run {
                run_id: run_id.to_string(),
                path: path.trim_matches('/').to_string(),
            });
        }
        if let Some(rest) = uri.strip_prefix("models:/") {
            let rest = rest.trim_start_matches('/').trim_end_matches('/');
            if rest.starts_with("m-") {
                let (id, path) = rest.split_once('/').unwrap_or((rest, ""));
                return Ok(ModelUri::LoggedModel {
                    model_id: id.to_string(),
                    path: path.to_string(),
                });
            }
            if let Some((name, alias)) = rest.split_once('@') {
                if name.is_empty() || alias.is_empty() || alias.contains('/') {
                    return Err(bad("expected models:/<name>@<alias>"));
                }
                return Ok(ModelUri::Alias {
                    name: name.to_string(),
                    alias: alias.to_string(),
                });
            }
            return match rest.rsplit_once('/') {
                Some((name, version)) if !name.is_empty() && !version.is_empty() => {
                    Ok(ModelUri::Version {
                        name: name.to_string(),
                        version: version.to_string(),
                    })
                }
                _ => Err(bad(
                    "expected models:/<name>/<version>, models:/<name>@<alias> or models:/<model_id>",
                )),
            };
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
    tracking_uri: Option<String>,
    cache_dir: PathBuf,
    /// Credentials, TLS and retries from MLflow's environment variables.
    http: mlox_client::Http,
    /// Prints what is downloaded (to stderr).
    pub verbose: bool,
}

fn remote(e: impl std::fmt::Display) -> ServeError {
    ServeError::Remote(e.to_string())
}

impl Resolver {
    pub fn new(tracking_uri: Option<&str>, cache_dir: PathBuf) -> Resolver {
        Resolver {
            tracking_uri: tracking_uri
                .filter(|t| !t.is_empty())
                .map(|t| t.trim_end_matches('/').to_string()),
            cache_dir,
            http: mlox_client::Http::from_env(),
            verbose: true,
        }
    }

    fn server(&self) -> Result<&str> {
        match self.tracking_uri.as_deref() {
            Some(t) if t.starts_with("http://") || t.starts_with("https://") => Ok(t),
            _ => Err(ServeError::InvalidModel(
                "this model URI is resolved through a tracking server: set MLFLOW_TRACKING_URI or --tracking-uri to its http(s) address".to_string(),
            )),
        }
    }

    async fn api_get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.server()?);
        let resp = self
            .http
            .send(self.http.get(&url).query(query))
            .await
            .map_err(|e| {
                ServeError::Remote(format!("cannot reach the tracking server at {url}: {e}"))
            })?;
        self.answer(resp).await
    }

    async fn api_post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.server()?);
        let resp = self
            .http
            .send(self.http.post(&url).json(body))
            .await
            .map_err(|e| {
                ServeError::Remote(format!("cannot reach the tracking server at {url}: {e}"))
            })?;
        self.answer(resp).await
    }

    async fn answer(&self, resp: reqwest::Response) -> Result<Value> {
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let msg = body["message"].as_str().unwrap_or("").to_string();
        if status.as_u16() == 404 || body["error_code"] == "RESOURCE_DOES_NOT_EXIST" {
            return Err(ServeError::NotFound(msg));
        }
        Err(ServeError::Remote(format!(
            "tracking server answered {status}: {msg}"
        )))
    }

    /// The artifact URI a model URI stands for (`None` for a local folder).
    pub async fn artifact_uri(&self, uri: &ModelUri) -> Result<Option<String>> {
        Ok(Some(match uri {
            ModelUri::Local(_) => return Ok(None),
            ModelUri::Artifact(a) => a.clone(),
            ModelUri::Version { name, version } => {
                let version = if version.eq_ignore_ascii_case("latest") {
                    self.latest_version(name).await?
                } else {
                    version.clone()
                };
                self.download_uri(name, &version).await?
            }
            ModelUri::Alias { name, alias } => {
                let v = self
                    .api_get(
                        "registered-models/alias",
                        &[("name", name), ("alias", alias)],
                    )
                    .await?;
                let version = v["model_version"]["version"]
                    .as_str()
                    .ok_or_else(|| remote("registered-models/alias returned no version"))?
                    .to_string();
                self.download_uri(name, &version).await?
            }
            ModelUri::LoggedModel { model_id, path } => {
                let v = self
                    .api_get(&format!("logged-models/{model_id}"), &[])
                    .await?;
                let root = v["model"]["info"]["artifact_uri"]
                    .as_str()
                    .ok_or_else(|| remote("logged model has no artifact_uri"))?;
                join_uri(root, path)
            }
            ModelUri::Run { run_id, path } => self.run_model_uri(run_id, path).await?,
        }))
    }

    async fn download_uri(&self, name: &str, version: &str) -> Result<String> {
        let v = self
            .api_get(
                "model-versions/get-download-uri",
                &[("name", name), ("version", version)],
            )
            .await?;
        v["artifact_uri"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| remote("get-download-uri returned no artifact_uri"))
    }

    async fn latest_version(&self, name: &str) -> Result<String> {
        let v = self
            .api_post(
                "registered-models/get-latest-versions",
                &json!({"name": name}),
            )
            .await?;
        v["model_versions"]
            .as_array()
            .and_then(|vs| {
                vs.iter()
                    .filter_map(|m| m["version"].as_str()?.parse::<u64>().ok())
                    .max()
            })
            .map(|n| n.to_string())
            .ok_or_else(|| {
                ServeError::NotFound(format!("registered model '{name}' has no versions"))
            })
    }

    /// `runs:/<run>/<path>`: the run's own artifacts when they hold a model there, else the
    /// logged model of that name from that run (MLflow 3 `log_model(name=...)`).
    async fn run_model_uri(&self, run_id: &str, path: &str) -> Result<String> {
        let run = self.api_get("runs/get", &[("run_id", run_id)]).await?;
        let info = &run["run"]["info"];
        let root = info["artifact_uri"]
            .as_str()
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
        let experiment = info["experiment_id"].as_str().unwrap_or("0");
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "experiment_ids": [experiment],
                "filter": format!("name = '{}'", name.replace('\'', "\\'")),
                "max_results": 100,
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page = self.api_post("logged-models/search", &body).await?;
            for m in page["models"].as_array().into_iter().flatten() {
                if m["info"]["source_run_id"] == run_id {
                    if let Some(uri) = m["info"]["artifact_uri"].as_str() {
                        return Ok(join_uri(uri, rest));
                    }
                }
            }
            token = page["next_page_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
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
            Store::Proxy { base, path } => {
                let url = format!(
                    "{base}/api/2.0/mlflow-artifacts/artifacts/{}",
                    url_path(&path)
                );
                let resp = self
                    .http
                    .send(self.http.request(reqwest::Method::HEAD, &url))
                    .await
                    .map_err(remote)?;
                if resp.status().as_u16() == 405 {
                    let resp = self.http.send(self.http.get(&url)).await.map_err(remote)?;
                    return Ok(resp.status().is_success());
                }
                Ok(resp.status().is_success())
            }
            Store::Object(repo) => Ok(repo.get("").await.is_ok()
                || repo.list("").await.map(|l| l.is_some()).unwrap_or(false)),
        }
    }

    async fn download_tree(&self, artifact: &str, dst: &Path) -> Result<()> {
        std::fs::create_dir_all(dst)
            .map_err(ServeError::io(format!("creating {}", dst.display())))?;
        match Store::open(self, artifact)? {
            Store::Proxy { base, path } => {
                let mut stack = vec![String::new()];
                while let Some(rel) = stack.pop() {
                    let list_url = format!("{base}/api/2.0/mlflow-artifacts/artifacts");
                    let full = join_path(&path, &rel);
                    let resp = self
                        .http
                        .send(self.http.get(&list_url).query(&[("path", full.as_str())]))
                        .await
                        .map_err(remote)?;
                    let listing = self.answer(resp).await?;
                    for f in listing["files"].as_array().into_iter().flatten() {
                        let name = f["path"].as_str().unwrap_or_default();
                        let child = join_path(&rel, name.rsplit('/').next().unwrap_or(name));
                        if f["is_dir"].as_bool().unwrap_or(false) {
                            stack.push(child);
                            continue;
                        }
                        let url = format!(
                            "{base}/api/2.0/mlflow-artifacts/artifacts/{}",
                            url_path(&join_path(&path, &child))
                        );
                        let resp = self.http.send(self.http.get(&url)).await.map_err(remote)?;
                        if !resp.status().is_success() {
                            return Err(remote(format!(
                                "downloading {child}: HTTP {}",
                                resp.status()
                            )));
                        }
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
    /// The tracking server's `mlflow-artifacts` proxy.
    Proxy {
        base: String,
        path: String,
    },
    Object(mlox_artifacts::ArtifactRepo),
}

impl Store {
    fn open(resolver: &Resolver, artifact: &str) -> Result<Store> {
        if let Some(rest) = artifact.strip_prefix("mlflow-artifacts:") {
            // mlflow-artifacts:/path or mlflow-artifacts://host:port/path
            let (base, path) = match rest.strip_prefix("//") {
                Some(hostpath) => {
                    let (host, path) = hostpath.split_once('/').unwrap_or((hostpath, ""));
                    let scheme = if resolver.server().is_ok_and(|s| s.starts_with("https")) {
                        "https"
                    } else {
                        "http"
                    };
                    if host.is_empty() {
                        (resolver.server()?.to_string(), path.to_string())
                    } else {
                        (format!("{scheme}://{host}"), path.to_string())
                    }
                }
                None => (resolver.server()?.to_string(), rest.to_string()),
            };
            return Ok(Store::Proxy {
                base,
                path: path.trim_matches('/').to_string(),
            });
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

fn url_path(p: &str) -> String {
    p.split('/')
        .map(|s| {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
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
        assert_eq!(
            p("models:/fraud/3"),
            ModelUri::Version {
                name: "fraud".into(),
                version: "3".into()
            }
        );
        assert_eq!(
            p("models:/fraud@champion"),
            ModelUri::Alias {
                name: "fraud".into(),
                alias: "champion".into()
            }
        );
        assert_eq!(
            p("models:/m-0123abc"),
            ModelUri::LoggedModel {
                model_id: "m-0123abc".into(),
                path: "".into()
            }
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
        assert_eq!(url_path("a b/c"), "a%20b/c");
    }

    #[tokio::test]
    async fn remote_uris_need_a_tracking_server() {
        let r = Resolver::new(None, std::env::temp_dir());
        let e = r.resolve("models:/x@y").await.unwrap_err();
        assert!(e.to_string().contains("MLFLOW_TRACKING_URI"), "{e}");
        let e = r.resolve("/definitely/not/here").await.unwrap_err();
        assert!(matches!(e, ServeError::NotFound(_)));
    }
}
