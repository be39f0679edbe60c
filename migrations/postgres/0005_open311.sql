-- Open311 GeoReport v2: reports may now arrive from third-party apps (channel 'open311'), which
-- an admin lets in with an API key.

ALTER TABLE reports DROP CONSTRAINT reports_channel_check;
ALTER TABLE reports ADD CONSTRAINT reports_channel_check
    CHECK (channel IN ('app', 'counter', 'phone', 'open311'));

-- Third-party civic apps (FixMyStreet, SeeClickFix, city dashboards) an admin has let write through
-- Open311. The key is shown once when issued; only its SHA-256 is kept. Revoked keys stay for the
-- record (which app sent which report).
CREATE TABLE open311_clients (
    open311_client_id  UUID PRIMARY KEY,
    name               TEXT NOT NULL,
    -- Who to call about the app (free text: a person, an email).
    contact            TEXT NOT NULL DEFAULT '',
    -- Hex SHA-256 of the key: a 256-bit random key needs no slow hash, and lookups stay indexed.
    key_hash           TEXT NOT NULL UNIQUE,
    -- The first characters of the key, so admins can tell keys apart without seeing them.
    key_prefix         TEXT NOT NULL,
    created_by         UUID REFERENCES accounts (account_id) ON DELETE SET NULL,
    revoked_at         TIMESTAMPTZ,
    last_used_at       TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- One row per keyed write: the rate-limit ledger, shared by every instance through the database.
CREATE TABLE open311_key_uses (
    open311_key_use_id UUID PRIMARY KEY,
    open311_client_id  UUID NOT NULL REFERENCES open311_clients (open311_client_id) ON DELETE CASCADE,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX open311_key_uses_client_idx ON open311_key_uses (open311_client_id, created_at);

-- Which app sent which report, and the token handed back for it. The report itself is an ordinary
-- row of `reports` (channel 'open311'): Open311 is a facade, not a second store.
CREATE TABLE open311_requests (
    report_id          UUID PRIMARY KEY REFERENCES reports (report_id) ON DELETE CASCADE,
    open311_client_id  UUID NOT NULL REFERENCES open311_clients (open311_client_id),
    token              TEXT NOT NULL UNIQUE,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
