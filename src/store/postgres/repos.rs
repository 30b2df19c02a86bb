//! The storage port on PostgreSQL, one trait at a time (orders are in `orders.rs`).

use super::customers::{contact_key, customer_of};
use super::orders::enqueue;
use super::{db, like_escape, status_code, PgStore};
use crate::domain::outbox::{OutboxMessage, OutboxStatus};
use crate::domain::team::{Allowance, Member, Session};
use crate::domain::CustomerId;
use crate::ports::{
    AccountRepo, BackupInfo, Conflict, CustomerRecord, CustomerRepo, Maintenance, OutboxRepo,
    Refusal, StoreError, TokenRecord, TokenRepo,
};
use crate::store::codec::{decode, encode};
use crate::store::keys;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

#[async_trait]
impl CustomerRepo for PgStore {
    async fn customer_by_contact(
        &self,
        email: &str,
        phone: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT c.* FROM customer_keys k JOIN customers_counted c ON c.id = k.customer_id \
             WHERE k.key = $1",
        )
        .bind(contact_key(email, phone))
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.as_ref().map(customer_of).transpose()
    }

    async fn customers(&self, q: &str, limit: usize) -> Result<Vec<CustomerRecord>, StoreError> {
        let mut b: QueryBuilder<Postgres> =
            QueryBuilder::new("SELECT * FROM customers_counted WHERE true");
        for w in keys::query_terms(q) {
            b.push(" AND search LIKE ")
                .push_bind(format!("% {}%", like_escape(&w)));
        }
        b.push(" ORDER BY id DESC LIMIT ").push_bind(limit as i64);
        let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(customer_of).collect()
    }

    async fn customer(&self, id: CustomerId) -> Result<CustomerRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM customers_counted WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(r) => customer_of(&r),
            None => Err(StoreError::NotFound(format!("Customer {id}"))),
        }
    }
}

#[async_trait]
impl TokenRepo for PgStore {
    async fn put_token(&self, hash: [u8; 32], record: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (hash, id, body) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO UPDATE SET body = EXCLUDED.body",
        )
        .bind(hash.as_slice())
        .bind(record.id)
        .bind(encode(record)?)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let body: Option<Vec<u8>> = sqlx::query_scalar("SELECT body FROM tokens WHERE hash = $1")
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        body.map(|b| decode("token", &b)).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let bodies: Vec<Vec<u8>> = sqlx::query_scalar("SELECT body FROM tokens ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        bodies.iter().map(|b| decode("token", b)).collect()
    }

    async fn revoke_token(&self, id: Uuid) -> Result<(), StoreError> {
        self.retry(|mut tx| async move {
            let body: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT body FROM tokens WHERE id = $1 FOR UPDATE")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            let mut t: TokenRecord = match body {
                Some(b) => decode("token", &b)?,
                None => return Err(StoreError::NotFound(format!("Token {id}"))),
            };
            t.revoked = true;
            sqlx::query("UPDATE tokens SET body = $2 WHERE id = $1")
                .bind(id)
                .bind(encode(&t)?)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            Ok(((), tx))
        })
        .await
    }
}

fn messages(bodies: Vec<Vec<u8>>) -> Result<Vec<OutboxMessage>, StoreError> {
    bodies.iter().map(|b| decode("outbox message", b)).collect()
}

#[async_trait]
impl OutboxRepo for PgStore {
    async fn outbox_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // Claimed for a minute: another instance skips them (SKIP LOCKED while this claim is
        // written, the lease after); saving the message after its attempt ends the lease, and
        // a crashed instance's messages come back when it runs out.
        let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
            "UPDATE outbox SET leased_until = now() + interval '60 seconds' \
             WHERE id IN (SELECT id FROM outbox WHERE status = 0 AND next_attempt_at <= $1 \
                          AND (leased_until IS NULL OR leased_until < now()) \
                          ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING body",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        messages(bodies)
    }

    async fn outbox_put(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        enqueue(&mut conn, msgs).await
    }

    async fn outbox_add(&self, msgs: &[OutboxMessage]) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        enqueue(&mut conn, msgs).await
    }

    async fn outbox_get(&self, id: Uuid) -> Result<OutboxMessage, StoreError> {
        let body: Option<Vec<u8>> = sqlx::query_scalar("SELECT body FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match body {
            Some(b) => decode("outbox message", &b),
            None => Err(StoreError::NotFound(format!("Message {id}"))),
        }
    }

    async fn outbox_list(
        &self,
        order: Option<u64>,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT body FROM outbox WHERE true");
        if let Some(n) = order {
            b.push(" AND order_number = ").push_bind(n as i64);
        }
        if let Some(s) = status {
            b.push(" AND status = ").push_bind(status_code(s));
        }
        b.push(" ORDER BY id DESC LIMIT ").push_bind(limit as i64);
        let rows = b.build().fetch_all(&self.pool).await.map_err(db)?;
        let bodies = rows
            .iter()
            .map(|r| r.try_get::<Vec<u8>, _>("body").map_err(db))
            .collect::<Result<Vec<_>, _>>()?;
        messages(bodies)
    }

    async fn outbox_for_endpoint(
        &self,
        endpoint: Uuid,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let bodies: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE endpoint = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(endpoint)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        messages(bodies)
    }
}

