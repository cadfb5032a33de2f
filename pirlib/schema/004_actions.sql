-- 004: action drafts joined to the Jira issues they became.
--
-- `pir push` writes the draft's state and the created issue's id; every `pir sync` rewrites `actions` from
-- Jira. The draft itself is never changed by a sync (it is what the facilitator typed), so its live state
-- in Jira is a join, not a copy: Jira's status, owner and due date win wherever they differ.

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
