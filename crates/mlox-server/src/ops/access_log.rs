//! The access log: one line per request on stdout, written by a background thread so a
//! slow reader of stdout never slows a request (lines beyond a bounded backlog are counted
//! and dropped, never waited for).
//!
//! A line names the route template and the path without its query string; no header is
//! ever logged, so credentials (Authorization, cookies) and query parameters never reach it.
//!
//! Requests append their line to one shared buffer (formatted in a per-thread scratch
//! buffer first, so the lock is held for a copy only); the writer thread swaps the buffer
//! out and writes it whole. No line is a heap allocation of its own: freeing thousands of
//! small strings on the writer thread, allocated on the request threads, made the
//! allocator's locks contended.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How access log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00.000Z 127.0.0.1:5123 "POST /api/2.0/mlflow/runs/create" 200 1.234ms 312B route=… user=-`
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Bytes of lines waiting for the writer thread at most; more are dropped and counted.
const BACKLOG: usize = 8 * 1024 * 1024;

/// How long the writer lets lines gather after a write before it writes again. A request
/// that logs while the writer sleeps costs no wake-up: under load the writer wakes once
/// per interval instead of once per request.
const GATHER: Duration = Duration::from_millis(10);

/// What requests and the writer thread share.
#[derive(Default)]
struct Pending {
    /// Lines not yet written.
    buf: Vec<u8>,
    /// Lines dropped because the backlog was full.
    dropped: u64,
    /// The writer is blocked waiting for lines (a request must wake it).
    idle: bool,
    /// Answered once every line logged before them is written.
    acks: Vec<SyncSender<()>>,
    /// The log is gone: write what is left and stop.
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The handle requests write through.
pub struct AccessLog {
    format: LogFormat,
    shared: Arc<Shared>,
}

/// What the log says about one request.
pub(crate) struct Entry<'a> {
    pub remote: Option<SocketAddr>,
    pub method: &'a str,
    pub path: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub elapsed: Duration,
    pub bytes: u64,
    pub user: Option<&'a str>,
}

thread_local! {
    /// Where a request thread formats its line before copying it into the shared buffer.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
}

impl AccessLog {
    /// Starts the writer thread; lines go to `out` (stdout in the server).
    pub fn start(format: LogFormat, out: Box<dyn Write + Send>) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let theirs = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("mlox-access-log".into())
            .spawn(move || write_lines(&theirs, out));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the access log thread");
        }
        AccessLog { format, shared }
    }

    pub(crate) fn log(&self, e: &Entry<'_>) {
        SCRATCH.with(|scratch| {
            let mut line = scratch.borrow_mut();
            line.clear();
            match self.format {
                LogFormat::Text => write_text(&mut line, e),
                LogFormat::Json => write_json(&mut line, e),
            }
            let mut p = self.shared.lock();
            if p.buf.len() + line.len() > BACKLOG {
                p.dropped += 1;
                return;
            }
            p.buf.extend_from_slice(&line);
            if p.idle {
                p.idle = false;
                drop(p);
                self.shared.wake.notify_one();
            }
        });
    }

    /// Writes every line logged so far (at shutdown), waiting a second at most.
    pub fn flush(&self) {
        let (ack, done) = sync_channel(1);
        self.shared.lock().acks.push(ack);
        self.shared.wake.notify_one();
        let _ = done.recv_timeout(Duration::from_secs(1));
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

/// The writer thread: waits for lines when idle (so a lone request is logged at once);
/// after each write, sleeps GATHER and writes what gathered meanwhile.
fn write_lines(shared: &Shared, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut lines = Vec::new();
    loop {
        let (acks, lost, closed) = {
            let mut p = shared.lock();
            while p.buf.is_empty() && p.acks.is_empty() && !p.closed {
                p.idle = true;
                p = shared.wake.wait(p).unwrap_or_else(|e| e.into_inner());
            }
            p.idle = false;
            // The emptied buffer goes back, keeping its capacity for the next lines.
            std::mem::swap(&mut p.buf, &mut lines);
            (
                std::mem::take(&mut p.acks),
                std::mem::take(&mut p.dropped),
                p.closed,
            )
        };
        let _ = out.write_all(&lines);
        lines.clear();
        if lost > 0 {
            let _ = writeln!(out, "access log: {lost} lines dropped (stdout too slow)");
        }
        let _ = out.flush();
        for ack in acks {
            let _ = ack.send(());
        }
        if closed {
            return;
        }
        std::thread::sleep(GATHER);
    }
}

/// `s` as `str::escape_debug` writes it; most paths need no escaping and are copied.
fn write_escaped(out: &mut Vec<u8>, s: &str) {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\'' && b != b'\\')
    {
        out.extend_from_slice(s.as_bytes());
    } else {
        let _ = write!(out, "{}", s.escape_debug());
    }
}

fn write_text(out: &mut Vec<u8>, e: &Entry<'_>) {
    write_now(out);
    out.push(b' ');
    let _ = match e.remote {
        Some(a) => write!(out, "{a} \"{} ", e.method),
        None => write!(out, "- \"{} ", e.method),
    };
    write_escaped(out, e.path);
    let micros = micros_rounded(e.elapsed);
    let _ = write!(
        out,
        "\" {} {}.{:03}ms {}B route={} user=",
        e.status,
        micros / 1000,
        micros % 1000,
        e.bytes,
        e.route,
    );
    write_escaped(out, e.user.unwrap_or("-"));
    out.push(b'\n');
}

/// A duration in whole microseconds, rounded to the nearest.
fn micros_rounded(d: Duration) -> u128 {
    (d.as_nanos() + 500) / 1000
}

