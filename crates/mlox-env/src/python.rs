//! Python environments: the current one (`local`), a cached virtual environment built
//! from python_env.yaml (`virtualenv`, `uv`), or a conda environment
//! (mlflow/utils/virtualenv.py, mlflow/utils/environment.py).
//!
//! Virtual environments are cached by a hash of everything that defines them (Python
//! version, dependencies, the contents of requirement files they name, the builder), under
//! `<cache>/envs/mlox-<hash>`, and reused as long as that hash is unchanged. A finished
//! environment carries a marker file, so an interrupted build is never reused.

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{EnvError, Result};
use crate::lock::lock_file;
use crate::progress::Progress;
use crate::tools::{which, Tool};
use crate::yaml::{parse_file as parse_yaml_file, Node, Value};

/// `--env-manager` (mlflow/utils/env_manager.py).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvManager {
    Local,
    Virtualenv,
    Uv,
    Conda,
}

impl EnvManager {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvManager::Local => "local",
            EnvManager::Virtualenv => "virtualenv",
            EnvManager::Uv => "uv",
            EnvManager::Conda => "conda",
        }
    }
}

impl std::str::FromStr for EnvManager {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(EnvManager::Local),
            "virtualenv" => Ok(EnvManager::Virtualenv),
            "uv" => Ok(EnvManager::Uv),
            "conda" => Ok(EnvManager::Conda),
            other => Err(format!(
                "Invalid value for `env_manager`: {other}. Must be one of ['local', 'virtualenv', 'conda', 'uv']"
            )),
        }
    }
}

/// A python_env.yaml (mlflow/utils/environment.py `_PythonEnv`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PythonEnv {
    /// e.g. "3.11" or "3.11.7"; `None` means the Python found on PATH.
    pub python: Option<String>,
    pub build_dependencies: Vec<String>,
    pub dependencies: Vec<String>,
}

fn string_list(path: &Path, node: Option<&Node>, what: &str) -> Result<Vec<String>> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Ok(Vec::new());
    };
    let items = node.as_seq().ok_or_else(|| {
        EnvError::spec(
            path,
            node.line,
            format!("`{what}` must be a list but got {}", node.kind()),
        )
    })?;
    items
        .iter()
        .map(|i| {
            i.to_python_str().ok_or_else(|| {
                EnvError::spec(
                    path,
                    i.line,
                    format!("each of `{what}` must be a string, found {}", i.kind()),
                )
            })
        })
        .collect()
}

impl PythonEnv {
    pub fn from_yaml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(EnvError::io(format!("reading {}", path.display())))?;
        let root = parse_yaml_file(path, &text)?;
        if !matches!(root.value, Value::Map(_) | Value::Null) {
            return Err(EnvError::spec(
                path,
                root.line,
                format!(
                    "python_env.yaml must be a mapping with python, build_dependencies and dependencies, found {}",
                    root.kind()
                ),
            ));
        }
        let python = match root.get("python").filter(|n| !n.is_null()) {
            None => None,
            Some(n) => match &n.value {
                Value::Str(s) => Some(s.clone()),
                // `python: 3.10` is a float in YAML; MLflow would reject it ("`python` must
                // be a string"), which is a classic trap, so say how to fix it.
                _ => {
                    return Err(EnvError::spec(
                        path,
                        n.line,
                        format!(
                            "`python` must be a string but got {}; quote it, e.g. python: \"{}\"",
                            n.kind(),
                            n.to_python_str().unwrap_or_default()
                        ),
                    ))
                }
            },
        };
        Ok(PythonEnv {
            python,
            build_dependencies: string_list(
                path,
                root.get("build_dependencies"),
                "build_dependencies",
            )?,
            dependencies: string_list(path, root.get("dependencies"), "dependencies")?,
        })
    }

    /// The Python environment equivalent to a conda.yaml (`_PythonEnv.from_conda_yaml`):
    /// the pinned `python`, other conda packages as build dependencies, `pip:` entries as
    /// dependencies.
    pub fn from_conda_yaml(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(EnvError::io(format!("reading {}", path.display())))?;
        let root = parse_yaml_file(path, &text)?;
        let mut env = PythonEnv::default();
        let deps = root
            .get("dependencies")
            .and_then(Node::as_seq)
            .unwrap_or(&[]);
        for dep in deps {
            match &dep.value {
                Value::Map(_) if dep.get("pip").is_some() => {
                    env.dependencies = string_list(path, dep.get("pip"), "pip")?;
                }
                Value::Map(_) | Value::Seq(_) | Value::Null => return Err(EnvError::spec(
                    path,
                    dep.line,
                    "Invalid conda dependency: must be str or dict in the form of {\"pip\": [...]}",
                )),
                _ => {
                    let d = dep.to_python_str().unwrap_or_default();
                    let (package, op, version) = split_requirement(&d);
                    if package == "python" && env.python.is_none() {
                        match op {
                            "" => {
                                return Err(EnvError::spec(
                                    path,
                                    dep.line,
                                    format!("Invalid dependency for python: {d}. It must be pinned (e.g. python=3.8.13)."),
                                ))
                            }
                            "<" | ">" | "!=" => {
                                return Err(EnvError::spec(
                                    path,
                                    dep.line,
                                    format!("Invalid version comparator for python: '{op}'. Must be one of ['<=', '>=', '=', '=='].")
                                ))
                            }
                            _ => env.python = Some(version.to_string()),
                        }
                    } else {
                        let op = if op == "=" { "==" } else { op };
                        env.build_dependencies
                            .push(format!("{package}{op}{version}"));
                    }
                }
            }
        }
        Ok(env)
    }
}

