-- Photos sent with a comment belong to that comment: the history shows them with it, to the same
-- people. NULL for a report's own photos and for resolution evidence.
ALTER TABLE report_media ADD COLUMN report_event_id UUID REFERENCES report_events (report_event_id) ON DELETE CASCADE;
CREATE INDEX report_media_event_idx ON report_media (report_event_id) WHERE report_event_id IS NOT NULL;
