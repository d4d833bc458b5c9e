//! The model registry vocabulary: registered models, model versions, aliases, stages and
//! webhooks, with MLflow's validation rules and messages (`mlflow/utils/validation.py`,
//! `mlflow/store/model_registry/sqlalchemy_store.py`, `mlflow/entities/webhook.py`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::entities::Tag;
use crate::error::{MlflowError, Result};
use crate::validation::{exceeds_maximum_length, invalid_value, posix_normpath, validate_key};

pub const STAGE_NONE: &str = "None";
pub const STAGE_STAGING: &str = "Staging";
pub const STAGE_PRODUCTION: &str = "Production";
pub const STAGE_ARCHIVED: &str = "Archived";
/// The stage MLflow gives deleted versions; they are kept (redacted) so numbers are never reused.
pub const STAGE_DELETED_INTERNAL: &str = "Deleted_Internal";
pub const ALL_STAGES: [&str; 4] = [STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED];

/// The tag that marks a registered model (and its versions) as a prompt.
pub const IS_PROMPT_TAG_KEY: &str = "mlflow.prompt.is_prompt";
/// The prompt template of a prompt version.
pub const PROMPT_TEXT_TAG_KEY: &str = "mlflow.prompt.text";
pub const PROMPT_TYPE_TAG_KEY: &str = "_mlflow_prompt_type";
/// The logged-model tag listing the registered versions made from it (a JSON list).
pub const MODEL_VERSIONS_TAG_KEY: &str = "mlflow.modelVersions";

pub const MODEL_VERSION_STATUS_READY: &str = "READY";

pub const MAX_MODEL_REGISTRY_TAG_KEY_LENGTH: usize = 250;
pub const MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH: usize = 100_000;
pub const MAX_REGISTERED_MODEL_ALIAS_LENGTH: usize = 255;
pub const SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT: i64 = 100;
pub const SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD: i64 = 1000;
pub const SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT: i64 = 10_000;
pub const SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD: i64 = 200_000;

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: Option<String>,
    /// For each stage, the highest version in it.
    pub latest_versions: Vec<ModelVersion>,
    pub tags: Vec<Tag>,
    /// `(alias, version)` pairs.
    pub aliases: Vec<(String, i64)>,
}

impl RegisteredModel {
    pub fn is_prompt(&self) -> bool {
        is_prompt_tags(&self.tags)
    }
}

/// Whether tags mark a prompt (`mlflow.prompt.is_prompt` = `true`, any case; the last value wins).
pub fn is_prompt_tags(tags: &[Tag]) -> bool {
    tags.iter()
        .rev()
        .find(|t| t.key == IS_PROMPT_TAG_KEY)
        .is_some_and(|t| t.value.eq_ignore_ascii_case("true"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: Option<String>,
    pub user_id: Option<String>,
    pub current_stage: String,
    pub source: Option<String>,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub status: String,
    pub status_message: Option<String>,
    pub tags: Vec<Tag>,
    pub aliases: Vec<String>,
    /// The logged model the version was made from (stored; MLflow 3.17 does not send it).
    pub model_id: Option<String>,
}

/// A model version to create. Empty strings are kept as MLflow keeps them (`run_link: ""`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    /// `None` when the request had no `run_id` field at all.
    pub run_id: Option<String>,
    pub tags: Vec<Tag>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    /// `None` when the request had no `model_id` field at all.
    pub model_id: Option<String>,
}

/// A registered-model or model-version search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegistrySearchRequest {
    pub filter: String,
    pub max_results: Option<i64>,
    pub order_by: Vec<String>,
    pub page_token: Option<String>,
}

/// Maps a stage to its canonical spelling (case-insensitive), as `get_canonical_stage`.
pub fn canonical_stage(stage: &str) -> Result<&'static str> {
    ALL_STAGES
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(stage))
        .ok_or_else(|| {
            MlflowError::invalid(format!(
                "Invalid Model Version stage: {stage}. Value must be one of {}.",
                ALL_STAGES.join(", ")
            ))
        })
}

fn short_missing_value(path: &str) -> MlflowError {
    MlflowError::invalid(format!("Missing value for required parameter '{path}'."))
}

fn bad_path_message(name: &str) -> String {
    format!(
        "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '{}'",
        posix_normpath(name)
    )
}

