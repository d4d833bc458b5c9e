//! Users, grants and personal access tokens of the basic-auth app, written once over
//! [`Conn`] for both backends (tables `auth_users`, `auth_grants`, `auth_tokens`,
//! migration 0007).

use async_trait::async_trait;
use mlox_core::auth::{AccessToken, AuthStore, Grant, User};
use mlox_core::{MlflowError, Result};

use crate::db::{Conn, DbError, Row, RowView, SqlValue};
use crate::SqlStore;

const USER_COLUMNS: &str = "id, username, password_hash, is_admin";

fn user_from_row(r: &Row) -> Result<User, DbError> {
    Ok(User {
        id: r.int(0)?,
        username: r.text(1)?,
        password_hash: r.text(2)?,
        is_admin: r.int(3)? != 0,
    })
}

fn user_not_found(username: &str) -> MlflowError {
    MlflowError::not_found(format!("User with username={username} not found"))
}

fn find_user(c: &mut dyn Conn, username: &str) -> Result<Option<User>> {
    Ok(c.query_opt(
        &format!("SELECT {USER_COLUMNS} FROM auth_users WHERE username = ?"),
        &[username.into()],
    )?
    .as_ref()
    .map(user_from_row)
    .transpose()?)
}

fn token_from_row(r: &Row) -> Result<AccessToken, DbError> {
    Ok(AccessToken {
        id: r.int(0)?,
        user_id: r.int(1)?,
        name: r.text(2)?,
        created_at: r.int(3)?,
        last_used_at: r.opt_int(4)?,
    })
}

