//! The tracking server's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts…`): list,
//! streamed download and upload, and where an `mlflow-artifacts:` URI points.

use serde::Deserialize;

use crate::{ClientError, Result, TrackingClient};

/// One entry of a listing: its path relative to the listed directory's store root, as
/// the server sends it (`dir/file`), whether it is a directory, and a file's size.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ArtifactEntry {
    pub path: String,
    #[serde(default)]
    pub is_dir: bool,
    #[serde(default, deserialize_with = "crate::lenient::opt_u64")]
    pub file_size: Option<u64>,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    files: Vec<ArtifactEntry>,
}

/// What a path segment keeps as it is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes each segment of an artifact path for a URL path.
fn url_path(path: &str) -> String {
    path.split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// Where an `mlflow-artifacts:` URI points: the server that proxies it (`None`: the one
/// the client talks to; `Some(host:port)`: another one, as in
/// `mlflow-artifacts://host:port/path`) and the path inside its artifact store.
/// `None` for any other URI.
pub fn proxied_location(artifact_uri: &str) -> Option<(Option<String>, String)> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let (host, path) = match rest.strip_prefix("//") {
        Some(hostpath) => match hostpath.split_once('/') {
            Some((host, path)) => (host, path),
            None => (hostpath, ""),
        },
        None => ("", rest),
    };
    let host = (!host.is_empty()).then(|| host.to_string());
    Some((host, path.trim_matches('/').to_string()))
}

impl TrackingClient {
    /// The client for the server that proxies `artifact_uri` (this one, or the host an
    /// `mlflow-artifacts://host:port/…` URI names, with the same credentials and scheme)
    /// and the path inside its store; `None` when the URI is not an `mlflow-artifacts:` one.
    pub fn artifact_proxy(&self, artifact_uri: &str) -> Option<(TrackingClient, String)> {
        let (host, path) = proxied_location(artifact_uri)?;
        let client = match host {
            None => self.clone(),
            Some(host) => {
                let scheme = if self.base_url.starts_with("https://") {
                    "https"
                } else {
                    "http"
                };
                TrackingClient {
                    http: self.http.clone(),
                    base_url: format!("{scheme}://{host}"),
                }
            }
        };
        Some((client, path))
    }

    fn artifact_url(&self, path: &str) -> String {
        format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{}",
            self.base_url,
            url_path(path.trim_matches('/'))
        )
    }

    /// The entries of the directory `path` of the proxied store (empty for a file or a
    /// missing path, as MLflow answers).
    pub async fn list_artifacts(&self, path: &str) -> Result<Vec<ArtifactEntry>> {
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base_url);
        let req = self
            .http
            .get(&url)
            .query(&[("path", path.trim_matches('/'))]);
        let value = self.send(url.clone(), req).await?;
        let listing: Listing = serde_json::from_value(value).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })?;
        Ok(listing.files)
    }

    /// Starts the download of the file `path`: the response, to be streamed by the caller
    /// (`bytes_stream()`, `content_length()`); an error answer becomes a [`ClientError`].
    pub async fn download_artifact(&self, path: &str) -> Result<reqwest::Response> {
        let url = self.artifact_url(path);
        let resp = self.transport(&url, self.http.get(&url)).await?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(self.api_error(url, resp).await)
    }

    /// Uploads `body` (`len` bytes, streamed: it is sent once, never retried) as the file
    /// `path`.
    pub async fn upload_artifact(&self, path: &str, len: u64, body: reqwest::Body) -> Result<()> {
        let url = self.artifact_url(path);
        let req = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body);
        let resp = self.transport(&url, req).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(self.api_error(url, resp).await)
    }

    /// Whether the file `path` exists in the proxied store (HEAD, or GET where the server
    /// does not allow HEAD).
    pub async fn artifact_exists(&self, path: &str) -> Result<bool> {
        let url = self.artifact_url(path);
        let resp = self
            .transport(&url, self.http.request(reqwest::Method::HEAD, &url))
            .await?;
        if resp.status().as_u16() != 405 {
            return Ok(resp.status().is_success());
        }
        let resp = self.transport(&url, self.http.get(&url)).await?;
        Ok(resp.status().is_success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_of_proxied_uris() {
        assert_eq!(
            proxied_location("mlflow-artifacts:/1/r/artifacts/"),
            Some((None, "1/r/artifacts".into()))
        );
        assert_eq!(
            proxied_location("mlflow-artifacts://other:5000/1/r"),
            Some((Some("other:5000".into()), "1/r".into()))
        );
        assert_eq!(
            proxied_location("mlflow-artifacts:///x"),
            Some((None, "x".into()))
        );
        assert_eq!(proxied_location("s3://b/k"), None);
        assert_eq!(url_path("a b/c%d/é"), "a%20b/c%25d/%C3%A9");
    }

    #[test]
    fn another_proxy_keeps_scheme_and_credentials() {
        let c = TrackingClient::new("https://main:443/prefix");
        let (other, path) = c.artifact_proxy("mlflow-artifacts://h:9/p/q").unwrap();
        assert_eq!(other.base_url(), "https://h:9");
        assert_eq!(path, "p/q");
        let (same, _) = c.artifact_proxy("mlflow-artifacts:/p").unwrap();
        assert_eq!(same.base_url(), "https://main:443/prefix");
    }
}