fn path_not_unique(name: &str) -> bool {
    let norm = posix_normpath(name);
    norm != name || norm == "." || norm.starts_with("..") || norm.starts_with('/')
}

/// `_validate_model_name`: non-blank, no `/` or `:`, path-safe.
pub fn validate_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(short_missing_value("name"));
    }
    if name.contains('/') || name.contains(':') {
        return Err(MlflowError::invalid(format!(
            "Invalid model name '{name}'. Names cannot contain '/' or ':'."
        )));
    }
    if path_not_unique(name) {
        return Err(invalid_value("name", name, &bad_path_message(name)));
    }
    Ok(())
}

/// `_validate_model_renaming`.
pub fn validate_model_renaming(new_name: &str) -> Result<()> {
    if new_name.trim().is_empty() {
        return Err(short_missing_value("new_name"));
    }
    validate_model_name(new_name)
}

/// `_validate_model_version`: the version must be an integer (Python's `int()`).
pub fn parse_model_version(version: &str) -> Result<i64> {
    version.trim().parse::<i64>().map_err(|_| {
        MlflowError::invalid(format!(
            "Parameter 'version' must be an integer, got '{version}'."
        ))
    })
}

/// `_validate_tag_name` (characters and path safety, with the short missing-value message).
pub fn validate_tag_name(key: &str) -> Result<()> {
    validate_key(key, "key")
}

fn check_len(entity: &str, limit: usize, value: &str) -> Result<()> {
    if value.chars().count() > limit {
        return Err(exceeds_maximum_length(entity, limit));
    }
    Ok(())
}

/// `_validate_registered_model_tag`.
pub fn validate_registered_model_tag(key: &str, value: &str) -> Result<()> {
    validate_tag_name(key)?;
    check_len("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)?;
    check_len("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)
}

/// `_validate_model_version_tag`.
pub fn validate_model_version_tag(key: &str, value: &str) -> Result<()> {
    validate_tag_name(key)?;
    check_len("key", MAX_MODEL_REGISTRY_TAG_KEY_LENGTH, key)?;
    if key == PROMPT_TEXT_TAG_KEY && value.chars().count() > MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH {
        return Err(MlflowError::invalid(format!(
            "Prompt text exceeds max length of {MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH} characters."
        )));
    }
    check_len("value", MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH, value)
}

/// `_validate_model_alias_name`: non-empty, `^[\w\-]*$`, at most 255 characters.
pub fn validate_alias_name(alias: &str) -> Result<()> {
    if alias.is_empty() {
        return Err(MlflowError::invalid(
            "Registered model alias name cannot be empty.",
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Err(MlflowError::invalid(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )));
    }
    check_len(
        "Registered model alias name",
        MAX_REGISTERED_MODEL_ALIAS_LENGTH,
        alias,
    )
}

/// `_validate_model_alias_name_reserved`: `latest` (any case) and `v<digits>` are reserved.
pub fn validate_alias_not_reserved(alias: &str) -> Result<()> {
    if alias.eq_ignore_ascii_case("latest") {
        return Err(MlflowError::invalid(
            "'latest' alias name (case insensitive) is reserved.",
        ));
    }
    let mut chars = alias.chars();
    let version_like = matches!(chars.next(), Some('v' | 'V'))
        && !alias[1..].is_empty()
        && alias[1..].chars().all(|c| c.is_ascii_digit());
    if version_like {
        return Err(MlflowError::invalid(format!(
            "Version alias name '{alias}' is reserved."
        )));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Model version sources
// ------------------------------------------------------------------------------------------------

/// A parsed `models:/` URI (`_parse_model_uri`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelUri {
    /// `models:/<model_id>` — a logged model.
    ModelId(String),
    /// `models:/<name>/<version>`.
    Version { name: String, version: String },
    /// `models:/<name>/<stage>`.
    Stage { name: String, stage: String },
    /// `models:/<name>/latest`.
    Latest { name: String },
    /// `models:/<name>@<alias>`.
    Alias { name: String, alias: String },
}

fn improper_model_uri(uri: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/name/suffix' or 'models:/name@alias' where suffix is a version, stage, or the string 'latest'."
    ))
}

/// Splits `scheme:rest` the way `urllib.parse.urlparse` finds a scheme.
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// `(netloc, path)` of a URI with the given scheme (`scheme://netloc/path` or `scheme:/path`).
fn netloc_and_path<'a>(uri: &'a str, scheme: &str) -> (&'a str, &'a str) {
    let rest = &uri[scheme.len() + 1..];
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        },
        None => ("", rest),
    }
}

