//! The MLproject file (mlflow/projects/_project_spec.py): entry points, typed parameters,
//! and the project's environment.

use std::path::{Path, PathBuf};

use mlox_env::EnvError;

use crate::error::{ProjectError, Result};
use crate::yaml::{self, Node, Value};

/// The environment kinds an MLproject may declare; at most one.
const ENV_FIELDS: [&str; 3] = ["docker_env", "python_env", "conda_env"];
/// MLflow's default file names for an environment not named in the MLproject.
pub const PYTHON_ENV_FILE: &str = "python_env.yaml";
pub const CONDA_ENV_FILE: &str = "conda.yaml";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamType {
    Float,
    Int,
    String,
    Path,
    Uri,
    /// A type name MLflow does not define; passed through like a string (MLflow does not
    /// reject it either).
    Other(String),
}

impl ParamType {
    fn parse(name: &str) -> Self {
        match name {
            "float" => ParamType::Float,
            "int" => ParamType::Int,
            "string" => ParamType::String,
            "path" => ParamType::Path,
            "uri" => ParamType::Uri,
            other => ParamType::Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ParamType::Float => "float",
            ParamType::Int => "int",
            ParamType::String => "string",
            ParamType::Path => "path",
            ParamType::Uri => "uri",
            ParamType::Other(s) => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub ty: ParamType,
    /// `str(default)` as Python renders it; `None` makes the parameter required.
    pub default: Option<String>,
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EntryPoint {
    pub name: String,
    /// In declaration order.
    pub parameters: Vec<Parameter>,
    /// The command template, with `{name}` placeholders (Python `str.format`).
    pub command: String,
    /// Where the command is declared; `None` for a script run without a declaration.
    pub command_line: Option<usize>,
}

impl EntryPoint {
    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DockerEnvVar {
    /// `VAR`: copy the variable from the host.
    Copy(String),
    /// `[VAR, value]`: set it.
    Set(String, String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerEnv {
    pub image: String,
    pub volumes: Vec<String>,
    pub environment: Vec<DockerEnvVar>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectEnv {
    /// A Python environment, described by a python_env.yaml (or the default: no
    /// dependencies, the current Python).
    Python {
        config: Option<PathBuf>,
    },
    Conda {
        config: PathBuf,
    },
    Docker(DockerEnv),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub dir: PathBuf,
    /// The MLproject file, if the folder has one.
    pub file: Option<PathBuf>,
    pub name: Option<String>,
    pub entry_points: Vec<EntryPoint>,
    pub env: ProjectEnv,
}

/// The MLproject file of `dir`, matched case-insensitively like MLflow does.
pub fn find_mlproject(dir: &Path) -> Result<Option<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(EnvError::io(format!(
        "reading project folder {}",
        dir.display()
    )))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().to_lowercase() == "mlproject")
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// Loads the project in `dir` (a folder without an MLproject file is a project with no
/// declared entry points).
pub fn load_project(dir: &Path) -> Result<Project> {
    let file = find_mlproject(dir)?;
    let root = match &file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(EnvError::io(format!("reading {}", path.display())))?;
            parse_yaml_file(path, &text)?
        }
        None => Node {
            value: Value::Null,
            line: 1,
            col: 1,
        },
    };
    let path = file.clone().unwrap_or_else(|| dir.join("MLproject"));
    parse_project(dir, &path, &root).map(|mut p| {
        p.file = file;
        p
    })
}

pub(crate) fn parse_yaml_file(path: &Path, text: &str) -> Result<Node> {
    Ok(yaml::parse_file(path, text)?)
}

fn parse_project(dir: &Path, path: &Path, root: &Node) -> Result<Project> {
    let err = |node: &Node, msg: String| ProjectError::from(EnvError::spec(path, node.line, msg));
    let empty = Vec::new();
    let top: &[(Node, Node)] = match &root.value {
        Value::Null => &empty,
        Value::Map(m) => m,
        _ => {
            return Err(err(
                root,
                format!(
                    "the MLproject file must be a mapping (name, entry_points, python_env, ...), found {}",
                    root.kind()
                ),
            ))
        }
    };
    for (k, _) in top {
        if k.as_str().is_none() {
            return Err(err(
                k,
                format!("top-level keys must be strings, found {}", k.kind()),
            ));
        }
    }
    let env_fields: Vec<&Node> = top
        .iter()
        .filter(|(k, _)| ENV_FIELDS.contains(&k.as_str().unwrap_or_default()))
        .map(|(k, _)| k)
        .collect();
    if env_fields.len() > 1 {
        let names: Vec<String> = env_fields
            .iter()
            .map(|k| format!("'{}'", k.as_str().unwrap_or_default()))
            .collect();
        return Err(err(
            env_fields[1],
            format!(
                "Project cannot contain multiple environment fields: {{{}}}",
                names.join(", ")
            ),
        ));
    }

    let name = match root.get("name") {
        None => None,
        Some(n) if n.is_null() => None,
        Some(n) => match &n.value {
            Value::Map(_) | Value::Seq(_) => {
                return Err(err(
                    n,
                    format!("'name' must be a string, found {}", n.kind()),
                ))
            }
            _ => n.to_python_str(),
        },
    };

    let mut entry_points = Vec::new();
    if let Some(eps) = root.get("entry_points").filter(|n| !n.is_null()) {
        let Some(map) = eps.as_map() else {
            return Err(err(
                eps,
                format!(
                    "'entry_points' must be a mapping of entry point names to {{parameters, command}}, found {}",
                    eps.kind()
                ),
            ));
        };
        for (k, v) in map {
            let ep_name = k
                .scalar_key()
                .ok_or_else(|| err(k, "entry point names must be strings".to_string()))?;
            let ep = parse_entry_point(path, &ep_name, k, v)?;
            // A repeated name keeps the last definition, as a YAML mapping does in MLflow.
            entry_points.retain(|e: &EntryPoint| e.name != ep.name);
            entry_points.push(ep);
        }
    }

    let env = if let Some(docker) = root.get("docker_env").filter(|n| !n.is_null()) {
        ProjectEnv::Docker(parse_docker_env(path, docker)?)
    } else if let Some(p) = root.get("python_env").filter(|n| !n.is_null()) {
        let rel = p.as_str().ok_or_else(|| {
            err(
                p,
                format!(
                    "'python_env' must be the path of a python_env.yaml file, found {}",
                    p.kind()
                ),
            )
        })?;
        let config = dir.join(rel);
        if !config.exists() {
            return Err(err(
                p,
                format!(
                    "Project specified python_env file {}, but no such file was found.",
                    config.display()
                ),
            ));
        }
        ProjectEnv::Python {
            config: Some(config),
        }
    } else if let Some(c) = root.get("conda_env").filter(|n| !n.is_null()) {
        let rel = c.as_str().ok_or_else(|| {
            err(
                c,
                format!(
                    "'conda_env' must be the path of a conda.yaml file, found {}",
                    c.kind()
                ),
            )
        })?;
        let config = dir.join(rel);
        if !config.exists() {
            return Err(err(
                c,
                format!(
                    "Project specified conda environment file {}, but no such file was found.",
                    config.display()
                ),
            ));
        }
        ProjectEnv::Conda { config }
    } else if dir.join(PYTHON_ENV_FILE).exists() {
        ProjectEnv::Python {
            config: Some(dir.join(PYTHON_ENV_FILE)),
        }
    } else if dir.join(CONDA_ENV_FILE).exists() {
        ProjectEnv::Conda {
            config: dir.join(CONDA_ENV_FILE),
        }
    } else {
        ProjectEnv::Python { config: None }
    };

    Ok(Project {
        dir: dir.to_path_buf(),
        file: Some(path.to_path_buf()),
        name,
        entry_points,
        env,
    })
}

fn parse_entry_point(path: &Path, name: &str, key: &Node, node: &Node) -> Result<EntryPoint> {
    let err = |n: &Node, msg: String| ProjectError::from(EnvError::spec(path, n.line, msg));
    if node.as_map().is_none() {
        return Err(err(
            if node.is_null() { key } else { node },
            format!(
                "entry point '{name}' must be a mapping with 'command' (and optional 'parameters'), found {}",
                node.kind()
            ),
        ));
    }
    let command_node = node
        .get("command")
        .filter(|n| !n.is_null())
        .ok_or_else(|| err(key, format!("entry point '{name}' has no 'command'")))?;
    let command = match &command_node.value {
        Value::Seq(_) | Value::Map(_) => {
            return Err(err(
                command_node,
                format!(
                    "the command of entry point '{name}' must be a string, found {}",
                    command_node.kind()
                ),
            ))
        }
        _ => command_node.to_python_str().unwrap_or_default(),
    };
    let mut parameters = Vec::new();
    if let Some(params) = node.get("parameters").filter(|n| !n.is_null()) {
        let Some(map) = params.as_map() else {
            return Err(err(
                params,
                format!(
                    "the parameters of entry point '{name}' must be a mapping of names to types or {{type, default}}, found {}",
                    params.kind()
                ),
            ));
        };
        for (k, v) in map {
            let pname = k
                .scalar_key()
                .ok_or_else(|| err(k, "parameter names must be strings".to_string()))?;
            let (ty, default) = match &v.value {
                Value::Str(t) => (ParamType::parse(t), None),
                Value::Map(_) => {
                    let ty = match v.get("type") {
                        None => ParamType::String,
                        Some(t) if t.is_null() => ParamType::String,
                        Some(t) => match t.as_str() {
                            Some(s) => ParamType::parse(s),
                            None => {
                                return Err(err(
                                    t,
                                    format!(
                                        "the type of parameter '{pname}' must be one of float, int, string, path, uri; found {}",
                                        t.kind()
                                    ),
                                ))
                            }
                        },
                    };
                    let default = match v.get("default") {
                        None => None,
                        Some(d) if d.is_null() => None,
                        Some(d) => match d.to_python_str() {
                            Some(s) => Some(s),
                            None => {
                                return Err(err(
                                    d,
                                    format!(
                                        "the default of parameter '{pname}' must be a single value, found {}",
                                        d.kind()
                                    ),
                                ))
                            }
                        },
                    };
                    (ty, default)
                }
                _ => {
                    return Err(err(
                        if v.is_null() { k } else { v },
                        format!(
                            "parameter '{pname}' must be a type name (float, int, string, path, uri) or a mapping {{type, default}}, found {}",
                            v.kind()
                        ),
                    ))
                }
            };
            if let ParamType::Other(t) = &ty {
                tracing::warn!(
                    file = %path.display(),
                    line = v.line,
                    "parameter '{pname}' has unknown type '{t}' (known: float, int, string, path, uri); its value is passed through unchecked"
                );
            }
            parameters.retain(|p: &Parameter| p.name != pname);
            parameters.push(Parameter {
                name: pname,
                ty,
                default,
                line: v.line,
            });
        }
    }
    Ok(EntryPoint {
        name: name.to_string(),
        parameters,
        command,
        command_line: Some(command_node.line),
    })
}

fn parse_docker_env(path: &Path, node: &Node) -> Result<DockerEnv> {
    const PREFIX: &str = "Project configuration (MLproject file) was invalid: ";
    let err = |n: &Node, msg: &str| {
        ProjectError::from(EnvError::spec(path, n.line, format!("{PREFIX}{msg}")))
    };
    if node.as_map().is_none() {
        return Err(err(
            node,
            "docker_env must be a mapping with an 'image' attribute.",
        ));
    }
    let image = node
        .get("image")
        .and_then(|n| n.to_python_str().filter(|s| !s.is_empty() && !n.is_null()))
        .ok_or_else(|| {
            err(
                node,
                "Docker environment specified but no image attribute found.",
            )
        })?;
    let mut volumes = Vec::new();
    if let Some(v) = node.get("volumes").filter(|n| !n.is_null()) {
        let bad = || {
            err(
                v,
                "Docker volumes must be a list of strings, e.g.: '[\"/path1/:/path1\", \"/path2/:/path2\"])",
            )
        };
        for item in v.as_seq().ok_or_else(bad)? {
            volumes.push(item.as_str().ok_or_else(bad)?.to_string());
        }
    }
    let mut environment = Vec::new();
    if let Some(e) = node.get("environment").filter(|n| !n.is_null()) {
        let bad = || {
            err(
                e,
                "environment must be a list containing either strings (to copy environment variables from host system) or lists of string pairs (to define new environment variables).E.g.: '[[\"NEW_VAR\", \"new_value\"], \"VAR_TO_COPY_FROM_HOST\"])",
            )
        };
        for item in e.as_seq().ok_or_else(bad)? {
            match &item.value {
                Value::Str(s) => environment.push(DockerEnvVar::Copy(s.clone())),
                Value::Seq(pair) if pair.len() == 2 => {
                    let k = pair[0].to_python_str().ok_or_else(bad)?;
                    let v = pair[1].to_python_str().ok_or_else(bad)?;
                    environment.push(DockerEnvVar::Set(k, v));
                }
                _ => return Err(bad()),
            }
        }
    }
    Ok(DockerEnv {
        image,
        volumes,
        environment,
    })
}

impl Project {
    /// The entry point to run: a declared one, or a `.py` / `.sh` file of the project run as
    /// a script (MLflow's `Project.get_entry_point`).
    pub fn entry_point(&self, name: &str) -> Result<EntryPoint> {
        if let Some(ep) = self.entry_points.iter().find(|e| e.name == name) {
            return Ok(ep.clone());
        }
        let runner = if name.ends_with(".py") {
            Some("python".to_string())
        } else if name.ends_with(".sh") {
            Some(std::env::var("SHELL").unwrap_or_else(|_| "bash".to_string()))
        } else {
            None
        };
        let quoted = crate::params::shell_quote(name);
        let command = match runner {
            Some(runner) => Some(format!("{runner} {quoted}")),
            None if name.ends_with(".R") => Some(format!(
                "Rscript -e \"mlflow::mlflow_source('{quoted}')\" --args"
            )),
            None => None,
        };
        if let Some(command) = command {
            return Ok(EntryPoint {
                name: name.to_string(),
                parameters: Vec::new(),
                command,
                command_line: None,
            });
        }
        let names: Vec<String> = self
            .entry_points
            .iter()
            .map(|e| format!("'{}'", e.name))
            .collect();
        Err(ProjectError::Invalid(format!(
            "Could not find {name} among entry points [{}] or interpret {name} as a runnable script. Supported script file extensions: ['.py', '.sh']",
            names.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(mlproject: &str, files: &[&str]) -> (tempfile::TempDir, Result<Project>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("MLproject"), mlproject).unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let p = load_project(dir.path());
        (dir, p)
    }

    fn error_of(mlproject: &str) -> String {
        let (_d, p) = project(mlproject, &[]);
        let e = p.expect_err("should be rejected");
        match e {
            ProjectError::Env(EnvError::Spec { line, message, .. }) => {
                format!("line {line}: {message}")
            }
            other => panic!("not a spec error: {other}"),
        }
    }

    #[test]
    fn parses_entry_points_parameters_and_defaults() {
        let (dir, p) = project(
            "name: tutorial\n\
             python_env: python_env.yaml\n\
             entry_points:\n\
             \x20 main:\n\
             \x20   parameters:\n\
             \x20     alpha: {type: float, default: 0.50}\n\
             \x20     l1_ratio: {type: float, default: 0.1}\n\
             \x20     data: path\n\
             \x20     name: {default: x}\n\
             \x20     epochs: {type: int, default: 10}\n\
             \x20   command: \"python train.py {alpha} {l1_ratio}\"\n\
             \x20 other:\n\
             \x20   command: echo hi\n",
            &["python_env.yaml"],
        );
        let p = p.unwrap();
        assert_eq!(p.name.as_deref(), Some("tutorial"));
        assert_eq!(
            p.env,
            ProjectEnv::Python {
                config: Some(dir.path().join("python_env.yaml"))
            }
        );
        let main = p.entry_point("main").unwrap();
        assert_eq!(main.command, "python train.py {alpha} {l1_ratio}");
        assert_eq!(main.command_line, Some(11));
        let names: Vec<_> = main.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["alpha", "l1_ratio", "data", "name", "epochs"]);
        let alpha = main.parameter("alpha").unwrap();
        assert_eq!(alpha.ty, ParamType::Float);
        assert_eq!(alpha.default.as_deref(), Some("0.5"));
        assert_eq!(alpha.line, 6);
        assert_eq!(main.parameter("data").unwrap().ty, ParamType::Path);
        assert_eq!(main.parameter("data").unwrap().default, None);
        assert_eq!(main.parameter("name").unwrap().ty, ParamType::String);
        assert_eq!(
            main.parameter("epochs").unwrap().default.as_deref(),
            Some("10")
        );
        assert_eq!(p.entry_point("other").unwrap().parameters, vec![]);
    }

    #[test]
    fn scripts_run_without_declaration() {
        let (_d, p) = project("name: x\n", &[]);
        let p = p.unwrap();
        assert_eq!(
            p.entry_point("train.py").unwrap().command,
            "python train.py"
        );
        assert_eq!(
            p.entry_point("my script.py").unwrap().command,
            "python 'my script.py'"
        );
        assert_eq!(
            p.entry_point("train.R").unwrap().command,
            "Rscript -e \"mlflow::mlflow_source('train.R')\" --args"
        );
        let err = p.entry_point("main").unwrap_err().to_string();
        assert_eq!(
            err,
            "Could not find main among entry points [] or interpret main as a runnable script. Supported script file extensions: ['.py', '.sh']"
        );
    }

    #[test]
    fn folder_without_mlproject_defaults_to_python_env() {
        let dir = tempfile::tempdir().unwrap();
        let p = load_project(dir.path()).unwrap();
        assert_eq!(p.file, None);
        assert_eq!(p.env, ProjectEnv::Python { config: None });
        std::fs::write(dir.path().join("conda.yaml"), "name: x\n").unwrap();
        let p = load_project(dir.path()).unwrap();
        assert_eq!(
            p.env,
            ProjectEnv::Conda {
                config: dir.path().join("conda.yaml")
            }
        );
        std::fs::write(dir.path().join("python_env.yaml"), "python: '3.11'\n").unwrap();
        let p = load_project(dir.path()).unwrap();
        assert!(matches!(p.env, ProjectEnv::Python { config: Some(_) }));
    }

    #[test]
    fn mlproject_name_is_matched_case_insensitively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mlProject"),
            "entry_points:\n  main:\n    command: echo\n",
        )
        .unwrap();
        let p = load_project(dir.path()).unwrap();
        assert_eq!(p.entry_points.len(), 1);
    }

    #[test]
    fn docker_env_is_parsed() {
        let (_d, p) = project(
            "name: d\ndocker_env:\n  image: python:3.11\n  volumes: [\"/a:/b\"]\n  environment: [[\"X\", \"1\"], \"HOME\"]\nentry_points:\n  main:\n    command: echo\n",
            &[],
        );
        assert_eq!(
            p.unwrap().env,
            ProjectEnv::Docker(DockerEnv {
                image: "python:3.11".into(),
                volumes: vec!["/a:/b".into()],
                environment: vec![
                    DockerEnvVar::Set("X".into(), "1".into()),
                    DockerEnvVar::Copy("HOME".into())
                ],
            })
        );
    }

    #[test]
    fn malformed_files_name_the_line_and_the_problem() {
        // YAML syntax.
        let e = error_of("name: x\nentry_points:\n  main:\n    command: \"unterminated\n");
        assert!(e.starts_with("line 4") || e.starts_with("line 5"), "{e}");
        assert!(e.contains("invalid YAML"), "{e}");
        let e = error_of("name: x\nentry_points:\n  main:\n   command: a\n  parameters: [\n");
        assert!(e.contains("invalid YAML"), "{e}");
        // Structure.
        assert_eq!(
            error_of("- a\n- b\n"),
            "line 1: the MLproject file must be a mapping (name, entry_points, python_env, ...), found a list"
        );
        assert_eq!(
            error_of("name: x\nentry_points: [main]\n"),
            "line 2: 'entry_points' must be a mapping of entry point names to {parameters, command}, found a list"
        );
        assert_eq!(
            error_of("entry_points:\n  main:\n    parameters: {}\n"),
            "line 2: entry point 'main' has no 'command'"
        );
        assert_eq!(
            error_of("entry_points:\n  main: python x.py\n"),
            "line 2: entry point 'main' must be a mapping with 'command' (and optional 'parameters'), found a string"
        );
        assert_eq!(
            error_of("entry_points:\n  main:\n    parameters:\n      - alpha\n    command: x\n"),
            "line 4: the parameters of entry point 'main' must be a mapping of names to types or {type, default}, found a list"
        );
        assert_eq!(
            error_of(
                "entry_points:\n  main:\n    parameters:\n      alpha: 3\n    command: x\n"
            ),
            "line 4: parameter 'alpha' must be a type name (float, int, string, path, uri) or a mapping {type, default}, found an integer"
        );
        assert_eq!(
            error_of("entry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: [1, 2]}\n    command: x\n"),
            "line 4: the default of parameter 'alpha' must be a single value, found a list"
        );
        assert_eq!(
            error_of("entry_points:\n  main:\n    command: [python, x.py]\n"),
            "line 3: the command of entry point 'main' must be a string, found a list"
        );
        assert_eq!(
            error_of("name: x\nconda_env: conda.yaml\npython_env: python_env.yaml\n"),
            "line 3: Project cannot contain multiple environment fields: {'conda_env', 'python_env'}"
        );
        assert!(error_of("python_env: missing.yaml\n")
            .starts_with("line 1: Project specified python_env file "));
        assert_eq!(
            error_of("name: x\ndocker_env:\n  volumes: []\n"),
            "line 3: Project configuration (MLproject file) was invalid: Docker environment specified but no image attribute found."
        );
        assert!(
            error_of("docker_env:\n  image: x\n  volumes: [1]\n")
                .starts_with("line 3: Project configuration (MLproject file) was invalid: Docker volumes must be a list of strings")
        );
    }

    #[test]
    fn spec_errors_display_file_and_line() {
        let (dir, p) = project("name: x\nentry_points: 3\n", &[]);
        let msg = p.unwrap_err().to_string();
        assert_eq!(
            msg,
            format!(
                "{}:2: 'entry_points' must be a mapping of entry point names to {{parameters, command}}, found an integer",
                dir.path().join("MLproject").display()
            )
        );
    }

    #[test]
    fn empty_mlproject_is_a_project_without_entry_points() {
        let (_d, p) = project("", &[]);
        assert!(p.unwrap().entry_points.is_empty());
    }
}
