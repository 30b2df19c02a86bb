-- Sign-in allowances shared by every instance: when each key's allowance is whole again.
CREATE TABLE login_attempts (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL
);
CREATE INDEX login_attempts_tat ON login_attempts (tat);
