//! `mlox run` end to end: the real binary runs projects against a real `mlox server`, and
//! the results are read back through the REST API.
//!
//! Python projects use the repository's `.venv` (the official `mlflow` client, installed by
//! scripts/install-test-deps.sh) with `--env-manager local`; without that venv those tests
//! say so and pass without running. The virtualenv test needs no package index: its
//! environment has no dependencies.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mlox_client::{Run, RunStatus, TrackingClient};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The repository venv's bin folder, when it has the mlflow client.
fn venv_bin() -> Option<PathBuf> {
    let bin = repo_root().join(".venv/bin");
    bin.join("mlflow").exists().then_some(bin)
}

macro_rules! require_venv {
    () => {
        match venv_bin() {
            Some(b) => b,
            None => {
                eprintln!("skipped: no .venv with mlflow (run scripts/install-test-deps.sh)");
                return;
            }
        }
    };
}

/// `mlox server` on a fresh SQLite file, port 0.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::start_on(dir, None)
    }

    fn start_on(dir: tempfile::TempDir, store: Option<String>) -> Server {
        let store =
            store.unwrap_or_else(|| format!("sqlite:///{}", dir.path().join("s.db").display()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlox"))
            .args(["server", "--port", "0", "--backend-store-uri", &store])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mlox server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(i) = line.find("Listening on ") {
                break line[i + "Listening on ".len()..].trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url,
            _dir: dir,
        }
    }

    fn client(&self) -> TrackingClient {
        TrackingClient::new(&self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn get_run(server: &Server, run_id: &str) -> Run {
    rt().block_on(server.client().get_run(run_id)).unwrap()
}

/// The runs of an experiment, by name (none if the experiment does not exist).
fn runs_in(server: &Server, experiment: &str) -> Vec<Run> {
    rt().block_on(async {
        let c = server.client();
        match c.get_experiment_by_name(experiment).await.unwrap() {
            Some(e) => c.search_runs(&[&e.experiment_id], "").await.unwrap(),
            None => Vec::new(),
        }
    })
}

fn only_run(server: &Server, experiment: &str) -> Run {
    let runs = runs_in(server, experiment);
    assert_eq!(runs.len(), 1, "runs in {experiment}: {runs:?}");
    runs.into_iter().next().unwrap()
}

/// An `mlox run` command with the venv (if any) first on PATH and a private cache.
fn mlox_run(server: Option<&Server>, cache: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlox"));
    cmd.arg("run").args(args);
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(bin) = venv_bin() {
        path =
            std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).unwrap();
    }
    cmd.env("PATH", path)
        .env("MLOX_CACHE_DIR", cache)
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .env_remove("MLFLOW_EXPERIMENT_ID")
        .env_remove("MLFLOW_EXPERIMENT_NAME")
        .env_remove("MLFLOW_TRACKING_URI")
        .env("MLOX_LOG", "warn")
        .stdin(Stdio::null());
    if let Some(s) = server {
        cmd.env("MLFLOW_TRACKING_URI", &s.url);
    }
    cmd
}

fn output(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run mlox");
    eprintln!(
        "--- mlox run: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A tiny project whose script logs through the official client.
const TRACKED_SCRIPT: &str = r#"
import os, sys, time
import mlflow
with mlflow.start_run():
    mlflow.log_metric("version", float(sys.argv[1]))
    mlflow.log_metric("pid_seen", 1.0)
    if len(sys.argv) > 2 and sys.argv[2] == "sleep":
        time.sleep(120)
"#;

fn tiny_project(dir: &Path, version: &str) {
    write(
        dir,
        "MLproject",
        &format!(
            "name: tiny\n\
             entry_points:\n\
             \x20 main:\n\
             \x20   parameters:\n\
             \x20     alpha: {{type: float, default: 0.5}}\n\
             \x20     steps: {{type: int, default: 3}}\n\
             \x20     data: {{type: path, default: .}}\n\
             \x20   command: \"python track.py {version}\"\n\
             \x20 sleep:\n\
             \x20   command: \"python track.py {version} sleep\"\n\
             \x20 fail:\n\
             \x20   command: \"echo failing >&2; exit 3\"\n\
             \x20 echo:\n\
             \x20   parameters:\n\
             \x20     msg: string\n\
             \x20   command: \"echo MSG={{msg}}\"\n"
        ),
    );
    write(dir, "track.py", TRACKED_SCRIPT);
}

#[test]
fn example_runs_from_its_folder_with_params_metrics_and_tags() {
    require_venv!();
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let example = repo_root().join("examples/sklearn_elasticnet");
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            example.to_str().unwrap(),
            "--env-manager",
            "local",
            "-P",
            "alpha=0.3",
            "-P",
            "note=hello world",
            "--experiment-name",
            "example",
            "--run-name",
            "elasticnet-local",
        ],
    ));
    assert!(out.status.success());
    let run = only_run(&server, "example");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.info.run_name.as_deref(), Some("elasticnet-local"));
    // Declared parameters (defaults included) and the undeclared one, as MLflow logs them.
    assert_eq!(run.param("alpha"), Some("0.3"));
    assert_eq!(run.param("l1_ratio"), Some("0.1"));
    assert_eq!(run.param("max_iter"), Some("1000"));
    assert_eq!(run.param("note"), Some("'hello world'"));
    // The script's own logging landed in the same run.
    assert_eq!(run.param("n_train"), Some("331"));
    for m in ["rmse", "mae", "r2"] {
        assert!(run.metric(m).is_some(), "metric {m} missing: {run:?}");
    }
    assert_eq!(run.tag("mlflow.source.type"), Some("PROJECT"));
    assert_eq!(run.tag("mlflow.project.entryPoint"), Some("main"));
    assert_eq!(run.tag("mlflow.project.env"), Some("local"));
    assert_eq!(run.tag("mlflow.project.backend"), Some("local"));
    assert_eq!(run.tag("mlflow.runName"), Some("elasticnet-local"));
    assert!(run.tag("mlflow.user").is_some_and(|u| !u.is_empty()));
    // The repository is a Git work tree: the source is recorded as MLflow does.
    let head = git(&repo_root(), &["rev-parse", "HEAD"]);
    assert_eq!(run.tag("mlflow.source.git.commit"), Some(head.as_str()));
    let toplevel = git(&repo_root(), &["rev-parse", "--show-toplevel"]);
    assert_eq!(
        run.tag("mlflow.source.name"),
        Some(format!("file://{toplevel}#examples/sklearn_elasticnet").as_str())
    );
}

#[test]
fn runs_from_a_git_repository_at_a_commit_branch_and_subdirectory() {
    require_venv!();
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    tiny_project(&repo.path().join("sub"), "1");
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "v1"]);
    let first = git(repo.path(), &["rev-parse", "HEAD"]);
    tiny_project(&repo.path().join("sub"), "2");
    git(repo.path(), &["commit", "-q", "-am", "v2"]);
    let second = git(repo.path(), &["rev-parse", "HEAD"]);
    let url = format!("file://{}", repo.path().display());
    let uri = format!("{url}#sub");

    // An older commit, by id.
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            &uri,
            "--version",
            &first,
            "--env-manager",
            "local",
            "--experiment-name",
            "git-commit",
        ],
    ));
    assert!(out.status.success());
    let run = only_run(&server, "git-commit");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(
        run.metric("version"),
        Some(1.0),
        "ran the checked-out commit"
    );
    assert_eq!(run.tag("mlflow.source.git.commit"), Some(first.as_str()));
    assert_eq!(run.tag("mlflow.source.git.repoURL"), Some(url.as_str()));
    assert_eq!(run.tag("mlflow.source.name"), Some(uri.as_str()));
    assert_eq!(run.tag("mlflow.source.git.branch"), None);
    // `path` parameters are made absolute, but logged as given.
    assert_eq!(run.param("data"), Some("."));

    // A branch: the newest commit, and the branch tag.
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            &uri,
            "--version",
            "main",
            "--env-manager",
            "local",
            "--experiment-name",
            "git-branch",
        ],
    ));
    assert!(out.status.success());
    let run = only_run(&server, "git-branch");
    assert_eq!(run.metric("version"), Some(2.0));
    assert_eq!(run.tag("mlflow.source.git.commit"), Some(second.as_str()));
    assert_eq!(run.tag("mlflow.source.git.branch"), Some("main"));

    // No version: the remote's HEAD. The cached clone is reused (fetched incrementally).
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            &uri,
            "--env-manager",
            "local",
            "--experiment-name",
            "git-head",
        ],
    ));
    assert!(out.status.success());
    assert_eq!(only_run(&server, "git-head").metric("version"), Some(2.0));
    let clones = std::fs::read_dir(cache.path().join("git"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(clones, 1, "one cached clone per repository");

    // A version that does not exist.
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            &uri,
            "--version",
            "nope",
            "--env-manager",
            "local",
            "--experiment-name",
            "git-bad",
        ],
    ));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Unable to checkout version 'nope' of git repo"));
    assert!(runs_in(&server, "git-bad").is_empty());
}

