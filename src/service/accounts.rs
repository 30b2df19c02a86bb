//! Team accounts and sign-in sessions for the web pages: the rules (what a username or password
//! must look like, who may remove whom) as plain functions, and the use cases (setup, sign-in,
//! sessions, team changes) through the storage port.
//!
//! Secrets: passwords are hashed with argon2id (OWASP parameters); session ids and the setup
//! token are 256-bit random values of which only a SHA-256 is stored, and are compared through
//! their hashes in constant time.

pub use crate::domain::team::{Allowance, Member, Role, Session};

use crate::domain::rules::required_text;
use crate::ports::{Conflict, Storage, StoreError};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// How long a sign-in lasts.
pub const SESSION_DAYS: i64 = 14;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (bounds the hashing work a request can ask for).
pub const MAX_PASSWORD: usize = 256;

/// Why an account operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{field} {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("Wrong username or password")]
    BadCredentials,
    #[error("Too many sign-in attempts; try again in {0} seconds")]
    Throttled(u64),
    #[error("This setup link is not valid (or the owner account already exists)")]
    BadSetupToken,
    #[error("No team member {0}")]
    NotFound(String),
    /// Not the user's doing (storage, randomness, hashing); the cause is kept for the log.
    #[error("account storage failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AccountError {
    /// The form field the error belongs to, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            AccountError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        AccountError::Invalid {
            field,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules (no IO)

/// A username: 3–32 characters of `a-z 0-9 . _ -`, case-insensitive (stored lower-case).
pub fn check_username(raw: &str) -> Result<String, AccountError> {
    let u = raw.trim().to_lowercase();
    if !(3..=32).contains(&u.chars().count()) {
        return Err(AccountError::invalid(
            "username",
            "must be 3 to 32 characters",
        ));
    }
    if !u
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err(AccountError::invalid(
            "username",
            "may contain only letters, digits, dots, dashes and underscores",
        ));
    }
    Ok(u)
}

/// A display name: required, at most 80 characters, no control characters.
pub fn check_display_name(raw: &str) -> Result<String, AccountError> {
    required_text("display_name", raw, 80, false).map_err(|e| AccountError::Invalid {
        field: "display_name",
        message: e
            .to_string()
            .trim_start_matches("display_name ")
            .to_string(),
    })
}