/// Parses a `models:/` URI.
pub fn parse_model_uri(uri: &str) -> Result<ModelUri> {
    if uri_scheme(uri).map(str::to_ascii_lowercase).as_deref() != Some("models") {
        return Err(improper_model_uri(uri));
    }
    let rest = &uri["models:".len()..];
    let (netloc, path) = match rest.strip_prefix("//") {
        Some(after) => match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        },
        None => ("", rest),
    };
    let _ = netloc;
    let path = path.split('?').next().unwrap_or(path);
    if !path.starts_with('/') || path.len() <= 1 {
        return Err(improper_model_uri(uri));
    }
    let parts: Vec<&str> = path[1..].split('/').collect();
    if parts.len() > 2 || parts[0].trim().is_empty() {
        return Err(improper_model_uri(uri));
    }
    if let [name, suffix] = parts[..] {
        if suffix.trim().is_empty() {
            return Err(improper_model_uri(uri));
        }
        return Ok(if suffix.chars().all(|c| c.is_ascii_digit()) {
            ModelUri::Version {
                name: name.into(),
                version: suffix.into(),
            }
        } else if suffix.eq_ignore_ascii_case("latest") {
            ModelUri::Latest { name: name.into() }
        } else {
            ModelUri::Stage {
                name: name.into(),
                stage: suffix.into(),
            }
        });
    }
    if path.contains('@') {
        return match parts[0].rsplit_once('@') {
            Some((name, alias)) if !alias.trim().is_empty() => Ok(ModelUri::Alias {
                name: name.into(),
                alias: alias.into(),
            }),
            _ => Err(improper_model_uri(uri)),
        };
    }
    Ok(ModelUri::ModelId(parts[0].into()))
}

/// Whether a URI names a local path (`/x`, `x`, `file:/x`, `file://localhost/x`).
pub fn is_local_uri(uri: &str) -> bool {
    match uri_scheme(uri) {
        None => true,
        // A one-letter "scheme" is a Windows drive; MLflow treats it as local on Windows only.
        Some(s) if s.eq_ignore_ascii_case("file") => {
            let (netloc, _) = netloc_and_path(uri, s);
            let host = netloc.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
            host.is_empty()
                || host == "."
                || host.starts_with("localhost")
                || host.starts_with("127.0.0.1")
        }
        Some(_) => false,
    }
}

