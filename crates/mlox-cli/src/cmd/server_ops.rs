//! The operational flags of `mlox server` (access log, metrics, path prefix, shutdown)
//! and their wiring into `mlox_server::ops`.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use mlox_server::ops::metrics::{gauge, Collector, Family, Kind, Sample, Value};
use mlox_server::ops::{AccessLog, LogFormat, Metrics, Ops};
use mlox_store::SqlStore;

#[derive(Args, Debug, Clone)]
pub struct OpsArgs {
    /// Serve everything (API, artifacts, UI) under this path, e.g. /mlflow behind an
    /// ingress that routes /mlflow/*; clients then use http://host:port/mlflow.
    #[arg(long, env = "MLFLOW_STATIC_PREFIX", value_parser = parse_prefix)]
    pub static_prefix: Option<String>,

    /// Serve Prometheus metrics on /metrics (MLflow's flag). mlox is one process and
    /// keeps its metrics in memory: DIR is created if missing but nothing is written to it.
    #[arg(long, value_name = "DIR", env = "MLFLOW_EXPOSE_PROMETHEUS")]
    pub expose_prometheus: Option<std::path::PathBuf>,

    /// Serve Prometheus metrics on /metrics (the same as --expose-prometheus, without a folder).
    #[arg(long, env = "MLOX_METRICS")]
    pub metrics: bool,

    /// Format of the logs: text (one readable line per request) or json (one object per
    /// line, for the access log on stdout and the diagnostics on stderr).
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text, env = "MLOX_LOG_FORMAT")]
    pub log_format: LogFormatArg,

    /// Do not write the access log.
    #[arg(long, env = "MLOX_NO_ACCESS_LOG")]
    pub no_access_log: bool,

    /// On SIGTERM or Ctrl-C, seconds to let running requests finish before exiting
    /// (new connections are refused at once; committed writes are never lost).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 25.0,
        env = "MLOX_SHUTDOWN_TIMEOUT"
    )]
    pub shutdown_timeout: f64,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LogFormatArg {
    Text,
    Json,
}

fn parse_prefix(s: &str) -> Result<String, String> {
    mlox_server::ops::validate_static_prefix(s)
        .map(|_| s.to_string())
        .map_err(str::to_string)
}

impl OpsArgs {
    /// Whether logs are wanted as JSON (the diagnostics on stderr as well as the access log).
    pub fn json_logs(&self) -> bool {
        matches!(self.log_format, LogFormatArg::Json)
    }

    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.shutdown_timeout.clamp(0.0, 3600.0))
    }

    pub fn build(&self, store: &Arc<SqlStore>) -> anyhow::Result<Ops> {
        if let Some(dir) = &self.expose_prometheus {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        let metrics = (self.metrics || self.expose_prometheus.is_some())
            .then(|| Arc::new(Metrics::new(vec![store_collector(store.clone())])));
        let access_log = (!self.no_access_log).then(|| {
            let format = match self.log_format {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            };
            Arc::new(AccessLog::start(format, Box::new(std::io::stdout())))
        });
        Ok(Ops {
            access_log,
            metrics,
            static_prefix: self.static_prefix.clone(),
        })
    }
}

/// The store's gauges, read at each scrape.
fn store_collector(store: Arc<SqlStore>) -> Collector {
    Box::new(move || {
        let stats = store.stats();
        let mut out = Vec::new();
        if let Some(s) = stats.sqlite {
            out.push(gauge(
                "mlox_store_write_queue_depth",
                "Writes waiting for the SQLite writer",
                s.write_queue as f64,
            ));
            out.push(Family {
                name: "mlox_store_write_group_size",
                help: "Writes committed together in one SQLite transaction (group commit)",
                kind: Kind::Histogram,
                samples: vec![Sample {
                    labels: vec![],
                    value: Value::Histogram {
                        buckets: s
                            .group_sizes
                            .iter()
                            .map(|(le, n)| (*le as f64, *n))
                            .collect(),
                        count: s.write_groups,
                        sum: s.write_jobs as f64,
                    },
                }],
            });
            out.push(gauge(
                "mlox_sqlite_wal_bytes",
                "Size of the SQLite write-ahead log",
                s.wal_bytes as f64,
            ));
        }
        if let Some(p) = stats.postgres {
            out.push(Family {
                name: "mlox_postgres_pool_connections",
                help: "PostgreSQL pool connections by state, and the pool's bound",
                kind: Kind::Gauge,
                samples: [
                    ("in_use", p.connections.saturating_sub(p.idle)),
                    ("idle", p.idle),
                    ("max", p.max),
                ]
                .into_iter()
                .map(|(state, n)| Sample {
                    labels: vec![("state", state.to_string())],
                    value: Value::Number(n as f64),
                })
                .collect(),
            });
        }
        out
    })
}
