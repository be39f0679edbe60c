-- Reply templates (*mẫu trả lời*): texts the admins keep for staff's public replies, per category
-- and per the status the reply goes with (as FixMyStreet's response templates). Placeholders such
-- as {id}, {category} and {deadline} are stored as typed; the staff console fills them in.

CREATE TABLE reply_templates (
    template_id    UUID PRIMARY KEY,
    -- A category's code; NULL: fits every category.
    category_code  TEXT,
    -- The report status the reply goes with (resolved, rejected, in_progress …); NULL: any status.
    status         TEXT,
    title          TEXT NOT NULL,
    body_vi        TEXT NOT NULL,
    body_en        TEXT NOT NULL DEFAULT '',
    -- Order in the lists (smaller first).
    position       INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    -- Set when an admin removes it: no longer offered.
    archived_at    TIMESTAMPTZ
);
CREATE INDEX reply_templates_fit_idx ON reply_templates (category_code, status)
    WHERE archived_at IS NULL;