#[test]
fn invalid_parameters_and_entry_points_are_clear_errors_and_create_no_run() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let proj = tempfile::tempdir().unwrap();
    tiny_project(proj.path(), "1");
    let p = proj.path().to_str().unwrap();
    for (args, expected) in [
        (
            vec!["-P", "alpha=abc"],
            "Parameter 'alpha' is of type float, but its value 'abc' is not a number",
        ),
        (
            vec!["-P", "steps=2.5"],
            "Parameter 'steps' is of type int, but its value '2.5' is not an integer",
        ),
        (
            vec!["-P", "data=/does/not/exist"],
            "Got value /does/not/exist for parameter data, but no such file or directory was found.",
        ),
        (
            vec!["-e", "nope"],
            "Could not find nope among entry points ['main', 'sleep', 'fail', 'echo'] or interpret nope as a runnable script.",
        ),
        (vec!["-e", "echo"], "No value given for missing parameters: 'msg'"),
        (vec!["-P", "alpha"], "Invalid format for -P parameter: 'alpha'. Use -P name=value."),
        (
            vec!["--env-manager", "pip"],
            "Invalid value for `env_manager`: pip",
        ),
    ] {
        let mut all = vec![p, "--env-manager", "local", "--experiment-name", "invalid"];
        if args[0] == "--env-manager" {
            all.truncate(1);
            all.extend(["--experiment-name", "invalid"]);
        }
        all.extend(args.iter().copied());
        let out = output(mlox_run(Some(&server), cache.path(), &all));
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    assert!(
        runs_in(&server, "invalid").is_empty(),
        "no run for invalid input"
    );

    // A malformed MLproject names the line.
    write(
        proj.path(),
        "MLproject",
        "name: bad\nentry_points:\n  main:\n    parameters: [alpha]\n    command: x\n",
    );
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[p, "--env-manager", "local"],
    ));
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("MLproject:4: the parameters of entry point 'main' must be a mapping"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn parameters_cannot_inject_shell_commands() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let proj = tempfile::tempdir().unwrap();
    tiny_project(proj.path(), "1");
    let marker = proj.path().join("pwned");
    let evil = format!(
        "x; touch {}; $(touch {}) `touch {}`",
        marker.display(),
        marker.display(),
        marker.display()
    );
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            proj.path().to_str().unwrap(),
            "-e",
            "echo",
            "-P",
            &format!("msg={evil}"),
            "-P",
            &format!("extra=$(touch {})", marker.display()),
            "--env-manager",
            "local",
            "--experiment-name",
            "inject",
        ],
    ));
    assert!(out.status.success());
    assert!(!marker.exists(), "a parameter ran a shell command");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("MSG={evil} --extra $(touch {})", marker.display())),
        "{stdout}"
    );
    assert_eq!(
        only_run(&server, "inject").param("msg"),
        Some(format!("'{evil}'").as_str())
    );
}

