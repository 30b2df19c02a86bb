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

/// An allowance of attempts (sign-ins): `burst` at once, then one more every `every`. Kept as
/// the time the allowance is next whole again ("theoretical arrival time", the generic cell rate
/// algorithm), so one timestamp per key is all a store needs to share it between processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub every: chrono::Duration,
    pub burst: u32,
}

impl Allowance {
    /// Takes one attempt at `now` from an allowance last at `tat`: the new `tat` to store, or
    /// how long to wait before the next attempt is allowed.
    pub fn take(
        &self,
        tat: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, chrono::Duration> {
        let next = tat.map_or(now, |t| t.max(now)) + self.every;
        let limit = self.every * self.burst as i32;
        if next - now <= limit {
            Ok(next)
        } else {
            Err(next - now - limit)
        }
    }
}

#[cfg(test)]
mod allowance_tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_period() {
        let a = Allowance {
            every: chrono::Duration::seconds(12),
            burst: 5,
        };
        let now = Utc::now();
        let mut tat = None;
        for _ in 0..5 {
            tat = Some(a.take(tat, now).expect("within the burst"));
        }
        let wait = a.take(tat, now).expect_err("the sixth at once waits");
        assert_eq!(wait, chrono::Duration::seconds(12));
        // Twelve seconds later one more is allowed, and only one.
        let later = now + chrono::Duration::seconds(12);
        let tat = Some(a.take(tat, later).expect("refilled by one"));
        assert!(a.take(tat, later).is_err());
        // After a long quiet spell the whole burst is back.
        let much_later = later + chrono::Duration::hours(1);
        let mut tat = tat;
        for _ in 0..5 {
            tat = Some(a.take(tat, much_later).unwrap());
        }
    }
}
