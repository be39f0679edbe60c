-- A report resolved after its deadline stays late in the on-time figures even when it is reopened
-- and then fixed within the fresh deadline its reopening gets. Set when a late resolution is
-- reopened. (Reports reopened before this migration cannot be judged: reopening overwrote the
-- deadline they were resolved against.)
ALTER TABLE reports ADD COLUMN missed_deadline BOOLEAN NOT NULL DEFAULT FALSE;
