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

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use mlox_core::registry::*;
use mlox_core::store::ModelRegistryStore;
use mlox_core::{MlflowError, Result};
use serde::Serialize;
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

/// A webhook's tags as a JSON object (last value of a key wins).
pub type TagMap = BTreeMap<String, String>;

/// The `data` of a delivery, one struct per payload shape of MLflow's
/// `mlflow/webhooks/types.py`. Fields are declared in alphabetical order: mlox has always
/// written these objects with sorted keys, and `delivered_bodies_are_pinned` keeps the
/// bytes (and so the signatures receivers check) unchanged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Payload {
    /// `registered_model.created` and `prompt.created`.
    ModelCreated(ModelCreated),
    ModelVersionCreated(ModelVersionCreated),
    PromptVersionCreated(PromptVersionCreated),
    /// `model_version_tag.set` and `prompt_version_tag.set`.
    VersionTagSet(VersionTagSet),
    VersionTagDeleted(VersionTagDeleted),
    /// `model_version_alias.created` and `prompt_alias.created`.
    AliasCreated(AliasCreated),
    AliasDeleted(AliasDeleted),
    /// `prompt_tag.set`.
    TagSet(TagSet),
    TagDeleted(TagDeleted),
    BudgetPolicyExceeded(BudgetPolicyExceeded),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCreated {
    pub description: String,
    pub name: String,
    pub tags: TagMap,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersionCreated {
    pub description: Option<String>,
    pub name: String,
    pub run_id: Option<String>,
    pub source: String,
    pub tags: TagMap,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptVersionCreated {
    pub description: Option<String>,
    pub name: String,
    pub tags: TagMap,
    pub template: Option<String>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTagSet {
    pub key: String,
    pub name: String,
    pub value: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionTagDeleted {
    pub key: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasCreated {
    pub alias: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasDeleted {
    pub alias: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagSet {
    pub key: String,
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagDeleted {
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetPolicyExceeded {
    pub budget_amount: f64,
    pub budget_policy_id: String,
    pub budget_unit: String,
    pub current_spend: f64,
    pub duration_unit: String,
    pub duration_value: i64,
    pub target_scope: String,
    pub target_value: String,
    pub window_start: i64,
    pub workspace: String,
}

/// The delivered body: the event, when it was sent, and its payload.
#[derive(Serialize)]
struct Envelope<'a> {
    entity: &'static str,
    action: &'static str,
    timestamp: &'a str,
    data: &'a Payload,
}

/// Writes the envelope's own keys as Python's `json.dumps` does (`", "` and `": "`, as
/// MLflow writes it) and the objects inside it compactly: the bytes mlox has always sent.
struct EnvelopeFormatter {
    depth: usize,
}

impl serde_json::ser::Formatter for EnvelopeFormatter {
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        w.write_all(b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth -= 1;
        w.write_all(b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        match (first, self.depth) {
            (true, _) => Ok(()),
            (false, 1) => w.write_all(b", "),
            (false, _) => w.write_all(b","),
        }
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(if self.depth == 1 { b": " } else { b":" })
    }
}

/// A refusal to connect to an address that is not public: from the resolver, or for an
/// IP literal in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedAddress(pub IpAddr);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Webhook connection blocked: {} is not a public IP address",
            self.0
        )
    }
}

impl std::error::Error for BlockedAddress {}

/// Why a delivery got no answer from its receiver.
#[derive(Debug)]
enum DeliveryError {
    /// The URL is not one webhooks may use (scheme, host): MLflow's message.
    InvalidUrl(MlflowError),
    /// The URL names a non-public IP address.
    Blocked(BlockedAddress),
    /// The request failed: connection, timeout, or our resolver refused the address.
    Request(reqwest::Error),
}

impl DeliveryError {
    /// Whether sending again may help: not when the address itself is refused.
    fn is_retryable(&self) -> bool {
        match self {
            DeliveryError::Request(e) => blocked_address(e).is_none(),
            DeliveryError::InvalidUrl(_) | DeliveryError::Blocked(_) => false,
        }
    }
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryError::InvalidUrl(e) => f.write_str(&e.message),
            DeliveryError::Blocked(b) => b.fmt(f),
            DeliveryError::Request(e) => f.write_str(&describe(e)),
        }
    }
}

/// The address our resolver refused, when that is why `e` happened (the refusal is
/// several sources down, under reqwest's and hyper's own errors).
fn blocked_address(e: &reqwest::Error) -> Option<IpAddr> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BlockedAddress>() {
            return Some(b.0);
        }
        source = s.source();
    }
    None
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
                    return Err(Box::new(BlockedAddress(bad.ip())) as _);
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
    async fn resolve(&self, event: RegistryEvent) -> Result<Option<(WebhookEvent, Payload)>> {
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
        let tags_map = |tags: &[mlox_core::entities::Tag], skip: &[&str]| -> TagMap {
            tags.iter()
                .filter(|t| !skip.contains(&t.key.as_str()))
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect()
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
                        Payload::ModelCreated(ModelCreated {
                            tags: tags_map(&tags, &[IS_PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY]),
                            name,
                            description,
                        }),
                    )
                } else {
                    (
                        WebhookEvent {
                            entity: E::RegisteredModel,
                            action: A::Created,
                        },
                        Payload::ModelCreated(ModelCreated {
                            tags: tags_map(&tags, &[]),
                            name,
                            description,
                        }),
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
                        Payload::PromptVersionCreated(PromptVersionCreated {
                            tags: tags_map(
                                &tags,
                                &[PROMPT_TEXT_TAG_KEY, IS_PROMPT_TAG_KEY, PROMPT_TYPE_TAG_KEY],
                            ),
                            name,
                            version,
                            template,
                            description,
                        }),
                    )
                } else {
                    (
                        WebhookEvent {
                            entity: E::ModelVersion,
                            action: A::Created,
                        },
                        Payload::ModelVersionCreated(ModelVersionCreated {
                            tags: tags_map(&tags, &[]),
                            name,
                            version,
                            source,
                            run_id,
                            description,
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
                Payload::VersionTagSet(VersionTagSet {
                    name,
                    version,
                    key,
                    value,
                }),
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
                Payload::VersionTagDeleted(VersionTagDeleted { name, version, key }),
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
                Payload::AliasCreated(AliasCreated {
                    name,
                    alias,
                    version,
                }),
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
                Payload::AliasDeleted(AliasDeleted { name, alias }),
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
                    Payload::TagSet(TagSet { name, key, value }),
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
                    Payload::TagDeleted(TagDeleted { name, key }),
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

/// The delivered body: `{"entity", "action", "timestamp", "data"}` in MLflow's order.
fn payload_body(event: WebhookEvent, data: &Payload) -> String {
    payload_body_at(event, data, &iso_timestamp_now())
}

fn payload_body_at(event: WebhookEvent, data: &Payload, timestamp: &str) -> String {
    let envelope = Envelope {
        entity: event.entity.as_str(),
        action: event.action.as_str(),
        timestamp,
        data,
    };
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, EnvelopeFormatter { depth: 0 });
    envelope
        .serialize(&mut ser)
        .expect("a payload of strings and numbers serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
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
pub fn example_payload(event: WebhookEvent) -> Payload {
    use WebhookEntity as E;
    let tags = || TagMap::from([("example_key".into(), "example_value".into())]);
    let s = |v: &str| v.to_string();
    let (model, prompt) = (s("example_model"), s("example_prompt"));
    let name = match event.entity {
        E::Prompt | E::PromptVersion | E::PromptTag | E::PromptVersionTag | E::PromptAlias => {
            prompt
        }
        _ => model,
    };
    match (event.entity, event.action) {
        (E::RegisteredModel, _) => Payload::ModelCreated(ModelCreated {
            description: s("An example registered model"),
            name,
            tags: tags(),
        }),
        (E::ModelVersion, _) => Payload::ModelVersionCreated(ModelVersionCreated {
            description: Some(s("An example model version")),
            name,
            run_id: Some(s("abcd1234abcd5678")),
            source: s("models:/123"),
            tags: tags(),
            version: s("1"),
        }),
        (E::Prompt, _) => Payload::ModelCreated(ModelCreated {
            description: s("An example prompt"),
            name,
            tags: tags(),
        }),
        (E::PromptVersion, _) => Payload::PromptVersionCreated(PromptVersionCreated {
            description: Some(s("An example prompt version")),
            name,
            tags: tags(),
            template: Some(s("Hello {{name}}!")),
            version: s("1"),
        }),
        (E::ModelVersionTag | E::PromptVersionTag, WebhookAction::Set) => {
            Payload::VersionTagSet(VersionTagSet {
                key: s("example_key"),
                name,
                value: s("example_value"),
                version: s("1"),
            })
        }
        (E::ModelVersionTag | E::PromptVersionTag, _) => {
            Payload::VersionTagDeleted(VersionTagDeleted {
                key: s("example_key"),
                name,
                version: s("1"),
            })
        }
        (E::ModelVersionAlias | E::PromptAlias, WebhookAction::Created) => {
            Payload::AliasCreated(AliasCreated {
                alias: s("example_alias"),
                name,
                version: s("1"),
            })
        }
        (E::ModelVersionAlias | E::PromptAlias, _) => Payload::AliasDeleted(AliasDeleted {
            alias: s("example_alias"),
            name,
        }),
        (E::PromptTag, WebhookAction::Set) => Payload::TagSet(TagSet {
            key: s("example_key"),
            name,
            value: s("example_value"),
        }),
        (E::PromptTag, _) => Payload::TagDeleted(TagDeleted {
            key: s("example_key"),
            name,
        }),
        (E::BudgetPolicy, _) => Payload::BudgetPolicyExceeded(BudgetPolicyExceeded {
            budget_amount: 100.0,
            budget_policy_id: s("bp-abc123"),
            budget_unit: s("USD"),
            current_spend: 105.5,
            duration_unit: s("MONTHS"),
            duration_value: 1,
            target_scope: s("ENDPOINT"),
            target_value: s("ep-abc123"),
            window_start: 1_704_067_200_000,
            workspace: s("default"),
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

    const TS: &str = "2025-01-02T03:04:05.123456+00:00";

    /// The delivered body with its timestamp replaced by [`TS`].
    fn wire(event: WebhookEvent, data: &Payload) -> String {
        payload_body_at(event, data, TS)
    }

    fn tag(key: &str, value: &str) -> mlox_core::entities::Tag {
        mlox_core::entities::Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    /// Pins the exact bytes delivered for every registry change (issue #18: the payloads
    /// moved from `json!` to typed structs without changing a byte).
    #[tokio::test]
    async fn delivered_bodies_are_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let store = mlox_store::SqlStore::open(
            &mlox_store::StoreUri::Sqlite(dir.path().join("t.db")),
            mlox_store::StoreOptions::default(),
        )
        .await
        .unwrap();
        let store: Arc<dyn ModelRegistryStore> = Arc::new(store);
        store
            .create_registered_model("m".into(), vec![], None)
            .await
            .unwrap();
        store
            .create_registered_model("p".into(), vec![tag(IS_PROMPT_TAG_KEY, "true")], None)
            .await
            .unwrap();
        let hooks = Webhooks::new(store, WebhookConfig::default());
        let prompt_tags = || {
            vec![
                tag(IS_PROMPT_TAG_KEY, "true"),
                tag(PROMPT_TYPE_TAG_KEY, "text"),
                tag(PROMPT_TEXT_TAG_KEY, "Hi {{x}} \"é\""),
                tag("b", "2"),
                tag("a", "1"),
            ]
        };
        let cases = [
            (
                RegistryEvent::RegisteredModelCreated {
                    name: "m".into(),
                    tags: vec![tag("b", "2"), tag("a", "1"), tag("a", "3")],
                    description: "d".into(),
                },
                r#"{"entity": "registered_model", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"d","name":"m","tags":{"a":"3","b":"2"}}}"#,
            ),
            (
                RegistryEvent::RegisteredModelCreated {
                    name: "p".into(),
                    tags: prompt_tags(),
                    description: String::new(),
                },
                r#"{"entity": "prompt", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"","name":"p","tags":{"a":"1","b":"2","mlflow.prompt.text":"Hi {{x}} \"é\""}}}"#,
            ),
            (
                RegistryEvent::ModelVersionCreated {
                    name: "m".into(),
                    version: "1".into(),
                    source: "models:/x".into(),
                    run_id: None,
                    tags: vec![],
                    description: None,
                },
                r#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":null,"name":"m","run_id":null,"source":"models:/x","tags":{},"version":"1"}}"#,
            ),
            (
                RegistryEvent::ModelVersionCreated {
                    name: "m".into(),
                    version: "2".into(),
                    source: "s".into(),
                    run_id: Some("r".into()),
                    tags: vec![tag("k", "v")],
                    description: Some("d".into()),
                },
                r#"{"entity": "model_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"d","name":"m","run_id":"r","source":"s","tags":{"k":"v"},"version":"2"}}"#,
            ),
            (
                RegistryEvent::ModelVersionCreated {
                    name: "p".into(),
                    version: "1".into(),
                    source: "s".into(),
                    run_id: None,
                    tags: prompt_tags(),
                    description: None,
                },
                r#"{"entity": "prompt_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":null,"name":"p","tags":{"a":"1","b":"2"},"template":"Hi {{x}} \"é\"","version":"1"}}"#,
            ),
            (
                RegistryEvent::ModelVersionCreated {
                    name: "p".into(),
                    version: "2".into(),
                    source: "s".into(),
                    run_id: None,
                    tags: vec![tag(IS_PROMPT_TAG_KEY, "true")],
                    description: Some("d".into()),
                },
                r#"{"entity": "prompt_version", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"description":"d","name":"p","tags":{},"template":null,"version":"2"}}"#,
            ),
            (
                RegistryEvent::ModelVersionTagSet {
                    name: "m".into(),
                    version: "1".into(),
                    key: "k".into(),
                    value: "v".into(),
                },
                r#"{"entity": "model_version_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"m","value":"v","version":"1"}}"#,
            ),
            (
                RegistryEvent::ModelVersionTagSet {
                    name: "p".into(),
                    version: "1".into(),
                    key: "k".into(),
                    value: "v".into(),
                },
                r#"{"entity": "prompt_version_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p","value":"v","version":"1"}}"#,
            ),
            (
                RegistryEvent::ModelVersionTagDeleted {
                    name: "m".into(),
                    version: "1".into(),
                    key: "k".into(),
                },
                r#"{"entity": "model_version_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"m","version":"1"}}"#,
            ),
            (
                RegistryEvent::ModelVersionTagDeleted {
                    name: "p".into(),
                    version: "1".into(),
                    key: "k".into(),
                },
                r#"{"entity": "prompt_version_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p","version":"1"}}"#,
            ),
            (
                RegistryEvent::AliasCreated {
                    name: "m".into(),
                    alias: "champion".into(),
                    version: "1".into(),
                },
                r#"{"entity": "model_version_alias", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"champion","name":"m","version":"1"}}"#,
            ),
            (
                RegistryEvent::AliasCreated {
                    name: "p".into(),
                    alias: "prod".into(),
                    version: "1".into(),
                },
                r#"{"entity": "prompt_alias", "action": "created", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"prod","name":"p","version":"1"}}"#,
            ),
            (
                RegistryEvent::AliasDeleted {
                    name: "m".into(),
                    alias: "champion".into(),
                },
                r#"{"entity": "model_version_alias", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"champion","name":"m"}}"#,
            ),
            (
                RegistryEvent::AliasDeleted {
                    name: "p".into(),
                    alias: "prod".into(),
                },
                r#"{"entity": "prompt_alias", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"alias":"prod","name":"p"}}"#,
            ),
            (
                RegistryEvent::RegisteredModelTagSet {
                    name: "p".into(),
                    key: "k".into(),
                    value: "v".into(),
                },
                r#"{"entity": "prompt_tag", "action": "set", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p","value":"v"}}"#,
            ),
            (
                RegistryEvent::RegisteredModelTagDeleted {
                    name: "p".into(),
                    key: "k".into(),
                },
                r#"{"entity": "prompt_tag", "action": "deleted", "timestamp": "2025-01-02T03:04:05.123456+00:00", "data": {"key":"k","name":"p"}}"#,
            ),
        ];
        for (change, expected) in cases {
            let what = format!("{change:?}");
            let (event, data) = hooks.resolve(change).await.unwrap().expect(&what);
            assert_eq!(wire(event, &data), expected, "{what}");
        }
        // Registered-model tags are events for prompts only.
        for change in [
            RegistryEvent::RegisteredModelTagSet {
                name: "m".into(),
                key: "k".into(),
                value: "v".into(),
            },
            RegistryEvent::RegisteredModelTagDeleted {
                name: "m".into(),
                key: "k".into(),
            },
        ] {
            assert!(hooks.resolve(change).await.unwrap().is_none());
        }
    }

    /// Pins the exact bytes of every test delivery (`webhooks/{id}/test`).
    #[test]
    fn example_bodies_are_pinned() {
        use WebhookAction as A;
        use WebhookEntity as E;
        let cases = [
            (
                E::RegisteredModel,
                A::Created,
                r#"{"description":"An example registered model","name":"example_model","tags":{"example_key":"example_value"}}"#,
            ),
            (
                E::ModelVersion,
                A::Created,
                r#"{"description":"An example model version","name":"example_model","run_id":"abcd1234abcd5678","source":"models:/123","tags":{"example_key":"example_value"},"version":"1"}"#,
            ),
            (
                E::ModelVersionTag,
                A::Set,
                r#"{"key":"example_key","name":"example_model","value":"example_value","version":"1"}"#,
            ),
            (
                E::ModelVersionTag,
                A::Deleted,
                r#"{"key":"example_key","name":"example_model","version":"1"}"#,
            ),
            (
                E::ModelVersionAlias,
                A::Created,
                r#"{"alias":"example_alias","name":"example_model","version":"1"}"#,
            ),
            (
                E::ModelVersionAlias,
                A::Deleted,
                r#"{"alias":"example_alias","name":"example_model"}"#,
            ),
            (
                E::Prompt,
                A::Created,
                r#"{"description":"An example prompt","name":"example_prompt","tags":{"example_key":"example_value"}}"#,
            ),
            (
                E::PromptVersion,
                A::Created,
                r#"{"description":"An example prompt version","name":"example_prompt","tags":{"example_key":"example_value"},"template":"Hello {{name}}!","version":"1"}"#,
            ),
            (
                E::PromptTag,
                A::Set,
                r#"{"key":"example_key","name":"example_prompt","value":"example_value"}"#,
            ),
            (
                E::PromptTag,
                A::Deleted,
                r#"{"key":"example_key","name":"example_prompt"}"#,
            ),
            (
                E::PromptVersionTag,
                A::Set,
                r#"{"key":"example_key","name":"example_prompt","value":"example_value","version":"1"}"#,
            ),
            (
                E::PromptVersionTag,
                A::Deleted,
                r#"{"key":"example_key","name":"example_prompt","version":"1"}"#,
            ),
            (
                E::PromptAlias,
                A::Created,
                r#"{"alias":"example_alias","name":"example_prompt","version":"1"}"#,
            ),
            (
                E::PromptAlias,
                A::Deleted,
                r#"{"alias":"example_alias","name":"example_prompt"}"#,
            ),
            (
                E::BudgetPolicy,
                A::Exceeded,
                r#"{"budget_amount":100.0,"budget_policy_id":"bp-abc123","budget_unit":"USD","current_spend":105.5,"duration_unit":"MONTHS","duration_value":1,"target_scope":"ENDPOINT","target_value":"ep-abc123","window_start":1704067200000,"workspace":"default"}"#,
            ),
        ];
        for (entity, action, data) in cases {
            let event = WebhookEvent { entity, action };
            let expected = format!(
                r#"{{"entity": "{}", "action": "{}", "timestamp": "{TS}", "data": {data}}}"#,
                entity.as_str(),
                action.as_str()
            );
            assert_eq!(wire(event, &example_payload(event)), expected, "{event}");
        }
    }

    /// A refusal of our resolver is recognised by its type, several sources down under
    /// reqwest's and hyper's errors, and is not retried (issue #18: this was a match on the
    /// error's debug text).
    #[tokio::test]
    async fn a_blocked_address_is_typed_and_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let store = mlox_store::SqlStore::open(
            &mlox_store::StoreUri::Sqlite(dir.path().join("t.db")),
            mlox_store::StoreOptions::default(),
        )
        .await
        .unwrap();
        let hooks = Webhooks::new(
            Arc::new(store),
            WebhookConfig {
                allowed_schemes: vec!["http".into()],
                // A retry would wait far longer than the timeout below.
                backoff: Duration::from_secs(60),
                ..WebhookConfig::default()
            },
        );
        // The resolver refuses loopback before anything is sent.
        let err = hooks
            .inner
            .client
            .post("http://localhost:9/")
            .send()
            .await
            .unwrap_err();
        let ip = blocked_address(&err).expect("refused by the resolver");
        assert!(ip.is_loopback(), "{ip}");
        let hook = |url: &str| Webhook {
            webhook_id: "w".into(),
            name: "w".into(),
            description: None,
            url: url.into(),
            events: vec![],
            status: WebhookStatus::Active,
            secret: None,
            creation_timestamp: 0,
            last_updated_timestamp: 0,
        };
        let event = WebhookEvent {
            entity: WebhookEntity::ModelVersionAlias,
            action: WebhookAction::Deleted,
        };
        let data = example_payload(event);
        for (url, message) in [
            ("http://localhost:9/", "is not a public IP address"),
            (
                "http://127.0.0.1:9/",
                "Webhook connection blocked: 127.0.0.1 is not a public IP address",
            ),
        ] {
            let sent = tokio::time::timeout(
                Duration::from_secs(10),
                hooks.send(&hook(url), event, &data),
            )
            .await
            .expect("no retry");
            let err = sent.unwrap_err();
            assert!(!err.is_retryable(), "{err}");
            assert!(err.to_string().ends_with(message), "{err}");
        }
        // A connection error is retried.
        let err = DeliveryError::Request(
            reqwest::Client::new()
                .get("http://256.0.0.1/")
                .send()
                .await
                .unwrap_err(),
        );
        assert!(err.is_retryable(), "{err}");
    }

    #[test]
    fn timestamp_shape() {
        let ts = iso_timestamp_now();
        assert_eq!(ts.len(), "2025-01-02T03:04:05.123456+00:00".len(), "{ts}");
        assert!(ts.ends_with("+00:00"));
    }
}