/// Percent-decodes `s` (invalid escapes are kept), with `+` as space when `plus` is set.
fn percent_decode(s: &str, plus: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fully_unquoted(s: &str, plus: bool) -> String {
    let mut current = s.to_string();
    loop {
        let next = percent_decode(&current, plus);
        if next == current {
            return current;
        }
        current = next;
    }
}

/// `_validate_non_local_source_contains_relative_paths`: rejects `..` segments, NUL bytes
/// and paths that change when normalized, after repeated URL-decoding.
pub fn validate_source_has_no_relative_paths(source: &str) -> Result<()> {
    let invalid = || {
        MlflowError::invalid(format!(
            "Invalid model version source: '{source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path."
        ))
    };
    let decoded = fully_unquoted(source, true);
    let path = match uri_scheme(&decoded) {
        Some(scheme) => netloc_and_path(&decoded, scheme).1.to_string(),
        None => decoded.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    let mut collapsed = String::with_capacity(path.len());
    for c in path.trim_end_matches('/').chars() {
        if c == '/' && collapsed.ends_with('/') {
            continue;
        }
        collapsed.push(c);
    }
    if collapsed.contains('\0') || decoded.split('/').any(|p| p == "..") {
        return Err(invalid());
    }
    // `Path(p).resolve()` of a relative path prefixes the working directory, so only
    // absolute (or empty) paths can survive the comparison.
    if !collapsed.is_empty() {
        let resolved = posix_normpath(&collapsed);
        let resolved = if collapsed.starts_with('/') {
            resolved
        } else {
            String::new()
        };
        if resolved != collapsed {
            return Err(invalid());
        }
    }
    Ok(())
}

/// The scheme-independent pieces of a URI for "is this inside that root" checks:
/// lower-cased scheme and authority, and the decoded non-empty path segments.
pub fn normalized_uri_parts(uri: &str) -> (String, String, Vec<String>) {
    let (scheme, netloc, path) = match uri_scheme(uri) {
        Some(s) => {
            let (n, p) = netloc_and_path(uri, s);
            (s.to_ascii_lowercase(), n.to_ascii_lowercase(), p)
        }
        None => (
            String::new(),
            String::new(),
            uri.split(['?', '#']).next().unwrap_or(""),
        ),
    };
    let parts = path
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| fully_unquoted(p, false))
        .collect();
    (scheme, netloc, parts)
}

/// `_is_uri_within_root`.
pub fn is_uri_within_root(source: &str, root: &str) -> bool {
    let (ss, sa, sp) = normalized_uri_parts(source);
    let (rs, ra, rp) = normalized_uri_parts(root);
    ss == rs && sa == ra && !rp.is_empty() && sp.len() >= rp.len() && sp[..rp.len()] == rp[..]
}

/// `_is_mlflow_artifact_source`: `mlflow-artifacts:` URIs, or http(s) URLs of the proxied
/// artifact API.
pub fn is_mlflow_artifact_source(source: &str) -> bool {
    let (scheme, _, parts) = normalized_uri_parts(source);
    if scheme == "mlflow-artifacts" {
        return true;
    }
    let route = ["api", "2.0", "mlflow-artifacts", "artifacts"];
    (scheme == "http" || scheme == "https")
        && parts
            .windows(route.len())
            .any(|w| w.iter().zip(route).all(|(a, b)| a == b))
}

/// `runs:/<run_id>/<path>` → the run id.
pub fn runs_uri_run_id(uri: &str) -> Option<String> {
    let scheme = uri_scheme(uri)?;
    if !scheme.eq_ignore_ascii_case("runs") {
        return None;
    }
    let (_, path) = netloc_and_path(uri, scheme);
    let id = path.trim_start_matches('/').split('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}

pub fn invalid_source_for(source: &str, id_name: &str) -> MlflowError {
    MlflowError::invalid(format!(
        "Invalid model version source: '{source}'. The {id_name} request parameter must identify the resource that contains the source."
    ))
}

/// Schemes whose artifact repositories connect to the host named in the URI
/// (`mlflow/store/artifact/host_policy.py`).
const HOST_ADDRESSED_SCHEMES: &[&str] = &[
    "ftp",
    "sftp",
    "hdfs",
    "viewfs",
    "http",
    "https",
    "mlflow-artifacts",
    "r2",
    "b2",
    "abfss",
];

/// The host-addressed scheme of `uri` when MLflow's server would refuse it as a model
/// version source, `None` when acceptable. `allowed` are the schemes allowed by
/// `MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES`; `trusted_root` is the server's own
/// artifact root (a source on the same host and port is fine).
pub fn rejected_host_addressed_scheme(
    uri: &str,
    allowed: &[String],
    trusted_root: &str,
) -> Option<String> {
    let scheme = uri_scheme(uri)?.to_ascii_lowercase();
    if !HOST_ADDRESSED_SCHEMES.contains(&scheme.as_str()) {
        return None;
    }
    let (netloc, _) = netloc_and_path(uri, &scheme);
    if scheme == "mlflow-artifacts" && netloc.is_empty() {
        return None;
    }
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&scheme)) {
        return None;
    }
    let family = |s: &str| match s {
        "viewfs" => "hdfs".to_string(),
        "https" | "mlflow-artifacts" => "http".to_string(),
        s => s.to_string(),
    };
    let target = |u: &str| -> Option<(String, String)> {
        let s = uri_scheme(u)?.to_ascii_lowercase();
        let (n, _) = netloc_and_path(u, &s);
        let host = n.rsplit('@').next().unwrap_or("").to_ascii_lowercase();
        Some((family(&s), host))
    };
    match (target(uri), target(trusted_root)) {
        (Some(a), Some(b)) if a == b && !b.1.is_empty() => None,
        _ => Some(scheme),
    }
}

pub fn host_addressed_rejection_message(scheme: &str, field_name: &str) -> String {
    format!(
        "'{field_name}' cannot use the '{scheme}' scheme: the '{scheme}' scheme addresses a host other than the tracking server's configured artifact storage, so the server would connect to the host named in the URI. Set the MLFLOW_ALLOWED_HOST_ADDRESSED_ARTIFACT_SCHEMES environment variable on the server to allow it."
    )
}

// ------------------------------------------------------------------------------------------------
// Webhooks
// ------------------------------------------------------------------------------------------------

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $num:expr, $wire:expr, $lower:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// The protobuf enum name, as sent in JSON.
            pub fn as_proto(self) -> &'static str {
                match self { $($name::$variant => $wire),* }
            }
            /// The lower-case name used in payloads and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $lower),* }
            }
            /// Parses the proto name, the proto number or the lower-case name.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($wire | $lower => Some($name::$variant),)*
                    _ => match s.parse::<i64>() {
                        $(Ok(n) if n == $num => Some($name::$variant),)*
                        _ => None,
                    },
                }
            }
        }
    };
}

