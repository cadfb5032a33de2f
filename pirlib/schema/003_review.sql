-- 003: the guided review's own state: where the facilitator is, the edited agenda, meeting segment clocks.
--
-- Everything the facilitator enters is saved at once, so reopening the notebook resumes. The runbook stage
-- times stay in `reviews` (the deadline views read them); this migration only adds what the wizard needs
-- beyond them.

CREATE TABLE review_progress (
    incident_id     VARCHAR PRIMARY KEY,
    current_step    VARCHAR NOT NULL DEFAULT 'pick'
        CHECK (current_step IN ('pick', 'prepare', 'timeline', 'meeting', 'actions', 'wrap_up')),
    -- the agenda as the facilitator edited it; NULL means "the draft pir writes from the incident's facts"
    agenda_markdown VARCHAR,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE meeting_segments (
    incident_id VARCHAR NOT NULL,
    segment     VARCHAR NOT NULL
        CHECK (segment IN ('welcome', 'recap', 'went_well', 'went_wrong', 'actions', 'risk_review')),
    started_at  TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    PRIMARY KEY (incident_id, segment)
);
