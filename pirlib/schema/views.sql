-- Analyst views. Recreated on every migration run; they hold no data. Deleted Jira issues are excluded.

CREATE OR REPLACE VIEW v_action_status AS
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
    -- Jira's Team field wins; a site without one keeps the team typed on the draft the action was pushed from
    -- (of two drafts pushed to one issue, the first team by name: PostgreSQL's view picks the same).
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
        AND CAST(a.resolved_at AS DATE) <= a.due_date AS done_on_time,
    a.status_category = 'done' AND a.due_date IS NOT NULL
        AND CAST(a.resolved_at AS DATE) > a.due_date AS done_late,
    a.status_category <> 'done' AND a.due_date < current_date AS is_overdue,
    CASE WHEN a.status_category <> 'done' AND a.due_date < current_date
         THEN date_diff('day', a.due_date, current_date) END AS days_overdue,
    CASE WHEN a.status_category <> 'done'
         THEN date_diff('day', CAST(a.created_at AS DATE), current_date) END AS age_days,
    a.owner IS NULL AS missing_owner,
    a.due_date IS NULL AS missing_due_date,
    coalesce(trim(a.success_metric), '') = '' AS missing_success_metric,
    coalesce(trim(a.verification_method), '') = '' AS missing_verification_method
FROM actions AS a
LEFT JOIN incidents AS i ON i.issue_id = a.incident_id AND NOT i.deleted
LEFT JOIN (SELECT pushed_issue_id, min(team) AS team FROM action_drafts
           WHERE pushed_issue_id IS NOT NULL GROUP BY pushed_issue_id) AS d ON d.pushed_issue_id = a.issue_id
WHERE NOT a.deleted;

CREATE OR REPLACE VIEW v_review_deadlines AS
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
        r.closed_at + to_microseconds(CAST(d.hours * 3600000000 AS BIGINT)) AS due_at,
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
    date_diff('second', due_at, coalesce(done_at, now())) / 3600.0 AS hours_past_due
FROM stages;

-- Each incident's failure mode and the rule that set it (007): manual > Jira field (when it names a taxonomy
-- mode or alias) > label > component > summary > the taxonomy's fallback. The rules are the taxonomy file's,
-- written by `pir init`. `failure_mode` is always a mode of the taxonomy or the facilitator's choice, so that
-- every surface speaks one vocabulary; Jira's own value, where it differs, is only `jira_says`.
-- Only incidents that neither the facilitator nor the field classify go through the rules, and the rules
-- are matched by joins on whole values (a label, a component, a summary's word) rather than by testing every
-- rule against every incident: at 50k incidents × 68 rules that test took most of the incidents board's load.
CREATE OR REPLACE VIEW v_incident_failure_modes AS
WITH live AS (
    SELECT issue_id, key, service, summary, labels, components, nullif(trim(failure_mode), '') AS field_value
    FROM incidents
    WHERE NOT deleted
),
names AS (
    SELECT mode, lower(trim(unnest(list_prepend(mode, coalesce(aliases, []::VARCHAR[]))))) AS name
    FROM failure_mode_taxonomy
),
classified AS (
    SELECT l.*, o.mode AS manual_mode, o.note AS manual_note, o.set_by AS manual_set_by, o.set_at AS manual_set_at,
           n.mode AS field_mode
    FROM live AS l
    LEFT JOIN failure_mode_overrides AS o ON o.incident_id = l.issue_id
    LEFT JOIN names AS n ON n.name = lower(l.field_value)
),
unresolved AS MATERIALIZED (
    SELECT issue_id, labels, components,
           -- the summary's words between single spaces, so that a phrase rule matches whole words only
           ' ' || trim(regexp_replace(lower(coalesce(summary, '')), '[^\p{L}\p{N}]+', ' ', 'g')) || ' ' AS words
    FROM classified
    WHERE manual_mode IS NULL AND field_mode IS NULL
),
phrases AS (
    -- A summary rule: its phrase as it must appear in `words`, and its first word, by which it is looked up
    -- ("deploy*" is a prefix of a word; "out of memory" starts with the word "out").
    SELECT rule_rank, ' ' || CASE WHEN suffix(pattern, '*') THEN rtrim(pattern, '*') ELSE pattern || ' ' END AS phrase,
           split_part(rtrim(pattern, '*'), ' ', 1) AS first_word,
           suffix(pattern, '*') AND NOT contains(pattern, ' ') AS first_is_prefix
    FROM failure_mode_rules
    WHERE kind = 'summary'
),
tokens AS (
    SELECT issue_id, unnest(string_split(trim(words), ' ')) AS word FROM unresolved
),
candidates AS (
    SELECT t.issue_id, r.rule_rank
    FROM (SELECT issue_id, 'label' AS kind, lower(unnest(labels)) AS value FROM unresolved
          UNION ALL
          SELECT issue_id, 'component', lower(unnest(components)) FROM unresolved) AS t
    JOIN failure_mode_rules AS r ON r.kind = t.kind AND lower(r.pattern) = t.value
    UNION ALL
    SELECT t.issue_id, p.rule_rank FROM tokens AS t JOIN phrases AS p ON p.first_word = t.word AND NOT p.first_is_prefix
    UNION ALL
    SELECT t.issue_id, p.rule_rank FROM tokens AS t JOIN phrases AS p ON p.first_is_prefix AND starts_with(t.word, p.first_word)
),
by_rule AS (
    SELECT
        c.issue_id,
        arg_min(r.mode, r.rule_rank) AS mode,
        arg_min(r.kind, r.rule_rank) AS kind,
        arg_min(r.pattern, r.rule_rank) AS pattern
    FROM candidates AS c
    JOIN failure_mode_rules AS r USING (rule_rank)
    JOIN unresolved AS u USING (issue_id)
    LEFT JOIN phrases AS p USING (rule_rank)
    WHERE p.phrase IS NULL OR contains(u.words, p.phrase)  -- a phrase found by its first word: all of it
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
        WHEN r.field_mode IS NOT NULL AND lower(r.field_mode) = lower(r.field_value) THEN 'Failure Mode field'
        WHEN r.field_mode IS NOT NULL THEN 'Failure Mode field "' || r.field_value || '" (an alias of ' || r.field_mode || ')'
        WHEN r.rule_kind = 'summary' THEN 'summary has "' || r.rule_pattern || '"'
        WHEN r.rule_mode IS NOT NULL THEN r.rule_kind || ' "' || r.rule_pattern || '"'
        WHEN r.fallback_mode IS NOT NULL THEN 'no field, label, component or summary rule matched'
    END AS mode_rule,
    t.category,
    r.field_value,
    CASE WHEN r.field_value IS NOT NULL AND lower(r.field_value) IS DISTINCT FROM lower(r.failure_mode)
         THEN 'Jira says "' || r.field_value || '"' END AS jira_says,
    r.manual_mode,
    r.manual_note,
    r.manual_set_by,
    r.manual_set_at
FROM resolved AS r
LEFT JOIN failure_mode_taxonomy AS t ON t.mode = r.failure_mode;

-- failure_mode as classified (v_incident_failure_modes), like every other surface.
CREATE OR REPLACE VIEW v_incident_durations AS
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
    -- Whole seconds between the two, as date_diff('second', …) counts them, from the epoch: date_diff on
    -- TIMESTAMPTZ goes through the time zone calendar, 20 times slower (70 ms of the incidents board at 50k).
    (epoch_us(i.detected_at) // 1000000 - epoch_us(i.started_at) // 1000000) / 60.0 AS ttd_minutes,
    (epoch_us(i.mitigated_at) // 1000000 - epoch_us(i.started_at) // 1000000) / 60.0 AS ttm_minutes,
    (epoch_us(i.resolved_at) // 1000000 - epoch_us(i.started_at) // 1000000) / 60.0 AS ttr_minutes
FROM incidents AS i
LEFT JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id
WHERE NOT i.deleted;

-- Per incident whose (service, mode) happened before: the previous one, the gap, whether it falls in the
-- recurrence window (table recurrence_window), and whether the earlier incident's actions, and its
-- prevent/detect actions in particular, were done before this one started. Modes from the taxonomy's
-- fallback ("no rule matched") are left out: an unclassified incident does not recur.
CREATE OR REPLACE VIEW v_failure_mode_recurrence AS
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
)
SELECT
    o.*,
    date_diff('second', o.previous_occurred_at, o.occurred_at) / 86400.0 AS days_since_previous,
    date_diff('second', o.previous_occurred_at, o.occurred_at) <= 90 * 86400 AS within_90_days,
    w.days AS window_days,
    date_diff('second', o.previous_occurred_at, o.occurred_at) <= w.days * 86400 AS within_window,
    p.previous_actions,
    p.previous_actions_done_before,
    p.previous_actions > 0 AND p.previous_actions = p.previous_actions_done_before AS previous_fixes_done,
    p.previous_prevent_detect,
    p.previous_prevent_detect_done_before,
    p.previous_prevent_detect > 0 AND p.previous_prevent_detect = p.previous_prevent_detect_done_before
        AS prevent_detect_done_before
FROM ordered AS o
JOIN previous_actions AS p ON p.incident_id = o.incident_id
CROSS JOIN (SELECT max(days) AS days FROM recurrence_window) AS w;

-- Per (service, failure mode): how often it happened, how often it came back within the window, and how
-- many of those repeats came after the earlier incident's prevent/detect actions were all done.
CREATE OR REPLACE VIEW v_failure_mode_effectiveness AS
WITH incidents_per_pair AS (
    SELECT i.service, m.failure_mode, count(*) AS incidents,
           min(coalesce(i.started_at, i.created_at)) AS first_at,
           max(coalesce(i.started_at, i.created_at)) AS last_at
    FROM incidents AS i
    JOIN v_incident_failure_modes AS m ON m.incident_id = i.issue_id
    WHERE NOT i.deleted AND m.mode_source <> 'fallback'
    GROUP BY ALL
),
repeats AS (
    SELECT service, failure_mode,
           count(*) FILTER (WHERE within_window) AS recurrences,
           count(*) FILTER (WHERE within_window AND prevent_detect_done_before) AS repeats_after_completed_actions,
           count(*) FILTER (WHERE within_window AND previous_prevent_detect = 0) AS repeats_without_prevent_detect,
           median(days_since_previous) FILTER (WHERE within_window) AS median_days_between,
           quantile_cont(days_since_previous, 0.9) FILTER (WHERE within_window) AS p90_days_between
    FROM v_failure_mode_recurrence
    GROUP BY ALL
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
CREATE OR REPLACE VIEW v_regulatory_followups AS
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