#[test]
fn a_failing_command_marks_the_run_failed() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let proj = tempfile::tempdir().unwrap();
    tiny_project(proj.path(), "1");
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            proj.path().to_str().unwrap(),
            "-e",
            "fail",
            "--env-manager",
            "local",
            "--experiment-name",
            "failing",
        ],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("failing"),
        "the command's output streams through"
    );
    assert!(stderr(&out).contains("failed"));
    let run = only_run(&server, "failing");
    assert_eq!(run.info.status, RunStatus::Failed);
    assert!(run.info.end_time.is_some());
    assert_eq!(run.tag("mlflow.project.entryPoint"), Some("fail"));
}

#[test]
fn ctrl_c_stops_the_command_and_marks_the_run_killed() {
    require_venv!();
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let proj = tempfile::tempdir().unwrap();
    tiny_project(proj.path(), "1");
    let mut cmd = mlox_run(
        Some(&server),
        cache.path(),
        &[
            proj.path().to_str().unwrap(),
            "-e",
            "sleep",
            "--env-manager",
            "local",
            "--experiment-name",
            "killed",
        ],
    );
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the script runs and has logged through its run.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = runs_in(&server, "killed");
        if runs.first().and_then(|r| r.metric("pid_seen")).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the script never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(130));
    let run = only_run(&server, "killed");
    assert_eq!(run.info.status, RunStatus::Killed);
    assert!(run.info.end_time.is_some());
}

