-- SQLite twin of migrations/postgres/0006_bus.sql. One embedded process needs no bus between
-- instances; the table exists so both schemas stay the same.
CREATE TABLE bus_spill (
    spill_id    BLOB PRIMARY KEY,
    topic       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX bus_spill_created_idx ON bus_spill (created_at);
