//! The team: members with a role, and their sign-in sessions. Who may do what is decided here
//! (`Role`); passwords and secrets are the service's business.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Created by the setup link; manages the team and the API tokens.
    Owner,
    /// Works orders; cannot manage the team or tokens.
    Staff,
}

impl Role {
    /// The name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Staff => "Staff",
        }
    }

    /// Whether this role may add and remove team members.
    pub fn can_manage_team(self) -> bool {
        self == Role::Owner
    }

    /// Whether this role may create and revoke API tokens.
    pub fn can_manage_tokens(self) -> bool {
        self == Role::Owner
    }
}

/// A team member as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Lower-case login name; the key of the `members` tree.
    pub username: String,
    /// The name shown on notes and the timeline.
    pub display_name: String,
    pub role: Role,
    /// PHC string (`$argon2id$v=19$…`).
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// A signed-in browser, as stored (keyed by the SHA-256 of its cookie value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub username: String,
    /// The per-session token every state-changing form must carry (hex).
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
