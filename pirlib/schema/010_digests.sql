-- 010: every weekly digest `pir digest` sent or attempted, one row per (ISO week, channel), so that a digest goes
-- out once per week per channel however often cron runs it, and a failed send is retried by the next run.
CREATE TABLE digests (
    week     VARCHAR NOT NULL,  -- ISO week of the run, e.g. 2026-W49
    channel  VARCHAR NOT NULL CHECK (channel IN ('slack', 'email')),
    status   VARCHAR NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    target   VARCHAR,           -- e-mail recipients; 'webhook' for Slack (never the webhook's URL)
    items    INTEGER,           -- attention lines in the digest
    bytes    INTEGER,           -- size of what was sent (the Slack JSON, the whole e-mail)
    error    VARCHAR,           -- why the last attempt failed (never a secret)
    sent_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (week, channel)
);
