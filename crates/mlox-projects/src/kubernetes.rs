//! The `kubernetes` backend (mlflow/projects/kubernetes.py, mlflow/projects/__init__.py
//! `_parse_kubernetes_config`): the project is built into a docker image on top of its
//! `docker_env` image, pushed to `repository-uri`, and run as a Job rendered from the
//! user's template, submitted and followed with `kubectl`.
//!
//! The backend config is MLflow's JSON: `{"kube-context": ..., "repository-uri": ...,
//! "kube-job-template-path": ...}`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{ProjectError, Result};
use crate::tools::Tool;

#[derive(Clone, Debug, PartialEq)]
pub struct KubeConfig {
    pub kube_context: Option<String>,
    pub repository_uri: String,
    pub template_path: PathBuf,
    /// The job template, as JSON.
    pub job_template: Value,
}

/// `--backend-config`: a path to a `.json` file, or a JSON string (MLflow's CLI rule).
pub fn read_backend_config(arg: &str, cwd: &Path) -> Result<Value> {
    if arg.ends_with(".json") {
        let path = crate::params::absolute(cwd, Path::new(arg));
        let text = std::fs::read_to_string(&path).map_err(mlox_env::EnvError::io(format!(
            "reading backend config {}",
            path.display()
        )))?;
        serde_json::from_str(&text).map_err(|e| {
            ProjectError::Invalid(format!(
                "Error when attempting to load and parse JSON cluster spec from file {}: {e}",
                path.display()
            ))
        })
    } else {
        serde_json::from_str(arg).map_err(|e| {
            ProjectError::Invalid(format!("Invalid backend config JSON. Parse error: {e}"))
        })
    }
}

/// Validates the kubernetes backend config and loads the job template it names.
pub fn kube_config(config: &Value, cwd: &Path) -> Result<KubeConfig> {
    let obj = match config.as_object() {
        Some(o) if !o.is_empty() => o,
        _ => {
            return Err(ProjectError::Invalid(
                "Backend_config file not found.".to_string(),
            ))
        }
    };
    let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_string);
    let template = text("kube-job-template-path").ok_or_else(|| {
        ProjectError::Invalid(
            "'kube-job-template-path' attribute must be specified in backend_config.".to_string(),
        )
    })?;
    let template_path = crate::params::absolute(cwd, Path::new(&template));
    if !template_path.exists() {
        return Err(ProjectError::Invalid(format!(
            "Could not find 'kube-job-template-path': {template}"
        )));
    }
    let repository_uri = text("repository-uri").ok_or_else(|| {
        ProjectError::Invalid("Could not find 'repository-uri' in backend_config.".to_string())
    })?;
    let yaml_text = std::fs::read_to_string(&template_path).map_err(mlox_env::EnvError::io(
        format!("reading {}", template_path.display()),
    ))?;
    let node = crate::spec::parse_yaml_file(&template_path, &yaml_text)?;
    let job_template = node.to_json();
    let container = job_template
        .pointer("/spec/template/spec/containers/0")
        .filter(|c| c.is_object());
    if !job_template.get("metadata").is_some_and(Value::is_object) || container.is_none() {
        return Err(mlox_env::EnvError::spec(
            &template_path,
            node.line,
            "a Kubernetes Job template needs `metadata` and `spec.template.spec.containers` with at least one container",
        )
        .into());
    }
    Ok(KubeConfig {
        kube_context: text("kube-context"),
        repository_uri,
        template_path,
        job_template,
    })
}

/// The image tag: the repository plus the first 7 digits of the commit, if known
/// (`_get_docker_image_uri`).
pub fn image_tag(repository_uri: &str, commit: Option<&str>) -> String {
    match commit {
        Some(c) if !c.is_empty() => format!("{repository_uri}:{}", &c[..7.min(c.len())]),
        _ => repository_uri.to_string(),
    }
}

