//! Prometheus metrics: request counters and latency histograms per route template,
//! in-flight requests, artifact bytes, and whatever the store reports at scrape time.
//!
//! A request touches only atomics: each thread keeps its own map from route to series,
//! so the shared registry's lock is taken only the first time a thread sees a series,
//! and at scrape time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: prometheus_client's defaults (which
/// MLflow's exporter uses) with three finer ones below 5 ms, where mlox answers most calls.
pub const LATENCY_BUCKETS: [f64; 17] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    7.5, 10.0,
];

/// The label value of requests no route matched (the UI, 404s): never the raw path, so
/// the number of series stays bounded.
pub const UNMATCHED_ROUTE: &str = "<unmatched>";

/// Latency histogram and count of one (route, method, status).
struct Series {
    /// Non-cumulative counts per bucket; the last one is +Inf.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Series {
    fn new() -> Self {
        Series {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_nanos
            .fetch_add(elapsed.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
    }
}

type Key = (String, &'static str, u16);

/// A family of samples a collector reports at scrape time.
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

pub enum Value {
    Number(f64),
    /// Cumulative counts per upper bound (without +Inf), the total count and the sum.
    Histogram {
        buckets: Vec<(f64, u64)>,
        count: u64,
        sum: f64,
    },
}

/// Reports gauges that are read when scraped (store queue, WAL size, pool).
pub type Collector = Box<dyn Fn() -> Vec<Family> + Send + Sync>;

/// The server's metrics registry.
pub struct Metrics {
    id: usize,
    series: Mutex<HashMap<Key, Arc<Series>>>,
    in_flight: AtomicI64,
    artifact_bytes_in: AtomicU64,
    artifact_bytes_out: AtomicU64,
    collectors: Vec<Collector>,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// One thread's series of one registry: by route, then (method, status).
type LocalSeries = HashMap<Box<str>, HashMap<(&'static str, u16), Arc<Series>>>;

thread_local! {
    /// This thread's series, per registry id.
    static LOCAL: RefCell<HashMap<usize, LocalSeries>> = RefCell::new(HashMap::new());
}

impl Metrics {
    pub fn new(collectors: Vec<Collector>) -> Self {
        Metrics {
            id: NEXT_ID.fetch_add(1, Relaxed),
            series: Mutex::new(HashMap::new()),
            in_flight: AtomicI64::new(0),
            artifact_bytes_in: AtomicU64::new(0),
            artifact_bytes_out: AtomicU64::new(0),
            collectors,
        }
    }

    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Relaxed);
    }

    pub(crate) fn artifact_bytes_in(&self, n: u64) {
        self.artifact_bytes_in.fetch_add(n, Relaxed);
    }

    pub(crate) fn artifact_bytes_out(&self, n: u64) {
        self.artifact_bytes_out.fetch_add(n, Relaxed);
    }

    /// Records a finished request (ends what `request_started` began).
    pub(crate) fn request_finished(
        &self,
        route: &str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.in_flight.fetch_sub(1, Relaxed);
        let series = LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            let routes = local.entry(self.id).or_default();
            if let Some(s) = routes.get(route).and_then(|m| m.get(&(method, status))) {
                return s.clone();
            }
            let s = self
                .series
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry((route.to_string(), method, status))
                .or_insert_with(|| Arc::new(Series::new()))
                .clone();
            routes
                .entry(route.into())
                .or_default()
                .insert((method, status), s.clone());
            s
        });
        series.observe(elapsed);
    }

    /// The registry in Prometheus' text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut snapshot: Vec<(Key, Vec<u64>, f64)> = self
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, s)| {
                let buckets = s.buckets.iter().map(|b| b.load(Relaxed)).collect();
                (k.clone(), buckets, s.sum_nanos.load(Relaxed) as f64 / 1e9)
            })
            .collect();
        snapshot.sort_by(|a, b| a.0.cmp(&b.0));
        let mut families = Vec::new();

        // MLflow's own names (prometheus_flask_exporter with prefix "mlflow"), so dashboards
        // made for `mlflow server --expose-prometheus` keep working; like MLflow, /health
        // and /version are left out of these two.
        let mut by_method_status: HashMap<(&'static str, u16), (Vec<u64>, f64)> = HashMap::new();
        for ((route, method, status), buckets, sum) in &snapshot {
            if route == "/health" || route == "/version" {
                continue;
            }
            let e = by_method_status
                .entry((method, *status))
                .or_insert_with(|| (vec![0; buckets.len()], 0.0));
            for (a, b) in e.0.iter_mut().zip(buckets) {
                *a += b;
            }
            e.1 += sum;
        }
        let mut mlflow: Vec<_> = by_method_status.into_iter().collect();
        mlflow.sort_by(|a, b| a.0.cmp(&b.0));
        let version = crate::MLFLOW_COMPAT_VERSION.to_string();
        families.push(Family {
            name: "mlflow_http_request_total",
            help: "Total number of HTTP requests",
            kind: Kind::Counter,
            samples: mlflow
                .iter()
                .map(|((m, s), (b, _))| Sample {
                    labels: vec![("method", m.to_string()), ("status", s.to_string())],
                    value: Value::Number(b.iter().sum::<u64>() as f64),
                })
                .collect(),
        });
        families.push(Family {
            name: "mlflow_http_request_duration_seconds",
            help: "HTTP request duration in seconds",
            kind: Kind::Histogram,
            samples: mlflow
                .iter()
                .map(|((m, s), (b, sum))| Sample {
                    labels: vec![
                        ("method", m.to_string()),
                        ("mlflow_version", version.clone()),
                        ("status", s.to_string()),
                    ],
                    value: histogram(b, *sum),
                })
                .collect(),
        });

        // mlox's own, by route template.
        families.push(Family {
            name: "mlox_http_requests_total",
            help: "HTTP requests by route template, method and status",
            kind: Kind::Counter,
            samples: snapshot
                .iter()
                .map(|(k, b, _)| Sample {
                    labels: route_labels(k),
                    value: Value::Number(b.iter().sum::<u64>() as f64),
                })
                .collect(),
        });
        families.push(Family {
            name: "mlox_http_request_duration_seconds",
            help: "HTTP request duration in seconds (until the last byte of the response), by route template, method and status",
            kind: Kind::Histogram,
            samples: snapshot
                .iter()
                .map(|(k, b, sum)| Sample {
                    labels: route_labels(k),
                    value: histogram(b, *sum),
                })
                .collect(),
        });
        families.push(gauge(
            "mlox_http_requests_in_flight",
            "HTTP requests being answered",
            self.in_flight.load(Relaxed) as f64,
        ));
        families.push(Family {
            name: "mlox_artifact_bytes_total",
            help: "Bytes of proxied artifacts received (in) and sent (out)",
            kind: Kind::Counter,
            samples: [
                ("in", &self.artifact_bytes_in),
                ("out", &self.artifact_bytes_out),
            ]
            .into_iter()
            .map(|(d, v)| Sample {
                labels: vec![("direction", d.to_string())],
                value: Value::Number(v.load(Relaxed) as f64),
            })
            .collect(),
        });
        for c in &self.collectors {
            families.extend(c());
        }
        let mut out = String::with_capacity(4096 + snapshot.len() * 1500);
        for f in &families {
            write_family(&mut out, f);
        }
        out
    }
}