/// Splits `name<op>version` (`numpy>=1.2`, `python=3.11`).
fn split_requirement(dep: &str) -> (&str, &str, &str) {
    let d = dep.trim();
    match d.find(['<', '>', '=', '!']) {
        None => (d, "", ""),
        Some(i) => {
            let rest = &d[i..];
            let op_len = rest
                .find(|c: char| !matches!(c, '<' | '>' | '=' | '!'))
                .unwrap_or(rest.len());
            (d[..i].trim(), &rest[..op_len], rest[op_len..].trim())
        }
    }
}

/// A prepared environment: how to change the child's environment variables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Prepended to PATH.
    pub path_prefix: Option<PathBuf>,
    /// Variables to set (e.g. VIRTUAL_ENV, CONDA_PREFIX).
    pub vars: Vec<(String, String)>,
    /// Variables to remove (e.g. PYTHONHOME).
    pub unset: Vec<String>,
    /// Whether the environment was reused from the cache.
    pub reused: bool,
}

/// How a virtual environment is built.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Builder {
    Uv(PathBuf),
    Venv,
}

impl Builder {
    fn name(&self) -> &'static str {
        match self {
            Builder::Uv(_) => "uv",
            Builder::Venv => "venv",
        }
    }
}

fn choose_builder(manager: EnvManager) -> Result<Builder> {
    match (manager, which("uv")) {
        (_, Some(uv)) => Ok(Builder::Uv(uv)),
        (EnvManager::Uv, None) => Err(EnvError::Environment(
            "--env-manager uv needs the `uv` command, which was not found on PATH; install it (e.g. `pip install uv`) or use --env-manager virtualenv".to_string(),
        )),
        _ => Ok(Builder::Venv),
    }
}

/// The words of a dependency line as pip takes them (`-r requirements.txt` is two).
fn dependency_args(deps: &[String]) -> Vec<String> {
    deps.iter()
        .flat_map(|d| shlex::split(d).unwrap_or_else(|| vec![d.clone()]))
        .collect()
}

/// Requirement files named by `-r` / `-c` (recursively), for the cache key: each as
/// `(name as written, sha256 of its content, path)`. The key uses the name and content,
/// not where the file is, so the same environment at another path (a copy of a model, a
/// registered version downloaded to another cache folder) reuses the built venv.
fn requirement_files(work_dir: &Path, deps: &[String], out: &mut Vec<(String, String, PathBuf)>) {
    let args = dependency_args(deps);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let file = match a.as_str() {
            "-r" | "--requirement" | "-c" | "--constraint" => it.next().cloned(),
            s => s
                .strip_prefix("--requirement=")
                .or_else(|| s.strip_prefix("-r"))
                .filter(|f| !f.is_empty())
                .map(str::to_string),
        };
        let Some(file) = file else { continue };
        let path = work_dir.join(&file);
        if out.iter().any(|(_, _, p)| *p == path) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        out.push((
            file.clone(),
            hex(&Sha256::digest(text.as_bytes())),
            path.clone(),
        ));
        let nested: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("-r") || l.starts_with("-c") || l.starts_with("--requirement")
            })
            .map(str::to_string)
            .collect();
        let base = path.parent().unwrap_or(work_dir).to_path_buf();
        requirement_files(&base, &nested, out);
    }
}

