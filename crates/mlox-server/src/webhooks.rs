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

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use mlox_core::registry::*;
use mlox_core::store::ModelRegistryStore;
use mlox_core::{MlflowError, Result};
use serde_json::{json, Map, Value};
use sha2::Sha256;
use tokio::sync::Semaphore;

pub const SIGNATURE_HEADER: &str = "X-MLflow-Signature";
pub const TIMESTAMP_HEADER: &str = "X-MLflow-Timestamp";
pub const DELIVERY_ID_HEADER: &str = "X-MLflow-Delivery-Id";
const SIGNATURE_VERSION: &str = "v1";
/// Statuses that are retried (as MLflow's urllib3 retry policy).
const RETRY_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];
const MAX_BACKOFF: Duration = Duration::from_secs(60);

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

/// A registry change that may trigger webhooks. Whether a model is a prompt (which
/// changes the event) is decided in the background, off the request path.
#[derive(Debug, Clone)]
pub enum RegistryEvent {
    RegisteredModelCreated {
        name: String,
        tags: Vec<mlox_core::entities::Tag>,
        description: String,
    },
    ModelVersionCreated {
        name: String,
        version: String,
        source: String,
        run_id: Option<String>,
        tags: Vec<mlox_core::entities::Tag>,
        description: Option<String>,
    },
    ModelVersionTagSet {
        name: String,
        version: String,
        key: String,
        value: String,
    },
    ModelVersionTagDeleted {
        name: String,
        version: String,
        key: String,
    },
    AliasCreated {
        name: String,
        alias: String,
        version: String,
    },
    AliasDeleted {
        name: String,
        alias: String,
    },
    /// Only prompts have registered-model tag events.
    RegisteredModelTagSet {
        name: String,
        key: String,
        value: String,
    },
    RegisteredModelTagDeleted {
        name: String,
        key: String,
    },
}

/// The outcome of `webhooks/{id}/test`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub success: bool,
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
    pub error_message: Option<String>,
}

/// Refuses to resolve names to non-public addresses (unless allowed).
struct PublicResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                if let Some(bad) = addrs.iter().find(|a| !is_public_ip(a.ip())) {
                    return Err(format!(
                        "Webhook connection blocked: {} is not a public IP address",
                        bad.ip()
                    )
                    .into());
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
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

    /// The MLflow event and payload for a registry change (`None`: nothing to send).
    async fn resolve(&self, event: RegistryEvent) -> Result<Option<(WebhookEvent, Value)>> {
        use WebhookAction as A;
        use WebhookEntity as E;
        let is_prompt = |name: &str| {
            let registry = self.inner.registry.clone();
            let name = name.to_string();
            async move {
                registry
                    .get_registered_model(&name)
                    .await
                    .map(|m| m.is_prompt())
            }
        };
        let tags_map = |tags: &[mlox_core::entities::Tag], skip: &[&str]| {
            let mut map = Map::new();
            for t in tags.iter().filter(|t| !skip.contains(&t.key.as_str())) {
                map.insert(t.key.clone(), json!(t.value));
            }
            Value::Object(map)
        };
        let pick = |prompt: bool, p: E, m: E| if prompt { p } else { m };
        Ok(Some(match event {
            RegistryEvent::RegisteredModelCreated {
                name,
                tags,
                description,
            } => {
                if is_prompt_tags(&tags) {
                    (
                        WebhookEvent {
                            entity: E::Prompt,
                            action: A::Created,
                        },
                        json!({"name": name, "tags": tags_map(&tags, &[IS_PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY]), "description": description}),
                    )
                } else {
                    (
                        WebhookEvent {
                            entity: E::RegisteredModel,
                            action: A::Created,
                        },
                        json!({"name": name, "tags": tags_map(&tags, &[]), "description": description}),
                    )
                }
            }
            RegistryEvent::ModelVersionCreated {
                name,
                version,
                source,
                run_id,
                tags,
                description,
            } => {
                if is_prompt_tags(&tags) {
                    let template = tags
                        .iter()
                        .rev()
                        .find(|t| t.key == PROMPT_TEXT_TAG_KEY)
                        .map(|t| t.value.clone());
                    (
                        WebhookEvent {
                            entity: E::PromptVersion,
                            action: A::Created,
                        },
                        json!({
                            "name": name, "version": version, "template": template,
                            "tags": tags_map(&tags, &[PROMPT_TEXT_TAG_KEY, IS_PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY]),
                            "description": description,
                        }),
                    )
                } else {
                    (
                        WebhookEvent {
                            entity: E::ModelVersion,
                            action: A::Created,
                        },
                        json!({
                            "name": name, "version": version, "source": source, "run_id": run_id,
                            "tags": tags_map(&tags, &[]), "description": description,
                        }),
                    )
                }
            }
            RegistryEvent::ModelVersionTagSet {
                name,
                version,
                key,
                value,
            } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptVersionTag,
                        E::ModelVersionTag,
                    ),
                    action: A::Set,
                },
                json!({"name": name, "version": version, "key": key, "value": value}),
            ),
            RegistryEvent::ModelVersionTagDeleted { name, version, key } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptVersionTag,
                        E::ModelVersionTag,
                    ),
                    action: A::Deleted,
                },
                json!({"name": name, "version": version, "key": key}),
            ),
            RegistryEvent::AliasCreated {
                name,
                alias,
                version,
            } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptAlias,
                        E::ModelVersionAlias,
                    ),
                    action: A::Created,
                },
                json!({"name": name, "alias": alias, "version": version}),
            ),
            RegistryEvent::AliasDeleted { name, alias } => (
                WebhookEvent {
                    entity: pick(
                        is_prompt(&name).await?,
                        E::PromptAlias,
                        E::ModelVersionAlias,
                    ),
                    action: A::Deleted,
                },
                json!({"name": name, "alias": alias}),
            ),
            RegistryEvent::RegisteredModelTagSet { name, key, value } => {
                if !is_prompt(&name).await? {
                    return Ok(None);
                }
                (
                    WebhookEvent {
                        entity: E::PromptTag,
                        action: A::Set,
                    },
                    json!({"name": name, "key": key, "value": value}),
                )
            }
            RegistryEvent::RegisteredModelTagDeleted { name, key } => {
                if !is_prompt(&name).await? {
                    return Ok(None);
                }
                (
                    WebhookEvent {
                        entity: E::PromptTag,
                        action: A::Deleted,
                    },
                    json!({"name": name, "key": key}),
                )
            }
        }))
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
        data: &Value,
    ) -> std::result::Result<reqwest::Response, String> {
        let config = &self.inner.config;
        let host = validate_webhook_url_syntax(&hook.url, &config.allowed_schemes)
            .map_err(|e| e.message)?;
        if let Ok(ip) = host.parse::<IpAddr>() {
            // IP literals are connected to without asking the resolver.
            if !config.allow_private_ips && !is_public_ip(ip) {
                return Err(format!(
                    "Webhook connection blocked: {ip} is not a public IP address"
                ));
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
            let outcome = req.send().await;
            let retry_after = match &outcome {
                Ok(resp) if RETRY_STATUSES.contains(&resp.status().as_u16()) => Some(
                    resp.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs),
                ),
                Ok(_) => None,
                // Refused by our resolver: retrying cannot help.
                Err(e) if format!("{e:?}").contains("not a public IP address") => None,
                Err(_) => Some(None),
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
                _ => return outcome.map_err(|e| describe(&e)),
            }
        }
    }
}

