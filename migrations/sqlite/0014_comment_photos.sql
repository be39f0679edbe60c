-- Photos sent with a comment belong to that comment: the history shows them with it, to the same
-- people. NULL for a report's own photos and for resolution evidence.
ALTER TABLE report_media ADD COLUMN report_event_id BLOB REFERENCES report_events (report_event_id) ON DELETE CASCADE;
