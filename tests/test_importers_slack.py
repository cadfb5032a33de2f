"""Slack exports and plain-text transcripts -> chat events."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pirlib.errors import InputError
from pirlib.timeline.importers import SOURCE_COLUMNS
from pirlib.timeline.importers.slack import parse_chat, parse_slack_messages, readable

FIXTURES = Path(__file__).parent / "fixtures" / "timeline"
UTC = "UTC"


def test_markup_becomes_readable_text() -> None:
    users = {"U1": "Ann Lee"}
    text = "<@U1> <@U2|bob> <#C1|ops> <#C9> <https://x.example/a|dash> <https://x.example/b> <!here> <!channel>"
    assert readable(text, users, {"C9": "war-room"}) == (
        "@Ann Lee @bob #ops #war-room dash (https://x.example/a) https://x.example/b @here @channel"
    )
    assert readable("<!subteam^S1|@sre> and <mailto:a@b.c|a@b.c>", {}) == "@sre and a@b.c"
    # Slack escapes & < > in text; a typed tag is text, never markup
    assert readable("&lt;script&gt;x&lt;/script&gt; &amp; <script>", {}) == "<script>x</script> & <script>"


def test_export_folder_resolves_users_skips_joins_and_keeps_threads() -> None:
    frame = parse_chat(FIXTURES / "slack_export")
    assert list(frame.columns) == SOURCE_COLUMNS
    assert frame.attrs["skipped"] == 2  # one join, one leave
    assert len(frame) == 5
    assert str(frame["occurred_at"].dtype) == "datetime64[us, UTC]"
    first = frame.iloc[0]
    assert first["occurred_at"] == pd.Timestamp("2025-10-26 00:40:00.000200", tz=UTC)
    assert first["actor"] == "Ann Lee" and first["kind"] == "message"
    assert first["text"] == "Payments 5xx on the dashboard (https://grafana.example.com/d/pay), @here please look"
    reply = frame.iloc[1]
    assert reply["kind"] == "thread_reply" and reply["to_value"] == "1761439200.000200"
    assert reply["text"] == "@Ann Lee on it, cross-posting to #ops"
    bot = frame.iloc[2]
    assert bot["kind"] == "bot_message" and bot["actor"] == "PagerDuty"
    assert frame.iloc[3]["text"] == "the banner shows <script>alert(1)</script> & more"
    assert frame.iloc[4]["origin"] == "inc-42/2025-10-27.json: message 1"
    assert frame["natural_key"].is_unique


def test_channel_folder_finds_users_json_next_to_it() -> None:
    frame = parse_chat(FIXTURES / "slack_export" / "inc-42")
    assert len(frame) == 5 and frame.iloc[0]["actor"] == "Ann Lee"


def test_single_message_file_uses_user_profile_and_falls_back_to_the_id() -> None:
    frame = parse_chat(FIXTURES / "slack_messages.json")
    assert list(frame["actor"]) == ["Zed Ray", "U09ZED"]
    assert frame.iloc[1]["text"] == "second @U404"


def test_transcript_across_the_autumn_dst_change_is_monotonic_in_utc() -> None:
    frame = parse_chat(FIXTURES / "transcript_dst.txt", tz="Europe/Berlin")
    assert list(frame["occurred_at"]) == [
        pd.Timestamp("2025-10-25 23:55", tz=UTC),  # 01:55 CEST
        pd.Timestamp("2025-10-26 00:50", tz=UTC),  # 02:50 CEST, first pass
        pd.Timestamp("2025-10-26 01:10", tz=UTC),  # 02:10 CET, second pass: the clocks went back
        pd.Timestamp("2025-10-26 02:05:30", tz=UTC),  # 03:05:30 CET
    ]
    assert frame.iloc[1]["text"] == "rolling back\n  (rollback takes ~20 minutes)"
    assert frame.iloc[0]["origin"] == "transcript_dst.txt: line 1"


def test_transcript_default_zone_is_utc() -> None:
    frame = parse_chat(FIXTURES / "transcript_dst.txt")
    assert frame.iloc[0]["occurred_at"] == pd.Timestamp("2025-10-26 01:55", tz=UTC)


def test_transcript_time_in_the_spring_gap_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "spring.txt"
    path.write_text("[2025-03-30 01:59] a: x\n[2025-03-30 02:30] b: y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"spring.txt: line 2: .*does not exist in Europe/Berlin"):
        parse_chat(path, tz="Europe/Berlin")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.txt", "hello there\n", r"bad.txt: line 1: expected '\[YYYY-MM-DD HH:MM\] name: text'"),
        ("hour.txt", (FIXTURES / "transcript_bad.txt").read_text(), r"hour.txt: line 2: .* not a valid date"),
        ("broken.json", '[{"ts": "1.0", "text": "x"},\n {"ts": ', r"broken.json: line 2 column \d+: not valid JSON"),
        ("nots.json", json.dumps([{"type": "message", "text": "x"}]), r"nots.json: message 1: no 'ts'"),
        ("badts.json", json.dumps([{"ts": "yesterday", "text": "x"}]), r"badts.json: message 1: ts 'yesterday'"),
        ("shape.json", json.dumps({"a": 1}), r"shape.json: expected a JSON array of messages"),
    ],
)
def test_malformed_chat_files_name_the_file_and_place(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        parse_chat(path)


def test_unknown_zone_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown time zone 'Mars/Base'"):
        parse_chat(FIXTURES / "transcript_dst.txt", tz="Mars/Base")


def test_messages_of_other_channels_get_other_keys() -> None:
    msgs = [{"type": "message", "user": "U1", "text": "x", "ts": "1757080980.000100"}]
    a = parse_slack_messages(msgs, file_label="a.json", channel="a")
    b = parse_slack_messages(msgs, file_label="b.json", channel="b")
    assert a.iloc[0]["natural_key"] != b.iloc[0]["natural_key"]


def test_the_sample_exports_parse(tmp_path: Path) -> None:
    from pirlib import sample

    sample.write_sample(tmp_path)
    exports = sorted((tmp_path / "chat").iterdir())
    assert exports
    for export in exports:
        frame = parse_chat(export)
        assert len(frame) > 0 and frame["occurred_at"].notna().all()
        assert frame.attrs["skipped"] > 0  # the channel joins
        assert not frame["actor"].str.startswith("U0").any(), "every user id resolved through users.json"
        assert not frame["text"].str.contains("<@U", regex=False).any()
