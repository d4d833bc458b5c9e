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

#[test]
fn models_serve_takes_mlflow_short_flags_and_checks_the_port_first() {
    // A taken port fails at once, before the (missing) model is even looked at; `-h` is
    // the host, as in `mlflow models serve`.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = mlox(&[
        "models",
        "serve",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-m",
        "/no/such/model",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    let help = mlox(&["models", "serve", "--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("-h, --host"), "{text}");
    let models = mlox(&["models", "--help"]);
    let text = String::from_utf8_lossy(&models.stdout);
    for sub in ["serve", "predict"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{text}"
        );
    }
}

#[test]
fn gc_on_a_missing_store_creates_nothing_and_names_unknown_experiments() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .arg("gc")
        .current_dir(dir.path())
        .env_remove("MLFLOW_BACKEND_STORE_URI")
        .env_remove("MLFLOW_ARTIFACTS_DESTINATION")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no backend store at"), "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "gc created {left:?}");

    let uri = format!("sqlite:///{}", dir.path().join("s.db").display());
    assert!(mlox(&["db", "upgrade", &uri]).status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["gc", "--backend-store-uri", &uri, "--experiment-ids", "999"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("experiment 999") && err.contains("exist"),
        "{err}"
    );
    assert!(!dir.path().join("mlartifacts").exists());
}

#[test]
fn client_commands_need_a_tracking_server_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
    for args in [
        vec!["models", "list", "--tracking-uri", &db],
        vec!["artifacts", "list", "--tracking-uri", &db, "--run-id", "r"],
    ] {
        let out = mlox(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("'{db}' is not a tracking server URL")),
            "{args:?}: {err}"
        );
    }
    // Nothing was created where the database URI points.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn db_upgrade_on_an_unreachable_postgres_says_why_in_one_line() {
    // Port 1 on loopback: nothing listens there.
    let out = Command::new(env!("CARGO_BIN_EXE_mlox"))
        .args(["db", "upgrade", "postgresql://postgres@127.0.0.1:1/x"])
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("run mlox");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    assert!(
        err.lines().filter(|l| !l.trim().is_empty()).count() <= 3,
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "ANSI colour in a pipe: {err}");
}
