//! `mlox artifacts` and `mlox gc` against a real server.

mod common;

use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_list_download_then_gc_removes_the_deleted_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", dir.path().join("a.db").display());
    let dest = dir.path().join("art");
    let server = common::start(&[
        "--backend-store-uri",
        &db,
        "--artifacts-destination",
        dest.to_str().unwrap(),
    ]);
    let http = reqwest::Client::new();
    let run: Value = http
        .post(format!("{}/api/2.0/mlflow/runs/create", server.url))
        .json(&json!({"experiment_id": "0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_string();

    let local = dir.path().join("upload");
    std::fs::create_dir_all(local.join("sub dir")).unwrap();
    std::fs::write(local.join("a.txt"), "alpha").unwrap();
    std::fs::write(
        local.join("sub dir").join("ü.bin"),
        vec![9u8; 3 * 1024 * 1024],
    )
    .unwrap();
    let target = [
        "--tracking-uri",
        server.url.as_str(),
        "--run-id",
        run_id.as_str(),
    ];
    let up = common::mlox(
        &[
            &["artifacts", "upload"],
            &target[..],
            &[
                "--local-path",
                local.to_str().unwrap(),
                "--artifact-path",
                "data",
            ],
        ]
        .concat(),
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    let ls = common::mlox(
        &[
            &["artifacts", "list"],
            &target[..],
            &["--artifact-path", "data"],
        ]
        .concat(),
    );
    assert!(
        ls.status.success(),
        "{}",
        String::from_utf8_lossy(&ls.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&ls.stdout),
        "data/a.txt\t5\ndata/sub dir/\n"
    );

    let out = dir.path().join("out");
    let dl = common::mlox(
        &[
            &["artifacts", "download"],
            &target[..],
            &["--dst-path", out.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        dl.status.success(),
        "{}",
        String::from_utf8_lossy(&dl.stderr)
    );
    assert_eq!(std::fs::read(out.join("data/a.txt")).unwrap(), b"alpha");
    assert_eq!(
        std::fs::read(out.join("data/sub dir/ü.bin")).unwrap().len(),
        3 * 1024 * 1024
    );

    // gc refuses an active run, then removes a deleted one with its artifacts.
    let gc_args = [
        "gc",
        "--backend-store-uri",
        db.as_str(),
        "--artifacts-destination",
        dest.to_str().unwrap(),
    ];
    let refused = common::mlox(&[&gc_args[..], &["--run-ids", run_id.as_str()]].concat());
    assert!(!refused.status.success());
    http.post(format!("{}/api/2.0/mlflow/runs/delete", server.url))
        .json(&json!({"run_id": run_id}))
        .send()
        .await
        .unwrap();
    let gc = common::mlox(&gc_args);
    assert!(
        gc.status.success(),
        "{}",
        String::from_utf8_lossy(&gc.stderr)
    );
    assert!(String::from_utf8_lossy(&gc.stdout).contains(&format!("removed run {run_id}")));
    let resp = http
        .get(format!(
            "{}/api/2.0/mlflow/runs/get?run_id={run_id}",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        !dest.join("0").join(&run_id).exists(),
        "artifacts of the removed run are gone"
    );
}
