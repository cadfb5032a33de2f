"""Jira -> DuckDB sync: fields (field ids), text (rich text), transform (JSON -> rows), load (upsert)."""
