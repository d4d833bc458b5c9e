//! Webhook signing secrets as MLflow keeps them in its database: encrypted with Fernet
//! (AES-128-CBC and HMAC-SHA256, `cryptography.fernet`) under the key of the server's
//! `MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY` (MLflow's `EncryptedString` column type). mlox
//! keeps them in clear, so `mlox import` decrypts and `mlox export` encrypts, given the key.

use mlox_core::{MlflowError, Result};

pub(crate) struct Cipher(fernet::Fernet);

impl Cipher {
    /// `key` is a Fernet key: 32 bytes in URL-safe base64, as `Fernet.generate_key()` makes.
    pub(crate) fn new(key: &str) -> Result<Self> {
        fernet::Fernet::new(key.trim()).map(Cipher).ok_or_else(|| {
            MlflowError::invalid(
                "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY is not a Fernet key (32 bytes in URL-safe base64)",
            )
        })
    }

    /// The secret in clear, or `None` when the token was not made with this key.
    /// MLflow sets no time limit on its tokens, so neither does this.
    pub(crate) fn decrypt(&self, token: &str) -> Option<String> {
        String::from_utf8(self.0.decrypt(token.trim()).ok()?).ok()
    }

    pub(crate) fn encrypt(&self, secret: &str) -> String {
        self.0.encrypt(secret.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "bWxveC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVmZ2g=";

    #[test]
    fn reads_a_token_mlflow_wrote() {
        // Written by MLflow 3.17's EncryptedString (Python's `cryptography`) under KEY.
        let token = "gAAAAABrFy6UYl7Zb5qTr8cdq8MUQs7a5UFb29_Qqnc3p_JhU6ch_lrx9HUmPtxu0unUM_jsp4joVh_AUgLjjzMIK_dKjxxoPg==";
        let cipher = Cipher::new(KEY).unwrap();
        assert_eq!(cipher.decrypt(token).as_deref(), Some("s3cret"));
        let again = cipher.encrypt("s3cret");
        assert_ne!(again, token, "a fresh IV and time each time");
        assert_eq!(cipher.decrypt(&again).as_deref(), Some("s3cret"));
    }

    #[test]
    fn a_wrong_key_or_token_reads_as_none() {
        let other = Cipher::new("b3RoZXIta2V5LTAxMjM0NTY3ODlhYmNkZWZnaGlqa2w=").unwrap();
        let token = Cipher::new(KEY).unwrap().encrypt("s3cret");
        assert_eq!(other.decrypt(&token), None);
        assert_eq!(other.decrypt("not a token"), None);
        assert!(Cipher::new("short").is_err());
    }
}
