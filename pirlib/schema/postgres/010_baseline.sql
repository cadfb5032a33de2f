-- 010 (PostgreSQL): the baseline of team mode's store. It creates what DuckDB's migrations 001-010 create, table for
-- table and column for column in the same order, with the same keys, checks, defaults and configured rows, so that
-- the two stores hold the same rows and `pir snapshot` copies them into the DuckDB read model as they are.
-- pirlib.db.migrate records it as version 10 in schema_migrations, as it records every migration; a later schema
-- change is a file of the same number in pirlib/schema/ and in this folder.
--
-- Types: VARCHAR -> text, VARCHAR[] -> text[], DOUBLE -> double precision, JSON -> json (kept as written, the way
-- DuckDB keeps it; jsonb would reorder keys), UBIGINT -> the domain ubigint below. Times are timestamptz in UTC.
-- The views of 002 and 004 are here too; those of views.sql are in this folder's views.sql.

-- The similar-incidents index compares words of any language; PostgreSQL can do that only in a UTF8 database.
DO $$
BEGIN
    IF pg_encoding_to_char((SELECT encoding FROM pg_database WHERE datname = current_database())) <> 'UTF8' THEN
        RAISE EXCEPTION 'pir needs a UTF8 database, and % is %', current_database(),
            pg_encoding_to_char((SELECT encoding FROM pg_database WHERE datname = current_database()))
            USING HINT = 'create it with CREATE DATABASE ... ENCODING ''UTF8'' TEMPLATE template0';
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- DuckDB's UBIGINT (an unsigned 64-bit hash): PostgreSQL has no unsigned integer, and bigint cannot hold the upper
-- half. The range check keeps every value one the read model's UBIGINT column accepts.
CREATE DOMAIN ubigint AS numeric(20, 0) CHECK (VALUE >= 0 AND VALUE <= 18446744073709551615);

-- 001 ---------------------------------------------------------------------------------------------------------------

CREATE TABLE incidents (
    issue_id        text PRIMARY KEY,
    key             text NOT NULL,
    project_key     text,
    summary         text,
    description     text,
    severity        text,
    failure_mode    text,
    service         text,
    status          text,
    status_category text,
    priority        text,
    components      text[],
    labels          text[],
    commander       text,
    assignee        text,
    reporter        text,
    created_at      timestamptz,
    updated_at      timestamptz,
    resolved_at     timestamptz,
    started_at      timestamptz,
    detected_at     timestamptz,
    mitigated_at    timestamptz,
    epic_key        text,
    customer_impact boolean,
    regulatory      boolean,
    url             text,
    raw             json,
    deleted         boolean NOT NULL DEFAULT false,
    synced_at       timestamptz
);

CREATE TABLE incident_events (
    event_id    text PRIMARY KEY,
    incident_id text NOT NULL,
    occurred_at timestamptz NOT NULL,
    source      text NOT NULL,
    kind        text NOT NULL,
    actor       text,
    field       text,
    from_value  text,
    to_value    text,
    text        text,
    milestone   text,
    hidden      boolean NOT NULL DEFAULT false,
    starred     boolean NOT NULL DEFAULT false,
    origin      text
);
CREATE INDEX incident_events_incident ON incident_events (incident_id);

CREATE TABLE actions (
    issue_id            text PRIMARY KEY,
    key                 text NOT NULL,
    incident_id         text,
    epic_key            text,
    summary             text,
    owner               text,
    owner_id            text,
    team                text,
    status              text,
    status_category     text,
    priority            text,
    due_date            date,
    created_at          timestamptz,
    updated_at          timestamptz,
    resolved_at         timestamptz,
    labels              text[],
    success_metric      text,
    verification_method text,
    action_type         text,
    url                 text,
    deleted             boolean NOT NULL DEFAULT false,
    synced_at           timestamptz,
    owner_email         text  -- 005
);

CREATE TABLE action_drafts (
    draft_id            text PRIMARY KEY,
    incident_id         text NOT NULL,
    summary             text,
    description         text,
    owner               text,
    owner_id            text,
    team                text,
    priority            text,
    due_date            date,
    action_type         text,
    success_metric      text,
    verification_method text,
    state               text NOT NULL DEFAULT 'draft',
    pushed_key          text,
    pushed_issue_id     text,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    note_id             text  -- 009: the review_notes row it was made from, if any
);

