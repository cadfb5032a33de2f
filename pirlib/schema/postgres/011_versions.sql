-- 011: version checks for what two facilitators may edit at once. Every save of a draft's or a note's text is
-- one conditional UPDATE (`... WHERE id = ? AND version = ?`) that also bumps `version`; a save made from an
-- older version changes nothing and is told who changed the row and when (`updated_by`, `updated_at`), so
-- the second of two saves becomes a message, never a lost update.
ALTER TABLE action_drafts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;  -- edits of what people type, from 1
ALTER TABLE action_drafts ADD COLUMN updated_by text;  -- who made the last such edit (or created it)

ALTER TABLE review_notes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE review_notes ADD COLUMN updated_by text;  -- who wrote the text as it stands
