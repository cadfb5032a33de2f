"""to_text: Jira v2 wiki strings and v3 ADF documents become readable plain text, never HTML."""

from __future__ import annotations

import pytest
from support.jira_samples import jira_sample

from pirlib.jira_sync.text import to_text


def test_none_stays_none_and_plain_text_is_kept() -> None:
    assert to_text(None) is None
    assert to_text("  Rolled back the Sev-1 deploy; error rate 0.2% -> 0.01%  ") == (
        "Rolled back the Sev-1 deploy; error rate 0.2% -> 0.01%"
    )


def test_wiki_markup_becomes_plain_text() -> None:
    wiki = (
        "h2. Impact\r\n"
        "Checkout was *slow* for _some_ users, see [the dashboard|https://grafana.example.com/d/1] "
        "and ask [~jdoe]; flag {{feature.x}} was on.\n"
        "* first\n"
        "** nested\n"
        "# numbered\n"
        "||service||errors||\n"
        "|api|42|\n"
        "{code:python}x = a*b*c  # *not bold*{code}\n"
        "{quote}we should have paged earlier{quote}"
    )
    assert to_text(wiki) == (
        "Impact\n"
        "Checkout was slow for some users, see the dashboard (https://grafana.example.com/d/1) "
        "and ask @jdoe; flag feature.x was on.\n"
        "- first\n"
        "  - nested\n"
        "- numbered\n"
        "service | errors\n"
        "api | 42\n"
        "x = a*b*c  # *not bold*\n"
        "we should have paged earlier"
    )


def test_less_common_wiki_markup() -> None:
    wiki = (
        "bq. Paged at 02:14\n\n\n\n"
        "{color:red}-old plan-{color} ??Runbook 4?? +new+ ^2^ ~x~ {panel:title=Note}kept{panel}\n"
        "  h3. Indented heading\n"
        "see [https://status.example.com] or [mailto:oncall@example.com]\r"
        "- dash item\n"
        "a-b and 3 - 2 stay; {{a*b*c}}"
    )
    assert to_text(wiki) == (
        "Paged at 02:14\n\n"
        "old plan Runbook 4 new 2 x kept\n"
        "Indented heading\n"
        "see https://status.example.com or mailto:oncall@example.com\n"
        "- dash item\n"
        "a-b and 3 - 2 stay; a*b*c"
    )


@pytest.mark.parametrize(
    "text",
    ["<script>alert(1)</script>", "<b>bold?</b> &amp; <img src=x onerror=alert(1)>", "naïve café 🚨 — ok"],
)
def test_html_looking_text_stays_literal(text: str) -> None:
    assert to_text(text) == text
    adf = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
    assert to_text(adf) == text


def test_adf_document_becomes_readable_text() -> None:
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Timeline"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": "5b10a2844c20165700ede21g", "text": "@Mia Krystof"}},
                    {"type": "text", "text": " rolled back, see "},
                    {
                        "type": "text",
                        "text": "runbook",
                        "marks": [{"type": "link", "attrs": {"href": "https://wiki/rb"}}],
                    },
                    {"type": "text", "text": " "},
                    {"type": "emoji", "attrs": {"shortName": ":fire:", "text": "🔥"}},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "second line", "marks": [{"type": "strong"}]},
                ],
            },
            {
                "type": "bulletList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}],
                    },
                    {
                        "type": "listItem",
                        "content": [
                            {"type": "paragraph", "content": [{"type": "text", "text": "two"}]},
                            {
                                "type": "bulletList",
                                "content": [
                                    {
                                        "type": "listItem",
                                        "content": [
                                            {"type": "paragraph", "content": [{"type": "text", "text": "two.a"}]}
                                        ],
                                    }
                                ],
                            },
                        ],
                    },
                ],
            },
            {
                "type": "orderedList",
                "content": [
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "first"}]}],
                    },
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "second"}]}],
                    },
                ],
            },
            {
                "type": "codeBlock",
                "attrs": {"language": "sql"},
                "content": [{"type": "text", "text": "SELECT 1;\nSELECT 2;"}],
            },
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {
                                "type": "tableHeader",
                                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "service"}]}],
                            },
                            {
                                "type": "tableHeader",
                                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "errors"}]}],
                            },
                        ],
                    },
                    {
                        "type": "tableRow",
                        "content": [
                            {
                                "type": "tableCell",
                                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "api"}]}],
                            },
                            {
                                "type": "tableCell",
                                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "42"}]}],
                            },
                        ],
                    },
                ],
            },
            {"type": "paragraph", "content": [{"type": "inlineCard", "attrs": {"url": "https://jira/browse/INC-1"}}]},
        ],
    }
    assert to_text(doc) == (
        "Timeline\n\n"
        "@Mia Krystof rolled back, see runbook (https://wiki/rb) 🔥\nsecond line\n\n"
        "- one\n- two\n  - two.a\n\n"
        "1. first\n2. second\n\n"
        "SELECT 1;\nSELECT 2;\n\n"
        "service | errors\napi | 42\n\n"
        "https://jira/browse/INC-1"
    )


def test_real_cloud_payloads_give_their_text() -> None:
    issue = jira_sample("airbyte_source_jira_cloud_v3/issues.json")["issues"][0]
    assert to_text(issue["fields"]["description"]) == "Test issue"
    comments = jira_sample("airbyte_source_jira_cloud_v3/issue_comments.json")["comments"]
    assert [to_text(c["body"]) for c in comments][0] == "Closed"
    assert to_text(comments[1]["body"]).startswith("Lorem ipsum dolor sit amet")
    example = jira_sample("atlassian_openapi_v3_examples/get_issue_issueIdOrKey.json")["response_200"]
    assert to_text(example["fields"]["description"]) == "Main order flow broken"


def test_real_server_wiki_string() -> None:
    issue = jira_sample("atlassian_python_api_cloud_v2/issue_FOO-123_GET_fields_all.json")["fields=*all"]
    assert to_text(issue["fields"]["description"]) == "Some Issue Description"