wire_enum!(
    /// `WebhookEntity`.
    WebhookEntity {
        RegisteredModel = 1, "REGISTERED_MODEL", "registered_model";
        ModelVersion = 2, "MODEL_VERSION", "model_version";
        ModelVersionTag = 3, "MODEL_VERSION_TAG", "model_version_tag";
        ModelVersionAlias = 4, "MODEL_VERSION_ALIAS", "model_version_alias";
        Prompt = 5, "PROMPT", "prompt";
        PromptVersion = 6, "PROMPT_VERSION", "prompt_version";
        PromptTag = 7, "PROMPT_TAG", "prompt_tag";
        PromptVersionTag = 8, "PROMPT_VERSION_TAG", "prompt_version_tag";
        PromptAlias = 9, "PROMPT_ALIAS", "prompt_alias";
        BudgetPolicy = 10, "BUDGET_POLICY", "budget_policy";
    }
);

wire_enum!(
    /// `WebhookAction`.
    WebhookAction {
        Created = 1, "CREATED", "created";
        Updated = 2, "UPDATED", "updated";
        Deleted = 3, "DELETED", "deleted";
        Set = 4, "SET", "set";
        Exceeded = 5, "EXCEEDED", "exceeded";
    }
);

wire_enum!(
    /// `WebhookStatus`.
    WebhookStatus {
        Active = 1, "ACTIVE", "active";
        Disabled = 2, "DISABLED", "disabled";
    }
);

/// One event a webhook subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebhookEvent {
    pub entity: WebhookEntity,
    pub action: WebhookAction,
}

impl WebhookEvent {
    /// Builds an event, checking the entity/action combination (`VALID_ENTITY_ACTIONS`).
    pub fn new(entity: WebhookEntity, action: WebhookAction) -> Result<Self> {
        let valid = Self::valid_actions(entity);
        if !valid.contains(&action) {
            let mut names: Vec<&str> = valid.iter().map(|a| a.as_str()).collect();
            names.sort_unstable();
            let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            return Err(MlflowError::invalid(format!(
                "Invalid action '{}' for entity '{}'. Valid actions are: [{}]",
                action.as_str(),
                entity.as_str(),
                list.join(", ")
            )));
        }
        Ok(WebhookEvent { entity, action })
    }

    pub fn valid_actions(entity: WebhookEntity) -> &'static [WebhookAction] {
        use WebhookAction::*;
        match entity {
            WebhookEntity::RegisteredModel
            | WebhookEntity::ModelVersion
            | WebhookEntity::Prompt
            | WebhookEntity::PromptVersion => &[Created],
            WebhookEntity::ModelVersionTag
            | WebhookEntity::PromptTag
            | WebhookEntity::PromptVersionTag => &[Set, Deleted],
            WebhookEntity::ModelVersionAlias | WebhookEntity::PromptAlias => &[Created, Deleted],
            WebhookEntity::BudgetPolicy => &[Exceeded],
        }
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.entity.as_str(), self.action.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub webhook_id: String,
    pub name: String,
    pub description: Option<String>,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub status: WebhookStatus,
    /// The HMAC key; never sent back to clients.
    pub secret: Option<String>,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
    pub secret: Option<String>,
    pub status: Option<WebhookStatus>,
}

