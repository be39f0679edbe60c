-- Accounts, sign-in and the ward's organisation (units, health stations).
-- Identifiers are UUIDv7 made by the application (sortable by creation time).
-- Every table has created_at/updated_at; times are UTC.

CREATE TABLE accounts (
    account_id    UUID PRIMARY KEY,
    -- E.164, normalised before it gets here; unique so one person has one account.
    phone         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL CHECK (role IN ('resident', 'staff', 'doctor', 'admin')),
    language      TEXT NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    -- argon2id PHC string; NULL for residents, who sign in by one-time code.
    password_hash TEXT,
    -- Set when an admin issued a one-time password; cleared when the person picks their own.
    password_must_change BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_at   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX accounts_role_idx ON accounts (role, account_id);

-- One row per code sent. The code itself is never stored, only an HMAC of it.
-- Rows double as the rate-limit ledger (per phone and per client IP), which every instance shares.
CREATE TABLE otp_challenges (
    otp_challenge_id UUID PRIMARY KEY,
    phone            TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    code_hash        TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    expires_at       TIMESTAMPTZ NOT NULL,
    consumed_at      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX otp_challenges_phone_idx ON otp_challenges (phone, created_at);
CREATE INDEX otp_challenges_ip_idx ON otp_challenges (client_ip, created_at);

-- The embedded SMS sender writes here (and to the log) instead of calling a gateway.
CREATE TABLE sms_outbox (
    sms_outbox_id UUID PRIMARY KEY,
    phone         TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX sms_outbox_phone_idx ON sms_outbox (phone, created_at);

-- Failed password sign-ins, for the per-phone limit.
CREATE TABLE login_failures (
    login_failure_id UUID PRIMARY KEY,
    phone            TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_phone_idx ON login_failures (phone, created_at);

-- Rotating refresh tokens, stored as SHA-256 of the token. A family is one sign-in; presenting a
-- token that was already rotated revokes the whole family (someone copied it).
CREATE TABLE refresh_tokens (
    refresh_token_id UUID PRIMARY KEY,
    family_id        UUID NOT NULL,
    account_id       UUID NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    token_hash       TEXT NOT NULL UNIQUE,
    expires_at       TIMESTAMPTZ NOT NULL,
    rotated_at       TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- Ward units that handle reports: a public works team, a neighbourhood (khu phố) office…
CREATE TABLE units (
    unit_id    UUID PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL CHECK (kind IN ('team', 'neighbourhood', 'office')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE unit_members (
    unit_id    UUID NOT NULL REFERENCES units (unit_id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (unit_id, account_id)
);

-- Health stations (trạm y tế) where doctors hold consultations.
CREATE TABLE stations (
    station_id UUID PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    address    TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE station_doctors (
    station_id UUID NOT NULL REFERENCES stations (station_id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (station_id, account_id)
);
