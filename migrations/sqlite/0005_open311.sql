-- no-transaction
-- Open311 GeoReport v2: reports may now arrive from third-party apps (channel 'open311'), which
-- an admin lets in with an API key. SQLite twin of migrations/postgres/0005_open311.sql.
--
-- SQLite cannot change a CHECK constraint in place, so `reports` is rebuilt the way the SQLite
-- manual prescribes (new table, copy, drop, rename) with foreign keys off: dropping the old table
-- with them on would cascade-delete every report's photos, history and subscribers. That needs
-- PRAGMA foreign_keys outside a transaction, hence `no-transaction` above and the explicit
-- BEGIN/COMMIT around the work.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE reports_new (
    report_id        BLOB PRIMARY KEY,
    category_id      BLOB NOT NULL REFERENCES categories (category_id),
    -- NULL when staff entered it for someone without an account.
    reporter_id      BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    -- app (online), counter (walk-in), phone (hotline), open311 (a third-party civic app, online).
    channel          TEXT NOT NULL CHECK (channel IN ('app', 'counter', 'phone', 'open311')),
    entered_by       BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    description      TEXT NOT NULL,
    lat              REAL NOT NULL,
    lon              REAL NOT NULL,
    accuracy_m       REAL,
    address          TEXT NOT NULL DEFAULT '',
    -- H3 cells at several resolutions (as signed 64-bit; H3 never sets the top bit), for clustering.
    h3_r10           INTEGER NOT NULL,
    h3_r8            INTEGER NOT NULL,
    h3_r6            INTEGER NOT NULL,
    h3_r4            INTEGER NOT NULL,
    area_id          BLOB REFERENCES areas (area_id) ON DELETE SET NULL,
    unit_id          BLOB REFERENCES units (unit_id) ON DELETE SET NULL,
    assignee_id      BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    status           TEXT NOT NULL CHECK (status IN ('submitted', 'received', 'assigned', 'in_progress',
                         'resolved', 'rejected', 'duplicate', 'closed', 'reopened')),
    severity         TEXT NOT NULL CHECK (severity IN ('low', 'normal', 'high', 'urgent')),
    answers          TEXT NOT NULL DEFAULT '{}',
    public_reply     TEXT,
    duplicate_of     BLOB REFERENCES reports (report_id),
    me_too_count     INTEGER NOT NULL DEFAULT 0,
    ack_by           TEXT NOT NULL,
    resolve_by       TEXT NOT NULL,
    acknowledged_at  TEXT,
    resolved_at      TEXT,
    closed_at        TEXT,
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment   TEXT,
    rated_at         TEXT,
    captured_at      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

INSERT INTO reports_new SELECT * FROM reports;
DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;
CREATE INDEX reports_status_created_idx ON reports (status, created_at);
CREATE INDEX reports_category_status_idx ON reports (category_id, status);
CREATE INDEX reports_lat_lon_idx ON reports (lat, lon);
CREATE INDEX reports_h3_r10_idx ON reports (h3_r10);
CREATE INDEX reports_h3_r8_idx ON reports (h3_r8);
CREATE INDEX reports_h3_r6_idx ON reports (h3_r6);
CREATE INDEX reports_reporter_idx ON reports (reporter_id, created_at);
CREATE INDEX reports_unit_queue_idx ON reports (unit_id, status, resolve_by);

-- Third-party civic apps (FixMyStreet, SeeClickFix, city dashboards) an admin has let write through
-- Open311. The key is shown once when issued; only its SHA-256 is kept. Revoked keys stay for the
-- record (which app sent which report).
CREATE TABLE open311_clients (
    open311_client_id  BLOB PRIMARY KEY,
    name               TEXT NOT NULL,
    -- Who to call about the app (free text: a person, an email).
    contact            TEXT NOT NULL DEFAULT '',
    -- Hex SHA-256 of the key: a 256-bit random key needs no slow hash, and lookups stay indexed.
    key_hash           TEXT NOT NULL UNIQUE,
    -- The first characters of the key, so admins can tell keys apart without seeing them.
    key_prefix         TEXT NOT NULL,
    created_by         BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    revoked_at         TEXT,
    last_used_at       TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

-- One row per keyed write: the rate-limit ledger, shared by every instance through the database.
CREATE TABLE open311_key_uses (
    open311_key_use_id BLOB PRIMARY KEY,
    open311_client_id  BLOB NOT NULL REFERENCES open311_clients (open311_client_id) ON DELETE CASCADE,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX open311_key_uses_client_idx ON open311_key_uses (open311_client_id, created_at);

-- Which app sent which report, and the token handed back for it. The report itself is an ordinary
-- row of `reports` (channel 'open311'): Open311 is a facade, not a second store.
CREATE TABLE open311_requests (
    report_id          BLOB PRIMARY KEY REFERENCES reports (report_id) ON DELETE CASCADE,
    open311_client_id  BLOB NOT NULL REFERENCES open311_clients (open311_client_id),
    token              TEXT NOT NULL UNIQUE,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);

COMMIT;
PRAGMA foreign_keys = ON;
