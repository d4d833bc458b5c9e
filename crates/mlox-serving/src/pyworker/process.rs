//! One worker process and the frames exchanged with it over its stdin/stdout.

use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{PoolConfig, Reply};
use crate::error::{Result, ServeError};

const WORKER_PY: &str = include_str!("worker.py");

/// One running worker process.
pub(super) struct Process {
    pub(super) child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    pub(super) pid: u32,
    pub(super) mlflow_version: String,
}

async fn read_raw(r: &mut ChildStdout) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    r.read_exact(&mut head).await?;
    let n = u32::from_le_bytes(head) as usize;
    let mut data = vec![0u8; n];
    r.read_exact(&mut data).await?;
    Ok(data)
}

async fn read_frame(r: &mut ChildStdout) -> std::io::Result<Value> {
    serde_json::from_slice(&read_raw(r).await?).map_err(std::io::Error::other)
}

impl Process {
    pub(super) async fn spawn(config: &PoolConfig) -> Result<Process> {
        let mut cmd = Command::new(&config.env.python);
        cmd.arg("-c")
            .arg(WORKER_PY)
            .arg(&config.model_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in &config.env.vars {
            cmd.env(k, v);
        }
        for k in &config.env.unset {
            cmd.env_remove(k);
        }
        let mut child = cmd.spawn().map_err(|e| {
            ServeError::Worker(format!(
                "cannot start the Python worker {}: {e}",
                config.env.python.display()
            ))
        })?;
        let pid = child.id().unwrap_or(0);
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| ServeError::Worker("no stdin".into()))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| ServeError::Worker("no stdout".into()))?;
        let hello = read_frame(&mut stdout).await.map_err(|e| {
            ServeError::Worker(format!(
                "the Python worker (pid {pid}) exited while loading the model ({e}); its error is above"
            ))
        })?;
        if hello["ready"] != true {
            return Err(ServeError::Worker(format!(
                "the Python worker could not load the model: {}",
                hello["message"].as_str().unwrap_or("unknown error")
            )));
        }
        tracing::info!(pid, "python worker ready");
        Ok(Process {
            child,
            stdin,
            stdout,
            pid,
            mlflow_version: hello["mlflow_version"].as_str().unwrap_or("").to_string(),
        })
    }

    /// One request/answer exchange: header and raw body each way.
    pub(super) async fn call(&mut self, content_type: &str, body: &[u8]) -> std::io::Result<Reply> {
        let head = serde_json::to_vec(&json!({ "content_type": content_type }))
            .map_err(std::io::Error::other)?;
        let mut buf = Vec::with_capacity(head.len() + body.len() + 8);
        buf.extend_from_slice(&(head.len() as u32).to_le_bytes());
        buf.extend_from_slice(&head);
        buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
        buf.extend_from_slice(body);
        self.stdin.write_all(&buf).await?;
        self.stdin.flush().await?;
        let v: Value = serde_json::from_slice(&read_raw(&mut self.stdout).await?)
            .map_err(std::io::Error::other)?;
        let body = read_raw(&mut self.stdout).await?;
        Ok(Reply {
            status: v["status"].as_u64().unwrap_or(500) as u16,
            mimetype: v["mimetype"]
                .as_str()
                .unwrap_or("application/json")
                .to_string(),
            body: String::from_utf8(body).map_err(std::io::Error::other)?,
        })
    }
}
