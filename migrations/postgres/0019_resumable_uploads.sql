-- Resumable photo uploads (tus 1.0, issue 20): a phone on a weak line sends a photo in pieces and,
-- when the connection breaks, asks how much arrived and sends only the rest. Nothing of an upload
-- lives in a server's memory: the row says how far it got, and the bytes are objects in the photo
-- store, one per piece received (S3 cannot append), so any instance can take the next piece.

CREATE TABLE media_uploads (
    upload_id      UUID PRIMARY KEY,
    -- Only its owner may see, continue or end it.
    owner_id       UUID NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    -- The photo's size as announced (Upload-Length), and the bytes stored so far (Upload-Offset).
    upload_length  BIGINT NOT NULL CHECK (upload_length > 0),
    upload_offset  BIGINT NOT NULL DEFAULT 0 CHECK (upload_offset >= 0 AND upload_offset <= upload_length),
    -- Upload-Metadata as sent (echoed on HEAD), and what it named.
    metadata       TEXT NOT NULL DEFAULT '',
    file_name      TEXT,
    content_type   TEXT,
    -- Set once the last byte arrived and the photo went through the pipeline.
    media_id       UUID REFERENCES media (media_id) ON DELETE SET NULL,
    -- Moves forward with every piece; past it the sweeper deletes the row and its pieces.
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
-- The bound on open uploads per owner counts these.
CREATE INDEX media_uploads_owner_idx ON media_uploads (owner_id, expires_at);
CREATE INDEX media_uploads_expires_idx ON media_uploads (expires_at);

-- The pieces, in the order of their offsets. Object keys are unique per piece, so two requests
-- racing at one offset never write over each other's object; the one whose offset update lost
-- deletes its own.
CREATE TABLE media_upload_parts (
    upload_id    UUID NOT NULL REFERENCES media_uploads (upload_id) ON DELETE CASCADE,
    part_offset  BIGINT NOT NULL,
    part_length  BIGINT NOT NULL CHECK (part_length > 0),
    object_key   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (upload_id, part_offset)
);
