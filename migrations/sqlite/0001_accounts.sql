-- Accounts, sign-in and the ward's organisation (units, health stations). SQLite twin of
-- migrations/postgres/0001_accounts.sql: same tables and columns. UUIDs are 16-byte BLOBs and times
-- are RFC 3339 UTC TEXT as sqlx writes them (they sort in time order, so range queries work).

CREATE TABLE accounts (
    account_id    BLOB PRIMARY KEY,
    -- E.164, normalised before it gets here; unique so one person has one account.
    phone         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('resident', 'staff', 'doctor', 'admin')),
    language      TEXT NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    -- argon2id PHC string; NULL for residents, who sign in by one-time code.
    password_hash TEXT,
    -- Set when an admin issued a one-time password; cleared when the person picks their own.
    password_must_change BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX accounts_role_idx ON accounts (role, account_id);

-- One row per code sent. The code itself is never stored, only an HMAC of it.
-- Rows double as the rate-limit ledger (per phone and per client IP), which every instance shares.
CREATE TABLE otp_challenges (
    otp_challenge_id BLOB PRIMARY KEY,
    phone            TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    code_hash        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    expires_at       TEXT NOT NULL,
    consumed_at      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX otp_challenges_phone_idx ON otp_challenges (phone, created_at);
CREATE INDEX otp_challenges_ip_idx ON otp_challenges (client_ip, created_at);

-- The embedded SMS sender writes here (and to the log) instead of calling a gateway.
CREATE TABLE sms_outbox (
    sms_outbox_id BLOB PRIMARY KEY,
    phone         TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX sms_outbox_phone_idx ON sms_outbox (phone, created_at);

-- Failed password sign-ins, for the per-phone limit.
CREATE TABLE login_failures (
    login_failure_id BLOB PRIMARY KEY,
    phone            TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX login_failures_phone_idx ON login_failures (phone, created_at);

-- Rotating refresh tokens, stored as SHA-256 of the token. A family is one sign-in; presenting a
-- token that was already rotated revokes the whole family (someone copied it).
CREATE TABLE refresh_tokens (
    refresh_token_id BLOB PRIMARY KEY,
    family_id        BLOB NOT NULL,
    account_id       BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    token_hash       TEXT NOT NULL UNIQUE,
    expires_at       TEXT NOT NULL,
    rotated_at       TEXT,
    revoked_at       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Ward units that handle reports: a public works team, a neighbourhood (khu phố) office…
CREATE TABLE units (
    unit_id    BLOB PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('team', 'neighbourhood', 'office')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE unit_members (
    unit_id    BLOB NOT NULL REFERENCES units (unit_id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (unit_id, account_id)
);

-- Health stations (trạm y tế) where doctors hold consultations.
CREATE TABLE stations (
    station_id BLOB PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    address    TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE station_doctors (
    station_id BLOB NOT NULL REFERENCES stations (station_id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (station_id, account_id)
);
