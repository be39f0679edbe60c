-- The bus between instances (PostgreSQL LISTEN/NOTIFY). A notification carries at most 8000 bytes;
-- larger payloads (SDP offers can be) are stored here and the notification names the row. Rows are
-- swept after five minutes.
CREATE TABLE bus_spill (
    spill_id    UUID PRIMARY KEY,
    topic       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX bus_spill_created_idx ON bus_spill (created_at);