/// A new password: at least [`MIN_PASSWORD`] characters and at most [`MAX_PASSWORD`].
pub fn check_password(pw: &str) -> Result<(), AccountError> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD {
        return Err(AccountError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(AccountError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// Whether `actor` may remove `target` from the team.
pub fn check_removal(actor: &Member, target: &Member) -> Result<(), AccountError> {
    if !actor.role.can_manage_team() {
        return Err(AccountError::Forbidden(
            "Only the owner can manage the team".into(),
        ));
    }
    if target.role == Role::Owner {
        return Err(AccountError::Forbidden(
            "The owner account cannot be removed".into(),
        ));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // argon2id, m = 19 MiB, t = 2, p = 1: the OWASP recommendation (these are the crate's defaults,
    // spelled out so an upgrade cannot weaken them silently).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes a password to a PHC string with a fresh random salt. Slow on purpose: call it off the
/// async workers.
pub fn hash_password(pw: &str) -> Result<String, AccountError> {
    argon2()
        .hash_password(pw.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Store(format!("cannot hash the password: {e}").into()))
}

/// Checks a password against a stored PHC string. Slow on purpose.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    argon2().verify_password(pw.as_bytes(), phc).is_ok()
}

/// A fresh 256-bit random secret, hex-encoded.
pub fn random_hex() -> Result<String, AccountError> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf)
        .map_err(|e| AccountError::Store(format!("no randomness: {e}").into()))?;
    Ok(hex::encode(buf))
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Constant-time comparison of two secrets (e.g. a form's CSRF token with the session's).
pub fn secrets_match(a: &str, b: &str) -> bool {
    // Comparing fixed-size digests keeps the time independent of where the strings differ and of
    // their lengths.
    bool::from(sha256(a).ct_eq(&sha256(b))) && !a.is_empty()
}

// ---------------------------------------------------------------------------------------------
// Use cases (through the storage port)

/// The members and sessions of one store, with the setup secret and the login throttle of this
/// process.
pub struct Accounts {
    store: Arc<dyn Storage>,
    /// The one-time setup secret while no owner exists.
    setup: Mutex<Option<String>>,
    throttle: LoginThrottle,
    /// A hash of a random password, verified against when a username is unknown so that the
    /// answer takes as long as for a known one. Hashed on a thread of its own at open (argon2
    /// takes ~60 % of an empty store's start-up); a login that comes sooner waits for it.
    dummy_hash: Arc<std::sync::OnceLock<String>>,
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(Box::new(e))
    }
}

impl Accounts {
    /// Opens the accounts of a store. When no member exists yet, a setup secret is generated
    /// (see [`Self::setup_token`]). Expired sessions are dropped.
    pub async fn open(store: Arc<dyn Storage>) -> Result<Self, AccountError> {
        let setup = if store.has_members().await? {
            None
        } else {
            Some(random_hex()?)
        };
        store.purge_sessions(Utc::now()).await?;
        let dummy_hash = Arc::new(std::sync::OnceLock::new());
        let (cell, password) = (dummy_hash.clone(), random_hex()?);
        std::thread::spawn(move || {
            cell.get_or_init(|| {
                hash_password(&password).unwrap_or_else(|e| {
                    log::error!("{e}: unknown usernames are refused faster than known ones");
                    String::new()
                })
            });
        });
        Ok(Accounts {
            store,
            setup: Mutex::new(setup),
            throttle: LoginThrottle::new(),
            dummy_hash,
        })
    }

    /// The setup secret to print at start, while no owner account exists.
    pub fn setup_token(&self) -> Option<String> {
        self.setup.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether `token` is the current setup secret.
    pub fn setup_token_valid(&self, token: &str) -> bool {
        match self.setup_token() {
            Some(t) => secrets_match(&t, token),
            None => false,
        }
    }

    /// Creates the owner account with the setup secret; the secret is then spent.
    pub async fn create_owner(
        &self,
        token: &str,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Member, AccountError> {
        if !self.setup_token_valid(token) {
            return Err(AccountError::BadSetupToken);
        }
        let result = self
            .insert_member_with(username, display_name, password, Role::Owner, true)
            .await;
        if matches!(result, Ok(_) | Err(AccountError::BadSetupToken)) {
            // Spent (or another process's setup link was used first).
            *self.setup.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        result
    }

    /// Adds a staff member (owner only).
    pub async fn add_staff(
        &self,
        actor: &Member,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Member, AccountError> {
        if !actor.role.can_manage_team() {
            return Err(AccountError::Forbidden(
                "Only the owner can manage the team".into(),
            ));
        }
        self.insert_member(username, display_name, password, Role::Staff)
            .await
    }

    async fn insert_member(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        role: Role,
    ) -> Result<Member, AccountError> {
        self.insert_member_with(username, display_name, password, role, false)
            .await
    }

    /// Adds a member; `first` only while none exists (the owner, through the setup link).
    async fn insert_member_with(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
        role: Role,
        first: bool,
    ) -> Result<Member, AccountError> {
        let username = check_username(username)?;
        let display_name = check_display_name(display_name)?;
        check_password(password)?;
        let pw = password.to_string();
        let password_hash = actix_web::rt::task::spawn_blocking(move || hash_password(&pw))
            .await
            .map_err(|e| AccountError::Store(format!("hashing failed: {e}").into()))??;
        let m = Member {
            username: username.clone(),
            display_name,
            role,
            password_hash,
            created_at: Utc::now(),
        };
        let stored = if first {
            self.store.insert_first_member(&m).await
        } else {
            self.store.insert_member(&m).await
        };
        match stored {
            Ok(()) => Ok(m),
            Err(StoreError::Conflict(Conflict::Taken(_))) => {
                Err(AccountError::invalid("username", "is already taken"))
            }
            Err(StoreError::Conflict(Conflict::Other(_))) if first => {
                Err(AccountError::BadSetupToken)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a staff member and signs them out everywhere.
    pub async fn remove_member(&self, actor: &Member, username: &str) -> Result<(), AccountError> {
        let target = self
            .member(username)
            .await?
            .ok_or_else(|| AccountError::NotFound(username.to_string()))?;
        check_removal(actor, &target)?;
        Ok(self.store.remove_member(&target.username).await?)
    }

    /// One member.
    pub async fn member(&self, username: &str) -> Result<Option<Member>, AccountError> {
        Ok(self.store.member(&username.trim().to_lowercase()).await?)
    }

    /// Every member, owner first, then by username.
    pub async fn members(&self) -> Result<Vec<Member>, AccountError> {
        let mut out = self.store.members().await?;
        out.sort_by(|a, b| {
            (a.role != Role::Owner, &a.username).cmp(&(b.role != Role::Owner, &b.username))
        });
        Ok(out)
    }

    /// Whether any account exists.
    pub async fn has_members(&self) -> Result<bool, AccountError> {
        Ok(self.store.has_members().await?)
    }

    /// Checks a sign-in (throttled per client and per username) and opens a new session.
    /// Returns the session's cookie secret. `old_session` (the browser's previous cookie, if
    /// any) is deleted, so a session id never survives a sign-in.
    pub async fn login(
        &self,
        client: &str,
        username: &str,
        password: &str,
        old_session: Option<&str>,
    ) -> Result<(Member, String), AccountError> {
        let key = username.trim().to_lowercase();
        self.throttle
            .check(self.store.as_ref(), client, &key)
            .await?;
        if password.chars().count() > MAX_PASSWORD {
            return Err(AccountError::BadCredentials);
        }
        let member = self.member(&key).await?;
        let pw = password.to_string();
        // Verify against a dummy hash when the user is unknown, so timing does not tell which
        // usernames exist.
        let known = member.as_ref().map(|m| m.password_hash.clone());
        let dummy = self.dummy_hash.clone();
        let ok = actix_web::rt::task::spawn_blocking(move || match known {
            Some(phc) => verify_password(&pw, &phc),
            None => verify_password(&pw, dummy.wait()),
        })
        .await
        .map_err(|e| AccountError::Store(format!("verification failed: {e}").into()))?;
        let member = match (member, ok) {
            (Some(m), true) => m,
            _ => return Err(AccountError::BadCredentials),
        };
        if let Some(old) = old_session {
            self.store.remove_session(sha256(old)).await?;
        }
        let secret = random_hex()?;
        let now = Utc::now();
        let s = Session {
            username: member.username.clone(),
            csrf: random_hex()?,
            created_at: now,
            expires_at: now + Duration::days(SESSION_DAYS),
        };
        self.store.put_session(sha256(&secret), &s).await?;
        Ok((member, secret))
    }

    /// The session and member behind a cookie value, if it is valid and not expired.
    pub async fn session(&self, secret: &str) -> Result<Option<(Session, Member)>, AccountError> {
        if secret.len() != 64 {
            return Ok(None);
        }
        let key = sha256(secret);
        let Some((s, member)) = self.store.session_with_member(key).await? else {
            return Ok(None);
        };
        if s.expires_at <= Utc::now() {
            self.store.remove_session(key).await?;
            return Ok(None);
        }
        Ok(member.map(|m| (s, m)))
    }

    /// Ends a session on the server (sign out).
    pub async fn logout(&self, secret: &str) -> Result<(), AccountError> {
        Ok(self.store.remove_session(sha256(secret)).await?)
    }
}

/// Slows down repeated sign-in attempts, per client address and per username. The allowances
/// live in the store, so every process serving it counts the same attempts.
pub struct LoginThrottle {
    per_client: Allowance,
    per_user: Allowance,
}

impl LoginThrottle {
    fn new() -> Self {
        LoginThrottle {
            // 20 attempts at once, then one every 6 s from one address.
            per_client: Allowance {
                every: Duration::seconds(6),
                burst: 20,
            },
            // 5 attempts at once, then one every 12 s for one username.
            per_user: Allowance {
                every: Duration::seconds(12),
                burst: 5,
            },
        }
    }

    async fn check(
        &self,
        store: &dyn Storage,
        client: &str,
        username: &str,
    ) -> Result<(), AccountError> {
        let now = Utc::now();
        for (allowance, key) in [
            (self.per_client, format!("client:{client}")),
            (self.per_user, format!("user:{username}")),
        ] {
            if let Some(wait) = store.take_attempt(&key, allowance, now).await? {
                return Err(AccountError::Throttled(wait.num_seconds().max(1) as u64));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role, name: &str) -> Member {
        Member {
            username: name.into(),
            display_name: name.into(),
            role,
            password_hash: String::new(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn usernames_are_lower_case_and_plain() {
        assert_eq!(check_username(" Ada.L ").unwrap(), "ada.l");
        assert!(check_username("ab").is_err());
        assert!(check_username("a b c").is_err());
        assert!(check_username("<script>").is_err());
    }

    #[test]
    fn passwords_must_be_long_enough() {
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pass").is_ok());
        assert_eq!(
            check_password("short").unwrap_err().field(),
            Some("password")
        );
    }

    #[test]
    fn only_the_owner_manages_the_team_and_cannot_be_removed() {
        let owner = member(Role::Owner, "owner");
        let staff = member(Role::Staff, "staff");
        assert!(check_removal(&owner, &staff).is_ok());
        assert!(check_removal(&staff, &owner).is_err());
        assert!(check_removal(&staff, &member(Role::Staff, "other")).is_err());
        assert!(check_removal(&owner, &owner).is_err());
        assert!(!Role::Staff.can_manage_tokens());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("", ""));
    }

    #[tokio::test]
    async fn repeated_attempts_for_one_user_are_throttled() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sled::SledStore::open(dir.path()).unwrap();
        let t = LoginThrottle::new();
        for _ in 0..5 {
            assert!(t.check(&store, "1.2.3.4", "ada").await.is_ok());
        }
        assert!(matches!(
            t.check(&store, "1.2.3.4", "ada").await,
            Err(AccountError::Throttled(_))
        ));
        assert!(t.check(&store, "1.2.3.4", "bob").await.is_ok());
    }
}
