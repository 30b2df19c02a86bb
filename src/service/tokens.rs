//! API tokens: created with a random secret shown once, stored by its SHA-256, revocable.

use super::{Service, ServiceError};
use crate::ports::TokenRecord;
use chrono::Utc;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A new API token: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub secret: String,
    pub record: TokenRecord,
}

/// SHA-256 of a token secret (tokens are 256-bit random, so a fast hash is the right tool).
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// SHA-256 of a request body (idempotency checks).
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

fn random_secret() -> Result<String, ServiceError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| ServiceError::Internal(format!("the system has no randomness: {e}")))?;
    Ok(format!("od_{}", hex::encode(buf)))
}

impl Service {
    /// Creates an API token; the secret is returned once.
    pub async fn create_token(&self, name: &str) -> Result<NewToken, ServiceError> {
        let name = crate::domain::rules::required_text("name", name, 100, false)?;
        let secret = random_secret()?;
        let record = TokenRecord {
            id: Uuid::now_v7(),
            name,
            created_at: Utc::now(),
            revoked: false,
        };
        self.store.put_token(token_hash(&secret), &record).await?;
        Ok(NewToken { secret, record })
    }

    /// Every API token (secrets are not kept).
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, ServiceError> {
        Ok(self.store.tokens().await?)
    }

    /// Revokes an API token.
    pub async fn revoke_token(&self, id: Uuid) -> Result<(), ServiceError> {
        Ok(self.store.revoke_token(id).await?)
    }

    /// The token a bearer secret belongs to, if it is valid and not revoked.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<TokenRecord>, ServiceError> {
        Ok(self
            .store
            .find_token(token_hash(secret))
            .await?
            .filter(|t| !t.revoked))
    }
}