/// The cache key of a virtual environment.
fn venv_key(builder: &Builder, env: &PythonEnv, work_dir: &Path) -> String {
    let mut files = Vec::new();
    requirement_files(work_dir, &env.build_dependencies, &mut files);
    requirement_files(work_dir, &env.dependencies, &mut files);
    let files: Vec<(String, String)> = files.into_iter().map(|(n, h, _)| (n, h)).collect();
    let material = json!({
        "format": 2,
        "builder": builder.name(),
        "python": env.python,
        "build_dependencies": env.build_dependencies,
        "dependencies": env.dependencies,
        "requirement_files": files,
    });
    hex(&Sha256::digest(material.to_string().as_bytes())[..12])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const COMPLETE_MARKER: &str = ".mlox-env-complete";

/// Builds (or reuses) the virtual environment for `env`.
pub async fn prepare_venv(
    manager: EnvManager,
    env: &PythonEnv,
    work_dir: &Path,
    cache_dir: &Path,
    progress: &Progress,
) -> Result<Prepared> {
    let builder = choose_builder(manager)?;
    let root = cache_dir.join("envs");
    std::fs::create_dir_all(&root).map_err(EnvError::io(format!("creating {}", root.display())))?;
    let key = venv_key(&builder, env, work_dir);
    let dir = root.join(format!("mlox-{key}"));
    let activated = |reused| Prepared {
        path_prefix: Some(dir.join("bin")),
        vars: vec![(
            "VIRTUAL_ENV".to_string(),
            dir.to_string_lossy().into_owned(),
        )],
        unset: vec!["PYTHONHOME".to_string(), "CONDA_PREFIX".to_string()],
        reused,
    };
    if dir.join(COMPLETE_MARKER).exists() {
        progress.info(format!("mlox: reusing environment {}", dir.display()));
        return Ok(activated(true));
    }
    let _lock = lock_file(root.join(format!("mlox-{key}.lock"))).await?;
    if dir.join(COMPLETE_MARKER).exists() {
        progress.info(format!("mlox: reusing environment {}", dir.display()));
        return Ok(activated(true));
    }
    if dir.exists() {
        // Left over from an interrupted build.
        std::fs::remove_dir_all(&dir)
            .map_err(EnvError::io(format!("removing {}", dir.display())))?;
    }
    let result = build_venv(&builder, env, work_dir, &dir, progress).await;
    match result {
        Ok(()) => {
            std::fs::write(dir.join(COMPLETE_MARKER), venv_key(&builder, env, work_dir))
                .map_err(EnvError::io(format!("writing {}", dir.display())))?;
            Ok(activated(false))
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

async fn build_venv(
    builder: &Builder,
    env: &PythonEnv,
    work_dir: &Path,
    dir: &Path,
    progress: &Progress,
) -> Result<()> {
    let dir_str = dir.to_string_lossy().into_owned();
    let python_label = env.python.as_deref().unwrap_or("default");
    let mut step = progress.step(format!(
        "Creating environment {} (Python {python_label}, {})",
        dir.display(),
        builder.name()
    ));
    let venv_python = dir.join("bin").join("python");
    match builder {
        Builder::Uv(uv) => {
            let mut args = vec!["venv".to_string(), dir_str.clone(), "--quiet".to_string()];
            if let Some(v) = &env.python {
                args.push(format!("--python={v}"));
            }
            Tool::new(uv, &args)
                .env("UV_PYTHON_DOWNLOADS", "never")
                .env("UV_NO_PROGRESS", "1")
                .run()
                .await?;
        }
        Builder::Venv => {
            let python = find_python(env.python.as_deref()).await?;
            Tool::new(&python, &["-m", "venv", dir_str.as_str()])
                .run()
                .await?;
        }
    }
    for (what, deps) in [
        ("build dependencies", &env.build_dependencies),
        ("dependencies", &env.dependencies),
    ] {
        if deps.is_empty() {
            continue;
        }
        step.set_message(format!("Installing {what}: {}", deps.join(" ")));
        let words = dependency_args(deps);
        let tool = match builder {
            Builder::Uv(uv) => {
                let mut args = vec![
                    "pip".to_string(),
                    "install".to_string(),
                    "--python".to_string(),
                    venv_python.to_string_lossy().into_owned(),
                ];
                // uv leaves bytecode to Python, which writes it on first import; where
                // PYTHONDONTWRITEBYTECODE forbids that, every run would recompile every
                // module it imports, so compile once here instead.
                if std::env::var_os("PYTHONDONTWRITEBYTECODE").is_some_and(|v| !v.is_empty()) {
                    args.push("--compile-bytecode".to_string());
                }
                args.extend(words);
                Tool::new(uv, &args).env("UV_NO_PROGRESS", "1")
            }
            Builder::Venv => {
                let mut args = vec![
                    "-m".to_string(),
                    "pip".to_string(),
                    "install".to_string(),
                    "--disable-pip-version-check".to_string(),
                ];
                args.extend(words);
                Tool::new(&venv_python, &args).env("PIP_NO_INPUT", "1")
            }
        };
        tool.cwd(work_dir).env("VIRTUAL_ENV", dir).run().await?;
    }
    step.done();
    Ok(())
}

/// A Python interpreter whose version starts with `want` ("3.11" matches 3.11.7): on PATH
/// as `pythonX.Y`, `python3`, `python`, or installed by pyenv.
pub async fn find_python(want: Option<&str>) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(v) = want {
        let mut parts = v.split('.');
        if let (Some(major), Some(minor)) = (parts.next(), parts.next()) {
            candidates.extend(which(&format!("python{major}.{minor}")));
        }
    }
    candidates.extend(which("python3"));
    candidates.extend(which("python"));
    if want.is_some() {
        let mut roots: Vec<PathBuf> = std::env::var_os("PYENV_ROOT")
            .map(PathBuf::from)
            .into_iter()
            .collect();
        if let Some(home) = std::env::var_os("HOME") {
            roots.push(PathBuf::from(home).join(".pyenv"));
        }
        for root in roots {
            if let Ok(entries) = std::fs::read_dir(root.join("versions")) {
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path().join("bin").join("python"))
                    .filter(|p| p.exists())
                    .collect();
                found.sort();
                found.reverse();
                candidates.extend(found);
            }
        }
    }
    let mut tried = Vec::new();
    for exe in candidates {
        let out = Tool::new(
            &exe,
            &["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
        )
        .output()
        .await;
        let Ok(out) = out else { continue };
        let version = out.stdout.trim().to_string();
        if !out.success {
            continue;
        }
        let matches = match want {
            None => true,
            Some(w) => {
                version
                    .split('.')
                    .zip(w.split('.'))
                    .all(|(have, want)| have == want)
                    && w.split('.').count() <= 3
            }
        };
        if matches {
            return Ok(exe);
        }
        tried.push(format!("{} ({version})", exe.display()));
    }
    Err(EnvError::Environment(match want {
        Some(w) => format!(
            "python_env.yaml asks for Python {w}, but no matching interpreter was found on PATH or under pyenv (found: {}); install it (e.g. `pyenv install {w}`), or run with --env-manager local",
            if tried.is_empty() { "none".to_string() } else { tried.join(", ") }
        ),
        None => "no Python interpreter (python3 or python) was found on PATH".to_string(),
    }))
}

/// The conda executable: `$MLFLOW_CONDA_HOME/bin/conda` or `conda` on PATH.
fn conda_exe() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("MLFLOW_CONDA_HOME") {
        let exe = PathBuf::from(home).join("bin").join("conda");
        if exe.exists() {
            return Ok(exe);
        }
    }
    which("conda").ok_or_else(|| {
        EnvError::Environment(
            "This project's environment is a conda environment (conda.yaml), but conda was not found: install conda (e.g. Miniforge) and put it on PATH or set MLFLOW_CONDA_HOME, or run with --env-manager virtualenv, uv or local".to_string(),
        )
    })
}

/// Creates (or reuses) the conda environment of `config`, cached by the file's content.
pub async fn prepare_conda(
    config: &Path,
    cache_dir: &Path,
    progress: &Progress,
) -> Result<Prepared> {
    let conda = conda_exe()?;
    let text =
        std::fs::read(config).map_err(EnvError::io(format!("reading {}", config.display())))?;
    let key = hex(&Sha256::digest(&text)[..12]);
    let root = cache_dir.join("conda");
    std::fs::create_dir_all(&root).map_err(EnvError::io(format!("creating {}", root.display())))?;
    let prefix = root.join(format!("mlox-{key}"));
    let activated = |reused| Prepared {
        path_prefix: Some(prefix.join("bin")),
        vars: vec![
            (
                "CONDA_PREFIX".to_string(),
                prefix.to_string_lossy().into_owned(),
            ),
            (
                "CONDA_DEFAULT_ENV".to_string(),
                prefix.to_string_lossy().into_owned(),
            ),
        ],
        unset: vec!["PYTHONHOME".to_string(), "VIRTUAL_ENV".to_string()],
        reused,
    };
    let _lock = lock_file(root.join(format!("mlox-{key}.lock"))).await?;
    if prefix.join(COMPLETE_MARKER).exists() {
        progress.info(format!(
            "mlox: reusing conda environment {}",
            prefix.display()
        ));
        return Ok(activated(true));
    }
    let _ = std::fs::remove_dir_all(&prefix);
    let step = progress.step(format!("Creating conda environment {}", prefix.display()));
    let prefix_str = prefix.to_string_lossy().into_owned();
    let config_str = config.to_string_lossy().into_owned();
    let result = Tool::new(
        &conda,
        &[
            "env",
            "create",
            "--quiet",
            "--yes",
            "-p",
            &prefix_str,
            "-f",
            &config_str,
        ],
    )
    .run()
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&prefix);
        return Err(e);
    }
    step.done();
    std::fs::write(prefix.join(COMPLETE_MARKER), key)
        .map_err(EnvError::io(format!("writing {}", prefix.display())))?;
    Ok(activated(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn python_env_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "python_env.yaml",
            "python: \"3.11\"\nbuild_dependencies:\n  - pip\ndependencies:\n  - -r requirements.txt\n  - mlflow==3.17.2\n",
        );
        assert_eq!(
            PythonEnv::from_yaml_file(&p).unwrap(),
            PythonEnv {
                python: Some("3.11".into()),
                build_dependencies: vec!["pip".into()],
                dependencies: vec!["-r requirements.txt".into(), "mlflow==3.17.2".into()],
            }
        );
        let p = write(dir.path(), "bad.yaml", "python: 3.10\n");
        let e = PythonEnv::from_yaml_file(&p).unwrap_err().to_string();
        assert!(
            e.ends_with(
                ":1: `python` must be a string but got a number; quote it, e.g. python: \"3.1\""
            ),
            "{e}"
        );
        let p = write(
            dir.path(),
            "bad2.yaml",
            "python: '3.11'\ndependencies: numpy\n",
        );
        let e = PythonEnv::from_yaml_file(&p).unwrap_err().to_string();
        assert!(
            e.ends_with(":2: `dependencies` must be a list but got a string"),
            "{e}"
        );
    }

    #[test]
    fn conda_yaml_as_python_env() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "conda.yaml",
            "name: x\nchannels: [conda-forge]\ndependencies:\n  - python=3.11.7\n  - pip<=24\n  - pip:\n    - mlflow==3.17.2\n",
        );
        assert_eq!(
            PythonEnv::from_conda_yaml(&p).unwrap(),
            PythonEnv {
                python: Some("3.11.7".into()),
                build_dependencies: vec!["pip<=24".into()],
                dependencies: vec!["mlflow==3.17.2".into()],
            }
        );
        let p = write(dir.path(), "c2.yaml", "dependencies:\n  - python\n");
        assert!(PythonEnv::from_conda_yaml(&p)
            .unwrap_err()
            .to_string()
            .contains("It must be pinned"));
    }

    #[test]
    fn cache_key_tracks_requirement_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "requirements.txt", "numpy\n-r more.txt\n");
        write(dir.path(), "more.txt", "pandas\n");
        let env = PythonEnv {
            python: Some("3.11".into()),
            build_dependencies: vec![],
            dependencies: vec!["-r requirements.txt".into()],
        };
        let k1 = venv_key(&Builder::Venv, &env, dir.path());
        assert_eq!(k1, venv_key(&Builder::Venv, &env, dir.path()));
        write(dir.path(), "more.txt", "pandas==2\n");
        let k2 = venv_key(&Builder::Venv, &env, dir.path());
        assert_ne!(k1, k2, "a nested requirement file changed");
        assert_ne!(k2, venv_key(&Builder::Uv("uv".into()), &env, dir.path()));
        let mut env2 = env.clone();
        env2.python = Some("3.12".into());
        assert_ne!(k2, venv_key(&Builder::Venv, &env2, dir.path()));
        // The same files elsewhere: the same key.
        let other = tempfile::tempdir().unwrap();
        write(other.path(), "requirements.txt", "numpy\n-r more.txt\n");
        write(other.path(), "more.txt", "pandas==2\n");
        assert_eq!(k2, venv_key(&Builder::Venv, &env, other.path()));
    }

    #[test]
    fn requirements_split() {
        assert_eq!(split_requirement("numpy>=1.2"), ("numpy", ">=", "1.2"));
        assert_eq!(split_requirement("python=3.11"), ("python", "=", "3.11"));
        assert_eq!(split_requirement("pip"), ("pip", "", ""));
        assert_eq!(
            dependency_args(&["-r requirements.txt".into(), "a==1".into()]),
            ["-r", "requirements.txt", "a==1"]
        );
    }
}