/// A reqwest error with its causes (the resolver's refusal is several levels down).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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

/// The delivered body: `{"entity", "action", "timestamp", "data"}` as MLflow writes it.
fn payload_body(event: WebhookEvent, data: &Value) -> String {
    // Written by hand to keep MLflow's key order (serde_json sorts keys).
    format!(
        "{{\"entity\": {}, \"action\": {}, \"timestamp\": {}, \"data\": {}}}",
        json!(event.entity.as_str()),
        json!(event.action.as_str()),
        json!(iso_timestamp_now()),
        data
    )
}

/// `datetime.now(timezone.utc).isoformat()`: `2025-01-02T03:04:05.123456+00:00`.
fn iso_timestamp_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// MLflow's example payload for each event (`get_example_payload_for_event`).
pub fn example_payload(event: WebhookEvent) -> Value {
    use WebhookEntity as E;
    let tags = json!({"example_key": "example_value"});
    match (event.entity, event.action) {
        (E::RegisteredModel, _) => {
            json!({"name": "example_model", "tags": tags, "description": "An example registered model"})
        }
        (E::ModelVersion, _) => {
            json!({"name": "example_model", "version": "1", "source": "models:/123", "run_id": "abcd1234abcd5678", "tags": tags, "description": "An example model version"})
        }
        (E::ModelVersionTag, WebhookAction::Set) => {
            json!({"name": "example_model", "version": "1", "key": "example_key", "value": "example_value"})
        }
        (E::ModelVersionTag, _) => {
            json!({"name": "example_model", "version": "1", "key": "example_key"})
        }
        (E::ModelVersionAlias, WebhookAction::Created) => {
            json!({"name": "example_model", "alias": "example_alias", "version": "1"})
        }
        (E::ModelVersionAlias, _) => json!({"name": "example_model", "alias": "example_alias"}),
        (E::Prompt, _) => {
            json!({"name": "example_prompt", "tags": tags, "description": "An example prompt"})
        }
        (E::PromptVersion, _) => {
            json!({"name": "example_prompt", "version": "1", "template": "Hello {{name}}!", "tags": tags, "description": "An example prompt version"})
        }
        (E::PromptTag, WebhookAction::Set) => {
            json!({"name": "example_prompt", "key": "example_key", "value": "example_value"})
        }
        (E::PromptTag, _) => json!({"name": "example_prompt", "key": "example_key"}),
        (E::PromptVersionTag, WebhookAction::Set) => {
            json!({"name": "example_prompt", "version": "1", "key": "example_key", "value": "example_value"})
        }
        (E::PromptVersionTag, _) => {
            json!({"name": "example_prompt", "version": "1", "key": "example_key"})
        }
        (E::PromptAlias, WebhookAction::Created) => {
            json!({"name": "example_prompt", "alias": "example_alias", "version": "1"})
        }
        (E::PromptAlias, _) => json!({"name": "example_prompt", "alias": "example_alias"}),
        (E::BudgetPolicy, _) => json!({
            "budget_policy_id": "bp-abc123", "budget_unit": "USD", "budget_amount": 100.0,
            "current_spend": 105.5, "duration_unit": "MONTHS", "duration_value": 1,
            "target_scope": "ENDPOINT", "workspace": "default", "target_value": "ep-abc123",
            "window_start": 1_704_067_200_000i64,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_mlflow() {
        // python: base64.b64encode(hmac.new(b"s3cret", b"d.1.{}", hashlib.sha256).digest())
        assert_eq!(
            sign("s3cret", "d", "1", "{}"),
            "v1,GEBNfe1VamzdfwUTibOZYcsRZYOpSdQFr3UdE141go8="
        );
    }

    #[test]
    fn timestamp_shape() {
        let ts = iso_timestamp_now();
        assert_eq!(ts.len(), "2025-01-02T03:04:05.123456+00:00".len(), "{ts}");
        assert!(ts.ends_with("+00:00"));
    }
}
