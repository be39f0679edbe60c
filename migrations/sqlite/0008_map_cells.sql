-- SQLite twin of migrations/postgres/0008_map_cells.sql: the public map's clusters, counted ahead.
-- Days are counted from the stored RFC 3339 text (its first 10 characters are the UTC date).
CREATE TABLE report_cells (
    res   INTEGER NOT NULL,
    cell  INTEGER NOT NULL,
    day   INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    PRIMARY KEY (res, cell, day)
) WITHOUT ROWID;

-- The day of a report (NEW or OLD) is spelled out in each trigger: SQLite has no SQL functions.
CREATE TRIGGER report_cells_insert AFTER INSERT ON reports
WHEN NEW.status NOT IN ('rejected', 'duplicate')
BEGIN
    INSERT INTO report_cells (res, cell, day, n)
    SELECT r.res, r.cell, d.day, 1
    FROM (SELECT CASE WHEN NEW.status IN ('resolved', 'closed')
                      THEN CAST(julianday(substr(NEW.updated_at, 1, 10)) - 2440587.5 AS INTEGER)
                      ELSE -1 END AS day) AS d,
         (SELECT 4 AS res, NEW.h3_r4 AS cell UNION ALL SELECT 6, NEW.h3_r6 UNION ALL SELECT 8, NEW.h3_r8) AS r
    WHERE true
    ON CONFLICT (res, cell, day) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER report_cells_delete AFTER DELETE ON reports
WHEN OLD.status NOT IN ('rejected', 'duplicate')
BEGIN
    UPDATE report_cells SET n = n - 1
    WHERE day = CASE WHEN OLD.status IN ('resolved', 'closed')
                     THEN CAST(julianday(substr(OLD.updated_at, 1, 10)) - 2440587.5 AS INTEGER)
                     ELSE -1 END
      AND ((res = 4 AND cell = OLD.h3_r4) OR (res = 6 AND cell = OLD.h3_r6) OR (res = 8 AND cell = OLD.h3_r8));
END;

-- An update moves a report between counters only when its day (or status class) or cells change.
CREATE TRIGGER report_cells_leave AFTER UPDATE OF status, updated_at, h3_r4, h3_r6, h3_r8 ON reports
WHEN OLD.status NOT IN ('rejected', 'duplicate')
 AND (OLD.h3_r4 <> NEW.h3_r4 OR OLD.h3_r6 <> NEW.h3_r6 OR OLD.h3_r8 <> NEW.h3_r8
      OR (CASE WHEN OLD.status IN ('resolved', 'closed') THEN substr(OLD.updated_at, 1, 10)
               ELSE 'open' END)
         IS NOT (CASE WHEN NEW.status IN ('resolved', 'closed') THEN substr(NEW.updated_at, 1, 10)
                      WHEN NEW.status IN ('rejected', 'duplicate') THEN NULL
                      ELSE 'open' END))
BEGIN
    UPDATE report_cells SET n = n - 1
    WHERE day = CASE WHEN OLD.status IN ('resolved', 'closed')
                     THEN CAST(julianday(substr(OLD.updated_at, 1, 10)) - 2440587.5 AS INTEGER)
                     ELSE -1 END
      AND ((res = 4 AND cell = OLD.h3_r4) OR (res = 6 AND cell = OLD.h3_r6) OR (res = 8 AND cell = OLD.h3_r8));
END;

CREATE TRIGGER report_cells_enter AFTER UPDATE OF status, updated_at, h3_r4, h3_r6, h3_r8 ON reports
WHEN NEW.status NOT IN ('rejected', 'duplicate')
 AND (OLD.h3_r4 <> NEW.h3_r4 OR OLD.h3_r6 <> NEW.h3_r6 OR OLD.h3_r8 <> NEW.h3_r8
      OR (CASE WHEN OLD.status IN ('resolved', 'closed') THEN substr(OLD.updated_at, 1, 10)
               WHEN OLD.status IN ('rejected', 'duplicate') THEN NULL
               ELSE 'open' END)
         IS NOT (CASE WHEN NEW.status IN ('resolved', 'closed') THEN substr(NEW.updated_at, 1, 10)
                      ELSE 'open' END))
BEGIN
    INSERT INTO report_cells (res, cell, day, n)
    SELECT r.res, r.cell, d.day, 1
    FROM (SELECT CASE WHEN NEW.status IN ('resolved', 'closed')
                      THEN CAST(julianday(substr(NEW.updated_at, 1, 10)) - 2440587.5 AS INTEGER)
                      ELSE -1 END AS day) AS d,
         (SELECT 4 AS res, NEW.h3_r4 AS cell UNION ALL SELECT 6, NEW.h3_r6 UNION ALL SELECT 8, NEW.h3_r8) AS r
    WHERE true
    ON CONFLICT (res, cell, day) DO UPDATE SET n = n + 1;
END;

INSERT INTO report_cells (res, cell, day, n)
SELECT res, cell, day, COUNT(*) FROM (
    SELECT res, cell,
           CASE WHEN status IN ('resolved', 'closed')
                THEN CAST(julianday(substr(updated_at, 1, 10)) - 2440587.5 AS INTEGER)
                ELSE -1 END AS day
    FROM (SELECT 4 AS res, h3_r4 AS cell, status, updated_at FROM reports
          UNION ALL SELECT 6, h3_r6, status, updated_at FROM reports
          UNION ALL SELECT 8, h3_r8, status, updated_at FROM reports)
    WHERE status NOT IN ('rejected', 'duplicate')
)
GROUP BY res, cell, day;

DROP INDEX reports_h3_r10_idx;
DROP INDEX reports_h3_r8_idx;
CREATE INDEX reports_h3_r10_idx ON reports (h3_r10, report_id, status, updated_at, lat, lon);
CREATE INDEX reports_h3_r8_idx ON reports (h3_r8, report_id, status, updated_at, lat, lon);