#[async_trait]
impl AccountRepo for PgStore {
    async fn insert_member(&self, m: &Member) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO members (username, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&m.username)
        .bind(encode(m)?)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::Taken(format!(
                "The username {}",
                m.username
            ))));
        }
        Ok(())
    }

    async fn insert_first_member(&self, m: &Member) -> Result<(), StoreError> {
        let body = encode(m)?;
        self.retry(|mut tx| {
            let body = body.clone();
            async move {
                // Two setups on two instances: the second waits here, then finds the owner.
                sqlx::query("LOCK TABLE members IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM members)")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                if any {
                    return Err(StoreError::Conflict(Conflict::Other(
                        "An owner account already exists".into(),
                    )));
                }
                sqlx::query("INSERT INTO members (username, body) VALUES ($1, $2)")
                    .bind(&m.username)
                    .bind(body)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                Ok(((), tx))
            }
        })
        .await
    }

    async fn take_attempt(
        &self,
        key: &str,
        allowance: Allowance,
        now: DateTime<Utc>,
    ) -> Result<Option<chrono::Duration>, StoreError> {
        self.retry(|mut tx| async move {
            // A row per key, locked while its allowance is taken (attempts on two instances
            // take turns).
            sqlx::query(
                "INSERT INTO login_attempts (key, tat) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            let tat: DateTime<Utc> =
                sqlx::query_scalar("SELECT tat FROM login_attempts WHERE key = $1 FOR UPDATE")
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            match allowance.take(Some(tat), now) {
                Ok(next) => {
                    sqlx::query("UPDATE login_attempts SET tat = $2 WHERE key = $1")
                        .bind(key)
                        .bind(next)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    // Allowances whole again are forgotten now and then.
                    if rand::random_range(0..100) == 0 {
                        sqlx::query("DELETE FROM login_attempts WHERE tat < $1")
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                    }
                    Ok((None, tx))
                }
                Err(wait) => Ok((Some(wait), tx)),
            }
        })
        .await
    }

    async fn remove_member(&self, username: &str) -> Result<(), StoreError> {
        // Their sessions go with them (ON DELETE CASCADE): signed out everywhere.
        sqlx::query("DELETE FROM members WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn member(&self, username: &str) -> Result<Option<Member>, StoreError> {
        let body: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT body FROM members WHERE username = $1")
                .bind(username)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        body.map(|b| decode("member", &b)).transpose()
    }

    async fn members(&self) -> Result<Vec<Member>, StoreError> {
        let bodies: Vec<Vec<u8>> = sqlx::query_scalar("SELECT body FROM members")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        bodies.iter().map(|b| decode("member", b)).collect()
    }

    async fn has_members(&self) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM members)")
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    async fn put_session(&self, key: [u8; 32], s: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (key, username, expires_at, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET username = EXCLUDED.username, \
             expires_at = EXCLUDED.expires_at, body = EXCLUDED.body",
        )
        .bind(key.as_slice())
        .bind(&s.username)
        .bind(s.expires_at)
        .bind(encode(s)?)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn session_with_member(
        &self,
        key: [u8; 32],
    ) -> Result<Option<(Session, Option<Member>)>, StoreError> {
        let row: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
            "SELECT s.body, m.body FROM sessions s \
             LEFT JOIN members m ON m.username = s.username WHERE s.key = $1",
        )
        .bind(key.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some((s, m)) => Ok(Some((
                decode("session", &s)?,
                m.map(|m| decode("member", &m)).transpose()?,
            ))),
            None => Ok(None),
        }
    }

    async fn session(&self, key: [u8; 32]) -> Result<Option<Session>, StoreError> {
        let body: Option<Vec<u8>> = sqlx::query_scalar("SELECT body FROM sessions WHERE key = $1")
            .bind(key.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        body.map(|b| decode("session", &b)).transpose()
    }

    async fn remove_session(&self, key: [u8; 32]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE key = $1")
            .bind(key.as_slice())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}

#[async_trait]
impl Maintenance for PgStore {
    async fn backup_to(&self, _path: &std::path::Path) -> Result<BackupInfo, StoreError> {
        Err(StoreError::Refused(Refusal::TooBroad(
            "On PostgreSQL, back up the database with pg_dump (see the README)".into(),
        )))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
