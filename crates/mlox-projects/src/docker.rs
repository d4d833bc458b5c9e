//! Docker environments (mlflow/projects/docker.py): checks, images and the `docker run`
//! command line.

use std::path::{Path, PathBuf};

use crate::error::{ProjectError, Result};
use crate::progress::Progress;
use crate::spec::DockerEnvVar;
use crate::tools::{which, Tool};

/// Where the project's code is mounted (or copied) in the container, as in MLflow.
pub const WORKDIR_IN_CONTAINER: &str = "/mlflow/projects/code/";

/// The docker command, after checking that the engine answers (`docker info`), with
/// MLflow's messages.
pub async fn validate_installation() -> Result<PathBuf> {
    let docker = which("docker").ok_or_else(|| {
        ProjectError::environment(
            "Could not find Docker executable. Ensure Docker is installed as per the instructions at https://docs.docker.com/install/overview/.".to_string(),
        )
    })?;
    let out = Tool::new(&docker, &["info"]).output().await?;
    if !out.success {
        return Err(ProjectError::environment(format!(
            "Ran `docker info` to ensure docker daemon is running but it failed with the following output:\n{}",
            out.combined()
        )));
    }
    Ok(docker)
}

pub fn validate_project_name(name: Option<&str>) -> Result<&str> {
    name.filter(|n| !n.is_empty()).ok_or_else(|| {
        ProjectError::Invalid(
            "Project name in MLProject must be specified when using docker for image tagging."
                .to_string(),
        )
    })
}

/// Pulls `image` unless present; returns its id.
pub async fn ensure_image(docker: &Path, image: &str, progress: &Progress) -> Result<String> {
    let inspect = || Tool::new(docker, &["image", "inspect", "--format", "{{.Id}}", image]);
    let out = inspect().output().await?;
    if out.success {
        return Ok(out.stdout.trim().to_string());
    }
    let step = progress.step(format!("Pulling {image}"));
    Tool::new(docker, &["pull", "--quiet", image]).run().await?;
    step.done();
    Ok(inspect().run().await?.stdout.trim().to_string())
}

/// The environment variables of `docker_env.environment`: copied from the host or set.
pub fn user_env_vars(
    spec: &[DockerEnvVar],
    host: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for v in spec {
        match v {
            DockerEnvVar::Set(k, val) => out.push((k.clone(), val.clone())),
            DockerEnvVar::Copy(k) => match host(k) {
                Some(val) => out.push((k.clone(), val)),
                None => {
                    let names: Vec<&str> = spec
                        .iter()
                        .map(|v| match v {
                            DockerEnvVar::Copy(k) | DockerEnvVar::Set(k, _) => k.as_str(),
                        })
                        .collect();
                    return Err(ProjectError::Invalid(format!(
                        "This project expects the {} environment variables to be set on the machine running the project, but {k} was not set. Please ensure all expected environment variables are set",
                        names.join(", ")
                    )));
                }
            },
        }
    }
    Ok(out)
}

/// What `docker run` needs for one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerRun {
    pub image: String,
    pub work_dir: PathBuf,
    pub volumes: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Share the host's network, so a tracking server on 127.0.0.1 is reachable.
    pub host_network: bool,
    pub command: String,
}

/// `docker run --rm ...`: the project folder is mounted at MLflow's code path and the
/// command runs there under `sh -c`.
pub fn run_args(r: &DockerRun) -> Vec<String> {
    let mut args = vec!["run".to_string(), "--rm".to_string()];
    if r.host_network {
        args.extend(["--network".to_string(), "host".to_string()]);
    }
    args.extend([
        "-v".to_string(),
        format!("{}:{WORKDIR_IN_CONTAINER}", r.work_dir.display()),
        "-w".to_string(),
        WORKDIR_IN_CONTAINER.to_string(),
    ]);
    for v in &r.volumes {
        args.extend(["-v".to_string(), v.clone()]);
    }
    for (k, v) in &r.env {
        args.extend(["-e".to_string(), format!("{k}={v}")]);
    }
    args.extend([
        r.image.clone(),
        "sh".to_string(),
        "-c".to_string(),
        r.command.clone(),
    ]);
    args
}

/// Whether a tracking URI points at this machine's loopback interface.
pub fn is_loopback_uri(uri: &str) -> bool {
    let rest = uri.split_once("://").map(|(_, r)| r).unwrap_or(uri);
    let host_port = rest.split('/').next().unwrap_or_default();
    let host_port = host_port.rsplit('@').next().unwrap_or_default();
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        stripped.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host == "localhost" || host.starts_with("127.") || host == "::1"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_args_mount_the_project_and_pass_the_env() {
        let args = run_args(&DockerRun {
            image: "python:3.11".into(),
            work_dir: "/w/proj".into(),
            volumes: vec!["/data:/data".into()],
            env: vec![
                ("MLFLOW_RUN_ID".into(), "abc".into()),
                ("X".into(), "a b".into()),
            ],
            host_network: true,
            command: "python train.py --alpha 0.5".into(),
        });
        assert_eq!(
            args,
            [
                "run",
                "--rm",
                "--network",
                "host",
                "-v",
                "/w/proj:/mlflow/projects/code/",
                "-w",
                "/mlflow/projects/code/",
                "-v",
                "/data:/data",
                "-e",
                "MLFLOW_RUN_ID=abc",
                "-e",
                "X=a b",
                "python:3.11",
                "sh",
                "-c",
                "python train.py --alpha 0.5"
            ]
        );
    }

    #[test]
    fn user_env_vars_copy_or_set() {
        let spec = vec![
            DockerEnvVar::Set("A".into(), "1".into()),
            DockerEnvVar::Copy("HOME".into()),
        ];
        let host = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(
            user_env_vars(&spec, host).unwrap(),
            vec![("A".into(), "1".into()), ("HOME".into(), "/root".into())]
        );
        let err = user_env_vars(&spec, |_| None).unwrap_err().to_string();
        assert!(err.contains("but HOME was not set"), "{err}");
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_uri("http://127.0.0.1:5000"));
        assert!(is_loopback_uri("http://localhost:5000/x"));
        assert!(is_loopback_uri("http://[::1]:80"));
        assert!(!is_loopback_uri("https://mlflow.example.com"));
        assert!(!is_loopback_uri("http://10.0.0.3:5000"));
    }
}
