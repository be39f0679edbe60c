-- One row per photo and owner. An upload answers a photo its owner sent before with the first
-- upload's row, but it looked before it inserted, so two uploads of the same bytes racing each
-- other could both insert. The unique index at the end makes the database the judge; the upload
-- inserts with ON CONFLICT DO NOTHING and answers with the row that won.
--
-- Duplicates written before then are merged first into the owner's oldest row for those bytes
-- (the one an upload sent again has always been answered with). Their stored copies are the
-- kept row's too (object keys are the content hash), so no object is left without a row.

-- Each duplicate and the row it merges into, with both ids also as the text that
-- idempotency_keys.response_body holds.
CREATE TABLE media_merge (
    drop_id    UUID PRIMARY KEY,
    keep_id    UUID NOT NULL,
    drop_text  TEXT NOT NULL,
    keep_text  TEXT NOT NULL
);
INSERT INTO media_merge (drop_id, keep_id, drop_text, keep_text)
SELECT media_id, keep_id, CAST(media_id AS TEXT), CAST(keep_id AS TEXT)
FROM (
    SELECT media_id,
           FIRST_VALUE(media_id) OVER (
               PARTITION BY owner_id, content_hash ORDER BY created_at, media_id
           ) AS keep_id
    FROM media
) ranked
WHERE media_id <> keep_id;

-- A report showing the same photo through two rows keeps one attachment: the kept row's if it
-- has it, otherwise the duplicate with the smallest id (the primary key allows one per report).
DELETE FROM report_media
WHERE EXISTS (
    SELECT 1
    FROM media_merge mine
    JOIN report_media other
      ON other.report_id = report_media.report_id AND other.media_id <> report_media.media_id
    LEFT JOIN media_merge theirs ON theirs.drop_id = other.media_id
    WHERE mine.drop_id = report_media.media_id
      AND COALESCE(theirs.keep_id, other.media_id) = mine.keep_id
      AND (other.media_id = mine.keep_id OR other.media_id < report_media.media_id)
);
UPDATE report_media
SET media_id = (SELECT keep_id FROM media_merge WHERE drop_id = report_media.media_id)
WHERE media_id IN (SELECT drop_id FROM media_merge);

-- A retried upload with its Idempotency-Key is answered with the row it names: the kept one.
UPDATE idempotency_keys
SET response_body = (SELECT keep_text FROM media_merge WHERE drop_text = idempotency_keys.response_body)
WHERE scope = 'media' AND response_body IN (SELECT drop_text FROM media_merge);

DELETE FROM media WHERE media_id IN (SELECT drop_id FROM media_merge);
DROP TABLE media_merge;

CREATE UNIQUE INDEX media_owner_hash_key ON media (owner_id, content_hash);
