"""Jira -> DuckDB: client (auth, retries) -> extract (pages) -> transform (JSON -> rows: rows, flatten, text,
fields) -> load (upsert), orchestrated by sync (chunking, cursor); push writes action drafts back to Jira."""