#[test]
fn virtualenv_environment_is_built_once_and_reused() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let proj = tempfile::tempdir().unwrap();
    // No dependencies: building needs no package index.
    write(proj.path(), "python_env.yaml", "python: \"3\"\n");
    write(
        proj.path(),
        "MLproject",
        "name: venv\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: python -c \"import sys; print('PREFIX=' + sys.prefix)\"\n",
    );
    let run_once = |exp: &str| {
        let out = output(mlox_run(
            Some(&server),
            cache.path(),
            &[
                proj.path().to_str().unwrap(),
                "--env-manager",
                "virtualenv",
                "--experiment-name",
                exp,
            ],
        ));
        assert!(out.status.success());
        let prefix = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("PREFIX=").map(str::to_string))
            .expect("the script printed its prefix");
        (prefix, stderr(&out))
    };
    let t = Instant::now();
    let (first, err1) = run_once("venv-1");
    let cold = t.elapsed();
    assert!(
        Path::new(&first).starts_with(cache.path().join("envs")),
        "{first} is not in the cache"
    );
    assert!(err1.contains("Creating environment"), "{err1}");
    let t = Instant::now();
    let (second, err2) = run_once("venv-2");
    let warm = t.elapsed();
    assert_eq!(first, second, "the environment is reused");
    assert!(err2.contains("reusing environment"), "{err2}");
    assert!(!err2.contains("Creating environment"), "{err2}");
    eprintln!("cold {cold:?}, warm {warm:?}");
    let run = only_run(&server, "venv-2");
    assert_eq!(run.tag("mlflow.project.env"), Some("virtualenv"));
    assert_eq!(run.info.status, RunStatus::Finished);

    // A changed environment file makes a new environment.
    write(
        proj.path(),
        "python_env.yaml",
        "python: \"3\"\nbuild_dependencies: []\ndependencies: []\n# same\n",
    );
    let (same, _) = run_once("venv-3");
    assert_eq!(same, first, "same content, same environment");
    let python = String::from_utf8_lossy(
        &Command::new("python3")
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    write(
        proj.path(),
        "python_env.yaml",
        &format!("python: \"{python}\"\n"),
    );
    let (third, err3) = run_once("venv-4");
    assert_ne!(third, first);
    assert!(err3.contains("Creating environment"), "{err3}");

    // --env-manager uv needs uv.
    let mut cmd = mlox_run(
        Some(&server),
        cache.path(),
        &[
            proj.path().to_str().unwrap(),
            "--env-manager",
            "uv",
            "--experiment-name",
            "no-uv",
        ],
    );
    cmd.env("PATH", "/usr/bin:/bin");
    let out = output(cmd);
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("--env-manager uv needs the `uv` command, which was not found on PATH"),
        "{}",
        stderr(&out)
    );
    assert_eq!(only_run(&server, "no-uv").info.status, RunStatus::Failed);
}