/// The Dockerfile that adds the project's code to the base image (MLflow's generated one).
pub fn dockerfile(base_image: &str) -> String {
    format!(
        "FROM {base_image}\nCOPY . {dir}\nWORKDIR {dir}\n",
        dir = crate::docker::WORKDIR_IN_CONTAINER
    )
}

/// A DNS-1123 name from the project name and a UTC timestamp, like MLflow's
/// `<project>-<%Y-%m-%d-%H-%M-%S-%f>`.
pub fn job_name(project_name: &str, now: std::time::SystemTime) -> String {
    // A clock before 1970 counts as 1970.
    let now = now.max(std::time::UNIX_EPOCH);
    let stamp = chrono::DateTime::<chrono::Utc>::from(now)
        .format("%Y-%m-%d-%H-%M-%S-%6f")
        .to_string();
    let mut base = dns_label(project_name);
    let max = 63 - stamp.len() - 1;
    base.truncate(max);
    let base = base.trim_end_matches('-');
    let base = if base.is_empty() {
        "mlox-project"
    } else {
        base
    };
    format!("{base}-{stamp}")
}

/// Lowercase letters, digits and '-', starting and ending with an alphanumeric.
pub fn dns_label(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let mut out = trimmed.to_string();
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}

/// What goes into the rendered Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSpec {
    pub name: String,
    pub container_name: String,
    /// `tag@digest` when the digest is known.
    pub image: String,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The Job manifest: the template with the name, the first container's name, image and
/// command set and the run's variables appended to its `env` (`_get_kubernetes_job_definition`).
pub fn render_job(template: &Value, job: &JobSpec) -> Value {
    let mut m = template.clone();
    m["metadata"]["name"] = json!(job.name);
    let container = &mut m["spec"]["template"]["spec"]["containers"][0];
    container["name"] = json!(job.container_name);
    container["image"] = json!(job.image);
    container["command"] = json!(job.command);
    if !container.get("env").is_some_and(Value::is_array) {
        container["env"] = json!([]);
    }
    if let Some(env) = container["env"].as_array_mut() {
        env.extend(job.env.iter().map(|(k, v)| json!({"name": k, "value": v})));
    }
    m
}

/// The container command: the entry point's shell command split into words (MLflow
/// splits it with `shlex.split`; the words are passed as they are, not re-quoted).
pub fn container_command(shell_command: &str) -> Result<Vec<String>> {
    shlex::split(shell_command).ok_or_else(|| {
        ProjectError::Invalid(format!(
            "cannot split the command into words for the Job: {shell_command}"
        ))
    })
}

/// `kubectl [--context C] [-n NS] <args>`.
pub fn kubectl_args(context: Option<&str>, namespace: Option<&str>, args: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = context {
        out.extend(["--context".to_string(), c.to_string()]);
    }
    if let Some(ns) = namespace {
        out.extend(["--namespace".to_string(), ns.to_string()]);
    }
    out.extend(args.iter().map(|s| s.to_string()));
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Created, no pod started yet.
    Waiting,
    Running,
    Complete,
    Failed(String),
}

/// The state of a Job from `kubectl get job -o json` (`KubernetesSubmittedRun._update_status`).
pub fn job_state(job: &Value) -> JobState {
    let status = &job["status"];
    if let Some(conditions) = status["conditions"].as_array() {
        for c in conditions {
            if c["status"] != "True" {
                continue;
            }
            match c["type"].as_str() {
                Some("Complete") => return JobState::Complete,
                Some("Failed") => {
                    let msg = c["message"]
                        .as_str()
                        .or(c["reason"].as_str())
                        .unwrap_or("the Job failed");
                    return JobState::Failed(msg.to_string());
                }
                _ => {}
            }
        }
    }
    if status["startTime"].is_string() {
        JobState::Running
    } else {
        JobState::Waiting
    }
}

