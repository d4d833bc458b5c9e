//! Getting a project's code: a local folder in place, or a Git repository checked out at
//! a commit, branch or tag (mlflow/projects/utils.py `_fetch_project`), with the `git`
//! command.
//!
//! Repositories are cached per URL under `<cache>/git/` (a bare clone that later runs
//! update incrementally); each run gets its own worktree under `<cache>/checkouts/`, so
//! concurrent runs never share a working folder.

use std::path::{Path, PathBuf};

use mlox_env::lock::lock_file;
use sha2::{Digest, Sha256};

use crate::error::{ProjectError, Result};
use crate::progress::Progress;
use crate::tools::{which, Tool};
use crate::uri::{strip_credentials, ProjectUri, Source};

/// Git facts recorded as the run's `mlflow.source.git.*` tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitInfo {
    pub commit: Option<String>,
    pub repo_url: Option<String>,
    /// Set when `--version` named a branch.
    pub branch: Option<String>,
}

/// A worktree made for one run.
#[derive(Debug)]
pub struct Checkout {
    git: PathBuf,
    repo: PathBuf,
    pub dir: PathBuf,
}

impl Checkout {
    /// Deletes the worktree (after a successful run; a failed run's is kept to inspect).
    pub fn remove(self) {
        let status = std::process::Command::new(&self.git)
            .arg("--git-dir")
            .arg(&self.repo)
            .args(["worktree", "remove", "--force"])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[derive(Debug)]
pub struct Fetched {
    /// The project folder (the checkout or local folder plus the `#subdirectory`).
    pub work_dir: PathBuf,
    pub git: GitInfo,
    pub checkout: Option<Checkout>,
}

pub async fn fetch(
    uri: &ProjectUri,
    version: Option<&str>,
    cache_dir: &Path,
    progress: &Progress,
) -> Result<Fetched> {
    match &uri.source {
        Source::Local(dir) if version.is_none() => {
            let work_dir = subdirectory(dir, &uri.subdirectory)?;
            let git = local_git_info(&work_dir).await;
            Ok(Fetched {
                work_dir,
                git,
                checkout: None,
            })
        }
        Source::Local(dir) => {
            if !dir.join(".git").exists() {
                return Err(ProjectError::Invalid(
                    "Setting a version is only supported for Git project URIs".to_string(),
                ));
            }
            // The remote is the URI as given (MLflow's), made absolute when it is a path
            // so the cache does not depend on the current folder.
            let url = if uri.base.starts_with("file://") {
                uri.base.clone()
            } else {
                dir.to_string_lossy().into_owned()
            };
            fetch_git(&url, &uri.subdirectory, version, cache_dir, progress).await
        }
        Source::Git(url) => fetch_git(url, &uri.subdirectory, version, cache_dir, progress).await,
    }
}

fn subdirectory(root: &Path, sub: &str) -> Result<PathBuf> {
    let dir = if sub.is_empty() {
        root.to_path_buf()
    } else {
        root.join(sub)
    };
    if !dir.is_dir() {
        return Err(ProjectError::Fetch(format!(
            "Could not find subdirectory {sub} of {}",
            root.display()
        )));
    }
    Ok(dir)
}

fn git_exe() -> Result<PathBuf> {
    which("git").ok_or_else(|| {
        ProjectError::environment(
            "running a project from a Git repository needs the `git` command, which was not found on PATH"
                .to_string(),
        )
    })
}

fn git_in(git: &Path, repo: &Path, args: &[&str]) -> Tool {
    let mut full: Vec<&str> = vec!["--git-dir", repo.to_str().unwrap_or_default()];
    full.extend_from_slice(args);
    Tool::new(git, &full)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
}

async fn rev_parse(git: &Path, repo: &Path, rev: &str) -> Option<String> {
    let spec = format!("{rev}^{{commit}}");
    let out = git_in(git, repo, &["rev-parse", "--verify", "--quiet", &spec])
        .output()
        .await
        .ok()?;
    let sha = out.stdout.trim();
    (out.success && !sha.is_empty()).then(|| sha.to_string())
}

/// Which commit `version` names in the cached repository, and whether it is a branch.
async fn resolve_version(git: &Path, repo: &Path, version: &str) -> Option<(String, bool)> {
    if let Some(sha) = rev_parse(git, repo, &format!("refs/remotes/origin/{version}")).await {
        return Some((sha, true));
    }
    if let Some(sha) = rev_parse(git, repo, &format!("refs/tags/{version}")).await {
        return Some((sha, false));
    }
    rev_parse(git, repo, version).await.map(|sha| (sha, false))
}

pub(crate) fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..10].iter().map(|b| format!("{b:02x}")).collect()
}

