-- Call-quality telemetry: summaries of their WebRTC stats that the participants' apps post during a
-- call. The station's figures show the share of relayed and of poor-quality calls.
CREATE TABLE call_quality (
    sample_id        UUID PRIMARY KEY,
    consultation_id  UUID NOT NULL REFERENCES consultations (consultation_id) ON DELETE CASCADE,
    account_id       UUID NOT NULL REFERENCES accounts (account_id),
    rtt_ms           DOUBLE PRECISION,
    jitter_ms        DOUBLE PRECISION,
    loss_percent     DOUBLE PRECISION,
    bitrate_kbps     DOUBLE PRECISION,
    -- The selected ICE candidate pair's local type: host, srflx, prflx or relay.
    candidate_type   TEXT CHECK (candidate_type IN ('host', 'srflx', 'prflx', 'relay')),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX call_quality_consultation_idx ON call_quality (consultation_id, account_id);
