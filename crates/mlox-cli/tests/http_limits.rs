//! Request-size limits as a plain HTTP client meets them on the real binary.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A client that writes its whole body before it reads (as Python's `http.client` does)
/// gets the 413 JSON error for an oversized body, not a broken pipe.
#[test]
fn oversized_body_written_whole_gets_the_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:///{}", dir.path().join("m.db").display());
    let art = dir.path().join("art");
    let server = common::start(&[
        "--backend-store-uri",
        &store,
        "--artifacts-destination",
        art.to_str().unwrap(),
    ]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body = vec![b' '; 64 * 1024 * 1024];
    let head = format!(
        "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body)
        .expect("the server stopped reading before the body ended");
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
                    break;
                }
            }
            Err(e) => panic!("reading the response: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.contains("\"error_code\":\"RESOURCE_EXHAUSTED\""),
        "{text}"
    );
}
