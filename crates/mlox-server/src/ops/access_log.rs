//! The access log: one line per request on stdout, written by a background thread so a
//! slow reader of stdout never slows a request (lines beyond the queue are counted and
//! dropped, never waited for).
//!
//! A line names the route template and the path without its query string; no header is
//! ever logged, so credentials (Authorization, cookies) and query parameters never reach it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How access log lines are written (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00.000Z 127.0.0.1:5123 "POST /api/2.0/mlflow/runs/create" 200 1.234ms 312B route=… user=-`
    #[default]
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Lines waiting for the writer thread at most; more are dropped and counted.
const QUEUE: usize = 16 * 1024;

/// How long the writer lets lines gather after a write before it writes again. A request
/// that queues a line while the writer sleeps costs no wake-up: under load the writer
/// wakes once per interval instead of once per request (that wake-up and a write call per
/// line cost the server about a fifth of its CPU on small requests).
const GATHER: Duration = Duration::from_millis(10);

/// What the writer thread is sent.
enum Msg {
    Line(String),
    /// Write every line queued before this one, then answer.
    Flush(SyncSender<()>),
}

/// The handle requests write through.
pub struct AccessLog {
    format: LogFormat,
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
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

impl AccessLog {
    /// Starts the writer thread; lines go to `out` (stdout in the server).
    pub fn start(format: LogFormat, out: Box<dyn Write + Send>) -> Self {
        let (tx, rx) = sync_channel::<Msg>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let dropped_seen = dropped.clone();
        let spawned = std::thread::Builder::new()
            .name("mlox-access-log".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
                // Waits for a line when idle (so a lone request is logged at once); after
                // each write, sleeps GATHER and writes what gathered, until nothing did.
                while let Ok(first) = rx.recv() {
                    let mut next = Some(first);
                    while let Some(msg) = next.take() {
                        let mut acks = Vec::new();
                        let mut msg = Some(msg);
                        while let Some(m) = msg.take().or_else(|| rx.try_recv().ok()) {
                            match m {
                                Msg::Line(line) => {
                                    let _ = out.write_all(line.as_bytes());
                                }
                                Msg::Flush(ack) => acks.push(ack),
                            }
                        }
                        let lost = dropped_seen.swap(0, Relaxed);
                        if lost > 0 {
                            let _ =
                                writeln!(out, "access log: {lost} lines dropped (stdout too slow)");
                        }
                        let _ = out.flush();
                        for ack in acks {
                            let _ = ack.send(());
                        }
                        std::thread::sleep(GATHER);
                        next = rx.try_recv().ok();
                    }
                }
                let _ = out.flush();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the access log thread");
        }
        AccessLog {
            format,
            tx,
            dropped,
        }
    }

    pub(crate) fn log(&self, e: &Entry<'_>) {
        let line = match self.format {
            LogFormat::Text => text_line(e),
            LogFormat::Json => json_line(e),
        };
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Msg::Line(line)) {
            self.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Writes every line logged so far (at shutdown), waiting a second at most.
    pub fn flush(&self) {
        let (ack, done) = sync_channel(1);
        if self.tx.send(Msg::Flush(ack)).is_ok() {
            let _ = done.recv_timeout(Duration::from_secs(1));
        }
    }
}

fn text_line(e: &Entry<'_>) -> String {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(192);
    let _ = write!(
        line,
        "{} ",
        humantime::format_rfc3339_millis(SystemTime::now())
    );
    match e.remote {
        Some(a) => {
            let _ = write!(line, "{a}");
        }
        None => line.push('-'),
    }
    let _ = writeln!(
        line,
        " \"{} {}\" {} {:.3}ms {}B route={} user={}",
        e.method,
        e.path.escape_debug(),
        e.status,
        e.elapsed.as_secs_f64() * 1000.0,
        e.bytes,
        e.route,
        e.user.unwrap_or("-").escape_debug(),
    );
    line
}

/// A JSON line's fields, in the order they are written.
#[derive(serde::Serialize)]
struct JsonLine<'a> {
    #[serde(serialize_with = "as_display")]
    time: humantime::Rfc3339Timestamp,
    remote: Option<SocketAddr>,
    method: &'a str,
    path: &'a str,
    route: &'a str,
    status: u16,
    duration_ms: f64,
    bytes: u64,
    user: Option<&'a str>,
}

fn as_display<S: serde::Serializer>(
    v: &humantime::Rfc3339Timestamp,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn json_line(e: &Entry<'_>) -> String {
    let fields = JsonLine {
        time: humantime::format_rfc3339_millis(SystemTime::now()),
        remote: e.remote,
        method: e.method,
        path: e.path,
        route: e.route,
        status: e.status,
        duration_ms: (e.elapsed.as_secs_f64() * 1e6).round() / 1e3,
        bytes: e.bytes,
        user: e.user,
    };
    let mut line = Vec::with_capacity(256);
    let _ = serde_json::to_writer(&mut line, &fields);
    line.push(b'\n');
    // serde_json writes UTF-8 only.
    String::from_utf8(line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    /// A `Write` into a shared buffer.
    #[derive(Clone, Default)]
    struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
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
        let out = Shared::default();
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
