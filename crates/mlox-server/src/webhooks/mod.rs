//! Webhook delivery for model-registry events, following MLflow (`mlflow/webhooks/`):
//! the same JSON payloads, the `X-MLflow-Delivery-Id` / `X-MLflow-Timestamp` /
//! `X-MLflow-Signature` headers, and an HMAC-SHA256 signature (`v1,<base64>`) over
//! `<delivery id>.<timestamp>.<body>` with the webhook's secret.
//!
//! Deliveries run in background tasks with retries and exponential back-off: a slow or
//! failing receiver never delays the request that caused the event. Outbound requests
//! only go to public addresses unless `MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS` is set, and the
//! check is made on the address actually connected to (a resolver that refuses private
//! addresses), so DNS rebinding cannot redirect a delivery.

mod config;
mod events;
mod network;
mod payload;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use mlox_core::registry::*;
use mlox_core::store::ModelRegistryStore;
use mlox_core::{MlflowError, Result};
use sha2::Sha256;
use tokio::sync::Semaphore;

pub use config::WebhookConfig;
pub use events::RegistryEvent;
pub use network::BlockedAddress;
pub use payload::{
    example_payload, AliasCreated, AliasDeleted, BudgetPolicyExceeded, ModelCreated,
    ModelVersionCreated, Payload, PromptVersionCreated, TagDeleted, TagMap, TagSet,
    VersionTagDeleted, VersionTagSet,
};

use network::{DeliveryError, PublicResolver};
use payload::payload_body;

pub const SIGNATURE_HEADER: &str = "X-MLflow-Signature";
pub const TIMESTAMP_HEADER: &str = "X-MLflow-Timestamp";
pub const DELIVERY_ID_HEADER: &str = "X-MLflow-Delivery-Id";
const SIGNATURE_VERSION: &str = "v1";
/// Statuses that are retried (as MLflow's urllib3 retry policy).
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The outcome of `webhooks/{id}/test`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub success: bool,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
}

struct Inner {
    config: WebhookConfig,
    client: reqwest::Client,
    registry: Arc<dyn ModelRegistryStore>,
    permits: Arc<Semaphore>,
}

/// Sends webhooks for registry events. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