#[async_trait]
impl AuthStore for SqlStore {
    async fn count_users(&self) -> Result<i64> {
        self.db
            .read(|c| {
                Ok(c.query_opt("SELECT COUNT(*) FROM auth_users", &[])?
                    .map_or(Ok(0), |r| r.int(0))?)
            })
            .await
    }

    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.db
            .write(move |c| {
                // `execute`, not `INSERT … RETURNING`: the SQLite connection reports a taken
                // name as a unique violation only from `execute`.
                c.execute(
                    "INSERT INTO auth_users (username, password_hash, is_admin) VALUES (?, ?, ?)",
                    &[
                        (&username).into(),
                        hash.into(),
                        SqlValue::Int(is_admin.into()),
                    ],
                )
                .map_err(|e| match e {
                    DbError::UniqueViolation(_) => MlflowError::already_exists(format!(
                        "User (username={username}) already exists."
                    )),
                    e => e.into(),
                })?;
                find_user(c, &username)?.ok_or_else(|| MlflowError::internal("user not created"))
            })
            .await
    }

    async fn find_user(&self, username: &str) -> Result<Option<User>> {
        let username = username.to_string();
        self.db.read(move |c| find_user(c, &username)).await
    }

    async fn find_user_by_id(&self, id: i64) -> Result<Option<User>> {
        self.db
            .read(move |c| {
                Ok(c.query_opt(
                    &format!("SELECT {USER_COLUMNS} FROM auth_users WHERE id = ?"),
                    &[SqlValue::Int(id)],
                )?
                .as_ref()
                .map(user_from_row)
                .transpose()?)
            })
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.db
            .read(|c| {
                Ok(c.query(
                    &format!("SELECT {USER_COLUMNS} FROM auth_users ORDER BY id"),
                    &[],
                )?
                .iter()
                .map(user_from_row)
                .collect::<Result<_, DbError>>()?)
            })
            .await
    }

    async fn update_password(&self, username: &str, password_hash: &str) -> Result<()> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.db
            .write(move |c| {
                let n = c.execute(
                    "UPDATE auth_users SET password_hash = ? WHERE username = ?",
                    &[hash.into(), (&username).into()],
                )?;
                if n == 0 {
                    return Err(user_not_found(&username));
                }
                Ok(())
            })
            .await
    }

    async fn update_admin(&self, username: &str, is_admin: bool) -> Result<()> {
        let username = username.to_string();
        self.db
            .write(move |c| {
                let n = c.execute(
                    "UPDATE auth_users SET is_admin = ? WHERE username = ?",
                    &[SqlValue::Int(is_admin.into()), (&username).into()],
                )?;
                if n == 0 {
                    return Err(user_not_found(&username));
                }
                Ok(())
            })
            .await
    }

    async fn delete_user(&self, username: &str) -> Result<()> {
        let username = username.to_string();
        self.db
            .write(move |c| {
                let user = find_user(c, &username)?.ok_or_else(|| user_not_found(&username))?;
                let id = [SqlValue::Int(user.id)];
                c.execute("DELETE FROM auth_grants WHERE user_id = ?", &id)?;
                c.execute("DELETE FROM auth_tokens WHERE user_id = ?", &id)?;
                c.execute("DELETE FROM auth_users WHERE id = ?", &id)?;
                Ok(())
            })
            .await
    }

    async fn insert_grant(
        &self,
        user_id: i64,
        resource_type: &str,
        resource_id: &str,
        permission: &str,
    ) -> Result<()> {
        let args = [
            SqlValue::Int(user_id),
            resource_type.into(),
            resource_id.into(),
            permission.into(),
        ];
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO auth_grants (user_id, resource_type, resource_id, permission) VALUES (?, ?, ?, ?)",
                    &args,
                )
                .map_err(|e| match e {
                    DbError::UniqueViolation(_) => MlflowError::already_exists(
                        "a permission on this resource already exists for this user",
                    ),
                    e => e.into(),
                })?;
                Ok(())
            })
            .await
    }

    async fn delete_grant(
        &self,
        user_id: i64,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<bool> {
        let args = [
            SqlValue::Int(user_id),
            resource_type.into(),
            resource_id.into(),
        ];
        self.db
            .write(move |c| {
                Ok(c.execute(
                    "DELETE FROM auth_grants WHERE user_id = ? AND resource_type = ? AND resource_id = ?",
                    &args,
                )? > 0)
            })
            .await
    }

    async fn get_grant(
        &self,
        user_id: i64,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Option<String>> {
        let args = [
            SqlValue::Int(user_id),
            resource_type.into(),
            resource_id.into(),
        ];
        self.db
            .read(move |c| {
                Ok(c.query_opt(
                    "SELECT permission FROM auth_grants WHERE user_id = ? AND resource_type = ? AND resource_id = ?",
                    &args,
                )?
                .map(|r| r.text(0)).transpose()?)
            })
            .await
    }

    async fn list_grants(&self, user_id: i64) -> Result<Vec<Grant>> {
        self.db
            .read(move |c| {
                Ok(c.query(
                    "SELECT user_id, resource_type, resource_id, permission FROM auth_grants WHERE user_id = ? ORDER BY resource_type, resource_id",
                    &[SqlValue::Int(user_id)],
                )?
                .iter()
                .map(|r| {
                    Ok(Grant {
                        user_id: r.int(0)?,
                        resource_type: r.text(1)?,
                        resource_id: r.text(2)?,
                        permission: r.text(3)?,
                    })
                })
                .collect::<Result<_, DbError>>()?)
            })
            .await
    }

    async fn delete_resource_grants(&self, resource_type: &str, resource_id: &str) -> Result<()> {
        let args = [resource_type.into(), resource_id.into()];
        self.db
            .write(move |c| {
                c.execute(
                    "DELETE FROM auth_grants WHERE resource_type = ? AND resource_id = ?",
                    &args,
                )?;
                Ok(())
            })
            .await
    }

    async fn rename_resource_grants(
        &self,
        resource_type: &str,
        old_id: &str,
        new_id: &str,
    ) -> Result<()> {
        let args = [new_id.into(), resource_type.into(), old_id.into()];
        self.db
            .write(move |c| {
                c.execute(
                    "UPDATE auth_grants SET resource_id = ? WHERE resource_type = ? AND resource_id = ?",
                    &args,
                )?;
                Ok(())
            })
            .await
    }

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        created_at: i64,
    ) -> Result<AccessToken> {
        let args = [
            SqlValue::Int(user_id),
            name.into(),
            token_hash.into(),
            SqlValue::Int(created_at),
        ];
        self.db
            .write(move |c| {
                c.query_opt(
                    "INSERT INTO auth_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id, user_id, name, created_at, last_used_at",
                    &args,
                )?
                .as_ref()
                .map(token_from_row)
                .transpose()?
                .ok_or_else(|| MlflowError::internal("token not created"))
            })
            .await
    }

    async fn find_token_user(&self, token_hash: &str) -> Result<Option<User>> {
        let hash = token_hash.to_string();
        self.db
            .read(move |c| {
                Ok(c.query_opt(
                    "SELECT u.id, u.username, u.password_hash, u.is_admin FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id WHERE t.token_hash = ?",
                    &[hash.into()],
                )?
                .as_ref()
                .map(user_from_row).transpose()?)
            })
            .await
    }

    async fn list_tokens(&self, user_id: i64) -> Result<Vec<AccessToken>> {
        self.db
            .read(move |c| {
                Ok(c.query(
                    "SELECT id, user_id, name, created_at, last_used_at FROM auth_tokens WHERE user_id = ? ORDER BY id",
                    &[SqlValue::Int(user_id)],
                )?
                .iter()
                .map(token_from_row)
                .collect::<Result<_, DbError>>()?)
            })
            .await
    }

    async fn delete_token(&self, user_id: i64, token_id: i64) -> Result<bool> {
        self.db
            .write(move |c| {
                Ok(c.execute(
                    "DELETE FROM auth_tokens WHERE user_id = ? AND id = ?",
                    &[SqlValue::Int(user_id), SqlValue::Int(token_id)],
                )? > 0)
            })
            .await
    }
}
