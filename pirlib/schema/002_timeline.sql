-- 002: timeline curation and milestone overrides.
--
-- Syncs and imports rewrite the rows of incident_events they own (a Jira comment edited in Jira comes back
-- with its new text). What the facilitator decides about an event therefore lives in its own table, keyed
-- by event_id, which no sync or import writes; v_timeline lays it over the events. A NULL in a curation
-- column means "not curated": setting it back to NULL restores the source's value.

CREATE TABLE event_curation (
    event_id             VARCHAR PRIMARY KEY,
    incident_id          VARCHAR NOT NULL,
    hidden               BOOLEAN,
    starred              BOOLEAN,
    occurred_at          TIMESTAMPTZ,
    text                 VARCHAR,
    -- the source's values when the time or text was last curated, to show what was changed
    original_occurred_at TIMESTAMPTZ,
    original_text        VARCHAR,
    updated_by           VARCHAR,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX event_curation_incident ON event_curation (incident_id);

CREATE TABLE milestone_overrides (
    incident_id VARCHAR NOT NULL,
    milestone   VARCHAR NOT NULL
        CHECK (milestone IN ('started', 'detected', 'acknowledged', 'mitigated', 'resolved')),
    occurred_at TIMESTAMPTZ NOT NULL,
    note        VARCHAR,
    set_by      VARCHAR,
    set_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, milestone)
);

CREATE VIEW v_timeline AS
SELECT
    e.event_id,
    e.incident_id,
    i.key AS incident_key,
    coalesce(c.occurred_at, e.occurred_at) AS occurred_at,
    e.source,
    e.kind,
    e.actor,
    e.field,
    e.from_value,
    e.to_value,
    coalesce(c.text, e.text) AS text,
    e.milestone,
    coalesce(c.hidden, e.hidden) AS hidden,
    coalesce(c.starred, e.starred) AS starred,
    c.occurred_at IS NOT NULL AS retimed,
    c.text IS NOT NULL AS edited,
    e.occurred_at AS source_occurred_at,
    e.text AS source_text,
    e.origin
FROM incident_events AS e
LEFT JOIN event_curation AS c ON c.event_id = e.event_id
LEFT JOIN incidents AS i ON i.issue_id = e.incident_id;
