-- Map points over a small box are found through the H3 cells' covering indexes: with the category
-- in them too, SQLite reads a page of points from the index alone (no table row per point).
DROP INDEX reports_h3_r10_idx;
DROP INDEX reports_h3_r8_idx;
CREATE INDEX reports_h3_r10_idx ON reports (h3_r10, report_id, status, updated_at, lat, lon, category_id);
CREATE INDEX reports_h3_r8_idx ON reports (h3_r8, report_id, status, updated_at, lat, lon, category_id);
