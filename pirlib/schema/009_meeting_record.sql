-- 009: the meeting records the meeting. Who attended (not only who was invited), the runbook roles of the
-- meeting (facilitator is `reviews.facilitator`; the incident commander who walks through the recap, when
-- not the one Jira names; the scribe), the root cause and contributing factors the postmortem shows, and the
-- meeting note an action draft was made from (one click in the guide, never two drafts of one note).

ALTER TABLE attendees ADD COLUMN attended BOOLEAN;  -- NULL: attendance not recorded for this person

ALTER TABLE reviews ADD COLUMN incident_commander VARCHAR;  -- NULL: the incident's commander as Jira has it
ALTER TABLE reviews ADD COLUMN scribe VARCHAR;
ALTER TABLE reviews ADD COLUMN root_cause VARCHAR;
ALTER TABLE reviews ADD COLUMN contributing_factors VARCHAR;  -- one factor per line

ALTER TABLE action_drafts ADD COLUMN note_id VARCHAR;  -- the review_notes row it was made from, if any
