"""Real Jira REST payloads kept in the repository (tests/fixtures/jira/, origins and licences in its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

JIRA_SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "jira"


def jira_sample(path: str) -> Any:
    """The parsed JSON of ``tests/fixtures/jira/<path>`` (e.g. ``"jira_ruby_server_v2/issue.json"``)."""
    return json.loads((JIRA_SAMPLES / path).read_text(encoding="utf-8"))
