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
    a.team,
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

CREATE OR REPLACE VIEW v_incident_durations AS
SELECT
    issue_id AS incident_id,
    key,
    summary,
    severity,
    service,
    failure_mode,
    started_at,
    detected_at,
    mitigated_at,
    resolved_at,
    date_diff('second', started_at, detected_at) / 60.0 AS ttd_minutes,
    date_diff('second', started_at, mitigated_at) / 60.0 AS ttm_minutes,
    date_diff('second', started_at, resolved_at) / 60.0 AS ttr_minutes
FROM incidents
WHERE NOT deleted;

CREATE OR REPLACE VIEW v_failure_mode_recurrence AS
WITH ordered AS (
    SELECT
        issue_id AS incident_id,
        key,
        service,
        failure_mode,
        severity,
        coalesce(started_at, created_at) AS occurred_at,
        lag(issue_id) OVER w AS previous_incident_id,
        lag(key) OVER w AS previous_key,
        lag(coalesce(started_at, created_at)) OVER w AS previous_occurred_at
    FROM incidents
    WHERE NOT deleted AND failure_mode IS NOT NULL
    WINDOW w AS (PARTITION BY service, failure_mode ORDER BY coalesce(started_at, created_at), issue_id)
),
previous_actions AS (
    SELECT
        o.incident_id,
        count(a.issue_id) AS previous_actions,
        count(a.issue_id) FILTER (WHERE a.status_category = 'done' AND a.resolved_at <= o.occurred_at)
            AS previous_actions_done_before
    FROM ordered AS o
    LEFT JOIN actions AS a ON a.incident_id = o.previous_incident_id AND NOT a.deleted
    WHERE o.previous_incident_id IS NOT NULL
    GROUP BY o.incident_id
)
SELECT
    o.*,
    date_diff('second', o.previous_occurred_at, o.occurred_at) / 86400.0 AS days_since_previous,
    date_diff('second', o.previous_occurred_at, o.occurred_at) <= 90 * 86400 AS within_90_days,
    p.previous_actions,
    p.previous_actions_done_before,
    p.previous_actions > 0 AND p.previous_actions = p.previous_actions_done_before AS previous_fixes_done
FROM ordered AS o
JOIN previous_actions AS p ON p.incident_id = o.incident_id;

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
