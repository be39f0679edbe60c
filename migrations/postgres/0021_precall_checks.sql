-- Each resident's latest pre-call test with a verdict (from `GET /v1/rtc/echo/{id}`), so the
-- station's doctors see in the waiting room whether the resident's phone and network can carry
-- video. One row per account, replaced by each newer test.
-- PostgreSQL twin of migrations/sqlite/0021_precall_checks.sql.

CREATE TABLE precall_checks (
    account_id  UUID PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,
    -- video_ok, audio_only or cannot_connect.
    verdict     TEXT NOT NULL,
    rtt_ms      DOUBLE PRECISION,
    -- The test's media went through a TURN relay.
    relay       BOOLEAN NOT NULL,
    checked_at  TIMESTAMPTZ NOT NULL
);