/// A JSON line's fields, in the order they are written.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    time: &'a str,
    remote: Option<SocketAddr>,
    method: &'a str,
    path: &'a str,
    route: &'a str,
    status: u16,
    duration_ms: f64,
    bytes: u64,
    user: Option<&'a str>,
}

thread_local! {
    /// The last whole second a line was stamped with, and its `2026-01-02T03:04:05` form:
    /// lines within one second reuse it, so stamping a line formats only the milliseconds.
    static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// Appends the time now in RFC 3339, UTC, to the millisecond: `2026-01-02T03:04:05.123Z`.
fn write_now(out: &mut Vec<u8>) {
    let now = chrono::Utc::now();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != now.timestamp() {
            *cached = (now.timestamp(), now.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        out.extend_from_slice(cached.1.as_bytes());
    });
    let _ = write!(out, ".{:03}Z", now.timestamp_subsec_millis().min(999));
}

fn write_json(out: &mut Vec<u8>, e: &Entry<'_>) {
    let mut stamp = Vec::with_capacity(24);
    write_now(&mut stamp);
    let fields = JsonLine {
        time: std::str::from_utf8(&stamp).unwrap_or(""),
        remote: e.remote,
        method: e.method,
        path: e.path,
        route: e.route,
        status: e.status,
        duration_ms: micros_rounded(e.elapsed) as f64 / 1e3,
        bytes: e.bytes,
        user: e.user,
    };
    let _ = serde_json::to_writer(&mut *out, &fields);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_line(e: &Entry<'_>) -> String {
        let mut out = Vec::new();
        write_text(&mut out, e);
        String::from_utf8(out).unwrap()
    }

    fn json_line(e: &Entry<'_>) -> String {
        let mut out = Vec::new();
        write_json(&mut out, e);
        String::from_utf8(out).unwrap()
    }

    fn entry() -> Entry<'static> {
        Entry {
            remote: Some("127.0.0.1:4000".parse().unwrap()),
            method: "POST",
            path: "/api/2.0/mlflow/runs/create",
            route: "/api/2.0/mlflow/runs/create",
            status: 200,
            elapsed: Duration::from_micros(1500),
            bytes: 312,
            user: None,
        }
    }

    #[test]
    fn json_lines_carry_every_field() {
        let v: serde_json::Value = serde_json::from_str(&json_line(&entry())).unwrap();
        assert_eq!(v["method"], "POST");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["bytes"], 312);
        assert_eq!(v["user"], serde_json::Value::Null);
        assert_eq!(v["remote"], "127.0.0.1:4000");
        assert_eq!(v["path"], "/api/2.0/mlflow/runs/create");
        assert_eq!(v["route"], "/api/2.0/mlflow/runs/create");
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v}");
        let no_remote = json_line(&Entry {
            remote: None,
            user: Some("al\"ice"),
            ..entry()
        });
        let v: serde_json::Value = serde_json::from_str(&no_remote).unwrap();
        assert_eq!(v["remote"], serde_json::Value::Null);
        assert_eq!(v["user"], "al\"ice");
    }

    #[test]
    fn text_lines_quote_the_request() {
        let line = text_line(&Entry {
            user: Some("alice"),
            ..entry()
        });
        assert!(
            line.ends_with(
                " 127.0.0.1:4000 \"POST /api/2.0/mlflow/runs/create\" 200 1.500ms 312B route=/api/2.0/mlflow/runs/create user=alice\n"
            ),
            "{line}"
        );
        // A path or user needing escapes is written as `str::escape_debug` writes it.
        let odd = text_line(&Entry {
            remote: None,
            path: "/a\"b\nc/é",
            user: Some("bob's"),
            ..entry()
        });
        assert!(
            odd.contains(" - \"POST /a\\\"b\\nc/é\" 200 ") && odd.ends_with(" user=bob\\'s\n"),
            "{odd}"
        );
    }

    #[test]
    fn stamps_are_rfc3339_utc_to_the_millisecond() {
        for _ in 0..3 {
            let before = chrono::Utc::now();
            let mut out = Vec::new();
            write_now(&mut out);
            let after = chrono::Utc::now();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text.len(), 24, "{text}");
            assert!(text.ends_with('Z'), "{text}");
            let t = chrono::DateTime::parse_from_rfc3339(&text).unwrap();
            let floor = |d: chrono::DateTime<chrono::Utc>| d.timestamp_millis();
            assert!(
                floor(before) <= t.timestamp_millis() && t.timestamp_millis() <= floor(after),
                "{text}"
            );
            std::thread::sleep(Duration::from_millis(400));
        }
    }

    #[test]
    fn lines_logged_before_the_log_is_dropped_are_written() {
        let out = Sink::default();
        let log = AccessLog::start(LogFormat::Json, Box::new(out.clone()));
        for _ in 0..100 {
            log.log(&entry());
        }
        drop(log);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            < 100
        {
            assert!(std::time::Instant::now() < deadline, "lines lost at close");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A `Write` into a buffer the test reads.
    #[derive(Clone, Default)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn flush_writes_every_line_logged_before_it() {
        let out = Sink::default();
        let log = AccessLog::start(LogFormat::Text, Box::new(out.clone()));
        // Bursts with and without pauses: lines gathered while the writer sleeps and lines
        // that wake it both arrive, in order.
        for round in 0..3 {
            for _ in 0..500 {
                log.log(&entry());
            }
            if round == 1 {
                std::thread::sleep(GATHER * 3);
            }
        }
        log.flush();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1500);
        assert!(text
            .lines()
            .all(|l| l.contains("\"POST /api/2.0/mlflow/runs/create\" 200")));
    }
}
