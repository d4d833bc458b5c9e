//! Test helper: the real `mlox` binary started on an ephemeral loopback port.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL on Unix.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `mlox server --port 0 <extra args>` and waits for the address it prints.
pub fn start(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["server", "--host", "127.0.0.1", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(server_stderr())
        .spawn()
        .expect("spawn mlox");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(idx) = line.find("http://") {
            break line[idx..].trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

pub fn mlox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(args)
        .output()
        .expect("run mlox")
}

/// Like [`start`], with extra environment variables (and those named in `remove` unset).
pub fn start_with_env(extra: &[&str], env: &[(&str, &str)], remove: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlox"));
    cmd.args(["server", "--host", "127.0.0.1", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(server_stderr());
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("spawn mlox");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(idx) = line.find("http://") {
            break line[idx..].trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// The servers' logs are dropped unless `MLOX_TEST_SERVER_STDERR` is set (to see why a
/// server answered 500, say).
fn server_stderr() -> Stdio {
    std::env::var_os("MLOX_TEST_SERVER_STDERR").map_or(Stdio::null(), |_| Stdio::inherit())
}