async fn fetch_git(
    url: &str,
    sub: &str,
    version: Option<&str>,
    cache_dir: &Path,
    progress: &Progress,
) -> Result<Fetched> {
    let git = git_exe()?;
    let git_root = cache_dir.join("git");
    std::fs::create_dir_all(&git_root).map_err(mlox_env::EnvError::io(format!(
        "creating {}",
        git_root.display()
    )))?;
    let key = short_hash(url);
    let repo = git_root.join(&key);
    let _lock = lock_file(git_root.join(format!("{key}.lock"))).await?;

    if !repo.join("HEAD").exists() {
        let _ = std::fs::remove_dir_all(&repo);
        Tool::new(
            &git,
            &[
                "init",
                "--bare",
                "--quiet",
                repo.to_str().unwrap_or_default(),
            ],
        )
        .run()
        .await?;
        git_in(&git, &repo, &["remote", "add", "origin", url])
            .run()
            .await?;
    }

    let step = progress.step(format!("Fetching {}", strip_credentials(url)));
    let fetched = git_in(
        &git,
        &repo,
        &[
            "fetch",
            "--quiet",
            "--prune",
            "--tags",
            "--force",
            "origin",
            "+refs/heads/*:refs/remotes/origin/*",
            "+HEAD:refs/mlox/remote-head",
        ],
    )
    .output()
    .await?;
    step.done();

    let (commit, is_branch) = match version {
        None => {
            if !fetched.success {
                return Err(ProjectError::Fetch(format!(
                    "Unable to fetch git repo {}: {}",
                    strip_credentials(url),
                    fetched.tail(20)
                )));
            }
            let sha = rev_parse(&git, &repo, "refs/mlox/remote-head")
                .await
                .ok_or_else(|| {
                    ProjectError::Fetch(format!(
                        "Failed to find HEAD branch of git repo {}",
                        strip_credentials(url)
                    ))
                })?;
            (sha, false)
        }
        Some(v) => {
            let mut found = resolve_version(&git, &repo, v).await;
            if found.is_none() {
                // A commit that no branch or tag reaches may still be fetchable by id.
                let by_id = git_in(&git, &repo, &["fetch", "--quiet", "origin", v])
                    .output()
                    .await?;
                if by_id.success {
                    found = rev_parse(&git, &repo, "FETCH_HEAD")
                        .await
                        .map(|s| (s, false));
                }
            }
            match found {
                Some(f) => {
                    if !fetched.success {
                        tracing::warn!(
                            "could not update the cached copy of {} (using the cached version {v}): {}",
                            strip_credentials(url),
                            fetched.tail(5)
                        );
                    }
                    f
                }
                None => {
                    let detail = if fetched.success {
                        "no such commit, branch or tag".to_string()
                    } else {
                        fetched.tail(20)
                    };
                    return Err(ProjectError::Fetch(format!(
                        "Unable to checkout version '{v}' of git repo {}- please ensure that the version exists in the repo. Error: {detail}",
                        strip_credentials(url)
                    )));
                }
            }
        }
    };

    let checkouts = cache_dir.join("checkouts");
    std::fs::create_dir_all(&checkouts).map_err(mlox_env::EnvError::io(format!(
        "creating {}",
        checkouts.display()
    )))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = checkouts.join(format!(
        "{}-{}-{nanos:08x}",
        &commit[..12.min(commit.len())],
        std::process::id()
    ));
    let _ = git_in(&git, &repo, &["worktree", "prune"]).output().await;
    let step = progress.step(format!("Checking out {}", &commit[..12.min(commit.len())]));
    git_in(
        &git,
        &repo,
        &[
            "worktree",
            "add",
            "--detach",
            "--force",
            "--quiet",
            dir.to_str().unwrap_or_default(),
            &commit,
        ],
    )
    .run()
    .await?;
    let checkout = Checkout {
        git: git.clone(),
        repo: repo.clone(),
        dir: dir.clone(),
    };
    if dir.join(".gitmodules").exists() {
        Tool::new(
            &git,
            &["submodule", "update", "--init", "--recursive", "--quiet"],
        )
        .cwd(&dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .run()
        .await?;
    }
    step.done();
    let work_dir = match subdirectory(&dir, sub) {
        Ok(d) => d,
        Err(e) => {
            checkout.remove();
            return Err(e);
        }
    };
    Ok(Fetched {
        work_dir,
        git: GitInfo {
            commit: Some(commit),
            repo_url: Some(strip_credentials(url)),
            branch: if is_branch {
                version.map(str::to_string)
            } else {
                None
            },
        },
        checkout: Some(checkout),
    })
}

/// Git facts of a local folder: the commit checked out in its repository and the first
/// remote's URL (MLflow's `get_git_commit` / `get_git_repo_url`); empty outside a repository
/// or without `git`.
pub async fn local_git_info(dir: &Path) -> GitInfo {
    let Some(git) = which("git") else {
        return GitInfo::default();
    };
    let commit = Tool::new(&git, &["rev-parse", "--verify", "--quiet", "HEAD"])
        .cwd(dir)
        .output()
        .await
        .ok()
        .filter(|o| o.success)
        .map(|o| o.stdout.trim().to_string())
        .filter(|s| !s.is_empty());
    let repo_url = Tool::new(&git, &["config", "--get-regexp", r"^remote\..*\.url$"])
        .cwd(dir)
        .output()
        .await
        .ok()
        .filter(|o| o.success)
        .and_then(|o| {
            o.stdout
                .lines()
                .next()
                .and_then(|l| l.split_once(' '))
                .map(|(_, url)| strip_credentials(url.trim()))
        });
    GitInfo {
        commit,
        repo_url,
        branch: None,
    }
}

/// The root of the Git working tree that contains `dir`, if any.
pub async fn git_toplevel(dir: &Path) -> Option<PathBuf> {
    let git = which("git")?;
    let out = Tool::new(&git, &["rev-parse", "--show-toplevel"])
        .cwd(dir)
        .output()
        .await
        .ok()?;
    let top = out.stdout.trim();
    (out.success && !top.is_empty()).then(|| PathBuf::from(top))
}
