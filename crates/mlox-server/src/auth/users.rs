//! MLflow's user and permission endpoints (`/api/2.0/mlflow/users/…`,
//! `/api/3.0/mlflow/users/…`) and mlox's personal access tokens (`/api/2.0/mlox/tokens/…`).
//! Who may call each is decided before, by the layer (`rules.rs`); these handlers only do
//! the work.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Extension, Json, Router};
use mlox_core::auth::{Permission, ResourceType, User};
use mlox_core::{ErrorCode, MlflowError};
use serde_json::{json, Value};

use super::{config::validate_password, password, Auth, Identity};
use crate::error::ApiError;
use crate::request::Params;

pub(crate) const TOKEN_PREFIX: &str = "mlox_pat_";

type ApiResult = Result<Response, ApiError>;

pub(crate) fn router() -> Router<Arc<Auth>> {
    let mut r = Router::new();
    for api in ["/api", "/ajax-api"] {
        let v2 = format!("{api}/2.0/mlflow/users");
        let v3 = format!("{api}/3.0/mlflow/users");
        r = r
            .route(&format!("{v2}/create"), post(create_user))
            .route(&format!("{v2}/get"), get(get_user))
            .route(&format!("{v2}/list"), get(list_users))
            .route(&format!("{v2}/current"), get(current_user))
            .route(&format!("{v2}/update-password"), patch(update_password))
            .route(&format!("{v2}/update-admin"), patch(update_admin))
            .route(&format!("{v2}/delete"), delete(delete_user))
            .route(
                &format!("{v3}/current/permissions"),
                get(current_permissions),
            )
            .route(&format!("{v3}/permissions/list"), get(list_permissions))
            .route(&format!("{v3}/permissions/grant"), post(grant))
            .route(&format!("{v3}/permissions/revoke"), post(revoke))
            .route(&format!("{v3}/permissions/get"), get(get_permission))
            .route(&format!("{api}/2.0/mlox/tokens/create"), post(create_token))
            .route(&format!("{api}/2.0/mlox/tokens/list"), get(list_tokens))
            .route(&format!("{api}/2.0/mlox/tokens/revoke"), post(revoke_token));
    }
    r
}

fn user_json(u: &User) -> Value {
    json!({ "id": u.id, "username": u.username, "is_admin": u.is_admin })
}

fn empty() -> Response {
    Json(json!({})).into_response()
}

fn text(status: StatusCode, msg: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        msg,
    )
        .into_response()
}

async fn existing_user(auth: &Auth, username: &str) -> Result<User, MlflowError> {
    auth.store
        .find_user(username)
        .await?
        .ok_or_else(|| MlflowError::not_found(format!("User with username={username} not found")))
}

async fn hash_password(password: &str) -> Result<String, MlflowError> {
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || password::hash(&pw))
        .await
        .map_err(|e| MlflowError::internal(e.to_string()))
}

async fn create_user(State(auth): State<Arc<Auth>>, headers: HeaderMap, p: Params) -> ApiResult {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !is_json {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "Invalid content type. Must be application/json",
        ));
    }
    let username = p.opt_str("username")?.unwrap_or_default();
    let password = p.opt_str("password")?.unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "Username and password cannot be empty.",
        ));
    }
    validate_password(&password)?;
    let hash = hash_password(&password).await?;
    let user = auth.store.create_user(&username, &hash, false).await?;
    auth.users_changed();
    Ok(Json(json!({ "user": user_json(&user) })).into_response())
}

async fn get_user(State(auth): State<Arc<Auth>>, p: Params) -> ApiResult {
    let user = existing_user(&auth, &p.req_str("username")?).await?;
    Ok(Json(json!({ "user": user_json(&user) })).into_response())
}

async fn list_users(State(auth): State<Arc<Auth>>) -> ApiResult {
    let users: Vec<Value> = auth
        .store
        .list_users()
        .await?
        .iter()
        .map(|u| {
            let mut v = user_json(u);
            v["roles"] = json!([]);
            v
        })
        .collect();
    Ok(Json(json!({ "users": users })).into_response())
}

async fn current_user(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
) -> ApiResult {
    Ok(Json(json!({
        "user": user_json(&me),
        "is_basic_auth": auth.is_basic_auth,
    }))
    .into_response())
}

async fn permission_rows(auth: &Auth, user: &User) -> Result<Vec<Value>, MlflowError> {
    Ok(auth
        .store
        .list_grants(user.id)
        .await?
        .into_iter()
        .map(|g| {
            json!({
                "role_id": 0,
                "role_name": format!("__user_{}__", user.id),
                "workspace": "default",
                "resource_type": g.resource_type,
                "resource_pattern": g.resource_id,
                "permission": g.permission,
            })
        })
        .collect())
}

async fn current_permissions(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
) -> ApiResult {
    let rows = permission_rows(&auth, &me).await?;
    Ok(Json(json!({ "is_admin": me.is_admin, "permissions": rows })).into_response())
}

async fn list_permissions(State(auth): State<Arc<Auth>>, p: Params) -> ApiResult {
    let user = existing_user(&auth, &p.req_str("username")?).await?;
    let rows = permission_rows(&auth, &user).await?;
    Ok(Json(json!({ "is_admin": user.is_admin, "permissions": rows })).into_response())
}