#[test]
fn without_a_tracking_uri_runs_go_to_the_local_store() {
    let cwd = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let proj = cwd.path().join("proj");
    tiny_project(&proj, "1");
    let mut cmd = mlox_run(
        None,
        cache.path(),
        &[
            "proj",
            "-e",
            "echo",
            "-P",
            "msg=hi",
            "--env-manager",
            "local",
        ],
    );
    cmd.current_dir(cwd.path());
    let out = output(cmd);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("MSG=hi"));
    assert!(cwd.path().join("mlox.db").exists());
    // `mlox server` on that store shows the run.
    let store = format!("sqlite:///{}", cwd.path().join("mlox.db").display());
    let server = Server::start_on(tempfile::tempdir().unwrap(), Some(store));
    let run = only_run(&server, "Default");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.param("msg"), Some("hi"));
    assert_eq!(run.tag("mlflow.project.entryPoint"), Some("echo"));
    assert_eq!(run.tag("mlflow.source.name"), Some(proj.to_str().unwrap()));
}

#[test]
fn scripts_run_without_an_mlproject_and_with_an_existing_run_id() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let proj = tempfile::tempdir().unwrap();
    write(proj.path(), "job.sh", "echo \"ARGS=$*\"\n");
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            proj.path().to_str().unwrap(),
            "-e",
            "job.sh",
            "-P",
            "x=1",
            "--env-manager",
            "local",
            "--experiment-name",
            "script",
        ],
    ));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ARGS=--x 1"));
    let run = only_run(&server, "script");
    assert_eq!(run.param("x"), Some("1"));
    assert_eq!(run.tag("mlflow.project.entryPoint"), Some("job.sh"));

    // --run-id reuses that run.
    let out = output(mlox_run(
        Some(&server),
        cache.path(),
        &[
            proj.path().to_str().unwrap(),
            "-e",
            "job.sh",
            "--env-manager",
            "local",
            "--run-id",
            &run.info.run_id,
            "--run-name",
            "renamed",
        ],
    ));
    assert!(out.status.success());
    let again = get_run(&server, &run.info.run_id);
    assert_eq!(again.info.status, RunStatus::Finished);
    assert_eq!(again.info.run_name.as_deref(), Some("renamed"));
    assert_eq!(runs_in(&server, "script").len(), 1);
}

/// A folder of fake `docker` and `kubectl` commands that record how they were called.
fn fake_tools(dir: &Path, docker_info_fails: bool, job_result: &str) -> PathBuf {
    let bin = dir.join("bin");
    let log = dir.join("calls.log");
    let info = if docker_info_fails {
        "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1"
    } else {
        "echo 'Server: fake'"
    };
    write(
        &bin,
        "docker",
        &format!(
            r#"#!/bin/sh
echo "docker $*" >> "{log}"
case "$1" in
  info) {info} ;;
  build) cat > "{dir}/Dockerfile.seen" ;;
  push) echo pushed ;;
  pull) echo pulled ;;
  image)
    case "$*" in
      *RepoDigests*) echo '["registry.example/proj@sha256:feedbeef"]' ;;
      *) echo 'sha256:imageid' ;;
    esac ;;
