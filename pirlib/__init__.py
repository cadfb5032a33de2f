"""pir: post-incident review workbench (Jira -> DuckDB, guided review, dashboards)."""

__version__ = "0.1.0"
