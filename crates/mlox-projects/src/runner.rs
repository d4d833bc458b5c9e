//! One tracked project run, start to end (mlflow/projects/__init__.py `run`,
//! backend/local.py, utils.py `_create_run`).
//!
//! Order, as in MLflow: resolve the experiment, fetch the project, validate the entry point
//! and parameters (nothing is created for invalid input), create the run with the project
//! tags, log the parameters in one batch, set the env/backend tags, prepare the
//! environment, run the command with `MLFLOW_RUN_ID` / `MLFLOW_TRACKING_URI` /
//! `MLFLOW_EXPERIMENT_ID`, and end the run FINISHED, FAILED or KILLED.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mlox_client::{CreateRun, RunStatus, Tag, TrackingClient};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::docker::{self, DockerRun};
use crate::env::{self, EnvManager, EnvPlan, Prepared};
use crate::error::{ProjectError, Result};
use crate::fetch::{self, Fetched, GitInfo};
use crate::kubernetes::{self, JobSpec, JobState, KubeConfig, Kubectl};
use crate::params::{self, ResolvedParams};
use crate::progress::Progress;
use crate::spec::{self, EntryPoint, Project};
use crate::tools::{which, Tool};
use crate::uri::{self, ProjectUri, Source};

/// MLflow's tag names (mlflow/utils/mlflow_tags.py).
pub mod tags {
    pub const USER: &str = "mlflow.user";
    pub const SOURCE_NAME: &str = "mlflow.source.name";
    pub const SOURCE_TYPE: &str = "mlflow.source.type";
    pub const GIT_COMMIT: &str = "mlflow.source.git.commit";
    pub const GIT_BRANCH: &str = "mlflow.source.git.branch";
    pub const GIT_REPO_URL: &str = "mlflow.source.git.repoURL";
    pub const PROJECT_ENTRY_POINT: &str = "mlflow.project.entryPoint";
    pub const PROJECT_ENV: &str = "mlflow.project.env";
    pub const PROJECT_BACKEND: &str = "mlflow.project.backend";
    pub const RUN_NAME: &str = "mlflow.runName";
    pub const DOCKER_IMAGE_URI: &str = "mlflow.docker.image.uri";
    pub const DOCKER_IMAGE_ID: &str = "mlflow.docker.image.id";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Local,
    Kubernetes,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Kubernetes => "kubernetes",
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Backend::Local),
            "kubernetes" => Ok(Backend::Kubernetes),
            other => Err(format!(
                "Got unsupported execution mode {other}. Supported values: ['local', 'kubernetes']"
            )),
        }
    }
}

/// Everything `mlox run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub uri: String,
    pub entry_point: String,
    pub version: Option<String>,
    /// `-P` parameters in the order given.
    pub params: Vec<(String, String)>,
    pub experiment_name: Option<String>,
    pub experiment_id: Option<String>,
    pub run_name: Option<String>,
    pub env_manager: Option<EnvManager>,
    pub run_id: Option<String>,
    pub backend: Backend,
    /// A `.json` file path or a JSON string.
    pub backend_config: Option<String>,
    /// The folder relative paths are resolved against.
    pub cwd: PathBuf,
    /// Git checkouts and environments are cached here.
    pub cache_dir: PathBuf,
}

/// The tracking server, and the URI the child process should use to reach it.
#[derive(Clone, Debug)]
pub struct Tracking {
    pub client: TrackingClient,
    pub child_uri: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub run_id: String,
    pub experiment_id: String,
    pub status: RunStatus,
}

/// The default cache: `$MLOX_CACHE_DIR`, else `$XDG_CACHE_HOME/mlox`, else `~/.cache/mlox`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MLOX_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("mlox");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("mlox"),
        None => std::env::temp_dir().join("mlox-cache"),
    }
}

/// The current user's name, as Python's `getpass.getuser()` finds it.
pub fn current_user() -> String {
    for var in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "unknown".to_string())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// SIGINT / SIGTERM, observed from the moment a run starts being prepared.
struct Interrupt {
    rx: tokio::sync::watch::Receiver<Option<Signal>>,
}

