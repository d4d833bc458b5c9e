//! Project URIs: a local folder or a Git repository, with an optional `#subdirectory`
//! (mlflow/projects/utils.py `_parse_subdirectory`, `_is_local_uri`).

use std::path::{Path, PathBuf};

use crate::error::{ProjectError, Result};
use crate::params::absolute;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An existing folder on this machine.
    Local(PathBuf),
    /// A Git repository to clone: `https://`, `ssh://`, `git://`, `file://` URLs or
    /// scp-like `user@host:path`.
    Git(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectUri {
    /// The URI as the user wrote it.
    pub original: String,
    /// The URI without quotes and `#subdirectory`: what Git is given as the remote.
    pub base: String,
    pub source: Source,
    /// The part after `#`, relative to the repository or folder root ("" for none).
    pub subdirectory: String,
}

/// Parses a project URI; relative local paths are resolved against `cwd`.
pub fn parse(uri: &str, cwd: &Path) -> Result<ProjectUri> {
    let unquoted = uri.trim_matches(['\'', '"']);
    let (base, subdirectory) = match unquoted.split_once('#') {
        Some((b, s)) => (b, s),
        None => (unquoted, ""),
    };
    if subdirectory.contains('.') {
        return Err(ProjectError::Invalid(
            "'.' is not allowed in project subdirectory paths.".to_string(),
        ));
    }
    if base.is_empty() {
        return Err(ProjectError::Invalid(format!("empty project URI '{uri}'")));
    }
    if base.ends_with(".zip") {
        return Err(ProjectError::Invalid(format!(
            "ZIP project URIs ({base}) are not supported by mlox run; unzip it and run the folder"
        )));
    }
    let local = file_uri_path(base).unwrap_or_else(|| PathBuf::from(base));
    let local = absolute(cwd, &local);
    let source = if local.exists() {
        if !local.is_dir() {
            return Err(ProjectError::Invalid(format!(
                "project URI {base} is a file, not a folder"
            )));
        }
        Source::Local(local)
    } else if looks_like_git_url(base) {
        Source::Git(base.to_string())
    } else {
        return Err(ProjectError::Invalid(format!(
            "project URI '{base}' is neither an existing local folder nor a Git URL (https://, ssh://, git://, file:// or user@host:path)"
        )));
    };
    Ok(ProjectUri {
        original: uri.to_string(),
        base: base.to_string(),
        source,
        subdirectory: subdirectory.trim_matches('/').to_string(),
    })
}

/// The path of a `file://` URI (host and path joined, as MLflow's `_parse_file_uri`).
fn file_uri_path(s: &str) -> Option<PathBuf> {
    let rest = s.strip_prefix("file://")?;
    if rest.is_empty() {
        return None;
    }
    let path = match rest.find('/') {
        Some(0) => rest.to_string(),
        Some(i) => format!("{}/{}", &rest[..i], &rest[i + 1..]),
        None => rest.to_string(),
    };
    Some(PathBuf::from(path))
}

fn looks_like_git_url(s: &str) -> bool {
    const SCHEMES: [&str; 7] = [
        "https://",
        "http://",
        "ssh://",
        "git://",
        "file://",
        "git+ssh://",
        "ssh+git://",
    ];
    if SCHEMES.iter().any(|p| s.starts_with(p)) {
        return true;
    }
    // scp-like syntax: [user@]host:path, without a scheme and with no slash before ':'.
    match s.find(':') {
        Some(i) => {
            let host = &s[..i];
            !host.is_empty() && !host.contains('/') && i + 1 < s.len()
        }
        None => false,
    }
}

/// Strips `user:password@` from a URL, as MLflow does before recording it in a tag.
pub fn strip_credentials(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let after = &url[scheme_end + 3..];
    let netloc_end = after.find('/').unwrap_or(after.len());
    let netloc = &after[..netloc_end];
    match netloc.rfind('@') {
        Some(at) => format!(
            "{}{}{}",
            &url[..scheme_end + 3],
            &netloc[at + 1..],
            &after[netloc_end..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_folders_with_and_without_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proj/sub")).unwrap();
        let u = parse("proj", dir.path()).unwrap();
        assert_eq!(u.source, Source::Local(dir.path().join("proj")));
        assert_eq!(u.subdirectory, "");
        let u = parse("proj#sub", dir.path()).unwrap();
        assert_eq!(u.source, Source::Local(dir.path().join("proj")));
        assert_eq!(u.subdirectory, "sub");
        let file_uri = format!("file://{}#sub/", dir.path().join("proj").display());
        let u = parse(&file_uri, Path::new("/")).unwrap();
        assert_eq!(u.source, Source::Local(dir.path().join("proj")));
        assert_eq!(u.subdirectory, "sub");
        let u = parse("'./proj/../proj'", dir.path()).unwrap();
        assert_eq!(u.source, Source::Local(dir.path().join("proj")));
    }

    #[test]
    fn git_urls() {
        let cwd = Path::new("/nonexistent-cwd");
        for (uri, base, sub) in [
            (
                "https://github.com/mlflow/mlflow-example",
                "https://github.com/mlflow/mlflow-example",
                "",
            ),
            (
                "https://github.com/mlflow/mlflow#examples/sklearn_elasticnet_wine",
                "https://github.com/mlflow/mlflow",
                "examples/sklearn_elasticnet_wine",
            ),
            (
                "git@github.com:mlflow/mlflow-example.git",
                "git@github.com:mlflow/mlflow-example.git",
                "",
            ),
            (
                "ssh://git@host:22/repo.git#a/b",
                "ssh://git@host:22/repo.git",
                "a/b",
            ),
            (
                "file:///does/not/exist.git#x",
                "file:///does/not/exist.git",
                "x",
            ),
        ] {
            let u = parse(uri, cwd).unwrap();
            assert_eq!(u.source, Source::Git(base.to_string()), "{uri}");
            assert_eq!(u.subdirectory, sub, "{uri}");
            assert_eq!(u.original, uri);
        }
    }

    #[test]
    fn bad_uris_are_clear_errors() {
        let cwd = Path::new("/nonexistent-cwd");
        assert_eq!(
            parse("https://h/r#sub/v1.0", cwd).unwrap_err().to_string(),
            "'.' is not allowed in project subdirectory paths."
        );
        assert!(parse("no-such-folder", cwd)
            .unwrap_err()
            .to_string()
            .contains("neither an existing local folder nor a Git URL"));
        assert!(parse("https://h/p.zip", cwd)
            .unwrap_err()
            .to_string()
            .contains("ZIP"));
    }

    #[test]
    fn credentials_are_stripped() {
        assert_eq!(
            strip_credentials("https://user:tok@github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(
            strip_credentials("git@github.com:a/b.git"),
            "git@github.com:a/b.git"
        );
        assert_eq!(strip_credentials("file:///x/y"), "file:///x/y");
    }
}