impl Webhooks {
    pub fn new(registry: Arc<dyn ModelRegistryStore>, config: WebhookConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            // A proxy would be the peer we check instead of the receiver.
            .no_proxy()
            // A redirect could lead to an address the resolver never saw (an IP literal).
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicResolver {
                allow_private: config.allow_private_ips,
            }))
            .user_agent(concat!("mlox-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot build the webhook HTTP client; using defaults");
                reqwest::Client::new()
            });
        let permits = Arc::new(Semaphore::new(config.max_workers));
        Webhooks {
            inner: Arc::new(Inner {
                config,
                client,
                registry,
                permits,
            }),
        }
    }

    /// `_validate_webhook_url`: scheme allowed, host present and (unless private addresses
    /// are allowed) resolving to public addresses only.
    pub async fn validate_url(&self, url: &str) -> Result<()> {
        let config = &self.inner.config;
        let host = validate_webhook_url_syntax(url, &config.allowed_schemes)?.to_string();
        if config.allow_private_ips {
            return Ok(());
        }
        let ips: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| {
                    MlflowError::invalid(format!(
                        "Cannot resolve Webhook URL hostname '{host}': {e}"
                    ))
                })?
                .map(|a| a.ip())
                .collect(),
        };
        if let Some(ip) = ips.iter().find(|ip| !is_public_ip(**ip)) {
            return Err(MlflowError::invalid(format!(
                "Webhook URL must not resolve to a non-public IP address. '{host}' resolves to {ip}."
            )));
        }
        Ok(())
    }

    /// Queues deliveries for `event`; returns at once.
    pub fn emit(&self, event: RegistryEvent) {
        let this = self.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no async runtime: webhook event dropped");
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = this.dispatch(event).await {
                tracing::error!(error = %e.message, "webhook dispatch failed");
            }
        });
    }

    async fn dispatch(&self, event: RegistryEvent) -> Result<()> {
        let Some((event, payload)) = self.resolve(event).await? else {
            return Ok(());
        };
        let hooks = self.inner.registry.list_webhooks_by_event(event).await?;
        for hook in hooks
            .into_iter()
            .filter(|h| h.status == WebhookStatus::Active)
        {
            let this = self.clone();
            let payload = payload.clone();
            let permits = self.inner.permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                match this.send(&hook, event, &payload).await {
                    Ok(resp) if resp.status().as_u16() < 400 => {
                        tracing::debug!(webhook = %hook.webhook_id, %event, "webhook delivered");
                    }
                    Ok(resp) => tracing::warn!(
                        webhook = %hook.webhook_id, %event, status = resp.status().as_u16(),
                        "webhook receiver refused the delivery"
                    ),
                    Err(e) => tracing::error!(
                        webhook = %hook.webhook_id, %event, error = %e,
                        "webhook delivery failed"
                    ),
                }
            });
        }
        Ok(())
    }

    /// Sends the test payload of `event` (default: the webhook's first event) and reports
    /// what the receiver answered.
    pub async fn test(&self, hook: &Webhook, event: Option<WebhookEvent>) -> TestResult {
        let Some(event) = event.or_else(|| hook.events.first().copied()) else {
            return TestResult {
                success: false,
                response_status: None,
                response_body: None,
                error_message: Some("Failed to test webhook: the webhook has no events".into()),
            };
        };
        match self.send(hook, event, &example_payload(event)).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                TestResult {
                    success: status < 400,
                    response_status: Some(status),
                    response_body: Some(body),
                    error_message: None,
                }
            }
            Err(e) => TestResult {
                success: false,
                response_status: None,
                response_body: None,
                error_message: Some(format!("Failed to test webhook: {e}")),
            },
        }
    }

    /// One delivery with retries: connection errors and 429/5xx answers are retried after
    /// 1 s, 2 s, 4 s … (capped at 60 s, `Retry-After` honoured, up to 1 s of jitter).
    async fn send(
        &self,
        hook: &Webhook,
        event: WebhookEvent,
        data: &Payload,
    ) -> std::result::Result<reqwest::Response, DeliveryError> {
        let config = &self.inner.config;
        let host = validate_webhook_url_syntax(&hook.url, &config.allowed_schemes)
            .map_err(DeliveryError::InvalidUrl)?;
        if let Ok(ip) = host.parse::<IpAddr>() {
            // IP literals are connected to without asking the resolver.
            if !config.allow_private_ips && !is_public_ip(ip) {
                return Err(DeliveryError::Blocked(BlockedAddress(ip)));
            }
        }
        let body = payload_body(event, data);
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let timestamp = unix_seconds().to_string();
        let signature = hook
            .secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|secret| sign(secret, &delivery_id, &timestamp, &body));
        let mut attempt = 0u32;
        loop {
            let mut req = self
                .inner
                .client
                .post(&hook.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(DELIVERY_ID_HEADER, &delivery_id)
                .header(TIMESTAMP_HEADER, &timestamp)
                .body(body.clone());
            if let Some(sig) = &signature {
                req = req.header(SIGNATURE_HEADER, sig);
            }
            let outcome = req.send().await.map_err(DeliveryError::Request);
            let retry_after = match &outcome {
                Ok(resp) if RETRY_STATUSES.contains(&resp.status().as_u16()) => Some(
                    resp.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs),
                ),
                Ok(_) => None,
                Err(e) if e.is_retryable() => Some(None),
                // Refused by our resolver: retrying cannot help.
                Err(_) => None,
            };
            match retry_after {
                Some(hint) if attempt < config.max_retries => {
                    let backoff = config.backoff.saturating_mul(1 << attempt.min(16));
                    let jitter = Duration::from_millis(rand_millis(1000));
                    let wait = hint.unwrap_or(backoff + jitter).min(MAX_BACKOFF);
                    attempt += 1;
                    tracing::debug!(webhook = %hook.webhook_id, attempt, ?wait, "retrying webhook delivery");
                    tokio::time::sleep(wait).await;
                }
                _ => return outcome,
            }
        }
    }
}

fn rand_millis(max: u64) -> u64 {
    // Jitter only needs to be spread, not unpredictable.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    nanos % max.max(1)
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `v1,<base64(HMAC-SHA256(secret, "<delivery id>.<timestamp>.<body>"))>`.
pub fn sign(secret: &str, delivery_id: &str, timestamp: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(format!("{delivery_id}.{timestamp}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!(
        "{SIGNATURE_VERSION},{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}
