"""One timeline per incident: ``events`` (imports into ``incident_events``, curation, reads) and the parsers it
imports files with, one per kind of file, in ``importers/``. This package imports nothing itself."""
