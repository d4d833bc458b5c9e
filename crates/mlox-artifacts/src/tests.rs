//! The repository suite, run against memory, a local folder and (when
//! `MLOX_TEST_S3_ENDPOINT` and `MLOX_TEST_S3_BUCKET` are set) an S3-compatible server.

use super::*;

async fn suite(repo: ArtifactRepo) {
    // Round trip, names with spaces and unicode.
    repo.put_bytes("dir/a file.txt", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    repo.put_bytes("dir/sub/grüße €.json", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let got = repo.get("dir/a file.txt").await.unwrap();
    assert_eq!(got.size, 5);
    let bytes: Vec<Bytes> = got.stream.try_collect().await.unwrap();
    assert_eq!(bytes.concat(), b"hello");
    let listing = repo.list("dir").await.unwrap().unwrap();
    assert_eq!(
        listing,
        vec![
            FileInfo {
                path: "a file.txt".into(),
                is_dir: false,
                file_size: Some(5)
            },
            FileInfo {
                path: "sub".into(),
                is_dir: true,
                file_size: None
            },
        ]
    );
    assert_eq!(
        repo.list("dir/sub").await.unwrap().unwrap()[0].path,
        "grüße €.json"
    );
    assert_eq!(
        repo.list("dir/a file.txt").await.unwrap(),
        None,
        "a file lists as nothing"
    );
    assert_eq!(repo.list("missing").await.unwrap(), None);
    assert!(matches!(
        repo.get("missing.txt").await,
        Err(ArtifactError::NotFound(_))
    ));

    // Overwrite.
    repo.put_bytes("dir/a file.txt", Bytes::from_static(b"bye"))
        .await
        .unwrap();
    assert_eq!(repo.get("dir/a file.txt").await.unwrap().size, 3);

    // A large artifact streams through a multipart upload in many chunks.
    let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
    let n = 20;
    let stream = futures::stream::iter((0..n).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    assert_eq!(
        repo.put_stream("big/blob.bin", stream).await.unwrap(),
        n * 1024 * 1024
    );
    let got = repo.get("big/blob.bin").await.unwrap();
    assert_eq!(got.size, n * 1024 * 1024);
    let total: usize = got
        .stream
        .map_ok(|b| b.len())
        .try_fold(0, |a, b| async move { Ok(a + b) })
        .await
        .unwrap();
    assert_eq!(total as u64, n * 1024 * 1024);

    // An interrupted upload leaves nothing under the final name.
    let broken = futures::stream::iter((0..12).map(|i| {
        if i < 11 {
            Ok(Bytes::from(vec![1u8; 1024 * 1024]))
        } else {
            Err(std::io::Error::other("client went away"))
        }
    }));
    assert!(matches!(
        repo.put_stream("big/partial.bin", broken).await,
        Err(ArtifactError::Interrupted(_))
    ));
    assert!(matches!(
        repo.get("big/partial.bin").await,
        Err(ArtifactError::NotFound(_))
    ));
    let names: Vec<String> = repo
        .list("big")
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(names, vec!["blob.bin"]);

    // Traversal attempts.
    for bad in [
        "../x",
        "a/../../x",
        "/etc/passwd",
        "a\\..\\x",
        "..",
        "a/%2e%2e/x",
        "C:/x",
        "a/./b",
        "x\0y",
    ] {
        assert!(
            matches!(
                repo.put_bytes(bad, Bytes::from_static(b"x")).await,
                Err(ArtifactError::InvalidPath(_))
            ),
            "{bad}"
        );
        assert!(
            matches!(repo.get(bad).await, Err(ArtifactError::InvalidPath(_))),
            "{bad}"
        );
    }

    // Delete a file and a directory.
    repo.delete("dir/a file.txt").await.unwrap();
    assert!(repo.get("dir/a file.txt").await.is_err());
    repo.delete("dir").await.unwrap();
    assert_eq!(repo.list("dir").await.unwrap(), None);
}

#[tokio::test]
async fn memory_store() {
    suite(ArtifactRepo::from_uri("memory://root").unwrap()).await;
}

#[tokio::test]
async fn local_store() {
    let dir = tempfile::tempdir().unwrap();
    suite(ArtifactRepo::from_uri(dir.path().join("art").to_str().unwrap()).unwrap()).await;
}

#[tokio::test]
async fn local_store_refuses_symlinks_out_of_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "s").unwrap();
    let root = dir.path().join("art");
    let repo = ArtifactRepo::from_uri(root.to_str().unwrap()).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    assert!(matches!(
        repo.get("link/secret.txt").await,
        Err(ArtifactError::InvalidPath(_))
    ));
    assert!(matches!(
        repo.put_bytes("link/new.txt", Bytes::from_static(b"x"))
            .await,
        Err(ArtifactError::InvalidPath(_))
    ));
    assert!(!outside.join("new.txt").exists());
}

#[tokio::test]
async fn s3_store() {
    let (Ok(endpoint), Ok(bucket)) = (
        std::env::var("MLOX_TEST_S3_ENDPOINT"),
        std::env::var("MLOX_TEST_S3_BUCKET"),
    ) else {
        eprintln!("MLOX_TEST_S3_ENDPOINT/MLOX_TEST_S3_BUCKET not set: skipping the S3 run");
        return;
    };
    // SAFETY of env use: this test alone reads these variables in this process.
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&bucket)
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap();
    let repo =
        ArtifactRepo::remote(Arc::new(store), "suite", &format!("s3://{bucket}/suite")).unwrap();
    suite(repo).await;
}
