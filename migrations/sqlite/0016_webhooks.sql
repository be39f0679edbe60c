-- Signed webhooks for the ward's integrations (the city's systems, a province dashboard): an admin
-- registers an HTTPS endpoint and the events it wants; every event is written to an outbox in the
-- same transaction as the change it announces, and a worker delivers it (at least once, in order
-- per report or consultation), retrying with backoff across restarts.
-- SQLite twin of migrations/postgres/0016_webhooks.sql.

CREATE TABLE webhook_endpoints (
    webhook_id   BLOB PRIMARY KEY,
    url          TEXT NOT NULL,
    -- The event names it subscribes to, separated by single spaces (`report.created report.resolved`),
    -- so the outbox's INSERT … SELECT can match them with LIKE on both backends.
    events       TEXT NOT NULL,
    -- The HMAC-SHA256 key its deliveries are signed with. Kept as is: signing needs it, and it is
    -- shown to the admin only once, when the endpoint is registered.
    secret       TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_by   BLOB REFERENCES accounts (account_id) ON DELETE SET NULL,
    -- Set when an admin removes it: nothing more is enqueued for it or attempted.
    disabled_at  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- The outbox: one row per event per subscribed endpoint, its body fixed when it was enqueued.
CREATE TABLE webhook_deliveries (
    -- Enqueue order: deliveries of one subject to one endpoint go out in this order.
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The event's id (the body's `id` and the `Wardline-Delivery` header), the same for every
    -- endpoint the event goes to: what a receiver deduplicates retries on.
    event_id         BLOB NOT NULL,
    webhook_id       BLOB NOT NULL REFERENCES webhook_endpoints (webhook_id) ON DELETE CASCADE,
    -- The report or consultation the event is about.
    subject_id       BLOB NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    -- A worker holds the row until then while it delivers it (an instance that dies mid-delivery
    -- lets go when it passes).
    leased_until     TEXT,
    delivered_at     TEXT,
    -- Given up after too many failed attempts: no longer retried, still listed.
    dead_at          TEXT,
    -- The receiver's last HTTP status, and what went wrong (status, timeout, refused connection).
    last_status      INTEGER,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
-- What is left to deliver, by when it is due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND dead_at IS NULL;
-- The oldest undelivered row of a subject (ordering), and an endpoint's recent deliveries.
CREATE INDEX webhook_deliveries_subject_idx ON webhook_deliveries (webhook_id, subject_id, seq);
