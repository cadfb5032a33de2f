-- 007: the failure-mode taxonomy and its rules (written by `pir init` from the YAML file in force), the
-- facilitator's manual mode, and the recurrence window.
--
-- A sync rewrites `incidents` (failure_mode included) from Jira, so the mode the facilitator sets lives in
-- its own table that no sync writes; v_incident_failure_modes lays manual > field > rules over the
-- incidents, and every view that groups by mode reads it.

CREATE TABLE failure_mode_taxonomy (
    mode             VARCHAR PRIMARY KEY,
    position         INTEGER NOT NULL,
    category         VARCHAR,
    description      VARCHAR,
    aliases          VARCHAR[],
    is_fallback      BOOLEAN NOT NULL DEFAULT false,
    taxonomy_version VARCHAR NOT NULL,
    source           VARCHAR NOT NULL
);

CREATE TABLE failure_mode_rules (
    rule_rank INTEGER PRIMARY KEY,
    mode      VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL CHECK (kind IN ('label', 'component', 'summary')),
    pattern   VARCHAR NOT NULL
);

CREATE TABLE failure_mode_overrides (
    incident_id VARCHAR PRIMARY KEY,
    mode        VARCHAR NOT NULL,
    note        VARCHAR,
    set_by      VARCHAR,
    set_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row: an incident recurs when its (service, mode) happened within this many days before
-- (setting `recurrence_window_days`, written by `pir init`).
CREATE TABLE recurrence_window (
    days INTEGER NOT NULL CHECK (days > 0)
);
INSERT INTO recurrence_window VALUES (90);