/// Changes to a webhook; `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebhookUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    pub secret: Option<String>,
    pub status: Option<WebhookStatus>,
}

/// `_validate_webhook_name`: 1–63 characters, letters, digits, `.`, `_`, `-`, starting and
/// ending with a letter or digit.
pub fn validate_webhook_name(name: &str) -> Result<()> {
    let ok_edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let valid = (1..=63).contains(&name.chars().count())
        && ok_edge(name.chars().next())
        && ok_edge(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(MlflowError::invalid(format!(
            "Webhook name {} is invalid. It must start and end with a letter or digit, be less than 63 characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-).",
            py_repr(name)
        )));
    }
    Ok(())
}

/// `_validate_webhook_events`.
pub fn validate_webhook_events(events: &[WebhookEvent]) -> Result<()> {
    if events.is_empty() {
        return Err(MlflowError::invalid(
            "Webhook events must be a non-empty list of WebhookEvent objects: [].",
        ));
    }
    Ok(())
}

/// The parts of `_validate_webhook_url` that need no IO; returns the URL's host.
/// `allowed_schemes` is `MLFLOW_WEBHOOK_ALLOWED_SCHEMES` (default `https`).
pub fn validate_webhook_url_syntax<'a>(
    url: &'a str,
    allowed_schemes: &[String],
) -> Result<&'a str> {
    if url.trim().is_empty() {
        return Err(MlflowError::invalid(format!(
            "Webhook URL cannot be empty or just whitespace: {}",
            py_repr(url)
        )));
    }
    let scheme = uri_scheme(url)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !allowed_schemes.iter().any(|s| s == &scheme) {
        return Err(MlflowError::invalid(format!(
            "Invalid webhook URL scheme: {}. Allowed schemes are: {}.",
            py_repr(&scheme),
            allowed_schemes.join(", ")
        )));
    }
    let (netloc, _) = netloc_and_path(url, &scheme);
    let hostport = netloc.rsplit('@').next().unwrap_or("");
    let host = if let Some(rest) = hostport.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        return Err(MlflowError::invalid(format!(
            "Webhook URL must include a hostname: {}",
            py_repr(url)
        )));
    }
    Ok(host)
}

/// Whether an address is publicly routable (Python's `is_global`, with IPv6 transition
/// formats unwrapped to the IPv4 address they carry, as MLflow's `_is_public_ip`).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    const NON_GLOBAL: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),
        ([10, 0, 0, 0], 8),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
        ([172, 16, 0, 0], 12),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([192, 168, 0, 0], 16),
        ([198, 18, 0, 0], 15),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    !NON_GLOBAL.iter().any(|(net, p)| in_v4(ip, *net, *p))
}

fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    None
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments
        || s[..4] == [0x100, 0, 0, 0]) // discard-only
}

