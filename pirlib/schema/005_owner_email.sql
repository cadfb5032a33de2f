-- 005: the action owner's e-mail address as Jira gives it (Data Center always; Cloud only where the
-- user's profile shares it), so that e-mail reminders reach the owner.
ALTER TABLE actions ADD COLUMN owner_email VARCHAR;