fn route_labels((route, method, status): &Key) -> Vec<(&'static str, String)> {
    vec![
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ]
}

fn histogram(non_cumulative: &[u64], sum: f64) -> Value {
    let mut total = 0;
    let buckets = LATENCY_BUCKETS
        .iter()
        .zip(non_cumulative)
        .map(|(le, n)| {
            total += n;
            (*le, total)
        })
        .collect();
    Value::Histogram {
        buckets,
        count: non_cumulative.iter().sum(),
        sum,
    }
}

/// A family of one unlabelled gauge.
pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Family {
    Family {
        name,
        help,
        kind: Kind::Gauge,
        samples: vec![Sample {
            labels: vec![],
            value: Value::Number(value),
        }],
    }
}

fn write_family(out: &mut String, f: &Family) {
    let kind = match f.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram => "histogram",
    };
    let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
    let _ = writeln!(out, "# TYPE {} {kind}", f.name);
    for s in &f.samples {
        match &s.value {
            Value::Number(v) => {
                write_sample(out, f.name, "", &s.labels, None, *v);
            }
            Value::Histogram {
                buckets,
                count,
                sum,
            } => {
                for (le, n) in buckets {
                    write_sample(out, f.name, "_bucket", &s.labels, Some(*le), *n as f64);
                }
                write_sample(
                    out,
                    f.name,
                    "_bucket",
                    &s.labels,
                    Some(f64::INFINITY),
                    *count as f64,
                );
                write_sample(out, f.name, "_count", &s.labels, None, *count as f64);
                write_sample(out, f.name, "_sum", &s.labels, None, *sum);
            }
        }
    }
}

fn write_sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&'static str, String)],
    le: Option<f64>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (k, v) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        if let Some(le) = le {
            if !first {
                out.push(',');
            }
            out.push_str("le=\"");
            push_number(out, le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    push_number(out, value);
    out.push('\n');
}

fn push_number(out: &mut String, v: f64) {
    if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_collectors() {
        let m = Metrics::new(vec![Box::new(|| {
            vec![gauge("mlox_test_gauge", "a gauge", 2.5)]
        })]);
        for ms in [1, 30, 3000] {
            m.request_started();
            m.request_finished(
                "/api/2.0/mlflow/runs/get",
                "GET",
                200,
                Duration::from_millis(ms),
            );
        }
        m.request_started();
        m.request_finished("/health", "GET", 200, Duration::from_micros(10));
        m.request_started();
        let text = m.render();
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(has(
            r#"mlox_http_requests_total{method="GET",route="/api/2.0/mlflow/runs/get",status="200"} 3"#
        ));
        assert!(has(
            r#"mlox_http_request_duration_seconds_bucket{method="GET",route="/api/2.0/mlflow/runs/get",status="200",le="0.001"} 1"#
        ));
        assert!(has(
            r#"mlox_http_request_duration_seconds_bucket{method="GET",route="/api/2.0/mlflow/runs/get",status="200",le="0.05"} 2"#
        ));
        assert!(has(
            r#"mlox_http_request_duration_seconds_bucket{method="GET",route="/api/2.0/mlflow/runs/get",status="200",le="+Inf"} 3"#
        ));
        // MLflow's names leave /health out.
        assert!(has(
            r#"mlflow_http_request_total{method="GET",status="200"} 3"#
        ));
        assert!(has("mlox_http_requests_in_flight 1"));
        assert!(has("mlox_test_gauge 2.5"));
        assert!(has("# TYPE mlox_http_request_duration_seconds histogram"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        escape_label(&mut s, "a\"b\\c\nd");
        assert_eq!(s, r#"a\"b\\c\nd"#);
    }
}
