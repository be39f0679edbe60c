-- Field reports: SQLite twin of migrations/postgres/0002_reports.sql (same tables and columns;
-- BLOB uuids, TEXT RFC 3339 UTC times, REAL coordinates, INTEGER H3 cells).

-- The service catalog (Open311 "services"). Deadlines are in working hours, by severity.
CREATE TABLE categories (
    category_id          BLOB PRIMARY KEY,
    -- Stable code used by clients and Open311 (service_code).
    code                 TEXT NOT NULL UNIQUE,
    name_vi              TEXT NOT NULL,
    name_en              TEXT NOT NULL,
    group_code           TEXT NOT NULL,
    -- The unit that handles it unless an area says otherwise.
    unit_id              BLOB REFERENCES units (unit_id) ON DELETE SET NULL,
    photo_required       BOOLEAN NOT NULL DEFAULT FALSE,
    -- Reports here hide who reported even from staff (e.g. a neighbour's illegal construction).
    -- The reporter is never shown publicly in any category.
    anonymous            BOOLEAN NOT NULL DEFAULT FALSE,
    duplicate_radius_m   INTEGER NOT NULL DEFAULT 250,
    -- Round public coordinates to this many decimals (NULL: exact).
    public_decimals      INTEGER,
    default_severity     TEXT NOT NULL DEFAULT 'normal' CHECK (default_severity IN ('low', 'normal', 'high', 'urgent')),
    -- Extra questions, as JSON: [{"key","label_vi","label_en","kind","required","choices"}].
    questions            TEXT NOT NULL DEFAULT '[]',
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

-- Uploaded photos. Only the metadata-free public copy and its thumbnail are stored; keys are
-- content-addressed, so the same photo uploaded twice is stored once.
CREATE TABLE media (
    media_id      BLOB PRIMARY KEY,
    owner_id      BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    content_hash  TEXT NOT NULL,
    public_key    TEXT NOT NULL,
    thumb_key     TEXT NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    hint_lat      REAL,
    hint_lon      REAL,
    captured_at   TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX media_owner_idx ON media (owner_id, created_at);
CREATE INDEX media_hash_idx ON media (content_hash);

-- Neighbourhoods (khu phố) and the ward itself, imported from GeoJSON; the bounding box prefilters
-- point-in-polygon tests.
CREATE TABLE areas (
    area_id     BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('ward', 'neighbourhood')),
    geojson     TEXT NOT NULL,
    min_lat     REAL NOT NULL,
    min_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    unit_id     BLOB REFERENCES units (unit_id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE reports (
    report_id        BLOB PRIMARY KEY,
    category_id      BLOB NOT NULL REFERENCES categories (category_id),
    -- NULL when staff entered it for someone without an account.
    reporter_id      BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    -- app (online), counter (walk-in), phone (hotline): the "online share" statistic.
    channel          TEXT NOT NULL CHECK (channel IN ('app', 'counter', 'phone')),
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
CREATE INDEX reports_status_created_idx ON reports (status, created_at);
CREATE INDEX reports_category_status_idx ON reports (category_id, status);
CREATE INDEX reports_lat_lon_idx ON reports (lat, lon);
CREATE INDEX reports_h3_r10_idx ON reports (h3_r10);
CREATE INDEX reports_h3_r8_idx ON reports (h3_r8);
CREATE INDEX reports_h3_r6_idx ON reports (h3_r6);
CREATE INDEX reports_reporter_idx ON reports (reporter_id, created_at);
CREATE INDEX reports_unit_queue_idx ON reports (unit_id, status, resolve_by);

-- Photos attached to a report: by the reporter, as resolution evidence, or with a comment.
CREATE TABLE report_media (
    report_id   BLOB NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,
    media_id    BLOB NOT NULL REFERENCES media (media_id),
    role        TEXT NOT NULL CHECK (role IN ('report', 'evidence', 'comment')),
    position    INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (report_id, media_id)
);

-- Everything that happened to a report, in order: transitions (who, when, note), comments, notes.
-- visibility: public (anyone), reporter (reporter, subscribers and staff), internal (staff only).
CREATE TABLE report_events (
    report_event_id  BLOB PRIMARY KEY,
    report_id        BLOB NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,
    actor_id         BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    kind             TEXT NOT NULL,
    from_status      TEXT,
    to_status        TEXT,
    note             TEXT NOT NULL DEFAULT '',
    visibility       TEXT NOT NULL CHECK (visibility IN ('public', 'reporter', 'internal')),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX report_events_report_idx ON report_events (report_id, created_at);

-- Who follows a report: its reporter, people who said "me too", anyone who subscribed.
CREATE TABLE report_subscribers (
    report_id   BLOB NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,
    account_id  BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('reporter', 'me_too', 'follower')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (report_id, account_id)
);
CREATE INDEX report_subscribers_account_idx ON report_subscribers (account_id);

CREATE TABLE notifications (
    notification_id  BLOB PRIMARY KEY,
    account_id       BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    report_id        BLOB REFERENCES reports (report_id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    body_vi          TEXT NOT NULL,
    body_en          TEXT NOT NULL,
    read_at          TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX notifications_account_idx ON notifications (account_id, created_at);

-- A phone on 3G retries; the same Idempotency-Key returns the first answer and creates nothing.
CREATE TABLE idempotency_keys (
    account_id     BLOB NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status_code    INTEGER NOT NULL,
    response_body  TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (account_id, scope, idem_key)
);
