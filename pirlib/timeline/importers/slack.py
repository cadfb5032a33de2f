"""Chat transcripts: Slack exports (JSON) and plain-text transcripts, as timeline events.

Accepted inputs (``parse_chat`` picks by what the path is):

- a Slack export folder: ``users.json``, ``channels.json`` and one folder per channel of per-day files
  (``inc-31/2025-09-05.json``), each a JSON array of messages;
- one channel folder of per-day files (``users.json`` is looked for in the folder and next to it);
- one JSON file of messages: an array, or an object with ``messages`` (the ``conversations.history`` shape);
- a plain-text transcript (``.txt``/``.log``): lines ``[2025-09-05 14:03] name: text`` (seconds optional),
  read in the time zone given (default UTC); lines without the bracket continue the previous message.

A message becomes one event: ``source='chat'``, ``kind`` ``message`` / ``thread_reply`` (a reply keeps its
thread's ``thread_ts`` in ``to_value``) / ``bot_message`` / ``topic_change``, ``actor`` the person's real
name, ``text`` with Slack markup made readable. Join/leave and other housekeeping subtypes are skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from pirlib.errors import InputError
from pirlib.files import input_file, read_text
from pirlib.timeline.importers import events_frame, load_json, parse_local, zone

__all__ = ["parse_chat", "parse_slack_messages", "parse_transcript", "readable"]

# Channel housekeeping, not conversation: nothing a reviewer needs on the timeline.
SKIPPED_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "channel_archive",
        "channel_unarchive",
        "group_archive",
        "group_unarchive",
        "pinned_item",
        "unpinned_item",
        "reminder_add",
        "bot_add",
        "bot_remove",
        "message_deleted",
        "channel_name",
        "group_name",
    }
)
_TOPIC_SUBTYPES = frozenset({"channel_topic", "channel_purpose", "group_topic", "group_purpose"})
_BOT_SUBTYPES = frozenset({"bot_message", "slackbot_response"})

# Only Slack's own control sequences: anything else in angle brackets (a literal "<script>" typed by a
# person) is text and stays as it is.
_MARKUP = re.compile(r"<((?:[@#!]|(?:https?|mailto|ftp|tel|slack):)[^<>]*)>")
_TRANSCRIPT_LINE = re.compile(
    r"^\[(?P<at>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2})?)\]\s*(?P<name>[^:]+?)\s*:\s?(?P<text>.*)$"
)
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def readable(text: str, users: dict[str, str], channels: dict[str, str] | None = None) -> str:
    """Slack's markup as plain text: ``<@U1>`` -> ``@Ann Lee``, ``<#C1|ops>`` -> ``#ops``,
    ``<https://x|label>`` -> ``label (https://x)``, ``<!here>`` -> ``@here``; then ``&lt; &gt; &amp;``.
    """
    channels = channels or {}

    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (label or users.get(uid) or uid)
        if target.startswith("#"):
            cid = target[1:]
            return "#" + (label or channels.get(cid) or cid)
        if target.startswith("!"):
            command = target[1:]
            if command.startswith(("subteam^", "date^")):
                return label or command.split("^", 1)[-1]
            return "@" + command if command in ("here", "channel", "everyone") else (label or command)
        if target.startswith("mailto:"):
            return label or target[len("mailto:") :]
        if label and label != target:
            return f"{label} ({target})"
        return target

    # Slack escapes exactly these three characters in message text; unescape after the markup is gone so
    # that an escaped "&lt;@U1&gt;" a person typed stays literal text.
    replaced = _MARKUP.sub(replace, text)
    return replaced.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _user_names(raw: Any, where: Path) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InputError(f"{where}: expected a JSON array of users, found {type(raw).__name__}")
    names = {}
    for n, user in enumerate(raw, start=1):
        if not isinstance(user, dict) or "id" not in user:
            raise InputError(f"{where}: user {n}: expected an object with an 'id'")
        profile = user.get("profile") or {}
        names[str(user["id"])] = (
            profile.get("real_name")
            or user.get("real_name")
            or profile.get("display_name")
            or user.get("name")
            or str(user["id"])
        )
    return names


def _channel_names(raw: Any, where: Path) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InputError(f"{where}: expected a JSON array of channels, found {type(raw).__name__}")
    return {str(c["id"]): str(c.get("name") or c["id"]) for c in raw if isinstance(c, dict) and "id" in c}


def _slack_time(ts: Any, where: str) -> dt.datetime:
    # ts is "seconds.micro" as text; it is also the message's id, so it is kept verbatim in the natural key.
    text = str(ts)
    match = re.fullmatch(r"(\d{9,11})(?:\.(\d{1,6}))?", text)
    if not match:
        raise InputError(f"{where}: ts {text!r} is not a Slack timestamp (seconds.microseconds)")
    seconds, fraction = int(match.group(1)), int((match.group(2) or "0").ljust(6, "0"))
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=fraction)


def parse_slack_messages(
    messages: Any,
    *,
    file_label: str,
    channel: str,
    users: dict[str, str] | None = None,
    channels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Events from a list of Slack message objects (one day file or one message file).

    ``file_label`` names the file in errors and in each event's origin; ``channel`` goes into the natural
    key because a ``ts`` is unique only within its channel.
    """
    users = users or {}
    if isinstance(messages, dict) and isinstance(messages.get("messages"), list):
        messages = messages["messages"]
    if not isinstance(messages, list):
        raise InputError(f"{file_label}: expected a JSON array of messages, found {type(messages).__name__}")
    rows, skipped = [], 0
    for n, msg in enumerate(messages, start=1):
        where = f"{file_label}: message {n}"
        if not isinstance(msg, dict):
            raise InputError(f"{where}: expected an object, found {type(msg).__name__}")
        subtype = msg.get("subtype")
        if subtype in SKIPPED_SUBTYPES or msg.get("type", "message") != "message":
            skipped += 1
            continue
        if "ts" not in msg:
            raise InputError(f"{where}: no 'ts'; every Slack message has one")
        at = _slack_time(msg["ts"], where)
        text = msg.get("text")
        if text is not None and not isinstance(text, str):
            raise InputError(f"{where}: 'text' is {type(text).__name__}, expected a string")
        uid = msg.get("user")
        profile = msg.get("user_profile") or {}
        actor = (
            (users.get(uid) if uid and uid in users else None)
            or profile.get("real_name")
            or profile.get("display_name")
            or msg.get("username")
            or ((msg.get("bot_profile") or {}).get("name"))
            or uid
        )
        thread_ts = msg.get("thread_ts")
        if subtype in _BOT_SUBTYPES or (msg.get("bot_id") and not uid):
            kind = "bot_message"
        elif subtype in _TOPIC_SUBTYPES:
            kind = "topic_change"
        elif thread_ts and str(thread_ts) != str(msg["ts"]):
            kind = "thread_reply"
        else:
            kind = "message"
        body = readable(text or "", users, channels)
        files = [f.get("name") or f.get("title") for f in msg.get("files") or [] if isinstance(f, dict)]
        if files:
            body = (body + "\n" if body else "") + "attached: " + ", ".join(str(f) for f in files if f)
        rows.append(
            {
                "occurred_at": at,
                "source": "chat",
                "kind": kind,
                "actor": actor,
                "field": "thread" if kind == "thread_reply" else None,
                "from_value": None,
                "to_value": str(thread_ts) if kind == "thread_reply" else None,
                "text": body,
                "natural_key": f"slack|{channel}|{msg['ts']}",
                "origin": where,
            }
        )
    return events_frame(rows, skipped)


