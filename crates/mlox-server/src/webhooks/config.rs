//! Delivery settings, from MLflow's environment variables.

use std::time::Duration;

/// Delivery settings, read from MLflow's environment variables.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `MLFLOW_WEBHOOK_ALLOWED_SCHEMES` (default `https`).
    pub allowed_schemes: Vec<String>,
    /// `MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS` (default false).
    pub allow_private_ips: bool,
    /// `MLFLOW_WEBHOOK_REQUEST_TIMEOUT` seconds (default 30).
    pub timeout: Duration,
    /// `MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES` (default 3).
    pub max_retries: u32,
    /// First back-off delay, doubled on each retry (MLflow: 1 s).
    pub backoff: Duration,
    /// `MLFLOW_WEBHOOK_DELIVERY_MAX_WORKERS` (default 10): deliveries in flight at once.
    pub max_workers: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allowed_schemes: vec!["https".into()],
            allow_private_ips: false,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            backoff: Duration::from_secs(1),
            max_workers: 10,
        }
    }
}

impl WebhookConfig {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut c = WebhookConfig::default();
        if let Some(v) = var("MLFLOW_WEBHOOK_ALLOWED_SCHEMES") {
            c.allowed_schemes = v
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = var("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS") {
            c.allow_private_ips = matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1");
        }
        if let Some(v) = var("MLFLOW_WEBHOOK_REQUEST_TIMEOUT").and_then(|v| v.trim().parse().ok()) {
            c.timeout = Duration::from_secs(v);
        }
        if let Some(v) =
            var("MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES").and_then(|v| v.trim().parse().ok())
        {
            c.max_retries = v;
        }
        if let Some(v) =
            var("MLFLOW_WEBHOOK_DELIVERY_MAX_WORKERS").and_then(|v| v.trim().parse().ok())
        {
            c.max_workers = std::cmp::max(v, 1);
        }
        c
    }
}
