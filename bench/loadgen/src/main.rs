//! mlox-loadgen: drives an MLflow-wire-compatible tracking server (mlox or the real
//! MLflow server) through the scenarios of bench/README.md and prints one JSON object
//! per run on stdout. Also has the process helpers bench/run.sh needs (free port,
//! time-to-healthy, process-tree RSS sampler, a null server for the loadgen's own
//! ceiling, and the RESULTS.md writer).

mod http;
mod invoke;
mod otlp;
mod report;
mod scenarios;
mod stats;
mod sys;
mod traces;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use serde_json::Value;

use scenarios::{Kind, Load};

#[derive(Parser)]
#[command(
    name = "mlox-loadgen",
    version,
    about = "Load generator for the mlox / MLflow benchmark (bench/)"
)]
struct Cli {
    /// Base URL of the server under test.
    #[arg(long, global = true, default_value = "http://127.0.0.1:5000")]
    url: String,
    /// Worker threads of the load generator's own runtime.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// Free-form label copied into the JSON result (e.g. "mlflow").
    #[arg(long, global = true)]
    label: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Concurrent workers (each a closed loop: one request in flight).
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Stop after this many operations (whichever of count/seconds comes first).
    #[arg(long)]
    count: Option<u64>,
}

impl LoadArgs {
    fn load(&self) -> Load {
        Load {
            concurrency: self.concurrency,
            seconds: self.seconds,
            count: self.count,
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// GET /health in a loop (the load generator's ceiling against a trivial endpoint).
    Health(LoadArgs),
    /// POST a body file to a scoring server's /invocations in closed loops (bench/serving).
    Invoke {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long)]
        body_file: PathBuf,
        #[arg(long, default_value = "/invocations")]
        path: String,
    },
    /// POST runs/create in a loop.
    CreateRun {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long, default_value = "0")]
        experiment_id: String,
    },
    /// POST runs/log-metric in a loop (one run per worker, increasing steps).
    LogMetric(LoadArgs),
    /// POST runs/log-batch with --batch metrics per request (one run per worker).
    LogBatch {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Log --points values of one metric into one run (log-batch), then time get-history.
    SeedHistory {
        #[arg(long, default_value_t = 100_000)]
        points: u64,
        #[arg(long, default_value_t = 1000)]
        batch: u64,
        #[arg(long, short = 'c', default_value_t = 4)]
        concurrency: usize,
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        #[arg(long, default_value = "loss")]
        key: String,
    },
    /// Create --runs runs (3 params, 5 metrics, 3 tags each) in experiment --experiment-name.
    SeedSearch {
        #[arg(long, default_value_t = 10_000)]
        runs: u64,
        #[arg(long, short = 'c', default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value = "bench-search")]
        experiment_name: String,
        /// Index of the first run (runs are numbered; run i always gets the same data).
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Print the data of seeded runs [--from, --to) as JSON lines (the same values
    /// seed-search sends), for bench/seed_mlflow_sqlite.py.
    SeedData {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 10_000)]
        to: u64,
    },
    /// Time POST runs/search with a filter and order_by (median of --repeat).
    Search {
        #[arg(long, default_value = "bench-search")]
        experiment_name: String,
        #[arg(long, default_value = "metrics.m1 > 0.5 and params.p1 = 'a'")]
        filter: String,
        #[arg(long, default_value = "metrics.m2 DESC")]
        order_by: Vec<String>,
        #[arg(long, default_value_t = 100)]
        max_results: u64,
        #[arg(long, default_value_t = 20)]
        repeat: usize,
    },
    /// Read every run of the experiment page by page (next_page_token); median total time.
    Paginate {
        #[arg(long, default_value = "bench-search")]
        experiment_name: String,
        #[arg(long, default_value_t = 1000)]
        max_results: u64,
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Expected number of runs (a mismatch is an error).
        #[arg(long)]
        expect: Option<u64>,
    },
    /// Log traces of --spans spans from -c clients as MLflow's client sends them (OTLP
    /// span batches of 5, then start-trace); traces per second.
    TraceIngest {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long, default_value_t = 10)]
        spans: usize,
        #[arg(long, default_value = "bench-trace-ingest")]
        experiment_name: String,
    },
    /// Create traces [--offset, --offset+--traces) (start-trace; tags customer and env).
    SeedTraces {
        #[arg(long, default_value_t = 100_000)]
        traces: u64,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, short = 'c', default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value = "bench-trace-search")]
        experiment_name: String,
    },
    /// Print seeded traces [--from, --to) as JSON lines, for bench/traces/seed_mlflow_traces.py.
    TraceSeedData {
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, default_value_t = 100_000)]
        to: u64,
    },
    /// Time the client's search_traces request (tags.customer = 'customer-N', first page),
    /// checking every page against the seeded data.
    SearchTraces {
        #[arg(long, default_value = "bench-trace-search")]
        experiment_name: String,
        /// How many traces were seeded (0..traces).
        #[arg(long, default_value_t = 100_000)]
        traces: u64,
        #[arg(long, default_value_t = 7)]
        customer: u64,
        #[arg(long, default_value_t = 100)]
        max_results: u64,
        #[arg(long, default_value_t = 20)]
        repeat: usize,
    },
    /// Log one trace of --spans spans (OTLP requests of --batch spans, then start-trace).
    SeedBigTrace {
        #[arg(long, default_value_t = 5000)]
        spans: usize,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value = "bench-big-trace")]
        experiment_name: String,
    },
    /// Wait until GET {url}/health answers 200; prints launch → healthy in ms.
    WaitHealthy {
        /// Launch time in Unix nanoseconds (`date +%s%N` just before starting the server).
        #[arg(long)]
        since_ns: Option<u128>,
        #[arg(long, default_value_t = 180.0)]
        timeout_s: f64,
        #[arg(long, default_value_t = 2)]
        interval_ms: u64,
        /// Fail early if this process exits.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Sample the summed RSS of a process tree.
    Rss {
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 100)]
        interval_ms: u64,
        #[arg(long)]
        seconds: Option<f64>,
        /// Stop when this file exists.
        #[arg(long)]
        stop_file: Option<PathBuf>,
    },
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
    /// Run a null HTTP server (fixed 200 answer) to measure the load generator's ceiling.
    NullServer {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Write bench/RESULTS.md from the JSON results in --dir.
    Report {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The command that produced the results.
        #[arg(long)]
        command: String,
        #[arg(long, default_value = "")]
        date: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    let label = cli.label.clone();
    let url = cli.url.clone();
    let networked = !matches!(
        cli.cmd,
        Cmd::Rss { .. } | Cmd::SeedData { .. } | Cmd::TraceSeedData { .. }
    );
    let out: Option<Value> = match cli.cmd {
        Cmd::FreePort => {
            println!("{}", sys::free_port()?);
            None
        }
        Cmd::Rss {
            pid,
            interval_ms,
            seconds,
            stop_file,
        } => Some(sys::rss(
            pid,
            Duration::from_millis(interval_ms),
            seconds,
            stop_file,
        )?),
        Cmd::SeedData { from, to } => {
            use std::io::Write;
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            for i in from..to {
                writeln!(w, "{}", scenarios::seed_run(i).to_json(i))?;
            }
            w.flush()?;
            None
        }
        Cmd::TraceSeedData { from, to } => {
            use std::io::Write;
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            for i in from..to {
                writeln!(w, "{}", traces::seed_trace(i).to_json(i))?;
            }
            w.flush()?;
            None
        }
        Cmd::Report {
            dir,
            out,
            command,
            date,
        } => {
            report::write(&dir, &out, &command, &date)?;
            None
        }
        Cmd::NullServer { port } => {
            rt.block_on(sys::null_server(port))?;
            None
        }
        cmd => Some(rt.block_on(run(&url, cmd))?),
    };
    if let Some(mut v) = out {
        if let Some(obj) = v.as_object_mut() {
            if networked {
                obj.insert("url".into(), Value::String(url));
                obj.insert("loadgen_threads".into(), cli.threads.into());
            }
            if let Some(l) = label {
                obj.insert("label".into(), Value::String(l));
            }
        }
        println!("{v}");
    }
    Ok(())
}

async fn run(url: &str, cmd: Cmd) -> Result<Value> {
    let api = http::Api::new(url)?;
    match cmd {
        Cmd::Health(l) => scenarios::timed(&api, Kind::Health, &l.load()).await,
        Cmd::Invoke {
            load,
            body_file,
            path,
        } => {
            let body = std::fs::read_to_string(&body_file)?;
            invoke::run(
                &api,
                &path,
                body,
                load.concurrency,
                load.seconds,
                load.count,
            )
            .await
        }
        Cmd::CreateRun {
            load,
            experiment_id,
        } => scenarios::timed(&api, Kind::CreateRun { experiment_id }, &load.load()).await,
        Cmd::LogMetric(l) => scenarios::timed(&api, Kind::LogMetric, &l.load()).await,
        Cmd::LogBatch { load, batch } => {
            scenarios::timed(&api, Kind::LogBatch { batch }, &load.load()).await
        }
        Cmd::SeedHistory {
            points,
            batch,
            concurrency,
            repeat,
            key,
        } => scenarios::seed_history(&api, points, batch, concurrency, repeat, &key).await,
        Cmd::SeedSearch {
            runs,
            concurrency,
            experiment_name,
            offset,
        } => scenarios::seed_search(&api, offset, runs, concurrency, &experiment_name).await,
        Cmd::Search {
            experiment_name,
            filter,
            order_by,
            max_results,
            repeat,
        } => {
            scenarios::search(
                &api,
                &experiment_name,
                &filter,
                &order_by,
                max_results,
                repeat,
            )
            .await
        }
        Cmd::Paginate {
            experiment_name,
            max_results,
            repeat,
            expect,
        } => scenarios::paginate(&api, &experiment_name, max_results, repeat, expect).await,
        Cmd::TraceIngest {
            load,
            spans,
            experiment_name,
        } => {
            traces::ingest(
                &api,
                &experiment_name,
                spans,
                load.concurrency,
                load.seconds,
                load.count,
            )
            .await
        }
        Cmd::SeedTraces {
            traces: n,
            offset,
            concurrency,
            experiment_name,
        } => traces::seed(&api, &experiment_name, offset, n, concurrency).await,
        Cmd::SearchTraces {
            experiment_name,
            traces: n,
            customer,
            max_results,
            repeat,
        } => traces::search(&api, &experiment_name, n, customer, max_results, repeat).await,
        Cmd::SeedBigTrace {
            spans,
            batch,
            experiment_name,
        } => traces::big_trace(&api, &experiment_name, spans, batch).await,
        Cmd::WaitHealthy {
            since_ns,
            timeout_s,
            interval_ms,
            pid,
        } => {
            sys::wait_healthy(
                url,
                since_ns,
                Duration::from_secs_f64(timeout_s),
                Duration::from_millis(interval_ms),
                pid,
            )
            .await
        }
        Cmd::FreePort
        | Cmd::Rss { .. }
        | Cmd::Report { .. }
        | Cmd::NullServer { .. }
        | Cmd::SeedData { .. }
        | Cmd::TraceSeedData { .. } => {
            unreachable!()
        }
    }
}