def _find_users(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    for base in (folder, folder.parent):
        if (base / "users.json").is_file():
            users = _user_names(load_json(base / "users.json"), base / "users.json")
            channels_file = base / "channels.json"
            channels = _channel_names(load_json(channels_file), channels_file) if channels_file.is_file() else {}
            return users, channels
    return {}, {}


def _day_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and _DAY_FILE.match(p.name))


def parse_chat(path: Path | str, *, tz: str | None = None, channel: str | None = None) -> pd.DataFrame:
    """Events of a Slack export folder, a channel folder, a JSON message file or a plain-text transcript.

    ``tz`` applies to a plain-text transcript only (Slack times are absolute). ``channel`` picks one channel
    of a multi-channel export; by default every channel in it is read.
    """
    path = input_file(path, "chat export or transcript", folder_ok=True)
    if path.is_file() and path.suffix.lower() in (".txt", ".log", ".text"):
        return parse_transcript(path, tz=tz)
    if path.is_file():
        users, channels = _find_users(path.parent)
        return parse_slack_messages(
            load_json(path), file_label=path.name, channel=channel or path.stem, users=users, channels=channels
        )
    users, channels = _find_users(path)
    if _day_files(path):
        folders = [path]
    else:
        folders = sorted(p for p in path.iterdir() if p.is_dir() and _day_files(p))
        if channel:
            folders = [p for p in folders if p.name == channel]
    if not folders:
        raise InputError(
            f"{path}: no Slack messages found; give an export folder (users.json and channel folders of "
            "YYYY-MM-DD.json files), a channel folder, a JSON file of messages or a .txt transcript"
        )
    frames = []
    for folder in folders:
        for day in _day_files(folder):
            frames.append(
                parse_slack_messages(
                    load_json(day),
                    file_label=f"{folder.name}/{day.name}",
                    channel=folder.name,
                    users=users,
                    channels=channels,
                )
            )
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame.attrs["skipped"] = sum(f.attrs.get("skipped", 0) for f in frames)
    return frame


def parse_transcript(path: Path | str, *, tz: str | None = None) -> pd.DataFrame:
    """Events of a plain-text transcript ``[YYYY-MM-DD HH:MM[:SS]] name: text``, times read in ``tz``.

    Lines are taken to be in time order, which is what settles a wall-clock time the autumn DST change
    repeats: the reading that does not go back in time wins.
    """
    path = Path(path)
    tzinfo = zone(tz)
    lines = read_text(path, "transcript").splitlines()
    rows: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    previous: dt.datetime | None = None
    for number, line in enumerate(lines, start=1):
        where = f"{path.name}: line {number}"
        match = _TRANSCRIPT_LINE.match(line)
        if not match:
            if not line.strip():
                continue
            if not rows:
                raise InputError(f"{where}: expected '[YYYY-MM-DD HH:MM] name: text', found {line[:60]!r}")
            rows[-1]["text"] += "\n" + line  # a message that spans lines
            continue
        try:
            local = dt.datetime.fromisoformat(match.group("at").replace(" ", "T"))
        except ValueError:
            raise InputError(f"{where}: {match.group('at')!r} is not a valid date and time") from None
        at = parse_local(local, tzinfo, where, not_before=previous)
        previous = at
        name, text = match.group("name").strip(), match.group("text")
        rows.append(
            {
                "occurred_at": at,
                "source": "chat",
                "kind": "message",
                "actor": name,
                "field": None,
                "from_value": None,
                "to_value": None,
                "text": text,
                "origin": where,
            }
        )
    for row in rows:
        # Two identical lines in one minute are two messages: the ordinal keeps their ids apart while a
        # re-import of the same file maps each to the same id again.
        base = f"transcript|{row['occurred_at'].isoformat()}|{row['actor']}|{row['text']}"
        seen[base] += 1
        row["natural_key"] = f"{base}|{seen[base]}"
    return events_frame(rows)
