//! The basic-auth app (`mlox server --app-name basic-auth`), wire-compatible with MLflow's
//! `mlflow.server.auth`: HTTP Basic (or a personal access token as `Bearer`, or a trusted
//! proxy's `X-Forwarded-User`) on every path but `/health` and server-info;
//! READ/USE/EDIT/MANAGE/DENY grants on experiments and registered models; MLflow's user and
//! permission endpoints.
//!
//! **Invariant:** one layer ([`middleware`]) authenticates and authorizes every request
//! before any handler runs; a request that fails either gets 401 or 403 and reaches no
//! handler. After a handler, the layer only records ownership (the creator's MANAGE) and
//! filters search answers down to what the user may read.

mod config;
pub mod password;
mod rules;
mod users;

pub use config::AuthConfig;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use mlox_core::auth::{AuthStore, Permission, User};
use mlox_core::{ErrorCode, MlflowError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{error_response, ApiError};
use crate::request::{query_fields, MAX_JSON_BODY};
use crate::AppState;
use rules::{Action, Filter, Rule, Target};

const UNAUTHENTICATED_MSG: &str = "You are not authenticated. Please see \
     https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow \
     on how to authenticate.";
/// Caches are dropped whole when they reach this many entries.
const CACHE_LIMIT: usize = 100_000;

/// (user id, resource type, resource id).
type GrantKey = (i64, &'static str, String);

/// The authenticated user of a request, for the user-management handlers.
#[derive(Clone, Debug)]
pub(crate) struct Identity(pub User);

/// The basic-auth app: its store, settings and caches.
pub struct Auth {
    store: Arc<dyn AuthStore>,
    tracking: AppState,
    default_permission: Permission,
    is_basic_auth: bool,
    /// `X-Forwarded-User` is believed only from these addresses.
    trusted_proxies: Vec<IpAddr>,
    /// A per-process key: credentials are cached by an HMAC of the password, never in clear.
    cache_key: [u8; 32],
    users: RwLock<HashMap<String, User>>,
    /// (username, keyed digest of the password) → the stored hash it was checked against.
    verified: Mutex<HashMap<(String, [u8; 32]), String>>,
    grants: RwLock<HashMap<GrantKey, Option<Permission>>>,
    run_experiments: RwLock<HashMap<String, String>>,
    trace_experiments: RwLock<HashMap<String, String>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("default_permission", &self.default_permission)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Opens the app over `store`, creating the admin user on an empty user store as MLflow
    /// does (and refusing to start without an admin password).
    pub async fn start(
        store: Arc<dyn AuthStore>,
        tracking: AppState,
        config: &AuthConfig,
        trusted_proxies: Vec<IpAddr>,
    ) -> Result<Arc<Auth>, MlflowError> {
        let default_permission = Permission::parse(&config.default_permission)
            .ok_or_else(|| {
                MlflowError::invalid(format!(
                    "Invalid default_permission '{}' in the auth configuration: expected one of READ, USE, EDIT, MANAGE, NO_PERMISSIONS, DENY",
                    config.default_permission
                ))
            })?;
        config::bootstrap_admin(store.as_ref(), config).await?;
        let mut cache_key = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut cache_key);
        Ok(Arc::new(Auth {
            store,
            tracking,
            default_permission,
            is_basic_auth: config.is_basic_auth(),
            trusted_proxies,
            cache_key,
            users: RwLock::default(),
            verified: Mutex::default(),
            grants: RwLock::default(),
            run_experiments: RwLock::default(),
            trace_experiments: RwLock::default(),
        }))
    }

    /// `router` with the user-management routes added, behind the authentication and
    /// authorization layer.
    pub fn wrap(self: Arc<Self>, router: Router) -> Router {
        router
            .merge(users::router().with_state(self.clone()))
            .layer(axum::middleware::from_fn_with_state(self, middleware))
    }

    /// `router` behind the authentication and authorization layer only (for routes served
    /// outside the main router, such as `/metrics`).
    pub fn guard(self: Arc<Self>, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self, middleware))
    }

    // ------------------------------------------------------------------ users

    async fn user(&self, username: &str) -> Result<Option<User>, MlflowError> {
        if let Some(u) = self.users.read().unwrap().get(username) {
            return Ok(Some(u.clone()));
        }
        let user = self.store.find_user(username).await?;
        if let Some(u) = &user {
            let mut cache = self.users.write().unwrap();
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(username.to_string(), u.clone());
        }
        Ok(user)
    }

    /// Forgets what is cached about users (after any change to one).
    fn users_changed(&self) {
        self.users.write().unwrap().clear();
        self.verified.lock().unwrap().clear();
    }

    fn grants_changed(&self) {
        self.grants.write().unwrap().clear();
    }

    fn digest(&self, secret: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.cache_key);
        h.update(secret.as_bytes());
        h.finalize().into()
    }

    /// The user whose password this is; PBKDF2 runs once per (user, password) while the
    /// stored hash is unchanged.
    async fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, MlflowError> {
        let Some(user) = self.user(username).await? else {
            return Ok(None);
        };
        let key = (username.to_string(), self.digest(password));
        if self.verified.lock().unwrap().get(&key) == Some(&user.password_hash) {
            return Ok(Some(user));
        }
        let (stored, pw) = (user.password_hash.clone(), password.to_string());
        let ok = tokio::task::spawn_blocking(move || password::verify(&stored, &pw))
            .await
            .unwrap_or(false);
        if !ok {
            return Ok(None);
        }
        let mut verified = self.verified.lock().unwrap();
        if verified.len() >= CACHE_LIMIT {
            verified.clear();
        }
        verified.insert(key, user.password_hash.clone());
        Ok(Some(user))
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<Option<User>, MlflowError> {
        if let Some(peer) = peer.filter(|p| self.trusted_proxies.contains(p)) {
            if let Some(name) = headers
                .get("x-forwarded-user")
                .or_else(|| headers.get("x-forwarded-email"))
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
            {
                tracing::debug!(%peer, user = name, "trusted proxy header");
                return self.proxy_user(name).await.map(Some);
            }
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
                return Ok(None);
            };
            let Ok(raw) = String::from_utf8(raw) else {
                return Ok(None);
            };
            let Some((username, password)) = raw.split_once(':') else {
                return Ok(None);
            };
            return self.check_password(username, password).await;
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.token_user(rest.trim()).await;
        }
        Ok(None)
    }

    /// The user a trusted proxy names, created (without a usable password) on first sight.
    async fn proxy_user(&self, name: &str) -> Result<User, MlflowError> {
        if let Some(u) = self.user(name).await? {
            return Ok(u);
        }
        // A random password nobody knows: such users log in only through the proxy.
        let mut secret = [0u8; 32];
        rand::Rng::fill(&mut rand::thread_rng(), &mut secret);
        let hash = password::hash_with(&hex(&secret), 1);
        match self.store.create_user(name, &hash, false).await {
            Ok(u) => Ok(u),
            Err(e) if e.code == ErrorCode::RESOURCE_ALREADY_EXISTS => self
                .user(name)
                .await?
                .ok_or_else(|| MlflowError::internal("user vanished")),
            Err(e) => Err(e),
        }
    }

    async fn token_user(&self, token: &str) -> Result<Option<User>, MlflowError> {
        if !token.starts_with(users::TOKEN_PREFIX) {
            return Ok(None);
        }
        let user = self.store.find_token_user(&token_hash(token)).await?;
        Ok(user)
    }

    // ------------------------------------------------------------ permissions

    async fn grant(
        &self,
        user: &User,
        resource_type: &'static str,
        id: &str,
    ) -> Result<Option<Permission>, MlflowError> {
        let key = (user.id, resource_type, id.to_string());
        if let Some(p) = self.grants.read().unwrap().get(&key) {
            return Ok(*p);
        }
        let p = self
            .store
            .get_grant(user.id, resource_type, id)
            .await?
            .and_then(|p| Permission::parse(&p));
        let mut grants = self.grants.write().unwrap();
        if grants.len() >= CACHE_LIMIT {
            grants.clear();
        }
        grants.insert(key, p);
        Ok(p)
    }

    pub(crate) async fn experiment_permission(
        &self,
        user: &User,
        experiment_id: &str,
    ) -> Result<Permission, MlflowError> {
        let grant = self.grant(user, "experiment", experiment_id).await?;
        Ok(Permission::effective(grant, self.default_permission))
    }

    /// A registered model's or prompt's permission (their names are unique together).
    pub(crate) async fn model_permission(
        &self,
        user: &User,
        name: &str,
    ) -> Result<Permission, MlflowError> {
        let grant = match self.grant(user, "registered_model", name).await? {
            Some(p) => Some(p),
            None => self.grant(user, "prompt", name).await?,
        };
        Ok(Permission::effective(grant, self.default_permission))
    }

    /// The permission for a resource of `resource_type`.
    pub(crate) async fn resource_permission(
        &self,
        user: &User,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Permission, MlflowError> {
        match resource_type {
            "experiment" => self.experiment_permission(user, resource_id).await,
            _ => self.model_permission(user, resource_id).await,
        }
    }

    async fn run_experiment(&self, run_id: &str) -> Result<Option<String>, MlflowError> {
        if let Some(e) = self.run_experiments.read().unwrap().get(run_id) {
            return Ok(Some(e.clone()));
        }
        let exp = match self.tracking.store.get_run(run_id).await {
            Ok(run) => run.info.experiment_id,
            Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut cache = self.run_experiments.write().unwrap();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(run_id.to_string(), exp.clone());
        Ok(Some(exp))
    }

    /// The experiment of trace `trace_id` (`None`: no such trace).
    async fn trace_experiment(&self, trace_id: &str) -> Result<Option<String>, MlflowError> {
        if let Some(e) = self.trace_experiments.read().unwrap().get(trace_id) {
            return Ok(Some(e.clone()));
        }
        let exp = match self.tracking.models.traces.get_trace_info(trace_id).await {
            Ok(info) => info.experiment_id,
            Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut cache = self.trace_experiments.write().unwrap();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(trace_id.to_string(), exp.clone());
        Ok(Some(exp))
    }

    /// Whether `user` may do `action` on every experiment of `ids` (none: no).
    async fn allowed_on_all(
        &self,
        user: &User,
        ids: &[String],
        action: Action,
    ) -> Result<bool, MlflowError> {
        if ids.is_empty() {
            return Ok(false);
        }
        for id in ids {
            if !permits(self.experiment_permission(user, id).await?, action) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `user` may do `action` on the experiment of each trace of `ids` (an unknown
    /// trace: no, as MLflow answers it, so that ids are no oracle).
    async fn allowed_on_traces(
        &self,
        user: &User,
        ids: &[String],
        action: Action,
    ) -> Result<bool, MlflowError> {
        if ids.is_empty() {
            return Ok(false);
        }
        for id in ids {
            let ok = match self.trace_experiment(id).await? {
                Some(exp) => permits(self.experiment_permission(user, &exp).await?, action),
                None => false,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `user` may do `action` on every experiment dataset `id` is linked to (a
    /// dataset that does not exist or is linked to none: no, as MLflow answers).
    async fn allowed_on_dataset(
        &self,
        user: &User,
        id: &str,
        action: Action,
    ) -> Result<bool, MlflowError> {
        let ids = match self
            .tracking
            .models
            .eval
            .get_dataset_experiment_ids(id)
            .await
        {
            Ok(ids) => ids,
            Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => return Ok(false),
            Err(e) => return Err(e),
        };
        self.allowed_on_all(user, &ids, action).await
    }

    /// Whether `user` may do `action` on `target`; `Ok(None)` lets the handler answer (a
    /// resource that does not exist where MLflow reports it as such).
    async fn allowed(
        &self,
        user: &User,
        target: &Target,
        action: Action,
        params: &Map<String, Value>,
    ) -> Result<bool, ApiError> {
        let param = |key: &str| -> Result<String, ApiError> {
            match params.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(Value::Number(n)) => Ok(n.to_string()),
                _ => Err(ApiError::new(
                    ErrorCode::INVALID_PARAMETER_VALUE,
                    format!("Missing value for required parameter '{key}'. See the API docs for more information about request parameters."),
                )),
            }
        };
        let permission = match target {
            Target::ExperimentParam => {
                self.experiment_permission(user, &param("experiment_id")?)
                    .await?
            }
            Target::Experiment(id) => self.experiment_permission(user, id).await?,
            Target::ExperimentNameParam => {
                let name = param("experiment_name")?;
                match self.tracking.store.get_experiment_by_name(&name).await {
                    Ok(e) => self.experiment_permission(user, &e.experiment_id).await?,
                    // The handler answers MLflow's not-found.
                    Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => {
                        self.default_permission
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Target::RunParam => {
                let run_id = param("run_id").or_else(|_| param("run_uuid"))?;
                // A run that does not exist is denied, not reported (MLflow: no oracle).
                match self.run_experiment(&run_id).await? {
                    Some(exp) => self.experiment_permission(user, &exp).await?,
                    None => Permission::NoPermissions,
                }
            }
            Target::RunIdsParam => {
                let ids: Vec<String> = match params.get("run_ids") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                    Some(Value::String(s)) => vec![s.clone()],
                    _ => vec![],
                };
                for id in ids {
                    let ok = match self.run_experiment(&id).await? {
                        Some(exp) => permits(self.experiment_permission(user, &exp).await?, action),
                        None => false,
                    };
                    if !ok {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            Target::LoggedModel(id) => {
                match self
                    .tracking
                    .models
                    .logged_models
                    .get_logged_model(id, true)
                    .await
                {
                    Ok(m) => self.experiment_permission(user, &m.experiment_id).await?,
                    Err(e) if e.code == ErrorCode::RESOURCE_DOES_NOT_EXIST => {
                        Permission::NoPermissions
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Target::ModelNameParam => self.model_permission(user, &param("name")?).await?,
            Target::ExperimentIdsParam => {
                return Ok(self
                    .allowed_on_all(user, &string_list(params.get("experiment_ids")), action)
                    .await?)
            }
            Target::StartTraceExperiment => {
                let id = params
                    .get("trace")
                    .and_then(|t| t.get("trace_info"))
                    .and_then(|t| t.get("trace_location"))
                    .and_then(|t| t.get("mlflow_experiment"))
                    .and_then(|t| t.get("experiment_id"));
                let ids = string_list(id);
                return Ok(self.allowed_on_all(user, &ids, action).await?);
            }
            Target::TraceLocations => {
                let ids: Vec<String> = match params.get("locations") {
                    Some(Value::Array(locs)) => locs
                        .iter()
                        .flat_map(|l| {
                            string_list(
                                l.get("mlflow_experiment")
                                    .and_then(|e| e.get("experiment_id")),
                            )
                        })
                        .collect(),
                    _ => vec![],
                };
                return Ok(self.allowed_on_all(user, &ids, action).await?);
            }
            Target::Trace(id) => {
                return Ok(self
                    .allowed_on_traces(user, std::slice::from_ref(id), action)
                    .await?)
            }
            Target::TraceParam(key) => {
                let id = param(key)?;
                return Ok(self.allowed_on_traces(user, &[id], action).await?);
            }
            Target::TraceIdsParam => {
                let ids = string_list(params.get("trace_ids"));
                return Ok(self.allowed_on_traces(user, &ids, action).await?);
            }
            Target::LinkTracesToRun => {
                let run_id = param("run_id")?;
                let run_ok = match self.run_experiment(&run_id).await? {
                    Some(exp) => permits(self.experiment_permission(user, &exp).await?, action),
                    None => false,
                };
                let ids = string_list(params.get("trace_ids"));
                return Ok(run_ok && self.allowed_on_traces(user, &ids, Action::Read).await?);
            }
            Target::Dataset(id) => {
                return Ok(self.allowed_on_dataset(user, id, action).await?);
            }
            Target::DatasetAddExperiments(id) => {
                let added = string_list(params.get("experiment_ids"));
                return Ok(self.allowed_on_dataset(user, id, action).await?
                    && self.allowed_on_all(user, &added, action).await?);
            }
            // Resolved from the request's headers by the layer.
            Target::ExperimentHeader => Permission::NoPermissions,
        };
        Ok(permits(permission, action))
    }

    /// Whether `user` may read experiment `id` (search filters).
    async fn can_read_experiment(&self, user: &User, id: &str) -> bool {
        self.experiment_permission(user, id)
            .await
            .is_ok_and(|p| p.can_read())
    }

    async fn can_read_model(&self, user: &User, name: &str) -> bool {
        self.model_permission(user, name)
            .await
            .is_ok_and(|p| p.can_read())
    }
}

/// A list field (or a single value) as strings; numbers as their digits.
fn string_list(v: Option<&Value>) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => vec![],
    }
}

fn permits(p: Permission, action: Action) -> bool {
    match action {
        Action::Read => p.can_read(),
        Action::Update => p.can_update(),
        Action::Delete => p.can_delete(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tokens are long random secrets: a fast hash is enough to keep them unusable if the
/// database leaks.
pub(crate) fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// 401 with MLflow's text and a Basic challenge (so browsers prompt).
fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::WWW_AUTHENTICATE, "Basic realm=\"mlflow\""),
        ],
        UNAUTHENTICATED_MSG,
    )
        .into_response()
}

pub(crate) fn forbidden() -> Response {
    error_response(ErrorCode::PERMISSION_DENIED, "Permission denied")
}

/// The request's fields (query string for GET, else the JSON body, falling back to the
/// query string), and the body to hand on.
// The error is the answer to send, not something to inspect: its size does not matter.
#[allow(clippy::result_large_err)]
async fn read_params(req: Request) -> Result<(Request, Map<String, Value>), Response> {
    let query = req.uri().query().unwrap_or("").to_string();
    if req.method() == Method::GET && !query.is_empty() {
        return Ok((req, query_fields(&query)));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                ErrorCode::RESOURCE_EXHAUSTED,
                format!("Request body is too large: the limit is {MAX_JSON_BODY} bytes"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
            .into_response()
        })?;
    let mut fields = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => m,
        Ok(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    if fields.is_empty() && !query.is_empty() {
        fields = query_fields(&query);
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), fields))
}

/// The JSON of a successful answer, or `None` (the answer is handed back untouched).
async fn response_json(resp: Response) -> (axum::http::response::Parts, Option<Value>, Bytes) {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let json = if parts.status == StatusCode::OK {
        serde_json::from_slice(&bytes).ok()
    } else {
        None
    };
    (parts, json, bytes)
}

fn json_response(mut parts: axum::http::response::Parts, value: &Value) -> Response {
    let body = value.to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// Authentication, then authorization, then the handler; see the module's invariant.
async fn middleware(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let rule = rules::classify(req.method(), req.uri().path());
    if rule == Rule::Public {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let user = match auth.authenticate(req.headers(), peer).await {
        Ok(Some(user)) => user,
        Ok(None) => return unauthenticated(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut req = req;
    // The access log (outside this layer) names the user.
    if let Some(slot) = req.extensions().get::<crate::ops::RequestUser>() {
        slot.set(user.username.clone());
    }
    req.extensions_mut().insert(Identity(user.clone()));
    match authorize(&auth, &user, rule, req, next).await {
        Ok(r) | Err(r) => r,
    }
}

// `Err` is a refusal, already an answer (see `read_params`).
#[allow(clippy::result_large_err)]
async fn authorize(
    auth: &Auth,
    user: &User,
    rule: Rule,
    req: Request,
    next: Next,
) -> Result<Response, Response> {
    let admin = user.is_admin;
    let deny = || Err(forbidden());
    match rule {
        Rule::Public | Rule::Authenticated => Ok(next.run(req).await),
        Rule::Admin => {
            if admin {
                Ok(next.run(req).await)
            } else {
                deny()
            }
        }
        Rule::Unknown => {
            if admin {
                Ok(next.run(req).await)
            } else {
                deny()
            }
        }
        Rule::SelfOrAdmin => {
            let (req, params) = read_params(req).await?;
            let named = params.get("username").and_then(Value::as_str);
            if admin || named == Some(user.username.as_str()) {
                Ok(next.run(req).await)
            } else {
                deny()
            }
        }
        Rule::ManageResource => {
            let (req, params) = read_params(req).await?;
            if admin {
                return Ok(next.run(req).await);
            }
            let rt = params.get("resource_type").and_then(Value::as_str);
            let id = params.get("resource_id").and_then(Value::as_str);
            match (rt, id) {
                (Some(rt), Some(id)) => {
                    let p = auth
                        .resource_permission(user, rt, id)
                        .await
                        .map_err(|e| ApiError::from(e).into_response())?;
                    if p.can_manage() {
                        Ok(next.run(req).await)
                    } else {
                        deny()
                    }
                }
                _ => deny(),
            }
        }
        Rule::Check(target, action) => {
            let (req, params) = if matches!(
                target,
                Target::Experiment(_)
                    | Target::LoggedModel(_)
                    | Target::Trace(_)
                    | Target::Dataset(_)
                    | Target::ExperimentHeader
            ) {
                let q = query_fields(req.uri().query().unwrap_or(""));
                (req, q)
            } else {
                read_params(req).await?
            };
            if admin {
                return Ok(next.run(req).await);
            }
            // An artifact listing names its folder in `path`.
            let target = match target {
                Target::Experiment(e) if e.is_empty() => {
                    match params
                        .get("path")
                        .and_then(Value::as_str)
                        .and_then(rules::experiment_of_path)
                    {
                        Some(e) => Target::Experiment(e),
                        None => return deny(),
                    }
                }
                // OTLP names its experiment in a header (missing: refused, nothing stored).
                Target::ExperimentHeader => {
                    match req
                        .headers()
                        .get("x-mlflow-experiment-id")
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| !v.is_empty())
                    {
                        Some(e) => Target::Experiment(e.to_string()),
                        None => return deny(),
                    }
                }
                t => t,
            };
            if auth
                .allowed(user, &target, action, &params)
                .await
                .map_err(IntoResponse::into_response)?
            {
                let is_rename = req.uri().path().ends_with("/registered-models/rename");
                let is_delete = req.uri().path().ends_with("/registered-models/delete")
                    && req.method() == Method::DELETE;
                let resp = next.run(req).await;
                if resp.status() == StatusCode::OK {
                    after_model_change(auth, &params, is_rename, is_delete).await;
                }
                Ok(resp)
            } else {
                deny()
            }
        }
        Rule::CreateExperiment => {
            let resp = next.run(req).await;
            let (parts, json, bytes) = response_json(resp).await;
            if let Some(id) = json
                .as_ref()
                .and_then(|j| j.get("experiment_id"))
                .and_then(Value::as_str)
            {
                own(auth, user, "experiment", id).await;
            }
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
        Rule::CreateRegisteredModel => {
            let resp = next.run(req).await;
            let (parts, json, bytes) = response_json(resp).await;
            if let Some(model) = json.as_ref().and_then(|j| j.get("registered_model")) {
                let is_prompt = model
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|tags| {
                        tags.iter().any(|t| {
                            t.get("key").and_then(Value::as_str) == Some("mlflow.prompt.is_prompt")
                                && t.get("value").and_then(Value::as_str) == Some("true")
                        })
                    });
                if let Some(name) = model.get("name").and_then(Value::as_str) {
                    let rt = if is_prompt {
                        "prompt"
                    } else {
                        "registered_model"
                    };
                    own(auth, user, rt, name).await;
                }
            }
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
        Rule::SearchRuns => {
            let (req, mut params) = read_params(req).await?;
            if admin {
                return Ok(next.run(req).await);
            }
            let ids: Vec<String> = match params.get("experiment_ids") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => vec![],
            };
            let mut readable = Vec::with_capacity(ids.len());
            for id in &ids {
                if auth.can_read_experiment(user, id).await {
                    readable.push(Value::String(id.clone()));
                }
            }
            if readable.len() == ids.len() {
                return Ok(next.run(req).await);
            }
            if readable.is_empty() {
                return Ok(json_ok(&serde_json::json!({})));
            }
            params.insert("experiment_ids".into(), Value::Array(readable));
            Ok(next.run(with_json_body(req, &params)).await)
        }
        Rule::Filter(filter) => {
            let resp = next.run(req).await;
            if admin {
                return Ok(resp);
            }
            let (parts, json, bytes) = response_json(resp).await;
            let Some(mut json) = json else {
                return Ok(Response::from_parts(parts, Body::from(bytes)));
            };
            filter_answer(auth, user, filter, &mut json).await;
            Ok(json_response(parts, &json))
        }
    }
}

fn json_ok(value: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// The request with `params` as its JSON body (and the query string dropped for a GET).
fn with_json_body(req: Request, params: &Map<String, Value>) -> Request {
    let (mut parts, _) = req.into_parts();
    let body = Value::Object(params.clone()).to_string();
    if parts.method == Method::GET {
        // GET searches carry their fields in the query string: rewrite it.
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            match v {
                Value::Array(items) => {
                    for i in items {
                        q.append_pair(k, i.as_str().unwrap_or(&i.to_string()));
                    }
                }
                Value::String(s) => {
                    q.append_pair(k, s);
                }
                other => {
                    q.append_pair(k, &other.to_string());
                }
            }
        }
        let pq = format!("{}?{}", parts.uri.path(), q.finish());
        if let Ok(uri) = pq.parse() {
            parts.uri = uri;
        }
        return Request::from_parts(parts, Body::empty());
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Request::from_parts(parts, Body::from(body))
}

/// The creator of a resource gets MANAGE on it.
async fn own(auth: &Auth, user: &User, resource_type: &str, id: &str) {
    match auth
        .store
        .insert_grant(user.id, resource_type, id, Permission::Manage.name())
        .await
    {
        Ok(()) => {}
        Err(e) if e.code == ErrorCode::RESOURCE_ALREADY_EXISTS => {}
        Err(e) => tracing::error!(error = %e.message, "recording the creator's permission failed"),
    }
    auth.grants_changed();
}

/// Grants follow a registered model renamed, and go with one deleted.
async fn after_model_change(
    auth: &Auth,
    params: &Map<String, Value>,
    is_rename: bool,
    is_delete: bool,
) {
    let name = params.get("name").and_then(Value::as_str);
    let result = match (name, is_rename, is_delete) {
        (Some(name), true, _) => match params.get("new_name").and_then(Value::as_str) {
            Some(new) => {
                let a = auth
                    .store
                    .rename_resource_grants("registered_model", name, new)
                    .await;
                let b = auth.store.rename_resource_grants("prompt", name, new).await;
                a.and(b)
            }
            None => Ok(()),
        },
        (Some(name), _, true) => {
            let a = auth
                .store
                .delete_resource_grants("registered_model", name)
                .await;
            let b = auth.store.delete_resource_grants("prompt", name).await;
            a.and(b)
        }
        _ => return,
    };
    if let Err(e) = result {
        tracing::error!(error = %e.message, "updating grants after a registry change failed");
    }
    auth.grants_changed();
}

/// Leaves out of a search answer what the user may not read.
async fn filter_answer(auth: &Auth, user: &User, filter: Filter, json: &mut Value) {
    let (field, key): (&str, fn(&Value) -> Option<&str>) = match filter {
        Filter::Experiments => ("experiments", |v| v.get("experiment_id")?.as_str()),
        Filter::RegisteredModels => ("registered_models", |v| v.get("name")?.as_str()),
        Filter::ModelVersions => ("model_versions", |v| v.get("name")?.as_str()),
        Filter::LoggedModels => ("models", |v| v.get("info")?.get("experiment_id")?.as_str()),
    };
    let Some(Value::Array(items)) = json.get_mut(field) else {
        return;
    };
    let mut kept = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        let readable = match key(&item) {
            Some(k) => match filter {
                Filter::Experiments | Filter::LoggedModels => {
                    auth.can_read_experiment(user, k).await
                }
                Filter::RegisteredModels | Filter::ModelVersions => {
                    auth.can_read_model(user, k).await
                }
            },
            None => false,
        };
        if readable {
            kept.push(item);
        }
    }
    *items = kept;
}