esac
"#,
            log = log.display(),
            dir = dir.display()
        ),
    );
    write(
        &bin,
        "kubectl",
        &format!(
            r#"#!/bin/sh
echo "kubectl $*" >> "{log}"
case "$*" in
  *" create -f -") cat > "{dir}/manifest.json" ;;
  *" get job "*) echo '{{"status": {{"startTime": "2026-01-01T00:00:00Z", "conditions": [{{"type": "{job_result}", "status": "True", "message": "fake"}}]}}}}' ;;
  *" logs "*) echo "pod says hello" ;;
  *" delete job "*) echo deleted ;;
esac
"#,
            log = log.display(),
            dir = dir.display()
        ),
    );
    for tool in ["docker", "kubectl"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn with_path_prefix(cmd: &mut Command, bin: &Path) {
    let path = cmd
        .get_envs()
        .find(|(k, _)| *k == "PATH")
        .and_then(|(_, v)| v.map(|v| v.to_os_string()))
        .unwrap_or_default();
    let joined = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path)),
    )
    .unwrap();
    cmd.env("PATH", joined);
}

fn docker_project(dir: &Path) {
    write(
        dir,
        "MLproject",
        "name: proj\ndocker_env:\n  image: python:3.11-slim\n  environment: [[\"EXTRA\", \"1\"]]\nentry_points:\n  main:\n    parameters:\n      alpha: {type: float, default: 0.1}\n    command: \"python train.py --alpha {alpha}\"\n",
    );
    write(dir, "train.py", "print('training')\n");
}

const JOB_TEMPLATE: &str = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \"{replaced with MLflow Project name}\"\n  namespace: mlflow\nspec:\n  ttlSecondsAfterFinished: 100\n  backoffLimit: 0\n  template:\n    spec:\n      containers:\n      - name: \"{replaced with MLflow Project name}\"\n        image: \"{replaced with URI of Docker image created during Project execution}\"\n        command: [\"{replaced with MLflow Project entry point command}\"]\n        env: [{name: FROM_TEMPLATE, value: \"yes\"}]\n      restartPolicy: Never\n";

fn kubernetes_run(job_result: &str) -> (Server, tempfile::TempDir, Output) {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let proj = work.path().join("proj");
    docker_project(&proj);
    write(work.path(), "job.yaml", JOB_TEMPLATE);
    write(
        work.path(),
        "cfg.json",
        &format!(
            r#"{{"kube-context": "my-cluster", "repository-uri": "registry.example/proj", "kube-job-template-path": "{}"}}"#,
            work.path().join("job.yaml").display()
        ),
    );
    let bin = fake_tools(work.path(), false, job_result);
    let mut cmd = mlox_run(
        Some(&server),
        &cache,
        &[
            proj.to_str().unwrap(),
            "--backend",
            "kubernetes",
            "--backend-config",
            work.path().join("cfg.json").to_str().unwrap(),
            "-P",
            "alpha=0.7",
            "--experiment-name",
            "kube",
        ],
    );
    with_path_prefix(&mut cmd, &bin);
    cmd.env("MLOX_KUBE_POLL_SECONDS", "0.05")
        .env("KUBE_MLFLOW_TRACKING_URI", "http://mlflow.cluster:5000");
    let out = output(cmd);
    (server, work, out)
}

