//! The command line: help text and start-up behaviour of the real binary.

use std::process::Command;

fn mlox(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(args)
        .output()
        .expect("run mlox")
}

#[test]
fn server_help_explains_every_flag() {
    let out = mlox(&["server", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--host",
        "--port",
        "--backend-store-uri",
        "--default-artifact-root",
        "--db-max-connections",
    ] {
        assert!(text.contains(flag), "help lacks {flag}:\n{text}");
    }
}

#[test]
fn bad_store_uri_is_a_clear_error() {
    let out = mlox(&[
        "server",
        "--port",
        "0",
        "--backend-store-uri",
        "mysql://nope",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported backend store URI scheme 'mysql'"),
        "{err}"
    );
}

#[test]
fn db_upgrade_reports_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("sqlite:///{}", dir.path().join("u.db").display());
    let out = mlox(&["db", "upgrade", &uri]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema is at version"));
}