fn resource_type(p: &Params) -> Result<ResourceType, MlflowError> {
    let rt = p.req_str("resource_type")?;
    ResourceType::parse(&rt).ok_or_else(|| {
        MlflowError::invalid(format!(
            "Invalid resource_type '{rt}'. Valid resource types are: experiment, registered_model, prompt."
        ))
    })
}

async fn grant(State(auth): State<Arc<Auth>>, p: Params) -> ApiResult {
    let username = p.req_str("username")?;
    let rt = resource_type(&p)?;
    let id = p.req_str("resource_id")?;
    let perm = p.req_str("permission")?;
    if Permission::parse(&perm).is_none() {
        return Err(MlflowError::invalid(format!(
            "Invalid permission '{perm}'. Valid permissions are: ['READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS', 'DENY']"
        ))
        .into());
    }
    let user = existing_user(&auth, &username).await?;
    auth.store
        .insert_grant(user.id, rt.name(), &id, &perm)
        .await
        .map_err(|e| {
            if e.code == ErrorCode::RESOURCE_ALREADY_EXISTS {
                MlflowError::already_exists(format!(
                    "Permission for user={username} on resource_type={}, resource_id={id} already exists.",
                    rt.name()
                ))
            } else {
                e
            }
        })?;
    auth.grants_changed();
    Ok(empty())
}

async fn revoke(State(auth): State<Arc<Auth>>, p: Params) -> ApiResult {
    let username = p.req_str("username")?;
    let rt = resource_type(&p)?;
    let id = p.req_str("resource_id")?;
    let user = existing_user(&auth, &username).await?;
    if !auth.store.delete_grant(user.id, rt.name(), &id).await? {
        return Err(MlflowError::not_found(format!(
            "Permission for user={username} on resource_type={}, resource_id={id} not found.",
            rt.name()
        ))
        .into());
    }
    auth.grants_changed();
    Ok(empty())
}

async fn get_permission(State(auth): State<Arc<Auth>>, p: Params) -> ApiResult {
    let username = p.req_str("username")?;
    let rt = resource_type(&p)?;
    let id = p.req_str("resource_id")?;
    let user = existing_user(&auth, &username).await?;
    // The user's own grant or the default, as MLflow resolves it: being an administrator
    // does not enter into this answer (it does into every authorization).
    let perm = auth.resource_permission(&user, rt.name(), &id).await?;
    Ok(Json(json!({ "allowed": perm.can_use(), "permission": perm.name() })).into_response())
}

async fn update_password(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
    p: Params,
) -> ApiResult {
    let username = p.req_str("username")?;
    let new = p.req_str("password")?;
    if me.username == username {
        let current = p.opt_str("current_password")?.unwrap_or_default();
        if current.is_empty() {
            return Err(MlflowError::invalid(
                "Current password is required when changing your own password.",
            )
            .into());
        }
        if !password::verify(&me.password_hash, &current) {
            return Err(MlflowError::invalid("Current password does not match.").into());
        }
        if new == current {
            return Err(MlflowError::invalid(
                "New password must differ from the current password.",
            )
            .into());
        }
    }
    validate_password(&new)?;
    existing_user(&auth, &username).await?;
    let hash = hash_password(&new).await?;
    auth.store.update_password(&username, &hash).await?;
    auth.users_changed();
    Ok(empty())
}

async fn update_admin(State(auth): State<Arc<Auth>>, p: Params) -> ApiResult {
    let username = p.req_str("username")?;
    let is_admin = match p.get("is_admin") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => {
            return Err(
                MlflowError::invalid("Missing value for required parameter 'is_admin'.").into(),
            )
        }
    };
    auth.store.update_admin(&username, is_admin).await?;
    auth.users_changed();
    Ok(empty())
}

async fn delete_user(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
    p: Params,
) -> ApiResult {
    let username = p.req_str("username")?;
    if username == me.username {
        return Err(MlflowError::new(
            ErrorCode::BAD_REQUEST,
            "Users cannot delete their own account. Ask another admin to delete this user instead.",
        )
        .into());
    }
    auth.store.delete_user(&username).await?;
    auth.users_changed();
    auth.grants_changed();
    Ok(empty())
}

fn token_json(t: &mlox_core::auth::AccessToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
    })
}

/// A new token for the caller; its secret is in this answer only.
async fn create_token(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
    p: Params,
) -> ApiResult {
    let name = p.opt_str("name")?.unwrap_or_default();
    let mut secret = [0u8; 32];
    rand::Rng::fill(&mut rand::thread_rng(), &mut secret);
    let token = format!(
        "{TOKEN_PREFIX}{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, secret)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let info = auth
        .store
        .create_token(me.id, &name, &super::token_hash(&token), now)
        .await?;
    Ok(Json(json!({ "token": token, "token_info": token_json(&info) })).into_response())
}

async fn list_tokens(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
) -> ApiResult {
    let tokens: Vec<Value> = auth
        .store
        .list_tokens(me.id)
        .await?
        .iter()
        .map(token_json)
        .collect();
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

async fn revoke_token(
    State(auth): State<Arc<Auth>>,
    Extension(Identity(me)): Extension<Identity>,
    p: Params,
) -> ApiResult {
    let id = p
        .opt_i64("id")?
        .ok_or_else(|| MlflowError::invalid("Missing value for required parameter 'id'."))?;
    if !auth.store.delete_token(me.id, id).await? {
        return Err(MlflowError::not_found(format!("Token with id={id} not found")).into());
    }
    Ok(empty())
}
