//! mlox-artifacts: the artifact repository — MLflow's artifact semantics (relative
//! artifact paths, directory listings with sizes, streamed upload and download) over
//! any [`object_store`] backend: a local folder, S3 and S3-compatible stores, Google
//! Cloud Storage, Azure Blob Storage, or memory (tests).
//!
//! It knows nothing about HTTP; it never holds a whole file in memory.

mod error;
mod path;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

pub use error::ArtifactError;
pub use path::validate_artifact_path;

/// Uploads smaller than this are sent in one request; larger ones stream as multipart
/// uploads (atomic on every backend: the object appears only when complete).
const SINGLE_PUT_LIMIT: usize = 8 * 1024 * 1024;
/// Part size of multipart uploads (S3 needs ≥ 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once: bounds memory to about `PART_SIZE * MAX_PARTS_IN_FLIGHT`.
const MAX_PARTS_IN_FLIGHT: usize = 4;

/// One entry of a directory listing. `path` is relative to the listed directory's parent
/// root as the caller asked (see [`ArtifactRepo::list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    pub file_size: Option<u64>,
}

/// A readable artifact: its size and a stream of its bytes.
pub struct Download {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, ArtifactError>>,
}

/// An artifact store rooted at a URI. Cloning it is cheap (reference counts only): the
/// server clones its state, which holds one, for every request.
#[derive(Clone)]
pub struct ArtifactRepo {
    store: Arc<dyn ObjectStore>,
    root: Arc<StorePath>,
    /// For local folders: the canonical root, to refuse symlinks that lead out of it.
    local_root: Option<Arc<std::path::Path>>,
    uri: Arc<str>,
}

