//! `mlox import --from-basic-auth`: MLflow's basic-auth database (its users and their
//! per-resource permissions) into mlox's auth tables, so that `mlox server --app-name
//! basic-auth` on the store lets the same people in with the same passwords and rights.
//!
//! Password hashes are Werkzeug's strings and are copied as they are (mlox checks
//! PBKDF2 and scrypt hashes). Permissions are read from MLflow's per-user roles
//! (`roles` named `__user_<id>__` in the default workspace, with their `role_permissions`;
//! MLflow 3.10+), or from the older `experiment_permissions` /
//! `registered_model_permissions` tables of a database from before roles. What mlox has
//! no counterpart for — shared roles, wildcard patterns, other workspaces, scorer,
//! gateway and MCP permissions — is counted and reported, not imported.

use std::collections::HashMap;

use mlox_core::auth::{AuthStore, ResourceType};
use mlox_core::{MlflowError, Result};

use crate::db::{LenientRow, RowView, SqlValue};
use crate::mlflow_import::Source;
use crate::{SqlStore, StoreOptions, StoreUri};

/// What was brought over.
#[derive(Debug, Default)]
pub struct AuthImportSummary {
    pub users: u64,
    pub permissions: u64,
    /// Permissions left out, with why (for the user to redo by hand).
    pub skipped: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> MlflowError {
    MlflowError::invalid(msg.into())
}

struct MlflowUser {
    id: i64,
    username: String,
    password_hash: String,
    is_admin: bool,
}

struct Permission {
    user_id: i64,
    resource_type: String,
    resource_id: String,
    permission: String,
}

fn read(src: &mut Source) -> Result<(Vec<MlflowUser>, Vec<Permission>, Vec<String>)> {
    let has = |src: &mut Source, table: &str| -> Result<bool> {
        let sql = match src {
            Source::Sqlite(_) => {
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?".to_string()
            }
            Source::Postgres(_) => "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?".to_string(),
            Source::Mysql(_) => "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?".to_string(),
        };
        src.with(|c| c.query_opt(&sql, &[table.into()]))
            .map(|r| r.is_some())
            .map_err(|e| MlflowError::internal(format!("reading the basic-auth database: {e}")))
    };
    if !has(src, "users")? {
        return Err(invalid(
            "the basic-auth database has no users table: is it MLflow's basic_auth.db (the ini file's database_uri)?",
        ));
    }
    let mut users = Vec::new();
    src.each(
        "SELECT id, username, password_hash, is_admin FROM users ORDER BY id",
        &mut |r: &dyn RowView| {
            users.push(MlflowUser {
                id: r.int_or_zero(0),
                username: r.opt_text_or_none(1).unwrap_or_default(),
                password_hash: r.opt_text_or_none(2).unwrap_or_default(),
                is_admin: r.int_or_zero(3) != 0,
            })
        },
    )?;
    let mut perms = Vec::new();
    let mut skipped: HashMap<String, u64> = HashMap::new();
    if has(src, "role_permissions")? {
        src.each(
            "SELECT a.user_id, r.name, r.workspace, p.resource_type, p.resource_pattern, p.permission FROM role_permissions p JOIN roles r ON r.id = p.role_id JOIN user_role_assignments a ON a.role_id = r.id ORDER BY p.id",
            &mut |r: &dyn RowView| {
                let user_id = r.int_or_zero(0);
                let kind = r.opt_text_or_none(3).unwrap_or_default();
                let pattern = r.opt_text_or_none(4).unwrap_or_default();
                let why = if r.opt_text_or_none(1).as_deref() != Some(&format!("__user_{user_id}__")) {
                    Some("granted through a shared role".to_string())
                } else if r.opt_text_or_none(2).as_deref() != Some("default") {
                    Some("in a workspace other than 'default'".to_string())
                } else if ResourceType::parse(&kind).is_none() {
                    Some(format!("on '{kind}' resources"))
                } else if pattern == "*" {
                    Some("on every resource ('*')".to_string())
                } else {
                    None
                };
                match why {
                    Some(why) => *skipped.entry(why).or_default() += 1,
                    None => perms.push(Permission {
                        user_id,
                        resource_type: kind,
                        resource_id: pattern,
                        permission: r.opt_text_or_none(5).unwrap_or_default(),
                    }),
                }
            },
        )?;
    } else {
        for (table, column, kind) in [
            ("experiment_permissions", "experiment_id", "experiment"),
            ("registered_model_permissions", "name", "registered_model"),
        ] {
            if !has(src, table)? {
                continue;
            }
            src.each(
                &format!("SELECT user_id, {column}, permission FROM {table} ORDER BY id"),
                &mut |r: &dyn RowView| {
                    perms.push(Permission {
                        user_id: r.int_or_zero(0),
                        resource_type: kind.to_string(),
                        resource_id: r.opt_text_or_none(1).unwrap_or_default(),
                        permission: r.opt_text_or_none(2).unwrap_or_default(),
                    })
                },
            )?;
        }
    }
    let mut skipped: Vec<String> = skipped
        .into_iter()
        .map(|(why, n)| format!("{n} permission(s) {why}"))
        .collect();
    skipped.sort();
    Ok((users, perms, skipped))
}

/// Imports the users and permissions of MLflow's basic-auth database at `source` into
/// the store at `target`. A user name the store already has is refused before anything
/// is written.
pub async fn import_basic_auth(source: &str, target: &StoreUri) -> Result<AuthImportSummary> {
    let uri = StoreUri::parse(source)?;
    let (users, perms, skipped) = tokio::task::spawn_blocking(move || {
        let mut src = Source::open_uri(&uri, "basic-auth database")?;
        read(&mut src)
    })
    .await
    .map_err(|e| MlflowError::internal(e.to_string()))??;
    let store = SqlStore::open(target, StoreOptions::default()).await?;
    for u in &users {
        if store.find_user(&u.username).await?.is_some() {
            return Err(MlflowError::already_exists(format!(
                "the target store already has a user named '{}'; import MLflow's users into a store without them (nothing was written)",
                u.username
            )));
        }
    }
    // All in one transaction: every user and permission, or nothing.
    let n_users = users.len() as u64;
    let permissions = store
        .db
        .write(move |c| {
            let mut ids = HashMap::new();
            for u in &users {
                c.execute(
                    "INSERT INTO auth_users (username, password_hash, is_admin) VALUES (?, ?, ?)",
                    &[
                        u.username.as_str().into(),
                        u.password_hash.as_str().into(),
                        SqlValue::Int(u.is_admin.into()),
                    ],
                )?;
                let id = c
                    .query_opt(
                        "SELECT id FROM auth_users WHERE username = ?",
                        &[u.username.as_str().into()],
                    )?
                    .map(|r| r.int_or_zero(0))
                    .ok_or_else(|| MlflowError::internal("user not created"))?;
                ids.insert(u.id, id);
            }
            let mut n = 0u64;
            for p in &perms {
                let Some(&user_id) = ids.get(&p.user_id) else {
                    continue;
                };
                n += c.execute(
                    "INSERT INTO auth_grants (user_id, resource_type, resource_id, permission) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    &[
                        SqlValue::Int(user_id),
                        p.resource_type.as_str().into(),
                        p.resource_id.as_str().into(),
                        p.permission.as_str().into(),
                    ],
                )?;
            }
            Ok(n)
        })
        .await?;
    store.flush().await?;
    Ok(AuthImportSummary {
        users: n_users,
        permissions,
        skipped,
    })
}
