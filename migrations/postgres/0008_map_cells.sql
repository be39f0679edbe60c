-- The public map's clusters, counted ahead (issue 3, P1: a map at low zoom over a million reports
-- must not count them row by row). One row per H3 cell (resolutions 4, 6 and 8), per day: how many
-- reports in that cell the public map shows. Open reports are shown whatever their age and count
-- under day -1; resolved and closed ones count under the UTC day of their last change (days since
-- 1970-01-01), so "resolved in the last six months" is a range of days. Rejected and duplicate
-- reports are never on the map. Kept by a trigger, in the transaction that changes the report.
CREATE TABLE report_cells (
    res   SMALLINT NOT NULL,
    cell  BIGINT NOT NULL,
    day   INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (res, cell, day)
);

CREATE FUNCTION report_cell_day(status TEXT, updated_at TIMESTAMPTZ) RETURNS INTEGER
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN status IN ('submitted', 'received', 'assigned', 'in_progress', 'reopened') THEN -1
        WHEN status IN ('resolved', 'closed')
            THEN (updated_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01'
    END
$$;

CREATE FUNCTION report_cells_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    od INTEGER;
    nd INTEGER;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        od := report_cell_day(OLD.status, OLD.updated_at);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        nd := report_cell_day(NEW.status, NEW.updated_at);
    END IF;
    IF TG_OP = 'UPDATE' AND od IS NOT DISTINCT FROM nd AND OLD.h3_r4 = NEW.h3_r4
        AND OLD.h3_r6 = NEW.h3_r6 AND OLD.h3_r8 = NEW.h3_r8 THEN
        RETURN NULL;
    END IF;
    -- One statement, its rows in key order: concurrent changes lock the counters in the same
    -- order, so they queue and never deadlock.
    INSERT INTO report_cells (res, cell, day, n)
    SELECT v.res, v.cell, v.day, SUM(v.d)::INTEGER
    FROM (VALUES
        (4::SMALLINT, OLD.h3_r4, od, -1), (6::SMALLINT, OLD.h3_r6, od, -1), (8::SMALLINT, OLD.h3_r8, od, -1),
        (4::SMALLINT, NEW.h3_r4, nd, 1), (6::SMALLINT, NEW.h3_r6, nd, 1), (8::SMALLINT, NEW.h3_r8, nd, 1)
    ) AS v (res, cell, day, d)
    WHERE v.day IS NOT NULL AND v.cell IS NOT NULL
    GROUP BY v.res, v.cell, v.day
    HAVING SUM(v.d) <> 0
    ORDER BY v.res, v.cell, v.day
    ON CONFLICT (res, cell, day) DO UPDATE SET n = report_cells.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER report_cells_sync AFTER INSERT OR DELETE OR UPDATE OF status, updated_at, h3_r4, h3_r6, h3_r8
    ON reports FOR EACH ROW EXECUTE FUNCTION report_cells_sync();

INSERT INTO report_cells (res, cell, day, n)
SELECT res, cell, day, COUNT(*)::INTEGER FROM (
    SELECT 4 AS res, h3_r4 AS cell, report_cell_day(status, updated_at) AS day FROM reports
    UNION ALL SELECT 6, h3_r6, report_cell_day(status, updated_at) FROM reports
    UNION ALL SELECT 8, h3_r8, report_cell_day(status, updated_at) FROM reports
) AS r
WHERE day IS NOT NULL
GROUP BY res, cell, day;

-- Lists over a small box: the H3 cells covering the box, then the newest first. Everything the
-- public filter reads is in the index, so only the page's rows are fetched.
DROP INDEX reports_h3_r10_idx;
DROP INDEX reports_h3_r8_idx;
CREATE INDEX reports_h3_r10_idx ON reports (h3_r10, report_id, status, updated_at, lat, lon);
CREATE INDEX reports_h3_r8_idx ON reports (h3_r8, report_id, status, updated_at, lat, lon);