impl std::fmt::Debug for ArtifactRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactRepo")
            .field("uri", &self.uri)
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ArtifactRepo {
    /// Opens the repository named by `uri`:
    /// a local path or `file://` URI (created if missing), `s3://bucket/prefix` (AWS
    /// environment variables; `MLFLOW_S3_ENDPOINT_URL` for S3-compatible stores),
    /// `gs://bucket/prefix`, `az://container/prefix` or
    /// `wasbs://container@account.blob.core.windows.net/prefix` (Azure, environment
    /// variables), or `memory://`.
    pub fn from_uri(uri: &str) -> Result<Self, ArtifactError> {
        let bad = |e: &dyn std::fmt::Display| {
            ArtifactError::Config(format!("cannot open artifact store '{uri}': {e}"))
        };
        if let Some(rest) = uri.strip_prefix("memory://") {
            let root = StorePath::parse(rest.trim_matches('/')).map_err(|e| bad(&e))?;
            return Ok(ArtifactRepo {
                store: Arc::new(object_store::memory::InMemory::new()),
                root: Arc::new(root),
                local_root: None,
                uri: uri.into(),
            });
        }
        let parsed = url::Url::parse(uri).ok().filter(|u| u.scheme().len() > 1);
        match parsed.as_ref().map(url::Url::scheme) {
            None | Some("file") => {
                let path = match &parsed {
                    Some(u) => u.to_file_path().map_err(|_| bad(&"not a local path"))?,
                    None => PathBuf::from(uri),
                };
                std::fs::create_dir_all(&path).map_err(|e| bad(&e))?;
                let canonical = std::fs::canonicalize(&path).map_err(|e| bad(&e))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&canonical)
                    .map_err(|e| bad(&e))?
                    .with_automatic_cleanup(true);
                Ok(ArtifactRepo {
                    store: Arc::new(store),
                    root: Arc::default(),
                    local_root: Some(canonical.into()),
                    uri: format!("file://{}", path_to_uri_string(&path)).into(),
                })
            }
            Some("s3") => {
                let u = parsed.as_ref().ok_or_else(|| bad(&"invalid URL"))?;
                let bucket = u.host_str().ok_or_else(|| bad(&"no bucket"))?;
                let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = env("MLFLOW_S3_ENDPOINT_URL").or_else(|| env("AWS_ENDPOINT_URL")) {
                    builder = builder
                        .with_endpoint(&endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
                    builder = builder.with_region("us-east-1");
                }
                if env("MLFLOW_S3_IGNORE_TLS").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
                    builder = builder.with_client_options(object_store::ClientOptions::new().with_allow_invalid_certificates(true));
                }
                let store = builder.build().map_err(|e| bad(&e))?;
                Self::remote(Arc::new(store), u.path(), uri)
            }
            Some("gs") => {
                let u = parsed.as_ref().ok_or_else(|| bad(&"invalid URL"))?;
                let bucket = u.host_str().ok_or_else(|| bad(&"no bucket"))?;
                let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| bad(&e))?;
                Self::remote(Arc::new(store), u.path(), uri)
            }
            Some("az" | "abfs" | "abfss" | "wasb" | "wasbs") => {
                let u = parsed.as_ref().ok_or_else(|| bad(&"invalid URL"))?;
                // wasbs://container@account.blob.core.windows.net/path or az://container/path
                let (container, account) = match u.username() {
                    "" => (u.host_str().unwrap_or_default().to_string(), None),
                    user => (user.to_string(), u.host_str().and_then(|h| h.split('.').next()).map(str::to_string)),
                };
                let mut builder = object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(container);
                if let Some(account) = account {
                    builder = builder.with_account(account);
                }
                let store = builder.build().map_err(|e| bad(&e))?;
                Self::remote(Arc::new(store), u.path(), uri)
            }
            Some(other) => Err(ArtifactError::Config(format!(
                "unsupported artifact store scheme '{other}' in '{uri}': use a local path, file://, s3://, gs://, az:// or wasbs://"
            ))),
        }
    }

    fn remote(store: Arc<dyn ObjectStore>, prefix: &str, uri: &str) -> Result<Self, ArtifactError> {
        let root = StorePath::parse(prefix.trim_matches('/'))
            .map_err(|e| ArtifactError::Config(format!("invalid prefix in '{uri}': {e}")))?;
        Ok(ArtifactRepo {
            store,
            root: Arc::new(root),
            local_root: None,
            uri: uri.trim_end_matches('/').into(),
        })
    }

    /// The URI this repository was opened from (local paths as `file://`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The store location of a validated relative artifact path.
    fn location(&self, rel: &str) -> Result<StorePath, ArtifactError> {
        let rel = validate_artifact_path(rel)?;
        let mut loc = StorePath::clone(&self.root);
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            loc = loc.child(part);
        }
        self.refuse_symlinks(&rel)?;
        Ok(loc)
    }

    /// In a local folder, refuses any path through a symbolic link: a link could lead
    /// outside the artifact root.
    fn refuse_symlinks(&self, rel: &str) -> Result<(), ArtifactError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let mut p = root.to_path_buf();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            p.push(part);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ArtifactError::InvalidPath(format!(
                        "Invalid path '{rel}': symbolic links are not followed"
                    )))
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Stores the bytes of `stream` at `rel`, replacing any previous artifact. The
    /// artifact becomes visible only once complete: an interrupted upload leaves nothing
    /// under the final name. Returns the number of bytes written.
    pub async fn put_stream<S, E>(&self, rel: &str, stream: S) -> Result<u64, ArtifactError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let location = self.location(rel)?;
        if rel.ends_with('/') || rel.is_empty() {
            return Err(ArtifactError::InvalidPath(format!(
                "Invalid artifact path '{rel}': a file name is needed"
            )));
        }
        let mut stream = std::pin::pin!(stream);
        let mut head: Vec<Bytes> = Vec::new();
        let mut head_len = 0usize;
        // Small artifacts: one request.
        while head_len <= SINGLE_PUT_LIMIT {
            match stream.next().await {
                Some(Ok(chunk)) => {
                    head_len += chunk.len();
                    head.push(chunk);
                }
                Some(Err(e)) => return Err(ArtifactError::Interrupted(e.to_string())),
                None => {
                    let payload = PutPayload::from_iter(head);
                    self.store.put(&location, payload).await?;
                    return Ok(head_len as u64);
                }
            }
        }
        // Large artifacts: a multipart upload with bounded parts in flight.
        let upload = self.store.put_multipart(&location).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut total = head_len as u64;
        for chunk in head {
            writer.put(chunk);
        }
        loop {
            if let Err(e) = writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(e.into());
            }
            match stream.next().await {
                Some(Ok(chunk)) => {
                    total += chunk.len() as u64;
                    writer.put(chunk);
                }
                Some(Err(e)) => {
                    let _ = writer.abort().await;
                    return Err(ArtifactError::Interrupted(e.to_string()));
                }
                None => break,
            }
        }
        writer.finish().await?;
        Ok(total)
    }

    /// Stores a small in-memory artifact.
    pub async fn put_bytes(&self, rel: &str, bytes: Bytes) -> Result<u64, ArtifactError> {
        self.put_stream(
            rel,
            futures::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) }),
        )
        .await
    }

    /// Opens an artifact for streaming.
    pub async fn get(&self, rel: &str) -> Result<Download, ArtifactError> {
        let location = self.location(rel)?;
        if let Some(root) = &self.local_root {
            // Local files stream in 1 MiB reads (object_store's own reads are 8 KiB).
            let path = root.join(location.as_ref());
            let file = match tokio::fs::File::open(&path).await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(ArtifactError::NotFound(rel.to_string()))
                }
                Err(e) => return Err(ArtifactError::Config(format!("cannot read '{rel}': {e}"))),
            };
            let meta = file
                .metadata()
                .await
                .map_err(|e| ArtifactError::Config(e.to_string()))?;
            if !meta.is_file() {
                return Err(ArtifactError::NotFound(rel.to_string()));
            }
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20)
                .map_err(|e| ArtifactError::Config(format!("read failed: {e}")))
                .boxed();
            return Ok(Download {
                size: meta.len(),
                stream,
            });
        }
        let result = self.store.get(&location).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => ArtifactError::NotFound(rel.to_string()),
            e => e.into(),
        })?;
        let size = result.meta.size;
        let stream = result.into_stream().map_err(ArtifactError::from).boxed();
        Ok(Download { size, stream })
    }

    /// Lists the directory `rel` ("" for the root). Entries' paths are `rel`-relative
    /// names joined to `prefix_paths_with` (MLflow's artifacts API wants bare names, the
    /// tracking listing wants paths from the run root). `None` when `rel` is a file or
    /// does not exist, as MLflow answers `{}` then.
    pub async fn list(&self, rel: &str) -> Result<Option<Vec<FileInfo>>, ArtifactError> {
        let rel = validate_artifact_path(rel)?;
        let location = if rel.is_empty() {
            StorePath::clone(&self.root)
        } else {
            self.location(&rel)?
        };
        let prefix = if location.as_ref().is_empty() {
            None
        } else {
            Some(&location)
        };
        let listing = match self.store.list_with_delimiter(prefix).await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for dir in listing.common_prefixes {
            if let Some(name) = dir.filename() {
                out.push(FileInfo {
                    path: decode(name),
                    is_dir: true,
                    file_size: None,
                });
            }
        }
        for obj in listing.objects {
            if let Some(name) = obj.location.filename() {
                out.push(FileInfo {
                    path: decode(name),
                    is_dir: false,
                    file_size: Some(obj.size),
                });
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Some(out))
    }

    /// Deletes an artifact, or a whole directory of them.
    pub async fn delete(&self, rel: &str) -> Result<(), ArtifactError> {
        let location = self.location(rel)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            // A directory on a local store.
            Err(_) if self.local_root.is_some() => {}
            Err(e) => return Err(e.into()),
        }
        let prefix = if location.as_ref().is_empty() {
            None
        } else {
            Some(&location)
        };
        let children: Vec<StorePath> = self
            .store
            .list(prefix)
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for child in children {
            match self.store.delete(&child).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(root) = &self.local_root {
            // Object stores have no directories; local folders keep empty ones behind.
            let dir = root.join(location.as_ref());
            if dir.as_path() != &**root && dir.is_dir() {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
        Ok(())
    }
}

/// Object store path parts are percent-encoded; artifact names are shown decoded.
fn decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", part.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| part.to_string())
}

fn path_to_uri_string(p: &std::path::Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    abs.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests;