/// Python's `repr()` of a string, for messages copied from MLflow.
fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_canonical() {
        assert_eq!(canonical_stage("production").unwrap(), "Production");
        assert_eq!(canonical_stage("NONE").unwrap(), "None");
        assert_eq!(
            canonical_stage("prod").unwrap_err().message,
            "Invalid Model Version stage: prod. Value must be one of None, Staging, Production, Archived."
        );
    }

    #[test]
    fn names_and_aliases() {
        assert!(validate_model_name("my-model v1").is_ok());
        assert!(validate_model_name("a/b").is_err());
        assert!(validate_model_name("a:b").is_err());
        assert!(validate_model_name(" ").is_err());
        assert!(validate_model_name("..").is_err());
        assert!(validate_alias_name("champion_1-a").is_ok());
        assert!(validate_alias_name("bad alias").is_err());
        assert!(validate_alias_name("").is_err());
        assert!(validate_alias_name(&"a".repeat(256)).is_err());
        assert!(validate_alias_not_reserved("Latest").is_err());
        assert!(validate_alias_not_reserved("v12").is_err());
        assert!(validate_alias_not_reserved("V1").is_err());
        assert!(validate_alias_not_reserved("v").is_ok());
        assert!(validate_alias_not_reserved("v1a").is_ok());
        assert_eq!(parse_model_version("3").unwrap(), 3);
        assert_eq!(
            parse_model_version("x").unwrap_err().message,
            "Parameter 'version' must be an integer, got 'x'."
        );
    }

    #[test]
    fn model_uris() {
        assert_eq!(
            parse_model_uri("models:/m-abc").unwrap(),
            ModelUri::ModelId("m-abc".into())
        );
        assert_eq!(
            parse_model_uri("models:/lin/3").unwrap(),
            ModelUri::Version {
                name: "lin".into(),
                version: "3".into()
            }
        );
        assert_eq!(
            parse_model_uri("models:/lin@champ").unwrap(),
            ModelUri::Alias {
                name: "lin".into(),
                alias: "champ".into()
            }
        );
        assert_eq!(
            parse_model_uri("models:/lin/Production").unwrap(),
            ModelUri::Stage {
                name: "lin".into(),
                stage: "Production".into()
            }
        );
        assert!(parse_model_uri("models:/a/b/c").is_err());
        assert!(parse_model_uri("models:/").is_err());
    }

    #[test]
    fn sources() {
        assert!(validate_source_has_no_relative_paths("s3://bucket/models/m").is_ok());
        assert!(
            validate_source_has_no_relative_paths("mlflow-artifacts:/1/abc/artifacts/model")
                .is_ok()
        );
        assert!(validate_source_has_no_relative_paths("runs:/abc/model").is_ok());
        assert!(validate_source_has_no_relative_paths("s3://b/a/../../x").is_err());
        assert!(
            validate_source_has_no_relative_paths("mlflow-artifacts://h:1/..%2f..%2fx").is_err()
        );
        assert!(validate_source_has_no_relative_paths("file:///a/./b").is_err());
        assert!(is_uri_within_root(
            "mlflow-artifacts:/1/r/artifacts/model",
            "mlflow-artifacts:/1/r/artifacts"
        ));
        assert!(!is_uri_within_root(
            "mlflow-artifacts:/1/other/artifacts/model",
            "mlflow-artifacts:/1/r/artifacts"
        ));
        assert!(is_mlflow_artifact_source(
            "http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/x"
        ));
        assert!(!is_mlflow_artifact_source("s3://b/x"));
        assert_eq!(runs_uri_run_id("runs:/abc/model").as_deref(), Some("abc"));
        assert!(is_local_uri("/tmp/x"));
        assert!(is_local_uri("file:///tmp/x"));
        assert!(!is_local_uri("s3://b/x"));
        assert_eq!(
            rejected_host_addressed_scheme("https://evil/x", &[], "mlflow-artifacts:").as_deref(),
            Some("https")
        );
        assert_eq!(
            rejected_host_addressed_scheme("mlflow-artifacts:/1/x", &[], "mlflow-artifacts:"),
            None
        );
        assert_eq!(
            rejected_host_addressed_scheme("https://evil/x", &["https".into()], ""),
            None
        );
    }

    #[test]
    fn webhook_rules() {
        assert!(validate_webhook_name("hook-1.a_b").is_ok());
        assert!(validate_webhook_name("-bad").is_err());
        assert!(validate_webhook_name(&"a".repeat(64)).is_err());
        let err =
            WebhookEvent::new(WebhookEntity::RegisteredModel, WebhookAction::Deleted).unwrap_err();
        assert_eq!(
            err.message,
            "Invalid action 'deleted' for entity 'registered_model'. Valid actions are: ['created']"
        );
        let https = vec!["https".to_string()];
        assert_eq!(
            validate_webhook_url_syntax("https://example.com/x", &https).unwrap(),
            "example.com"
        );
        assert!(validate_webhook_url_syntax("http://example.com/x", &https).is_err());
        assert_eq!(
            validate_webhook_url_syntax("https://[::1]:8/x", &https).unwrap(),
            "::1"
        );
        for (ip, public) in [
            ("8.8.8.8", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("::1", false),
            ("::ffff:127.0.0.1", false),
            ("2606:4700::1111", true),
            ("fd00::1", false),
        ] {
            assert_eq!(is_public_ip(ip.parse().unwrap()), public, "{ip}");
        }
    }
}
