-- 006: what `pir publish` sent where, so that publishing again updates what it sent instead of duplicating it.
--
-- `reviews.published_at` keeps the first publish (the runbook's 48 h stage) and `reviews.doc_url` the page;
-- this table remembers the Confluence page (id and version) and whether the status summary and the
-- customer e-mail already went out, which a second publish must not send again.

CREATE TABLE publications (
    incident_id VARCHAR NOT NULL,
    channel     VARCHAR NOT NULL CHECK (channel IN ('confluence', 'status_summary', 'customer_email')),
    -- confluence: the page URL; status_summary: 'webhook' or the JSON file; customer_email: recipients or the .eml file
    target      VARCHAR,
    page_id     VARCHAR,
    version     INTEGER,
    first_at    TIMESTAMPTZ NOT NULL,
    last_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, channel)
);