#[test]
fn kubernetes_backend_builds_pushes_and_submits_the_rendered_job() {
    let (server, work, out) = kubernetes_run("Complete");
    assert!(out.status.success());
    let run = only_run(&server, "kube");
    assert_eq!(run.info.status, RunStatus::Finished);
    assert_eq!(run.tag("mlflow.project.backend"), Some("kubernetes"));
    assert_eq!(run.tag("mlflow.project.env"), Some("docker"));
    assert_eq!(
        run.tag("mlflow.docker.image.uri"),
        Some("registry.example/proj")
    );
    assert_eq!(run.tag("mlflow.docker.image.id"), Some("sha256:feedbeef"));
    assert_eq!(run.param("alpha"), Some("0.7"));

    let dockerfile = std::fs::read_to_string(work.path().join("Dockerfile.seen")).unwrap();
    assert_eq!(
        dockerfile,
        "FROM python:3.11-slim\nCOPY . /mlflow/projects/code/\nWORKDIR /mlflow/projects/code/\n"
    );
    let calls = std::fs::read_to_string(work.path().join("calls.log")).unwrap();
    let proj = work.path().join("proj");
    for expected in [
        "docker info".to_string(),
        format!(
            "docker build --quiet -t registry.example/proj -f - {}",
            proj.display()
        ),
        "docker push --quiet registry.example/proj".to_string(),
        "kubectl --context my-cluster --namespace mlflow create -f -".to_string(),
    ] {
        assert!(
            calls.lines().any(|l| l == expected),
            "no `{expected}` in:\n{calls}"
        );
    }
    assert!(
        calls.lines().any(|l| l
            .starts_with("kubectl --context my-cluster --namespace mlflow get job proj-")
            && l.ends_with(" -o json")),
        "{calls}"
    );

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("manifest.json")).unwrap())
            .unwrap();
    let name = manifest["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("proj-") && name.len() <= 63, "{name}");
    assert_eq!(manifest["metadata"]["namespace"], "mlflow");
    assert_eq!(manifest["spec"]["backoffLimit"], 0);
    let container = &manifest["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "proj");
    assert_eq!(container["image"], "registry.example/proj@sha256:feedbeef");
    assert_eq!(
        container["command"],
        serde_json::json!(["python", "train.py", "--alpha", "0.7"])
    );
    let env: Vec<(String, String)> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let exp_id = run.info.experiment_id.clone();
    assert_eq!(
        env,
        vec![
            ("FROM_TEMPLATE".to_string(), "yes".to_string()),
            ("MLFLOW_RUN_ID".to_string(), run.info.run_id.clone()),
            (
                "MLFLOW_TRACKING_URI".to_string(),
                "http://mlflow.cluster:5000".to_string()
            ),
            ("MLFLOW_EXPERIMENT_ID".to_string(), exp_id),
        ]
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("pod says hello"));
}

#[test]
fn kubernetes_job_failure_marks_the_run_failed() {
    let (server, _work, out) = kubernetes_run("Failed");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(only_run(&server, "kube").info.status, RunStatus::Failed);
}

#[test]
fn missing_docker_engine_or_conda_are_clear_errors() {
    let server = Server::start();
    let work = tempfile::tempdir().unwrap();
    let proj = work.path().join("proj");
    docker_project(&proj);
    let bin = fake_tools(work.path(), true, "Complete");
    let mut cmd = mlox_run(
        Some(&server),
        &work.path().join("cache"),
        &[proj.to_str().unwrap(), "--experiment-name", "docker"],
    );
    with_path_prefix(&mut cmd, &bin);
    let out = output(cmd);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Ran `docker info` to ensure docker daemon is running but it failed with the following output:\nCannot connect to the Docker daemon"),
        "{}",
        stderr(&out)
    );
    assert_eq!(only_run(&server, "docker").info.status, RunStatus::Failed);

    let conda_proj = work.path().join("conda");
    write(
        &conda_proj,
        "conda.yaml",
        "name: x\ndependencies:\n  - python=3.11\n",
    );
    write(
        &conda_proj,
        "MLproject",
        "name: c\nconda_env: conda.yaml\nentry_points:\n  main:\n    command: echo hi\n",
    );
    let mut cmd = mlox_run(
        Some(&server),
        &work.path().join("cache"),
        &[conda_proj.to_str().unwrap(), "--experiment-name", "conda"],
    );
    cmd.env("PATH", "/usr/bin:/bin")
        .env_remove("MLFLOW_CONDA_HOME");
    let out = output(cmd);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("conda was not found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn run_help_lists_mlflow_run_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--entry-point",
        "--version",
        "--param-list",
        "--experiment-name",
        "--experiment-id",
        "--run-name",
        "--env-manager",
        "--run-id",
        "--backend",
        "--backend-config",
    ] {
        assert!(text.contains(flag), "help lacks {flag}:\n{text}");
    }
}
