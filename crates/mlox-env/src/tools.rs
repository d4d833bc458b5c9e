//! Running external tools (git, uv, python, conda, docker, kubectl) and finding them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{EnvError, Result};

/// The first executable named `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The captured result of a tool run.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout and stderr together, for error messages.
    pub fn combined(&self) -> String {
        let mut s = self.stdout.trim_end().to_string();
        if !self.stderr.trim().is_empty() {
            if !s.is_empty() {
                s.push('\n');
            }
            s.push_str(self.stderr.trim_end());
        }
        s
    }

    /// The last `n` lines of the combined output.
    pub fn tail(&self, n: usize) -> String {
        let all = self.combined();
        let lines: Vec<&str> = all.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Python's `shlex.quote`: the value unchanged when it only has characters that are safe
/// in a POSIX shell word, otherwise single-quoted.
pub fn shell_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\"'\"'"))
}

/// A command line for messages: words joined with spaces, quoted where needed.
pub fn display_command<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    std::iter::once(shell_quote(program))
        .chain(
            args.iter()
                .map(|a| shell_quote(&a.as_ref().to_string_lossy())),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command to run with captured output.
pub struct Tool {
    cmd: tokio::process::Command,
    display: String,
    stdin: Option<Vec<u8>>,
}

impl Tool {
    pub fn new<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Self {
        let program = program.as_ref();
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Tool {
            cmd,
            display: display_command(&program.to_string_lossy(), args),
            stdin: None,
        }
    }

    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn stdin(mut self, data: Vec<u8>) -> Self {
        self.cmd.stdin(Stdio::piped());
        self.stdin = Some(data);
        self
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// Runs to completion; an error only when the program cannot be started.
    pub async fn output(mut self) -> Result<Output> {
        let mut child = self
            .cmd
            .spawn()
            .map_err(|e| EnvError::Environment(format!("cannot run `{}`: {e}", self.display)))?;
        if let Some(data) = self.stdin.take() {
            use tokio::io::AsyncWriteExt;
            if let Some(mut stdin) = child.stdin.take() {
                // A tool that exits without reading its input is reported by its status.
                let _ = stdin.write_all(&data).await;
                drop(stdin);
            }
        }
        let out = child.wait_with_output().await.map_err(|e| {
            EnvError::Environment(format!("running `{}` failed: {e}", self.display))
        })?;
        Ok(Output {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs to completion and fails with the tool's output when it exits non-zero.
    pub async fn run(self) -> Result<Output> {
        let display = self.display.clone();
        let out = self.output().await?;
        if !out.success {
            return Err(EnvError::Environment(format!(
                "`{display}` failed ({}):\n{}",
                match out.code {
                    Some(c) => format!("exit code {c}"),
                    None => "killed by a signal".to_string(),
                },
                out.tail(40)
            )));
        }
        Ok(out)
    }
}
