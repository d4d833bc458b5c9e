//! `mlox models serve|predict|generate-dockerfile|build-docker`: wiring only; the work is
//! in `mlox-serving`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use mlox_projects::EnvManager;
use mlox_serving::mlmodel::MlModel;
use mlox_serving::server::{is_native, LoadOptions, LoadedModel};
use mlox_serving::uri::{default_cache_dir, Resolver};

#[derive(Args, Debug, Clone)]
pub struct ModelSource {
    /// The model: a folder, runs:/<run>/<path>, models:/<name>/<version>,
    /// models:/<name>@<alias>, models:/<name>/<stage>, models:/<name>/latest,
    /// models:/<model_id>, mlflow-artifacts:/…, s3://…
    #[arg(long, short = 'm')]
    pub model_uri: String,
    /// The tracking server that resolves runs:/ and models:/ URIs.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub tracking_uri: Option<String>,
    /// Where downloaded models and built environments are cached.
    #[arg(long, env = "MLOX_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct Scoring {
    /// local (the current Python), uv or virtualenv (a cached venv built from the model's
    /// python_env.yaml), conda. Unused for ONNX models, which run natively.
    #[arg(long, default_value = "local")]
    pub env_manager: String,
    /// Worker processes (Python) or inference sessions (ONNX); default: one per CPU.
    #[arg(long, short = 'w')]
    pub workers: Option<usize>,
    /// Serve an onnx model through Python (mlflow.onnx) instead of natively.
    #[arg(long)]
    pub no_native: bool,
    /// Most rows merged into one Python worker call.
    #[arg(long, default_value_t = 256)]
    pub max_batch_size: usize,
    /// How long a free worker waits for more requests to merge, in milliseconds.
    #[arg(long, default_value_t = 1)]
    pub max_batch_wait_ms: u64,
    /// A request taking longer is answered 504 and its worker restarted (seconds).
    #[arg(
        long,
        env = "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT",
        default_value_t = 60
    )]
    pub timeout: u64,
}

#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct ServeArgs {
    /// Print help (`-h` is the host, as in `mlflow models serve`).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    pub source: ModelSource,
    #[command(flatten)]
    pub scoring: Scoring,
    /// The address to listen on (`-h` as in `mlflow models serve`; `-H` also works).
    #[arg(long, short = 'h', short_alias = 'H', default_value = "127.0.0.1")]
    pub host: String,
    /// The port (0 picks a free one; the address is printed).
    #[arg(long, short = 'p', default_value_t = 5000)]
    pub port: u16,
    /// The model's name in the v2 protocol (/v2/models/<name>).
    #[arg(long, default_value = "model")]
    pub name: String,
}

#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    #[command(flatten)]
    pub source: ModelSource,
    #[command(flatten)]
    pub scoring: Scoring,
    /// The input file (default: stdin).
    #[arg(long, short = 'i')]
    pub input_path: Option<PathBuf>,
    /// The output file (default: stdout).
    #[arg(long, short = 'o')]
    pub output_path: Option<PathBuf>,
    /// The input's type: json, csv or parquet (default: from the file name, else json).
    #[arg(long, short = 't')]
    pub content_type: Option<String>,
    /// Rows scored per call.
    #[arg(long, default_value_t = 10_000)]
    pub chunk_rows: usize,
}

#[derive(Args, Debug, Clone)]
pub struct DockerfileArgs {
    #[command(flatten)]
    pub source: ModelSource,
    /// The build context folder to write (Dockerfile, model, mlox binary).
    #[arg(long, short = 'd', default_value = "mlox-dockerfile")]
    pub output_directory: PathBuf,
    /// The base image.
    #[arg(long, default_value = "python:3.11-slim")]
    pub base_image: String,
}

#[derive(Args, Debug, Clone)]
pub struct BuildDockerArgs {
    #[command(flatten)]
    pub source: ModelSource,
    /// The image name.
    #[arg(long, short = 'n', default_value = "mlox-model")]
    pub name: String,
    #[arg(long, default_value = "python:3.11-slim")]
    pub base_image: String,
}

fn cache_dir(s: &ModelSource) -> PathBuf {
    s.cache_dir.clone().unwrap_or_else(default_cache_dir)
}

async fn resolve(s: &ModelSource) -> anyhow::Result<PathBuf> {
    let resolver = Resolver::new(s.tracking_uri.as_deref(), cache_dir(s));
    Ok(resolver.resolve(&s.model_uri).await?)
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resolves, prepares the environment if needed, and loads the model.
async fn load(
    source: &ModelSource,
    scoring: &Scoring,
    name: &str,
) -> anyhow::Result<Arc<LoadedModel>> {
    let dir = resolve(source).await?;
    let mlmodel = MlModel::load(&dir)?;
    let manager: EnvManager = scoring
        .env_manager
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let python = if is_native(&mlmodel, scoring.no_native) {
        None
    } else {
        Some(mlox_serving::env::prepare(&dir, &mlmodel, manager, &cache_dir(source)).await?)
    };
    let opts = LoadOptions {
        name: name.to_string(),
        workers: scoring.workers.unwrap_or_else(default_workers),
        no_native: scoring.no_native,
        max_batch_size: scoring.max_batch_size,
        max_batch_wait: Duration::from_millis(scoring.max_batch_wait_ms),
        timeout: Duration::from_secs(scoring.timeout.max(1)),
    };
    let model = LoadedModel::load(&dir, &opts, python)
        .await
        .with_context(|| format!("loading {}", source.model_uri))?;
    Ok(Arc::new(model))
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    // Bind first: a taken port fails at once, before a model is downloaded or workers start.
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let model = load(&args.source, &args.scoring, &args.name).await?;
    let addr = listener.local_addr()?;
    let backend = match &model.backend {
        mlox_serving::server::Backend::Onnx(_) => "native ONNX".to_string(),
        mlox_serving::server::Backend::Python(p) => {
            format!("{} Python worker(s), pids {:?}", p.pids().len(), p.pids())
        }
    };
    println!(
        "mlox: serving {} ({backend}), ready in {:.2}s\nListening on http://{addr}",
        args.source.model_uri,
        started.elapsed().as_secs_f64()
    );
    use std::io::Write;
    std::io::stdout().flush()?;
    let server = mlox_serving::server::serve(listener, model);
    tokio::select! {
        r = server => r?,
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    Ok(())
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

pub async fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let model = load(&args.source, &args.scoring, "model").await?;
    mlox_serving::predict::run(
        model,
        mlox_serving::predict::PredictOptions {
            input: args.input_path,
            output: args.output_path,
            content_type: args.content_type,
            chunk_rows: args.chunk_rows.max(1),
        },
    )
    .await?;
    Ok(())
}

pub async fn generate_dockerfile(args: DockerfileArgs) -> anyhow::Result<()> {
    let dir = resolve(&args.source).await?;
    mlox_serving::docker::write_context(&dir, &args.output_directory, &args.base_image)?;
    println!(
        "mlox: wrote {}/Dockerfile (build with: docker build -t NAME {})",
        args.output_directory.display(),
        args.output_directory.display()
    );
    Ok(())
}

pub async fn build_docker(args: BuildDockerArgs) -> anyhow::Result<()> {
    let dir = resolve(&args.source).await?;
    let ctx = tempfile_dir()?;
    mlox_serving::docker::write_context(&dir, &ctx, &args.base_image)?;
    let result = mlox_serving::docker::build(&ctx, &args.name).await;
    let _ = std::fs::remove_dir_all(&ctx);
    result?;
    println!("mlox: built image {}", args.name);
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("mlox-docker-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
