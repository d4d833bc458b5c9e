//! Users, permissions and access tokens of the basic-auth app (MLflow's
//! `mlflow.server.auth`), and the store trait that keeps them.

use async_trait::async_trait;

use crate::Result;

/// A user as stored: the password only as a hash (Werkzeug's `pbkdf2:sha256:…` format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
}

/// What a user may do with one resource. `Deny` is an explicit veto, distinct from
/// `NoPermissions` (no capability, but no veto either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Deny,
    NoPermissions,
    Read,
    Use,
    Edit,
    Manage,
}

impl Permission {
    pub const ALL: [Permission; 6] = [
        Permission::Read,
        Permission::Use,
        Permission::Edit,
        Permission::Manage,
        Permission::NoPermissions,
        Permission::Deny,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Permission::Deny => "DENY",
            Permission::NoPermissions => "NO_PERMISSIONS",
            Permission::Read => "READ",
            Permission::Use => "USE",
            Permission::Edit => "EDIT",
            Permission::Manage => "MANAGE",
        }
    }

    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }

    pub fn can_read(self) -> bool {
        self >= Permission::Read
    }
    pub fn can_use(self) -> bool {
        self >= Permission::Use
    }
    pub fn can_update(self) -> bool {
        self >= Permission::Edit
    }
    pub fn can_delete(self) -> bool {
        self == Permission::Manage
    }
    pub fn can_manage(self) -> bool {
        self == Permission::Manage
    }

    /// MLflow's resolution: no grant gives `default`; a positive grant is raised to at
    /// least `default`; `DENY` and `NO_PERMISSIONS` grants stay as they are.
    pub fn effective(grant: Option<Permission>, default: Permission) -> Permission {
        match grant {
            None => default,
            Some(p @ (Permission::Deny | Permission::NoPermissions)) => p,
            Some(p) => p.max(default),
        }
    }
}

/// The kinds of resource a grant can name (MLflow's `resource_type`s that mlox serves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    Experiment,
    RegisteredModel,
    Prompt,
}

impl ResourceType {
    pub const ALL: [ResourceType; 3] = [
        ResourceType::Experiment,
        ResourceType::RegisteredModel,
        ResourceType::Prompt,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ResourceType::Experiment => "experiment",
            ResourceType::RegisteredModel => "registered_model",
            ResourceType::Prompt => "prompt",
        }
    }

    pub fn parse(name: &str) -> Option<ResourceType> {
        ResourceType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One user's permission on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user_id: i64,
    pub resource_type: String,
    pub resource_id: String,
    pub permission: String,
}

/// A personal access token, as listed (its secret is kept only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Where users, grants and tokens live. Errors are MLflow's (`RESOURCE_DOES_NOT_EXIST`
/// for a missing user, `RESOURCE_ALREADY_EXISTS` for a taken name).
#[async_trait]
pub trait AuthStore: Send + Sync + 'static {
    async fn count_users(&self) -> Result<i64>;
    async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User>;
    /// `None` when there is no such user.
    async fn find_user(&self, username: &str) -> Result<Option<User>>;
    async fn find_user_by_id(&self, id: i64) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn update_password(&self, username: &str, password_hash: &str) -> Result<()>;
    async fn update_admin(&self, username: &str, is_admin: bool) -> Result<()>;
    /// Deletes the user with their grants and tokens.
    async fn delete_user(&self, username: &str) -> Result<()>;

    /// Adds the user's grant on a resource (`RESOURCE_ALREADY_EXISTS` when there is one).
    async fn insert_grant(
        &self,
        user_id: i64,
        resource_type: &str,
        resource_id: &str,
        permission: &str,
    ) -> Result<()>;
    /// Removes the grant; false when there was none.
    async fn delete_grant(
        &self,
        user_id: i64,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<bool>;
    async fn get_grant(
        &self,
        user_id: i64,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<Option<String>>;
    async fn list_grants(&self, user_id: i64) -> Result<Vec<Grant>>;
    /// Removes every user's grants on a resource (it was deleted).
    async fn delete_resource_grants(&self, resource_type: &str, resource_id: &str) -> Result<()>;
    /// Moves every grant on a resource to its new name.
    async fn rename_resource_grants(
        &self,
        resource_type: &str,
        old_id: &str,
        new_id: &str,
    ) -> Result<()>;

    async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        created_at: i64,
    ) -> Result<AccessToken>;
    /// The user a token (by the hash of its secret) belongs to.
    async fn find_token_user(&self, token_hash: &str) -> Result<Option<User>>;
    async fn list_tokens(&self, user_id: i64) -> Result<Vec<AccessToken>>;
    /// False when the user has no such token.
    async fn delete_token(&self, user_id: i64, token_id: i64) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    #[test]
    fn effective_permission() {
        assert_eq!(Permission::effective(None, Read), Read);
        assert_eq!(Permission::effective(Some(Deny), Manage), Deny);
        assert_eq!(Permission::effective(Some(Read), Edit), Edit);
        assert_eq!(Permission::effective(Some(Manage), Read), Manage);
        assert_eq!(
            Permission::effective(Some(NoPermissions), Read),
            NoPermissions
        );
        assert!(!Deny.can_read() && !NoPermissions.can_read() && Read.can_read());
        assert!(Edit.can_update() && !Edit.can_delete() && Manage.can_manage());
        assert_eq!(Permission::parse("EDIT"), Some(Edit));
        assert_eq!(Permission::parse("edit"), None);
    }
}
