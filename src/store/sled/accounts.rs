//! Team members and sessions in the `members` and `sessions` trees.

use super::SledStore;
use crate::domain::team::{Member, Session};
use crate::ports::{Conflict, StoreError};
use crate::store::codec::{decode, encode};
use chrono::{DateTime, Utc};

impl SledStore {
    /// Adds a member unless the username is taken.
    pub fn insert_member(&self, m: &Member) -> Result<(), StoreError> {
        let bytes = encode(m)?;
        let _gate = self.write_gate();
        let swapped = self.members.compare_and_swap(
            m.username.as_bytes(),
            None as Option<&[u8]>,
            Some(bytes),
        )?;
        swapped.map_err(|_| StoreError::Conflict(Conflict::Taken(m.username.clone())))
    }

    /// Adds the first member only while none exists (the write gate is held for reading by
    /// every write; the first-member lock keeps two setups apart).
    pub fn insert_first_member(&self, m: &Member) -> Result<(), StoreError> {
        let _one = self.first_member.lock().unwrap_or_else(|p| p.into_inner());
        if self.members.first()?.is_some() {
            return Err(StoreError::Conflict(Conflict::Other(
                "An owner account already exists".into(),
            )));
        }
        self.insert_member(m)
    }

    /// Removes a member and every session of theirs.
    pub fn remove_member(&self, username: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        self.members.remove(username.as_bytes())?;
        for entry in self.sessions.iter() {
            let (k, v) = entry?;
            if decode::<Session>("session", &v)
                .map(|s| s.username == username)
                .unwrap_or(true)
            {
                self.sessions.remove(k)?;
            }
        }
        Ok(())
    }

    /// One member by (lower-case) username.
    pub fn member(&self, username: &str) -> Result<Option<Member>, StoreError> {
        match self.members.get(username.as_bytes())? {
            Some(v) => Ok(Some(decode("member", &v)?)),
            None => Ok(None),
        }
    }

    /// Every member.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        let mut out = Vec::new();
        for entry in self.members.iter() {
            let (_, v) = entry?;
            out.push(decode::<Member>("member", &v)?);
        }
        Ok(out)
    }

    /// Stores a session.
    pub fn put_session(&self, key: [u8; 32], s: &Session) -> Result<(), StoreError> {
        let bytes = encode(s)?;
        let _gate = self.write_gate();
        self.sessions.insert(key, bytes)?;
        Ok(())
    }

    /// A session by the hash of its cookie value.
    pub fn session(&self, key: [u8; 32]) -> Result<Option<Session>, StoreError> {
        match self.sessions.get(key)? {
            Some(v) => Ok(Some(decode("session", &v)?)),
            None => Ok(None),
        }
    }

    /// Ends a session.
    pub fn remove_session(&self, key: [u8; 32]) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        self.sessions.remove(key)?;
        Ok(())
    }

    /// Drops expired (or unreadable) sessions.
    pub fn purge_sessions(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        for entry in self.sessions.iter() {
            let (k, v) = entry?;
            let expired = decode::<Session>("session", &v)
                .map(|s| s.expires_at <= now)
                .unwrap_or(true);
            if expired {
                let _gate = self.write_gate();
                self.sessions.remove(k)?;
            }
        }
        Ok(())
    }
}
