-- 001: the tables every part of pir relies on. Times are TIMESTAMPTZ in UTC.
-- Rows that come from Jira are keyed by the Jira issue id, which survives a move between projects.

CREATE TABLE incidents (
    issue_id        VARCHAR PRIMARY KEY,
    key             VARCHAR NOT NULL,
    project_key     VARCHAR,
    summary         VARCHAR,
    description     VARCHAR,
    severity        VARCHAR,
    failure_mode    VARCHAR,
    service         VARCHAR,
    status          VARCHAR,
    status_category VARCHAR,
    priority        VARCHAR,
    components      VARCHAR[],
    labels          VARCHAR[],
    commander       VARCHAR,
    assignee        VARCHAR,
    reporter        VARCHAR,
    created_at      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ,
    resolved_at     TIMESTAMPTZ,
    started_at      TIMESTAMPTZ,
    detected_at     TIMESTAMPTZ,
    mitigated_at    TIMESTAMPTZ,
    epic_key        VARCHAR,
    customer_impact BOOLEAN,
    regulatory      BOOLEAN,
    url             VARCHAR,
    raw             JSON,
    deleted         BOOLEAN NOT NULL DEFAULT false,
    synced_at       TIMESTAMPTZ
);

CREATE TABLE incident_events (
    event_id    VARCHAR PRIMARY KEY,
    incident_id VARCHAR NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    actor       VARCHAR,
    field       VARCHAR,
    from_value  VARCHAR,
    to_value    VARCHAR,
    text        VARCHAR,
    milestone   VARCHAR,
    hidden      BOOLEAN NOT NULL DEFAULT false,
    starred     BOOLEAN NOT NULL DEFAULT false,
    origin      VARCHAR
);
CREATE INDEX incident_events_incident ON incident_events (incident_id);

CREATE TABLE actions (
    issue_id            VARCHAR PRIMARY KEY,
    key                 VARCHAR NOT NULL,
    incident_id         VARCHAR,
    epic_key            VARCHAR,
    summary             VARCHAR,
    owner               VARCHAR,
    owner_id            VARCHAR,
    team                VARCHAR,
    status              VARCHAR,
    status_category     VARCHAR,
    priority            VARCHAR,
    due_date            DATE,
    created_at          TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ,
    resolved_at         TIMESTAMPTZ,
    labels              VARCHAR[],
    success_metric      VARCHAR,
    verification_method VARCHAR,
    action_type         VARCHAR,
    url                 VARCHAR,
    deleted             BOOLEAN NOT NULL DEFAULT false,
    synced_at           TIMESTAMPTZ
);

CREATE TABLE action_drafts (
    draft_id            VARCHAR PRIMARY KEY,
    incident_id         VARCHAR NOT NULL,
    summary             VARCHAR,
    description         VARCHAR,
    owner               VARCHAR,
    owner_id            VARCHAR,
    team                VARCHAR,
    priority            VARCHAR,
    due_date            DATE,
    action_type         VARCHAR,
    success_metric      VARCHAR,
    verification_method VARCHAR,
    state               VARCHAR NOT NULL DEFAULT 'draft',
    pushed_key          VARCHAR,
    pushed_issue_id     VARCHAR,
    error               VARCHAR,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reviews (
    incident_id             VARCHAR PRIMARY KEY,
    facilitator             VARCHAR,
    facilitator_assigned_at TIMESTAMPTZ,
    artifacts_collected_at  TIMESTAMPTZ,
    invites_sent_at         TIMESTAMPTZ,
    agenda_circulated_at    TIMESTAMPTZ,
    meeting_at              TIMESTAMPTZ,
    published_at            TIMESTAMPTZ,
    doc_url                 VARCHAR,
    regulatory_filed_at     TIMESTAMPTZ,
    updated_at              TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE review_notes (
    note_id     VARCHAR PRIMARY KEY,
    incident_id VARCHAR NOT NULL,
    segment     VARCHAR NOT NULL,
    category    VARCHAR,
    tag         VARCHAR,
    flag        VARCHAR,
    text        VARCHAR NOT NULL,
    author      VARCHAR,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE artifacts (
    artifact_id  VARCHAR PRIMARY KEY,
    incident_id  VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    label        VARCHAR,
    location     VARCHAR,
    collected_at TIMESTAMPTZ,
    collected_by VARCHAR
);

CREATE TABLE attendees (
    incident_id VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    role        VARCHAR,
    origin      VARCHAR,
    invited     BOOLEAN NOT NULL DEFAULT true,
    PRIMARY KEY (incident_id, name)
);

CREATE TABLE failure_modes (
    mode        VARCHAR PRIMARY KEY,
    category    VARCHAR,
    description VARCHAR
);

CREATE TABLE reminders (
    action_id VARCHAR NOT NULL,
    due_date  DATE NOT NULL,
    kind      VARCHAR NOT NULL,
    sent_on   DATE NOT NULL,
    channel   VARCHAR NOT NULL,
    status    VARCHAR NOT NULL,
    error     VARCHAR,
    sent_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (action_id, due_date, kind, sent_on)
);

CREATE TABLE sync_runs (
    run_id          VARCHAR PRIMARY KEY,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL,
    mode            VARCHAR NOT NULL,
    source          VARCHAR,
    cursor          TIMESTAMPTZ,
    requests        JSON,
    issues_written  INTEGER,
    actions_written INTEGER,
    events_written  INTEGER,
    deleted_marked  INTEGER,
    error           VARCHAR
);

-- The runbook's deadlines, in hours after closure. `pir init` writes the configured values here so that
-- the views and analysts read the same numbers the tool enforces.
CREATE TABLE review_stage_deadlines (
    stage      VARCHAR PRIMARY KEY,
    stage_rank INTEGER NOT NULL,
    hours      DOUBLE NOT NULL
);
INSERT INTO review_stage_deadlines VALUES
    ('facilitator_assigned', 1, 12),
    ('artifacts_collected', 2, 24),
    ('invites_sent', 3, 24),
    ('agenda_circulated', 4, 24),
    ('published', 5, 48);

-- Severities that require a review (setting `review_severities`), written by `pir init` like the deadlines.
CREATE TABLE review_severities (
    severity VARCHAR PRIMARY KEY
);
INSERT INTO review_severities VALUES ('Sev-0'), ('Sev-1');
