-- SQLite twin of migrations/postgres/0007_call_quality.sql.
CREATE TABLE call_quality (
    sample_id        BLOB PRIMARY KEY,
    consultation_id  BLOB NOT NULL REFERENCES consultations (consultation_id) ON DELETE CASCADE,
    account_id       BLOB NOT NULL REFERENCES accounts (account_id),
    rtt_ms           REAL,
    jitter_ms        REAL,
    loss_percent     REAL,
    bitrate_kbps     REAL,
    candidate_type   TEXT CHECK (candidate_type IN ('host', 'srflx', 'prflx', 'relay')),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX call_quality_consultation_idx ON call_quality (consultation_id, account_id);
