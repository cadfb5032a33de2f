-- Analyst views of team mode's PostgreSQL store: pirlib/schema/views.sql, the same names, columns (in order, of the
-- same types) and rows, in PostgreSQL's dialect. A change to one file is made to the other; tests/test_postgres_schema.py
-- compares the two stores' rows on the demo sample. Deleted Jira issues are excluded.
--
-- Where DuckDB's SQL has no PostgreSQL twin:
-- * "today" and a time's date are UTC's, whatever the session's TimeZone: (now() AT TIME ZONE 'UTC')::date for
--   current_date, (t AT TIME ZONE 'UTC')::date for CAST(t AS DATE) (pir's DuckDB connections are in UTC);
-- * date_diff('second', a, b) counts whole seconds on the epoch: floor(extract(epoch FROM b)) - the same of a;
-- * lower case and a summary's words of every script, whatever the database's own LC_CTYPE (C would make both
--   ASCII only): unicode_lower below, and the regular expression's [:alpha:][:digit:] for DuckDB's \p{L}\p{N}, under
--   the ICU root collation; string_split -> regexp_split_to_table, which like string_split gives one '' for ''.
--   One difference is left: [:digit:] is Unicode's decimal digits, \p{N} all its numbers, so in a summary a number
--   that is not a decimal digit (², ½, Ⅻ) separates two words here and is part of a word in DuckDB;
-- * arg_min(x, rank) -> (array_agg(x ORDER BY rank))[1]; median / quantile_cont -> percentile_cont;
--   any_value -> min (PostgreSQL 15 has no any_value; DuckDB's view uses min too, so that both pick the same).
--
-- Views are dropped and made again on every migration run (PostgreSQL's CREATE OR REPLACE VIEW cannot drop or
-- retype a column), dependents first.

DROP VIEW IF EXISTS v_failure_mode_effectiveness;
DROP VIEW IF EXISTS v_failure_mode_recurrence;
DROP VIEW IF EXISTS v_incident_durations;
DROP VIEW IF EXISTS v_incident_failure_modes;
DROP VIEW IF EXISTS v_review_deadlines;
DROP VIEW IF EXISTS v_action_status;
DROP VIEW IF EXISTS v_regulatory_followups;

-- DuckDB's lower(): Unicode's lower case in any database (PostgreSQL's lower() follows the database's LC_CTYPE),
-- character by character as DuckDB maps it. ICU's lower case differs from that in two letters only: a word-final
-- capital sigma becomes ς and a dotted capital I becomes i plus a combining dot; DuckDB gives σ and i.
-- A plain SQL function, which the planner inlines.
CREATE OR REPLACE FUNCTION unicode_lower(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(replace(replace(value, 'Σ', 'σ'), 'İ', 'i') COLLATE "und-x-icu") $$;

CREATE VIEW v_action_status AS
SELECT
    a.issue_id,
    a.key,
    a.incident_id,
    i.key AS incident_key,
    i.summary AS incident_summary,
    i.severity,
    i.service,
    a.epic_key,
    a.summary,
    a.owner,
    -- Jira's Team field wins; a site without one keeps the team typed on the draft the action was pushed from.
    coalesce(a.team, d.team) AS team,
    a.status,
    a.status_category,
    a.priority,
    a.action_type,
    a.due_date,
    a.created_at,
    a.resolved_at,
    a.url,
    a.status_category = 'done' AS is_done,
    a.status_category = 'done' AND a.due_date IS NOT NULL
        AND (a.resolved_at AT TIME ZONE 'UTC')::date <= a.due_date AS done_on_time,
    a.status_category = 'done' AND a.due_date IS NOT NULL
        AND (a.resolved_at AT TIME ZONE 'UTC')::date > a.due_date AS done_late,
    a.status_category <> 'done' AND a.due_date < (now() AT TIME ZONE 'UTC')::date AS is_overdue,
    CASE WHEN a.status_category <> 'done' AND a.due_date < (now() AT TIME ZONE 'UTC')::date
         THEN ((now() AT TIME ZONE 'UTC')::date - a.due_date)::bigint END AS days_overdue,
    CASE WHEN a.status_category <> 'done'
         THEN ((now() AT TIME ZONE 'UTC')::date - (a.created_at AT TIME ZONE 'UTC')::date)::bigint END AS age_days,
    a.owner IS NULL AS missing_owner,
    a.due_date IS NULL AS missing_due_date,
    coalesce(trim(a.success_metric), '') = '' AS missing_success_metric,
    coalesce(trim(a.verification_method), '') = '' AS missing_verification_method
FROM actions AS a
LEFT JOIN incidents AS i ON i.issue_id = a.incident_id AND NOT i.deleted
LEFT JOIN (SELECT pushed_issue_id, min(team) AS team FROM action_drafts
           WHERE pushed_issue_id IS NOT NULL GROUP BY pushed_issue_id) AS d ON d.pushed_issue_id = a.issue_id
WHERE NOT a.deleted;

CREATE VIEW v_review_deadlines AS
WITH reviewed AS (
    SELECT i.issue_id AS incident_id, i.key, i.summary, i.severity, i.service, i.resolved_at AS closed_at
    FROM incidents AS i
    JOIN review_severities AS s ON s.severity = i.severity
    WHERE NOT i.deleted AND i.resolved_at IS NOT NULL
),
stages AS (
    SELECT
        r.*,
        d.stage,
        d.stage_rank,
        d.hours AS deadline_hours,
        r.closed_at + CAST(d.hours * 3600000000 AS bigint) * interval '1 microsecond' AS due_at,
        CASE d.stage
            WHEN 'facilitator_assigned' THEN v.facilitator_assigned_at
            WHEN 'artifacts_collected' THEN v.artifacts_collected_at
            WHEN 'invites_sent' THEN v.invites_sent_at
            WHEN 'agenda_circulated' THEN v.agenda_circulated_at
            WHEN 'published' THEN v.published_at
        END AS done_at
    FROM reviewed AS r
    CROSS JOIN review_stage_deadlines AS d
    LEFT JOIN reviews AS v ON v.incident_id = r.incident_id
)
SELECT
    *,
    CASE
        WHEN done_at IS NOT NULL AND done_at <= due_at THEN 'on_time'
        WHEN done_at IS NOT NULL THEN 'late'
        WHEN now() > due_at THEN 'missed'
        ELSE 'pending'
    END AS state,
    (floor(extract(epoch FROM coalesce(done_at, now()))) - floor(extract(epoch FROM due_at)))::double precision
        / 3600.0 AS hours_past_due
FROM stages;

-- Each incident's failure mode and the rule that set it (007): manual > Jira field (when it names a taxonomy
-- mode or alias) > label > component > summary > the taxonomy's fallback; see pirlib/schema/views.sql.
CREATE VIEW v_incident_failure_modes AS
WITH live AS (
    SELECT issue_id, key, service, summary, labels, components, nullif(trim(failure_mode), '') AS field_value
    FROM incidents
    WHERE NOT deleted
),
names AS (
    SELECT t.mode, unicode_lower(trim(n.name)) AS name
    FROM failure_mode_taxonomy AS t
    CROSS JOIN LATERAL unnest(array_prepend(t.mode, coalesce(t.aliases, '{}'::text[]))) AS n (name)
),
classified AS (
    SELECT l.*, o.mode AS manual_mode, o.note AS manual_note, o.set_by AS manual_set_by, o.set_at AS manual_set_at,
           n.mode AS field_mode
    FROM live AS l
    LEFT JOIN failure_mode_overrides AS o ON o.incident_id = l.issue_id
    LEFT JOIN names AS n ON n.name = unicode_lower(l.field_value)
),
unresolved AS MATERIALIZED (
    SELECT issue_id, labels, components,
           -- the summary's words between single spaces, so that a phrase rule matches whole words only
           (' ' || trim(regexp_replace(unicode_lower(coalesce(summary, '')) COLLATE "und-x-icu",
                                       '[^[:alpha:][:digit:]]+', ' ', 'g')) || ' ') COLLATE "default" AS words
    FROM classified
    WHERE manual_mode IS NULL AND field_mode IS NULL
),
phrases AS (
    -- A summary rule: its phrase as it must appear in `words`, and its first word, by which it is looked up
    -- ("deploy*" is a prefix of a word; "out of memory" starts with the word "out").
    SELECT rule_rank,
           ' ' || CASE WHEN right(pattern, 1) = '*' THEN rtrim(pattern, '*') ELSE pattern || ' ' END AS phrase,
           split_part(rtrim(pattern, '*'), ' ', 1) AS first_word,
           right(pattern, 1) = '*' AND strpos(pattern, ' ') = 0 AS first_is_prefix
    FROM failure_mode_rules
    WHERE kind = 'summary'
),
tokens AS (
    SELECT issue_id, regexp_split_to_table(trim(words), ' ') AS word FROM unresolved
),
candidates AS (
    SELECT t.issue_id, r.rule_rank
    FROM (SELECT issue_id, 'label' AS kind, unicode_lower(unnest(labels)) AS value FROM unresolved
          UNION ALL
          SELECT issue_id, 'component', unicode_lower(unnest(components)) FROM unresolved) AS t
    JOIN failure_mode_rules AS r ON r.kind = t.kind AND unicode_lower(r.pattern) = t.value
    UNION ALL
    SELECT t.issue_id, p.rule_rank FROM tokens AS t JOIN phrases AS p ON p.first_word = t.word AND NOT p.first_is_prefix
    UNION ALL
    SELECT t.issue_id, p.rule_rank FROM tokens AS t JOIN phrases AS p ON p.first_is_prefix AND starts_with(t.word, p.first_word)
),
by_rule AS (
    SELECT
        c.issue_id,
        (array_agg(r.mode ORDER BY r.rule_rank))[1] AS mode,
        (array_agg(r.kind ORDER BY r.rule_rank))[1] AS kind,
        (array_agg(r.pattern ORDER BY r.rule_rank))[1] AS pattern
    FROM candidates AS c
    JOIN failure_mode_rules AS r USING (rule_rank)
    JOIN unresolved AS u USING (issue_id)
    LEFT JOIN phrases AS p USING (rule_rank)
    WHERE p.phrase IS NULL OR strpos(u.words, p.phrase) > 0  -- a phrase found by its first word: all of it
    GROUP BY c.issue_id
),
fallback AS (
    SELECT mode FROM failure_mode_taxonomy WHERE is_fallback LIMIT 1
),
resolved AS (
    SELECT c.*, b.mode AS rule_mode, b.kind AS rule_kind, b.pattern AS rule_pattern,
           f.mode AS fallback_mode, coalesce(c.manual_mode, c.field_mode, b.mode, f.mode) AS failure_mode
    FROM classified AS c
    LEFT JOIN by_rule AS b ON b.issue_id = c.issue_id
    LEFT JOIN fallback AS f ON true
)
SELECT
    r.issue_id AS incident_id,
    r.key,
    r.service,
    r.failure_mode,
    CASE
        WHEN r.manual_mode IS NOT NULL THEN 'manual'
        WHEN r.field_mode IS NOT NULL THEN 'field'
        WHEN r.rule_mode IS NOT NULL THEN r.rule_kind
        WHEN r.fallback_mode IS NOT NULL THEN 'fallback'
    END AS mode_source,
    CASE
        WHEN r.manual_mode IS NOT NULL THEN 'set by ' || coalesce(r.manual_set_by, 'the facilitator') || ' in the review'
        WHEN r.field_mode IS NOT NULL AND unicode_lower(r.field_mode) = unicode_lower(r.field_value) THEN 'Failure Mode field'
        WHEN r.field_mode IS NOT NULL THEN 'Failure Mode field "' || r.field_value || '" (an alias of ' || r.field_mode || ')'
        WHEN r.rule_kind = 'summary' THEN 'summary has "' || r.rule_pattern || '"'
        WHEN r.rule_mode IS NOT NULL THEN r.rule_kind || ' "' || r.rule_pattern || '"'
        WHEN r.fallback_mode IS NOT NULL THEN 'no field, label, component or summary rule matched'
    END AS mode_rule,
    t.category,
    r.field_value,
    CASE WHEN r.field_value IS NOT NULL AND unicode_lower(r.field_value) IS DISTINCT FROM unicode_lower(r.failure_mode)
         THEN 'Jira says "' || r.field_value || '"' END AS jira_says,
    r.manual_mode,
    r.manual_note,
    r.manual_set_by,
    r.manual_set_at
FROM resolved AS r
LEFT JOIN failure_mode_taxonomy AS t ON t.mode = r.failure_mode;

-- failure_mode as classified (v_incident_failure_modes), like every other surface.
CREATE VIEW v_incident_durations AS
SELECT
    i.issue_id AS incident_id,
    i.key,
    i.summary,
    i.severity,
    i.service,
    m.failure_mode,
    i.started_at,
    i.detected_at,
    i.mitigated_at,
    i.resolved_at,
    -- whole seconds between the two, as DuckDB's view counts them from the epoch
    (floor(extract(epoch FROM i.detected_at)) - floor(extract(epoch FROM i.started_at)))::double precision / 60.0
        AS ttd_minutes,
    (floor(extract(epoch FROM i.mitigated_at)) - floor(extract(epoch FROM i.started_at)))::double precision / 60.0
        AS ttm_minutes,
    (floor(extract(epoch FROM i.resolved_at)) - floor(extract(epoch FROM i.started_at)))::double precision / 60.0
        AS ttr_minutes
FROM incidents AS i
LEFT JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id
WHERE NOT i.deleted;

-- Per incident whose (service, mode) happened before: the previous one, the gap, whether it falls in the
-- recurrence window, and whether the earlier incident's (prevent/detect) actions were done before this one started.
CREATE VIEW v_failure_mode_recurrence AS
WITH ordered AS (
    SELECT
        i.issue_id AS incident_id,
        i.key,
        i.service,
        m.failure_mode,
        i.severity,
        coalesce(i.started_at, i.created_at) AS occurred_at,
        lag(i.issue_id) OVER w AS previous_incident_id,
        lag(i.key) OVER w AS previous_key,
        lag(coalesce(i.started_at, i.created_at)) OVER w AS previous_occurred_at
    FROM incidents AS i
    JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id
    WHERE NOT i.deleted AND m.failure_mode IS NOT NULL AND m.mode_source <> 'fallback'
    WINDOW w AS (PARTITION BY i.service, m.failure_mode ORDER BY coalesce(i.started_at, i.created_at), i.issue_id)
),
previous_actions AS (
    SELECT
        o.incident_id,
        count(a.issue_id) AS previous_actions,
        count(a.issue_id) FILTER (WHERE a.status_category = 'done' AND a.resolved_at <= o.occurred_at)
            AS previous_actions_done_before,
        count(a.issue_id) FILTER (WHERE a.action_type IN ('prevent', 'detect')) AS previous_prevent_detect,
        count(a.issue_id) FILTER (WHERE a.action_type IN ('prevent', 'detect') AND a.status_category = 'done'
                                  AND a.resolved_at <= o.occurred_at) AS previous_prevent_detect_done_before
    FROM ordered AS o
    LEFT JOIN actions AS a ON a.incident_id = o.previous_incident_id AND NOT a.deleted
    WHERE o.previous_incident_id IS NOT NULL
    GROUP BY o.incident_id
),
gaps AS (
    SELECT o.*,
           floor(extract(epoch FROM o.occurred_at)) - floor(extract(epoch FROM o.previous_occurred_at)) AS seconds
    FROM ordered AS o
)
SELECT
    o.incident_id, o.key, o.service, o.failure_mode, o.severity, o.occurred_at,
    o.previous_incident_id, o.previous_key, o.previous_occurred_at,
    o.seconds::double precision / 86400.0 AS days_since_previous,
    o.seconds <= 90 * 86400 AS within_90_days,
    w.days AS window_days,
    o.seconds <= w.days * 86400 AS within_window,
    p.previous_actions,
    p.previous_actions_done_before,
    p.previous_actions > 0 AND p.previous_actions = p.previous_actions_done_before AS previous_fixes_done,
    p.previous_prevent_detect,
    p.previous_prevent_detect_done_before,
    p.previous_prevent_detect > 0 AND p.previous_prevent_detect = p.previous_prevent_detect_done_before
        AS prevent_detect_done_before
FROM gaps AS o
JOIN previous_actions AS p ON p.incident_id = o.incident_id
CROSS JOIN (SELECT max(days) AS days FROM recurrence_window) AS w;

-- Per (service, failure mode): how often it happened, how often it came back within the window, and how
-- many of those repeats came after the earlier incident's prevent/detect actions were all done.
CREATE VIEW v_failure_mode_effectiveness AS
WITH incidents_per_pair AS (
    SELECT i.service, m.failure_mode, count(*) AS incidents,
           min(coalesce(i.started_at, i.created_at)) AS first_at,
           max(coalesce(i.started_at, i.created_at)) AS last_at
    FROM incidents AS i
    JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id
    WHERE NOT i.deleted AND m.mode_source <> 'fallback'
    GROUP BY i.service, m.failure_mode
),
repeats AS (
    SELECT service, failure_mode,
           count(*) FILTER (WHERE within_window) AS recurrences,
           count(*) FILTER (WHERE within_window AND prevent_detect_done_before) AS repeats_after_completed_actions,
           count(*) FILTER (WHERE within_window AND previous_prevent_detect = 0) AS repeats_without_prevent_detect,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days_since_previous) FILTER (WHERE within_window)
               AS median_days_between,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY days_since_previous) FILTER (WHERE within_window)
               AS p90_days_between
    FROM v_failure_mode_recurrence
    GROUP BY service, failure_mode
)
SELECT
    p.service, p.failure_mode, p.incidents, p.first_at, p.last_at,
    coalesce(r.recurrences, 0) AS recurrences,
    coalesce(r.repeats_after_completed_actions, 0) AS repeats_after_completed_actions,
    coalesce(r.repeats_without_prevent_detect, 0) AS repeats_without_prevent_detect,
    r.median_days_between,
    r.p90_days_between
FROM incidents_per_pair AS p
LEFT JOIN repeats AS r USING (service, failure_mode);

-- Runbook §4.4: a regulatory incident's compliance item stays open until the regulator filing is recorded.
CREATE VIEW v_regulatory_followups AS
SELECT
    i.issue_id AS incident_id,
    i.key,
    i.summary,
    i.severity,
    i.service,
    i.resolved_at AS closed_at,
    r.published_at,
    r.regulatory_filed_at,
    CASE WHEN r.regulatory_filed_at IS NULL THEN 'open' ELSE 'filed' END AS state
FROM incidents AS i
LEFT JOIN reviews AS r ON r.incident_id = i.issue_id
WHERE NOT i.deleted AND i.regulatory;