/// How often the Job is polled (`MLOX_KUBE_POLL_SECONDS`, default MLflow's 5 s).
pub fn poll_interval() -> Duration {
    std::env::var("MLOX_KUBE_POLL_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(5))
}

/// `kubectl` with the config's context.
pub struct Kubectl {
    pub exe: PathBuf,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

impl Kubectl {
    pub fn tool(&self, args: &[&str]) -> Tool {
        Tool::new(
            &self.exe,
            &kubectl_args(self.context.as_deref(), self.namespace.as_deref(), args),
        )
    }

    pub async fn create(&self, manifest: &Value) -> Result<()> {
        let body = serde_json::to_vec_pretty(manifest).unwrap_or_default();
        self.tool(&["create", "-f", "-"]).stdin(body).run().await?;
        Ok(())
    }

    pub async fn state(&self, job_name: &str) -> Result<JobState> {
        let out = self
            .tool(&["get", "job", job_name, "-o", "json"])
            .run()
            .await?;
        let v: Value = serde_json::from_str(&out.stdout).map_err(|e| {
            ProjectError::environment(format!("kubectl get job printed invalid JSON: {e}"))
        })?;
        Ok(job_state(&v))
    }

    pub async fn delete(&self, job_name: &str) -> Result<()> {
        self.tool(&["delete", "job", job_name, "--wait=false"])
            .run()
            .await?;
        Ok(())
    }

    /// `kubectl logs [-f] job/<name>` writing to our stdout/stderr.
    pub fn logs(&self, job_name: &str, follow: bool) -> std::io::Result<tokio::process::Child> {
        let job = format!("job/{job_name}");
        let args: Vec<&str> = if follow {
            vec!["logs", "-f", &job]
        } else {
            vec!["logs", &job]
        };
        tokio::process::Command::new(&self.exe)
            .args(kubectl_args(
                self.context.as_deref(),
                self.namespace.as_deref(),
                &args,
            ))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const TEMPLATE: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \"{replaced with MLflow Project name}\"\n  namespace: mlflow\nspec:\n  ttlSecondsAfterFinished: 100\n  backoffLimit: 0\n  template:\n    spec:\n      containers:\n      - name: \"{replaced with MLflow Project name}\"\n        image: \"{replaced with URI of Docker image created during Project execution}\"\n        command: [\"{replaced with MLflow Project entry point command}\"]\n        env: [{name: EXISTING, value: \"1\"}]\n        resources:\n          limits:\n            memory: 512Mi\n      restartPolicy: Never\n";

    #[test]
    fn backend_config_is_validated_like_mlflow() {
        let dir = tempfile::tempdir().unwrap();
        let err = |v: Value| kube_config(&v, dir.path()).unwrap_err().to_string();
        assert_eq!(err(json!({})), "Backend_config file not found.");
        assert_eq!(
            err(json!({"repository-uri": "r"})),
            "'kube-job-template-path' attribute must be specified in backend_config."
        );
        assert_eq!(
            err(json!({"repository-uri": "r", "kube-job-template-path": "nope.yaml"})),
            "Could not find 'kube-job-template-path': nope.yaml"
        );
        write(dir.path(), "job.yaml", TEMPLATE);
        assert_eq!(
            err(json!({"kube-job-template-path": "job.yaml"})),
            "Could not find 'repository-uri' in backend_config."
        );
        let cfg = kube_config(
            &json!({"kube-context": "ctx", "repository-uri": "reg/img", "kube-job-template-path": "job.yaml"}),
            dir.path(),
        )
        .unwrap();
        assert_eq!(cfg.kube_context.as_deref(), Some("ctx"));
        assert_eq!(cfg.job_template["metadata"]["namespace"], "mlflow");
        write(dir.path(), "bad.yaml", "kind: Job\nspec: {}\n");
        let e = err(json!({"repository-uri": "r", "kube-job-template-path": "bad.yaml"}));
        assert!(
            e.contains("needs `metadata` and `spec.template.spec.containers`"),
            "{e}"
        );
    }

    #[test]
    fn read_backend_config_file_or_json() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "cfg.json", "{\"repository-uri\": \"x\"}");
        assert_eq!(
            read_backend_config("cfg.json", dir.path()).unwrap(),
            json!({"repository-uri": "x"})
        );
        assert_eq!(
            read_backend_config("{\"a\": 1}", dir.path()).unwrap(),
            json!({"a": 1})
        );
        assert!(read_backend_config("{nope", dir.path())
            .unwrap_err()
            .to_string()
            .starts_with("Invalid backend config JSON"));
    }

    #[test]
    fn renders_the_job_from_the_template() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "job.yaml", TEMPLATE);
        let cfg = kube_config(
            &json!({"repository-uri": "reg/img", "kube-job-template-path": "job.yaml"}),
            dir.path(),
        )
        .unwrap();
        let job = JobSpec {
            name: "proj-2026-01-02-03-04-05-000006".into(),
            container_name: "proj".into(),
            image: "reg/img:abc1234@sha256:0123".into(),
            command: container_command("python train.py --alpha 0.5 --name 'a b'").unwrap(),
            env: vec![
                ("MLFLOW_RUN_ID".into(), "r1".into()),
                ("MLFLOW_TRACKING_URI".into(), "http://mlflow:5000".into()),
                ("MLFLOW_EXPERIMENT_ID".into(), "7".into()),
            ],
        };
        let m = render_job(&cfg.job_template, &job);
        assert_eq!(
            m,
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "proj-2026-01-02-03-04-05-000006", "namespace": "mlflow"},
                "spec": {
                    "ttlSecondsAfterFinished": 100,
                    "backoffLimit": 0,
                    "template": {"spec": {
                        "containers": [{
                            "name": "proj",
                            "image": "reg/img:abc1234@sha256:0123",
                            "command": ["python", "train.py", "--alpha", "0.5", "--name", "a b"],
                            "env": [
                                {"name": "EXISTING", "value": "1"},
                                {"name": "MLFLOW_RUN_ID", "value": "r1"},
                                {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow:5000"},
                                {"name": "MLFLOW_EXPERIMENT_ID", "value": "7"}
                            ],
                            "resources": {"limits": {"memory": "512Mi"}}
                        }],
                        "restartPolicy": "Never"
                    }}
                }
            })
        );
    }

    #[test]
    fn names_tags_and_kubectl_lines() {
        let t = std::time::UNIX_EPOCH + Duration::from_micros(1_767_323_045_000_006);
        assert_eq!(
            job_name("My_Project", t),
            "my-project-2026-01-02-03-04-05-000006"
        );
        assert!(job_name(&"x".repeat(100), t).len() <= 63);
        let before_1970 = std::time::UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(job_name("p", before_1970), "p-1970-01-01-00-00-00-000000");
        assert_eq!(image_tag("reg/img", Some("abcdef0123")), "reg/img:abcdef0");
        assert_eq!(image_tag("reg/img", None), "reg/img");
        assert_eq!(
            dockerfile("python:3.11"),
            "FROM python:3.11\nCOPY . /mlflow/projects/code/\nWORKDIR /mlflow/projects/code/\n"
        );
        assert_eq!(
            kubectl_args(Some("ctx"), Some("ns"), &["create", "-f", "-"]),
            ["--context", "ctx", "--namespace", "ns", "create", "-f", "-"]
        );
        assert_eq!(
            kubectl_args(None, None, &["get", "job", "j"]),
            ["get", "job", "j"]
        );
    }

    #[test]
    fn job_states() {
        assert_eq!(job_state(&json!({"status": {}})), JobState::Waiting);
        assert_eq!(
            job_state(&json!({"status": {"startTime": "2026-01-01T00:00:00Z", "active": 1}})),
            JobState::Running
        );
        assert_eq!(
            job_state(&json!({"status": {"startTime": "t", "conditions": [
                {"type": "Complete", "status": "True"}]}})),
            JobState::Complete
        );
        assert_eq!(
            job_state(&json!({"status": {"conditions": [
                {"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}})),
            JobState::Failed("BackoffLimitExceeded".into())
        );
        assert_eq!(
            job_state(&json!({"status": {"conditions": [
                {"type": "Failed", "status": "False"}]}})),
            JobState::Waiting
        );
    }
}