CREATE TABLE reviews (
    incident_id             text PRIMARY KEY,
    facilitator             text,
    facilitator_assigned_at timestamptz,
    artifacts_collected_at  timestamptz,
    invites_sent_at         timestamptz,
    agenda_circulated_at    timestamptz,
    meeting_at              timestamptz,
    published_at            timestamptz,
    doc_url                 text,
    regulatory_filed_at     timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    incident_commander      text,  -- 009: NULL means the incident's commander as Jira has it
    scribe                  text,
    root_cause              text,
    contributing_factors    text   -- one factor per line
);

CREATE TABLE review_notes (
    note_id     text PRIMARY KEY,
    incident_id text NOT NULL,
    segment     text NOT NULL,
    category    text,
    tag         text,
    flag        text,
    text        text NOT NULL,
    author      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE artifacts (
    artifact_id  text PRIMARY KEY,
    incident_id  text NOT NULL,
    kind         text NOT NULL,
    label        text,
    location     text,
    collected_at timestamptz,
    collected_by text
);

CREATE TABLE attendees (
    incident_id text NOT NULL,
    name        text NOT NULL,
    role        text,
    origin      text,
    invited     boolean NOT NULL DEFAULT true,
    attended    boolean,  -- 009: NULL means attendance not recorded for this person
    PRIMARY KEY (incident_id, name)
);

CREATE TABLE failure_modes (
    mode        text PRIMARY KEY,
    category    text,
    description text
);

CREATE TABLE reminders (
    action_id text NOT NULL,
    due_date  date NOT NULL,
    kind      text NOT NULL,
    sent_on   date NOT NULL,
    channel   text NOT NULL,
    status    text NOT NULL,
    error     text,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (action_id, due_date, kind, sent_on)
);

CREATE TABLE sync_runs (
    run_id          text PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    status          text NOT NULL,
    mode            text NOT NULL,
    source          text,
    cursor          timestamptz,
    requests        json,
    issues_written  integer,
    actions_written integer,
    events_written  integer,
    deleted_marked  integer,
    error           text
);

-- The runbook's deadlines, in hours after closure; `pir init` writes the configured values.
CREATE TABLE review_stage_deadlines (
    stage      text PRIMARY KEY,
    stage_rank integer NOT NULL,
    hours      double precision NOT NULL
);
INSERT INTO review_stage_deadlines VALUES
    ('facilitator_assigned', 1, 12),
    ('artifacts_collected', 2, 24),
    ('invites_sent', 3, 24),
    ('agenda_circulated', 4, 24),
    ('published', 5, 48);

-- Severities that require a review (setting `review_severities`), written by `pir init` like the deadlines.
CREATE TABLE review_severities (
    severity text PRIMARY KEY
);
INSERT INTO review_severities VALUES ('Sev-0'), ('Sev-1');

-- 002: timeline curation and milestone overrides ----------------------------------------------------------------

CREATE TABLE event_curation (
    event_id             text PRIMARY KEY,
    incident_id          text NOT NULL,
    hidden               boolean,
    starred              boolean,
    occurred_at          timestamptz,
    text                 text,
    original_occurred_at timestamptz,
    original_text        text,
    updated_by           text,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_curation_incident ON event_curation (incident_id);

CREATE TABLE milestone_overrides (
    incident_id text NOT NULL,
    milestone   text NOT NULL
        CHECK (milestone IN ('started', 'detected', 'acknowledged', 'mitigated', 'resolved')),
    occurred_at timestamptz NOT NULL,
    note        text,
    set_by      text,
    set_at      timestamptz NOT NULL DEFAULT now(),
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

-- 003: the guided review's own state ----------------------------------------------------------------------------

CREATE TABLE review_progress (
    incident_id     text PRIMARY KEY,
    current_step    text NOT NULL DEFAULT 'pick'
        CHECK (current_step IN ('pick', 'prepare', 'timeline', 'meeting', 'actions', 'wrap_up')),
    agenda_markdown text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE meeting_segments (
    incident_id text NOT NULL,
    segment     text NOT NULL
        CHECK (segment IN ('welcome', 'recap', 'went_well', 'went_wrong', 'actions', 'risk_review')),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    PRIMARY KEY (incident_id, segment)
);

-- 004: action drafts joined to the Jira issues they became ------------------------------------------------------

CREATE VIEW v_action_drafts AS
SELECT
    d.draft_id,
    d.incident_id,
    i.key AS incident_key,
    d.summary,
    d.owner,
    d.due_date,
    d.priority,
    d.action_type,
    d.success_metric,
    d.verification_method,
    d.state,
    d.error,
    d.pushed_issue_id,
    coalesce(a.key, d.pushed_key) AS jira_key,
    a.status AS jira_status,
    a.status_category AS jira_status_category,
    a.owner AS jira_owner,
    a.due_date AS jira_due_date,
    a.resolved_at AS jira_resolved_at,
    a.updated_at AS jira_updated_at,
    a.synced_at AS jira_synced_at,
    a.url AS jira_url,
    coalesce(a.deleted, false) AS jira_deleted,
    d.state = 'pushed' AND a.issue_id IS NOT NULL
        AND (a.due_date IS DISTINCT FROM d.due_date OR a.owner IS DISTINCT FROM d.owner) AS changed_in_jira,
    d.created_at,
    d.updated_at
FROM action_drafts AS d
LEFT JOIN actions AS a ON a.issue_id = d.pushed_issue_id
LEFT JOIN incidents AS i ON i.issue_id = d.incident_id;

-- 006: what `pir publish` sent where ----------------------------------------------------------------------------

CREATE TABLE publications (
    incident_id text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('confluence', 'status_summary', 'customer_email')),
    target      text,
    page_id     text,
    version     integer,
    first_at    timestamptz NOT NULL,
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (incident_id, channel)
);

-- 007: the failure-mode taxonomy, its rules, the facilitator's manual mode, the recurrence window ---------------

CREATE TABLE failure_mode_taxonomy (
    mode             text PRIMARY KEY,
    position         integer NOT NULL,
    category         text,
    description      text,
    aliases          text[],
    is_fallback      boolean NOT NULL DEFAULT false,
    taxonomy_version text NOT NULL,
    source           text NOT NULL
);

CREATE TABLE failure_mode_rules (
    rule_rank integer PRIMARY KEY,
    mode      text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('label', 'component', 'summary')),
    pattern   text NOT NULL
);

CREATE TABLE failure_mode_overrides (
    incident_id text PRIMARY KEY,
    mode        text NOT NULL,
    note        text,
    set_by      text,
    set_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recurrence_window (
    days integer NOT NULL CHECK (days > 0)
);
INSERT INTO recurrence_window VALUES (90);

-- 008: the similar-incidents index ------------------------------------------------------------------------------

CREATE TABLE similar_documents (
    incident_id text PRIMARY KEY,
    length      integer NOT NULL,
    fingerprint ubigint NOT NULL
);

CREATE TABLE similar_terms (
    incident_id text NOT NULL,
    term        text NOT NULL,
    tf          integer NOT NULL
);

CREATE TABLE similar_answers (
    query_id     text NOT NULL,
    rank         integer NOT NULL,
    similar_id   text NOT NULL,
    failure_mode text,
    score        double precision NOT NULL,
    text_score   double precision NOT NULL,
    same_service boolean NOT NULL,
    same_mode    boolean NOT NULL,
    shared_terms text[] NOT NULL,
    PRIMARY KEY (query_id, rank)
);

CREATE TABLE similar_answers_state (
    queries           text[] NOT NULL,
    k                 integer NOT NULL,
    modes_fingerprint ubigint NOT NULL,
    computed_at       timestamptz NOT NULL
);

-- 010: every weekly digest `pir digest` sent or attempted, one row per (ISO week, channel) ----------------------

CREATE TABLE digests (
    week     text NOT NULL,
    channel  text NOT NULL CHECK (channel IN ('slack', 'email')),
    status   text NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    target   text,
    items    integer,
    bytes    integer,
    error    text,
    sent_at  timestamptz NOT NULL,
    PRIMARY KEY (week, channel)
);
