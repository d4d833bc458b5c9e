//! The basic-auth app's settings: MLflow's ini file (`MLFLOW_AUTH_CONFIG_PATH`, section
//! `[mlflow]`) and `MLFLOW_AUTH_ADMIN_USERNAME` / `MLFLOW_AUTH_ADMIN_PASSWORD`.

use mlox_core::auth::AuthStore;
use mlox_core::MlflowError;

const DEFAULT_AUTHORIZATION_FUNCTION: &str = "mlflow.server.auth:authenticate_request_basic_auth";
const LEGACY_DEFAULT_ADMIN_PASSWORD: &str = "password1234";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The permission where no grant exists (`READ` by default).
    pub default_permission: String,
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
    /// Accepted for compatibility; users live in the mlox backend store.
    pub database_uri: Option<String>,
    /// Accepted for compatibility; only MLflow's default (HTTP Basic) is implemented.
    pub authorization_function: String,
}

impl Default for AuthConfig {
    /// MLflow's packaged `basic_auth.ini`.
    fn default() -> Self {
        AuthConfig {
            default_permission: "READ".into(),
            admin_username: Some("admin".into()),
            admin_password: None,
            database_uri: None,
            authorization_function: DEFAULT_AUTHORIZATION_FUNCTION.into(),
        }
    }
}

/// `key = value` pairs of one ini section (`#`/`;` comments; keys lowercased).
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_string();
            continue;
        }
        if current != section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) {
            out.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    out
}

impl AuthConfig {
    /// Reads the file named by `MLFLOW_AUTH_CONFIG_PATH` (MLflow's defaults without it),
    /// then the environment, which wins even when set empty.
    pub fn load() -> Result<AuthConfig, String> {
        let mut cfg = AuthConfig::default();
        if let Some(path) = std::env::var_os("MLFLOW_AUTH_CONFIG_PATH") {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read the auth configuration {}: {e}",
                    std::path::Path::new(&path).display()
                )
            })?;
            let pairs = ini_section(&text, "mlflow");
            if pairs.is_empty() {
                return Err(format!(
                    "the auth configuration {} has no [mlflow] section",
                    std::path::Path::new(&path).display()
                ));
            }
            cfg.admin_username = None;
            for (k, v) in pairs {
                match k.as_str() {
                    "default_permission" => cfg.default_permission = v,
                    "admin_username" => cfg.admin_username = Some(v),
                    "admin_password" => cfg.admin_password = Some(v),
                    "database_uri" => cfg.database_uri = Some(v),
                    "authorization_function" => cfg.authorization_function = v,
                    _ => {}
                }
            }
        }
        if let Ok(v) = std::env::var("MLFLOW_AUTH_ADMIN_USERNAME") {
            cfg.admin_username = Some(v);
        }
        if let Ok(v) = std::env::var("MLFLOW_AUTH_ADMIN_PASSWORD") {
            cfg.admin_password = Some(v);
        }
        cfg.admin_username = cfg.admin_username.filter(|s| !s.is_empty());
        cfg.admin_password = cfg.admin_password.filter(|s| !s.is_empty());
        if !cfg.is_basic_auth() {
            tracing::warn!(
                function = cfg.authorization_function,
                "authorization_function is accepted but not used: mlox authenticates with HTTP Basic, bearer tokens and --trusted-proxy headers"
            );
        }
        Ok(cfg)
    }

    pub fn is_basic_auth(&self) -> bool {
        self.authorization_function == DEFAULT_AUTHORIZATION_FUNCTION
    }
}

/// MLflow's password rule.
pub(crate) fn validate_password(password: &str) -> Result<(), MlflowError> {
    if password.chars().count() < 12 {
        return Err(MlflowError::invalid(
            "Password must be at least 12 characters.",
        ));
    }
    Ok(())
}

/// Creates the admin user when it does not exist, as MLflow's `create_admin_user`, with
/// its refusals.
pub(crate) async fn bootstrap_admin(
    store: &dyn AuthStore,
    cfg: &AuthConfig,
) -> Result<(), MlflowError> {
    let Some(username) = cfg.admin_username.as_deref() else {
        return Err(MlflowError::invalid(
            "MLflow Authentication needs a username for the admin user, but none is configured \
             (or it is empty). Set the MLFLOW_AUTH_ADMIN_USERNAME environment variable, or set \
             `admin_username` in the configuration file referenced by MLFLOW_AUTH_CONFIG_PATH, \
             and restart the server.",
        ));
    };
    if store.find_user(username).await?.is_some() {
        return Ok(());
    }
    let password = cfg.admin_password.as_deref().ok_or_else(|| {
        MlflowError::invalid(format!(
            "MLflow Authentication needs a password to create the admin user '{username}', \
             but none is configured (or it is empty). MLflow ships no default admin password. \
             Set the MLFLOW_AUTH_ADMIN_PASSWORD environment variable, or set `admin_password` \
             in the configuration file referenced by MLFLOW_AUTH_CONFIG_PATH, and restart the \
             server."
        ))
    })?;
    if password == LEGACY_DEFAULT_ADMIN_PASSWORD {
        return Err(MlflowError::invalid(format!(
            "Refusing to use the insecure default password that older MLflow versions shipped \
             in basic_auth.ini for the admin user '{username}'. Set MLFLOW_AUTH_ADMIN_PASSWORD \
             or `admin_password` in the configuration file referenced by \
             MLFLOW_AUTH_CONFIG_PATH to a different password."
        )));
    }
    validate_password(password).map_err(|e| {
        MlflowError::invalid(format!(
            "The configured password for the admin user '{username}' is invalid: {} Set \
             MLFLOW_AUTH_ADMIN_PASSWORD or `admin_password` in the configuration file \
             referenced by MLFLOW_AUTH_CONFIG_PATH to a valid password.",
            e.message
        ))
    })?;
    let hash = {
        let pw = password.to_string();
        tokio::task::spawn_blocking(move || super::password::hash(&pw))
            .await
            .map_err(|e| MlflowError::internal(e.to_string()))?
    };
    match store.create_user(username, &hash, true).await {
        Ok(_) => {
            tracing::info!(username, "created the admin user");
            Ok(())
        }
        // Another server process created it first.
        Err(e) if e.code == mlox_core::ErrorCode::RESOURCE_ALREADY_EXISTS => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini() {
        let text =
            "# c\n[other]\nx = 1\n[mlflow]\ndefault_permission = EDIT\n; c\nadmin_username=root\n";
        assert_eq!(
            ini_section(text, "mlflow"),
            vec![
                ("default_permission".into(), "EDIT".into()),
                ("admin_username".into(), "root".into())
            ]
        );
    }
}
