-- Each resident's latest pre-call test with a verdict (from `GET /v1/rtc/echo/{id}`), so the
-- station's doctors see in the waiting room whether the resident's phone and network can carry
-- video. One row per account, replaced by each newer test.
-- SQLite twin of migrations/postgres/0021_precall_checks.sql.

CREATE TABLE precall_checks (
    account_id  BLOB PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    -- video_ok, audio_only or cannot_connect.
    verdict     TEXT NOT NULL,
    rtt_ms      REAL,
    -- The test's media went through a TURN relay.
    relay       INTEGER NOT NULL,
    checked_at  TEXT NOT NULL
);
