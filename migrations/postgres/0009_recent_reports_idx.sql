-- Feed and map lists over larger boxes read the ids newest first and stop at a full page; with the
-- columns the public filter reads in the same index, no row is read until it is on the page.
CREATE INDEX reports_recent_idx ON reports (report_id, status, updated_at, lat, lon);
