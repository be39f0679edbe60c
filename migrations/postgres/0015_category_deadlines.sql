-- A category's own working hours to acknowledge and resolve, per severity, where they differ from
-- the ward's defaults (e.g. a fallen tree: hours, not days). JSON: {"urgent": {"ack": 1, "resolve": 4}}.
ALTER TABLE categories ADD COLUMN deadline_hours TEXT NOT NULL DEFAULT '{}';