impl Interrupt {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut int = signal(SignalKind::interrupt())
            .map_err(mlox_env::EnvError::io("installing the SIGINT handler"))?;
        let mut term = signal(SignalKind::terminate())
            .map_err(mlox_env::EnvError::io("installing the SIGTERM handler"))?;
        let (tx, rx) = tokio::sync::watch::channel(None);
        tokio::spawn(async move {
            loop {
                let sig = tokio::select! {
                    _ = int.recv() => Signal::SIGINT,
                    _ = term.recv() => Signal::SIGTERM,
                };
                if tx.send(Some(sig)).is_err() {
                    break;
                }
            }
        });
        Ok(Interrupt { rx })
    }

    /// Resolves when a signal has arrived (at once if one already has).
    async fn wait(&mut self) -> Signal {
        loop {
            if let Some(sig) = *self.rx.borrow_and_update() {
                return sig;
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn fired(&self) -> bool {
        self.rx.borrow().is_some()
    }
}

/// Runs `fut` unless a signal arrives first (its error a `ProjectError` or one that becomes
/// one, such as `mlox-env`'s).
async fn interruptible<T, E>(
    interrupt: &mut Interrupt,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T>
where
    ProjectError: From<E>,
{
    tokio::select! {
        r = fut => Ok(r?),
        _ = interrupt.wait() => Err(ProjectError::Interrupted),
    }
}

/// Everything decided before the run is created.
struct Validated {
    fetched: Fetched,
    project: Project,
    entry: EntryPoint,
    resolved: ResolvedParams,
    logged: Vec<(String, String)>,
    plan: EnvPlan,
    kube: Option<KubeConfig>,
}

/// Runs a project and tracks it. Returns the outcome when the command ran (whatever its
/// exit status); errors are for runs that could not be started or tracked.
///
/// From its start, SIGINT and SIGTERM are handled for the whole process: they stop the run
/// (its command's process group gets the signal, then SIGKILL after 10 s) and mark it KILLED.
pub async fn run(req: &RunRequest, tracking: &Tracking, progress: &Progress) -> Result<RunOutcome> {
    let mut interrupt = Interrupt::install()?;
    let client = &tracking.client;
    let project_uri = uri::parse(&req.uri, &req.cwd)?;
    if req.backend == Backend::Kubernetes && req.backend_config.is_none() {
        return Err(ProjectError::Invalid(
            "Specify 'backend_config' when using kubernetes mode.".to_string(),
        ));
    }
    if req.experiment_id.is_some() && req.experiment_name.is_some() {
        return Err(ProjectError::Invalid(
            "Specify only one of 'experiment-name' or 'experiment-id' options.".to_string(),
        ));
    }
    let experiment_id = match (&req.run_id, &req.experiment_id, &req.experiment_name) {
        (Some(_), _, _) => None,
        (None, Some(id), _) => Some(id.clone()),
        (None, None, Some(name)) => Some(match client.get_experiment_by_name(name).await? {
            Some(e) => e.experiment_id,
            None => {
                progress.info(format!(
                    "mlox: experiment '{name}' does not exist. Creating a new experiment"
                ));
                client.create_experiment(name).await?
            }
        }),
        (None, None, None) => Some("0".to_string()),
    };

    let fetched = interruptible(
        &mut interrupt,
        fetch::fetch(
            &project_uri,
            req.version.as_deref(),
            &req.cache_dir,
            progress,
        ),
    )
    .await?;
    let pre = match validate(req, fetched) {
        Ok(p) => p,
        Err((e, fetched)) => {
            // Nothing was created: drop a fresh checkout.
            if let Some(c) = fetched.and_then(|f| f.checkout) {
                c.remove();
            }
            return Err(e);
        }
    };

    // The run.
    let (run_id, experiment_id) = match &req.run_id {
        Some(id) => {
            let run = client.get_run(id).await?;
            (run.info.run_id, run.info.experiment_id)
        }
        None => {
            let experiment_id = experiment_id.unwrap_or_else(|| "0".to_string());
            let tags = creation_tags(req, &project_uri, &pre.fetched.git, &pre.entry.name).await;
            let run = client
                .create_run(&CreateRun {
                    experiment_id: experiment_id.clone(),
                    run_name: req.run_name.clone(),
                    start_time: Some(now_ms()),
                    user_id: Some(current_user()),
                    tags,
                })
                .await?;
            let params: Vec<Tag> = pre
                .logged
                .iter()
                .map(|(k, v)| Tag::new(k.clone(), v.clone()))
                .collect();
            if !params.is_empty() {
                if let Err(e) = client.log_batch(&run.info.run_id, &params, &[]).await {
                    end_run(client, &run.info.run_id, RunStatus::Failed, true).await;
                    return Err(e.into());
                }
            }
            (run.info.run_id, experiment_id)
        }
    };

    let outcome = execute(
        req,
        tracking,
        progress,
        &mut interrupt,
        &pre,
        &run_id,
        &experiment_id,
    )
    .await;
    let status = match &outcome {
        Ok(s) => *s,
        Err(ProjectError::Interrupted) => RunStatus::Killed,
        Err(_) => RunStatus::Failed,
    };
    // A run that the user interrupted is KILLED whatever the script recorded on its way
    // out; otherwise a status the script already set is kept (MLflow's
    // `_maybe_set_run_terminated`).
    end_run(client, &run_id, status, status == RunStatus::Killed).await;
    match status {
        RunStatus::Finished => {
            progress.info(format!("=== Run (ID '{run_id}') succeeded ==="));
            if let Some(c) = pre.fetched.checkout {
                c.remove();
            }
        }
        RunStatus::Killed => progress.info(format!(
            "=== Run (ID '{run_id}') interrupted, run marked KILLED ==="
        )),
        _ => {
            if let Some(c) = &pre.fetched.checkout {
                progress.info(format!("mlox: the checkout is kept in {}", c.dir.display()));
            }
        }
    }
    match outcome {
        Ok(_) | Err(ProjectError::Interrupted) => Ok(RunOutcome {
            run_id,
            experiment_id,
            status,
        }),
        Err(e) => Err(e),
    }
}

#[allow(clippy::result_large_err)]
fn validate(
    req: &RunRequest,
    fetched: Fetched,
) -> std::result::Result<Validated, (ProjectError, Option<Fetched>)> {
    let inner = || -> Result<_> {
        let project = spec::load_project(&fetched.work_dir)?;
        let entry = project.entry_point(&req.entry_point)?;
        // Full check (paths must exist) before anything is created; the logged values are
        // MLflow's (as given, shell-quoted).
        let resolved = params::resolve(&entry, &req.params, Some(&req.cwd))?;
        params::build_command(&entry, &resolved)?;
        let logged = params::resolve(&entry, &req.params, None)?.logged();
        let (plan, kube) = match req.backend {
            Backend::Local => (env::plan(&project.env, req.env_manager)?, None),
            Backend::Kubernetes => {
                let spec::ProjectEnv::Docker(d) = &project.env else {
                    return Err(ProjectError::Invalid(
                        "the kubernetes backend runs projects in a docker image: add `docker_env: {image: ...}` to the MLproject file".to_string(),
                    ));
                };
                docker::validate_project_name(project.name.as_deref())?;
                let cfg = kubernetes::read_backend_config(
                    req.backend_config.as_deref().unwrap_or_default(),
                    &req.cwd,
                )?;
                (
                    EnvPlan::Docker(d.clone()),
                    Some(kubernetes::kube_config(&cfg, &req.cwd)?),
                )
            }
        };
        if let EnvPlan::Docker(_) = plan {
            docker::validate_project_name(project.name.as_deref())?;
        }
        Ok((project, entry, resolved, logged, plan, kube))
    };
    match inner() {
        Ok((project, entry, resolved, logged, plan, kube)) => Ok(Validated {
            fetched,
            project,
            entry,
            resolved,
            logged,
            plan,
            kube,
        }),
        Err(e) => Err((e, Some(fetched))),
    }
}

/// The tags of `runs/create` (`_create_run`).
async fn creation_tags(
    req: &RunRequest,
    project_uri: &ProjectUri,
    git: &GitInfo,
    entry_point: &str,
) -> Vec<Tag> {
    let source_name = source_name(project_uri).await;
    let mut tags = vec![
        Tag::new(tags::USER, current_user()),
        Tag::new(tags::SOURCE_NAME, source_name),
        Tag::new(tags::SOURCE_TYPE, "PROJECT"),
        Tag::new(tags::PROJECT_ENTRY_POINT, entry_point),
    ];
    if let Some(c) = &git.commit {
        tags.push(Tag::new(tags::GIT_COMMIT, c.clone()));
    }
    if let Some(u) = &git.repo_url {
        tags.push(Tag::new(tags::GIT_REPO_URL, u.clone()));
    }
    if let Some(b) = &git.branch {
        tags.push(Tag::new(tags::GIT_BRANCH, b.clone()));
    }
    if let Some(name) = &req.run_name {
        tags.push(Tag::new(tags::RUN_NAME, name.clone()));
    }
    tags
}

/// `mlflow.source.name`: for a local folder, `file://<repository root>#<subfolder>` when it
/// is in a Git repository, else its absolute path; otherwise the URI as given.
async fn source_name(project_uri: &ProjectUri) -> String {
    match &project_uri.source {
        Source::Local(dir) if !project_uri.original.contains('#') => {
            match fetch::git_toplevel(dir).await {
                Some(top) => {
                    let rel = dir
                        .canonicalize()
                        .ok()
                        .and_then(|d| {
                            let top = top.canonicalize().ok()?;
                            d.strip_prefix(&top).ok().map(Path::to_path_buf)
                        })
                        .unwrap_or_default();
                    let rel = rel.to_string_lossy();
                    if rel.is_empty() {
                        format!("file://{}", top.display())
                    } else {
                        format!("file://{}#{rel}", top.display())
                    }
                }
                None => dir.to_string_lossy().into_owned(),
            }
        }
        _ => project_uri.original.clone(),
    }
}

/// Sets the final status unless the run already ended (or `force`).
async fn end_run(client: &TrackingClient, run_id: &str, status: RunStatus, force: bool) {
    if !force {
        match client.get_run(run_id).await {
            Ok(run) if run.info.status.is_terminated() => return,
            _ => {}
        }
    }
    if let Err(e) = client.update_run(run_id, status, Some(now_ms())).await {
        tracing::error!("could not set the status of run {run_id} to {status}: {e}");
    }
}

/// After the run exists: tags, environment, command. Returns the final status.
async fn execute(
    req: &RunRequest,
    tracking: &Tracking,
    progress: &Progress,
    interrupt: &mut Interrupt,
    pre: &Validated,
    run_id: &str,
    experiment_id: &str,
) -> Result<RunStatus> {
    let client = &tracking.client;
    client
        .set_tag(run_id, tags::PROJECT_ENV, pre.plan.tag())
        .await?;
    client
        .set_tag(run_id, tags::PROJECT_BACKEND, req.backend.as_str())
        .await?;
    if let (Some(name), Some(_)) = (&req.run_name, &req.run_id) {
        client.set_tag(run_id, tags::RUN_NAME, name).await?;
    }
    let command = params::build_command(&pre.entry, &pre.resolved)?;
    let run_env = vec![
        ("MLFLOW_RUN_ID".to_string(), run_id.to_string()),
        (
            "MLFLOW_TRACKING_URI".to_string(),
            tracking.child_uri.clone(),
        ),
        (
            "MLFLOW_EXPERIMENT_ID".to_string(),
            experiment_id.to_string(),
        ),
    ];
    if let Some(kube) = &pre.kube {
        return run_kubernetes(
            tracking, progress, interrupt, pre, kube, run_id, &command, run_env,
        )
        .await;
    }

    let work_dir = &pre.fetched.work_dir;
    let (program, args, prepared): (PathBuf, Vec<String>, Prepared) = match &pre.plan {
        EnvPlan::Docker(d) => {
            let docker = interruptible(interrupt, docker::validate_installation()).await?;
            let image_id =
                interruptible(interrupt, docker::ensure_image(&docker, &d.image, progress)).await?;
            client
                .set_tag(run_id, tags::DOCKER_IMAGE_URI, &d.image)
                .await?;
            client
                .set_tag(run_id, tags::DOCKER_IMAGE_ID, &image_id)
                .await?;
            let mut env = run_env.clone();
            env.extend(docker::user_env_vars(&d.environment, |k| {
                std::env::var(k).ok()
            })?);
            let args = docker::run_args(&DockerRun {
                image: d.image.clone(),
                work_dir: work_dir.clone(),
                volumes: d.volumes.clone(),
                env,
                host_network: docker::is_loopback_uri(&tracking.child_uri),
                command: command.clone(),
            });
            (docker, args, Prepared::default())
        }
        plan => {
            let prepared = match plan {
                EnvPlan::Venv { manager, env } => {
                    interruptible(
                        interrupt,
                        env::prepare_venv(*manager, env, work_dir, &req.cache_dir, progress),
                    )
                    .await?
                }
                EnvPlan::Conda { config } => {
                    interruptible(
                        interrupt,
                        env::prepare_conda(config, &req.cache_dir, progress),
                    )
                    .await?
                }
                _ => Prepared::default(),
            };
            let bash = which("bash").unwrap_or_else(|| PathBuf::from("/bin/bash"));
            (bash, vec!["-c".to_string(), command.clone()], prepared)
        }
    };
    if interrupt.fired() {
        return Err(ProjectError::Interrupted);
    }

    progress.info(format!(
        "=== Running command '{command}' in run with ID '{run_id}' === "
    ));
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&args)
        .current_dir(work_dir)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // Its own process group, so an interrupt reaches the whole tree (bash and what it
        // started) and only when we forward it.
        .process_group(0);
    for key in &prepared.unset {
        cmd.env_remove(key);
    }
    for (k, v) in run_env.iter().chain(prepared.vars.iter()) {
        cmd.env(k, v);
    }
    if let Some(prefix) = &prepared.path_prefix {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined = std::env::join_paths(
            std::iter::once(prefix.clone()).chain(std::env::split_paths(&path)),
        )
        .unwrap_or(path);
        cmd.env("PATH", joined);
    }
    let mut child = cmd.spawn().map_err(|e| {
        ProjectError::environment(format!("cannot start {}: {e}", program.display()))
    })?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    tokio::select! {
        status = child.wait() => {
            let status = status.map_err(mlox_env::EnvError::io("waiting for the command"))?;
            Ok(if status.success() { RunStatus::Finished } else { RunStatus::Failed })
        }
        sig = interrupt.wait() => {
            progress.info(format!("=== Run (ID '{run_id}') interrupted, cancelling run ==="));
            if let Some(pgid) = pgid {
                let _ = killpg(pgid, sig);
                let grace = Duration::from_secs(10);
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    let _ = killpg(pgid, Signal::SIGKILL);
                    let _ = child.wait().await;
                }
            }
            Err(ProjectError::Interrupted)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_kubernetes(
    tracking: &Tracking,
    progress: &Progress,
    interrupt: &mut Interrupt,
    pre: &Validated,
    kube: &KubeConfig,
    run_id: &str,
    command: &str,
    mut run_env: Vec<(String, String)>,
) -> Result<RunStatus> {
    let client = &tracking.client;
    let EnvPlan::Docker(docker_env) = &pre.plan else {
        unreachable!("validated: kubernetes projects have a docker_env");
    };
    let project_name = docker::validate_project_name(pre.project.name.as_deref())?;
    let kubectl_exe = which("kubectl").ok_or_else(|| {
        ProjectError::environment(
            "the kubernetes backend needs the `kubectl` command, which was not found on PATH"
                .to_string(),
        )
    })?;
    let docker = interruptible(interrupt, docker::validate_installation()).await?;

    // Build the image with the project's code on top of the docker_env image, and push it.
    let tag = kubernetes::image_tag(&kube.repository_uri, pre.fetched.git.commit.as_deref());
    let step = progress.step(format!("Building docker image {tag}"));
    let work_dir = pre.fetched.work_dir.to_string_lossy().into_owned();
    interruptible(
        interrupt,
        Tool::new(
            &docker,
            &[
                "build",
                "--quiet",
                "-t",
                tag.as_str(),
                "-f",
                "-",
                work_dir.as_str(),
            ],
        )
        .stdin(kubernetes::dockerfile(&docker_env.image).into_bytes())
        .run(),
    )
    .await?;
    step.done();
    let image_id = Tool::new(
        &docker,
        &["image", "inspect", "--format", "{{.Id}}", tag.as_str()],
    )
    .run()
    .await?
    .stdout
    .trim()
    .to_string();
    client.set_tag(run_id, tags::DOCKER_IMAGE_URI, &tag).await?;
    client
        .set_tag(run_id, tags::DOCKER_IMAGE_ID, &image_id)
        .await?;
    let step = progress.step(format!("Pushing {tag}"));
    interruptible(
        interrupt,
        Tool::new(&docker, &["push", "--quiet", tag.as_str()]).run(),
    )
    .await?;
    step.done();
    let digests = Tool::new(
        &docker,
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            tag.as_str(),
        ],
    )
    .run()
    .await?;
    let digest = serde_json::from_str::<Vec<String>>(digests.stdout.trim())
        .unwrap_or_default()
        .into_iter()
        .find_map(|d| d.split_once('@').map(|(_, dg)| dg.to_string()));
    let image = match &digest {
        Some(d) => {
            client.set_tag(run_id, tags::DOCKER_IMAGE_ID, d).await?;
            format!("{tag}@{d}")
        }
        None => tag.clone(),
    };

    // The Job.
    if let Ok(uri) = std::env::var("KUBE_MLFLOW_TRACKING_URI") {
        for (k, v) in run_env.iter_mut() {
            if k == "MLFLOW_TRACKING_URI" {
                *v = uri.clone();
            }
        }
    } else if docker::is_loopback_uri(&tracking.child_uri) {
        progress.info(format!(
            "mlox: warning: the Job's pods will report to {}, which is this machine's loopback address; set KUBE_MLFLOW_TRACKING_URI to an address the cluster can reach",
            tracking.child_uri
        ));
    }
    let job = JobSpec {
        name: kubernetes::job_name(project_name, std::time::SystemTime::now()),
        container_name: kubernetes::dns_label(project_name),
        image,
        command: kubernetes::container_command(command)?,
        env: run_env,
    };
    let manifest = kubernetes::render_job(&kube.job_template, &job);
    let kubectl = Kubectl {
        exe: kubectl_exe,
        context: kube.kube_context.clone(),
        namespace: manifest["metadata"]["namespace"]
            .as_str()
            .map(str::to_string),
    };
    progress.info(format!("=== Creating Job {} ===", job.name));
    kubectl.create(&manifest).await?;

    let mut logs: Option<tokio::process::Child> = None;
    let mut announced_start = false;
    let mut waiting_said = false;
    let outcome = loop {
        let state = tokio::select! {
            s = kubectl.state(&job.name) => s?,
            _ = interrupt.wait() => {
                progress.info("=== Cancelling job ===");
                if let Err(e) = kubectl.delete(&job.name).await {
                    tracing::error!("could not delete job {}: {e}", job.name);
                }
                break Err(ProjectError::Interrupted);
            }
        };
        match state {
            JobState::Waiting if !waiting_said => {
                progress.info("mlox: waiting for the Job to start");
                waiting_said = true;
            }
            JobState::Running if !announced_start => {
                progress.info("mlox: Job started");
                announced_start = true;
                logs = kubectl.logs(&job.name, true).ok();
            }
            JobState::Complete | JobState::Failed(_) if logs.is_none() => {
                // Finished between two polls: show its output once.
                logs = kubectl.logs(&job.name, false).ok();
            }
            _ => {}
        }
        match state {
            JobState::Waiting | JobState::Running => {}
            JobState::Complete => break Ok(RunStatus::Finished),
            JobState::Failed(msg) => {
                progress.info(format!("mlox: Job failed: {msg}"));
                break Ok(RunStatus::Failed);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(kubernetes::poll_interval()) => {}
            _ = interrupt.wait() => {}
        }
    };
    if let Some(mut child) = logs {
        // Let the log stream drain, then stop it.
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
    outcome
}
